import type { FastifyReply, FastifyRequest } from 'fastify';
import { LaurelError } from '../errors.js';
import { SLOW_FAILURE_MS } from './auth-limiter.js';
import { authFailed } from './metrics.js';
import type { AdminPrincipal, AppPrincipal, CredentialVerifier } from '../tenancy/tenancy.service.js';

declare module 'fastify' {
  interface FastifyRequest {
    appPrincipal: AppPrincipal | undefined;
    adminPrincipal: AdminPrincipal | undefined;
  }
}

const denied = () => new LaurelError('invalid_auth_token');

/**
 * Runs one authentication attempt under the failed-attempt limits: refused with 429 and a
 * `Retry-After` while the key or the client address has failed too often, and counted when it fails.
 */
async function limited<P>(
  verifier: CredentialVerifier,
  request: FastifyRequest,
  key: string | null,
  knownGood: boolean,
  attempt: () => Promise<P | null>,
): Promise<P> {
  const wait = knownGood ? 0 : verifier.limiter.retryAfter(request.ip, key);
  if (wait) {
    authFailed(request, 'limited');
    throw new LaurelError('too_many_requests', `Too many failed authentications; retry in ${wait} s.`, {
      retry_after: wait,
    });
  }
  const principal = knownGood ? await attempt() : await verifier.lanes.run(request.ip, attempt);
  if (!principal) {
    verifier.limiter.fail(request.ip, key);
    authFailed(request, 'denied');
    if (verifier.limiter.slowFailures(key)) await new Promise((r) => setTimeout(r, SLOW_FAILURE_MS));
    throw denied();
  }
  return principal;
}

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
    const pathKey = (request.params as { api_key?: string }).api_key;
    const good = !!creds && verifier.knownGood('app', creds.key, creds.secret);
    request.appPrincipal = await limited(verifier, request, creds?.key ?? pathKey ?? null, good, async () => {
      if (!creds || (pathKey !== undefined && pathKey !== creds.key)) return null;
      return verifier.verifyApp(creds.key, creds.secret);
    });
  };
}

/** Bearer authentication with an admin token, for the admin API. */
export function adminAuth(verifier: CredentialVerifier) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    // The key of an admin token is its public id (`lat_<id>_<secret>`).
    const tokenId = m ? (/^lat_([0-9a-f]{16})_/.exec(m[1]!)?.[1] ?? null) : null;
    const good = !!m && verifier.knownGood('admin', m[1]!);
    request.adminPrincipal = await limited(verifier, request, tokenId && `lat_${tokenId}`, good, async () =>
      m ? verifier.verifyAdminToken(m[1]!) : null,
    );
  };
}

/** The authenticated app of a request that passed `appAuth`. */
export function principalOf(request: FastifyRequest): AppPrincipal {
  if (!request.appPrincipal) throw denied();
  return request.appPrincipal;
}

/** The retailer of the admin token of a request that passed `adminAuth`. */
export function adminRetailerOf(request: FastifyRequest): string {
  if (!request.adminPrincipal) throw denied();
  return request.adminPrincipal.retailer_id;
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
