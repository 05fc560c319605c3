import type { FastifyReply, FastifyRequest } from 'fastify';
import { LaurelError } from '../errors.js';
import type { AdminPrincipal, AppPrincipal, CredentialVerifier } from '../tenancy/tenancy.service.js';

declare module 'fastify' {
  interface FastifyRequest {
    appPrincipal: AppPrincipal | undefined;
    adminPrincipal: AdminPrincipal | undefined;
  }
}

const denied = () => new LaurelError('invalid_auth_token');

/** Parses `Authorization: Basic base64(api_key:secret)`. */
export function parseBasic(header: string | undefined): { key: string; secret: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return null;
  return { key: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

/**
 * Basic authentication for app routes (DESIGN §1). Where the path carries `:api_key`, it must equal
 * the credential's key; a mismatch answers exactly like a wrong secret.
 */
export function appAuth(verifier: CredentialVerifier) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const creds = parseBasic(request.headers.authorization);
    if (!creds) throw denied();
    const pathKey = (request.params as { api_key?: string }).api_key;
    if (pathKey !== undefined && pathKey !== creds.key) throw denied();
    const principal = await verifier.verifyApp(creds.key, creds.secret);
    if (!principal) throw denied();
    request.appPrincipal = principal;
  };
}

/** Bearer authentication with an admin token, for the admin API. */
export function adminAuth(verifier: CredentialVerifier) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    if (!m) throw denied();
    const principal = await verifier.verifyAdminToken(m[1]!);
    if (!principal) throw denied();
    request.adminPrincipal = principal;
  };
}

/** The authenticated app of a request that passed `appAuth`. */
export function principalOf(request: FastifyRequest): AppPrincipal {
  if (!request.appPrincipal) throw denied();
  return request.appPrincipal;
}

/**
 * The app's retailer for a body that carries `retailer_id` (the Incentives API): it must be the
 * app's own retailer (DESIGN §1), else 403 `access_denied`.
 */
export function bodyRetailerOf(request: FastifyRequest): string {
  const principal = principalOf(request);
  const { retailer_id } = request.body as { retailer_id: string };
  if (retailer_id.toLowerCase() !== principal.retailer_id) {
    throw new LaurelError('access_denied', "retailer_id is not this app's retailer");
  }
  return principal.retailer_id;
}
