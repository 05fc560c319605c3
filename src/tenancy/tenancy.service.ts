import type { Database, Queryable } from '../db/database.js';
import { newId } from '../domain/ids.js';
import { acmeProgram } from '../domain/program.js';
import { LaurelError, validationError } from '../errors.js';
import { insertProgramVersion } from '../program/program.repository.js';
import {
  decoyHash,
  fingerprint,
  hashSecret,
  newApiKey,
  newSecret,
  newTokenId,
  verifySecret,
} from './secrets.js';
import { AddressLanes, FailedAuthLimiter } from '../http/auth-limiter.js';
import {
  findActiveAdminToken,
  findActiveApp,
  findRetailer,
  insertAdminToken,
  insertApp,
  insertRetailer,
  revokeAdminTokenRow,
  revokeAppRow,
  type AdminTokenRow,
  type AppRow,
  type RetailerRow,
} from './tenancy.repository.js';

/** Who a request acts for once its credentials check out. */
export interface AppPrincipal {
  kind: 'app';
  api_key: string;
  retailer_id: string;
}
export interface AdminPrincipal {
  kind: 'admin';
  token_id: string;
  retailer_id: string;
}

export interface CreatedApp {
  retailer_id: string;
  api_key: string;
  secret: string;
}
export interface CreatedToken {
  retailer_id: string;
  admin_token: string;
}

const TOKEN_PREFIX = 'lat_';

/** Creates a retailer with the ACME program as its first version (in force for all times). */
export async function createRetailer(db: Database, name: string, now: Date): Promise<RetailerRow> {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > 200)
    throw validationError('retailer name must be 1 to 200 characters', 'name');
  const retailer: RetailerRow = { id: newId(now.getTime()), name: trimmed, created_at: now };
  await db.transaction(async (tx) => {
    await insertRetailer(tx, retailer);
    await insertProgramVersion(tx, {
      retailer_id: retailer.id,
      version: 1,
      effective_from: null,
      document: acmeProgram(retailer.id),
      created_at: now,
    });
  });
  return retailer;
}

async function requireRetailer(db: Queryable, retailerId: string): Promise<void> {
  if (!/^[0-9a-f-]{36}$/i.test(retailerId) || !(await findRetailer(db, retailerId))) {
    throw new LaurelError('not_found', `no retailer ${retailerId}`);
  }
}

/** Creates an app (digital property): a 40-hex API key and a secret shown once. */
export async function createApp(
  db: Queryable,
  retailerId: string,
  name: string,
  now: Date,
): Promise<CreatedApp> {
  await requireRetailer(db, retailerId);
  const apiKey = newApiKey();
  const secret = newSecret();
  await insertApp(db, {
    api_key: apiKey,
    retailer_id: retailerId,
    name,
    secret_hash: await hashSecret(secret),
    created_at: now,
  });
  return { retailer_id: retailerId, api_key: apiKey, secret };
}

/** Creates an admin token for one retailer: `lat_<id>_<secret>`, shown once. */
export async function createAdminToken(
  db: Queryable,
  retailerId: string,
  name: string,
  now: Date,
): Promise<CreatedToken> {
  await requireRetailer(db, retailerId);
  const id = newTokenId();
  const secret = newSecret();
  await insertAdminToken(db, {
    id,
    retailer_id: retailerId,
    name,
    secret_hash: await hashSecret(secret),
    created_at: now,
  });
  return { retailer_id: retailerId, admin_token: `${TOKEN_PREFIX}${id}_${secret}` };
}

/** The channel on which a revocation is announced to every server of the database (issue #18). */
export const REVOCATIONS_CHANNEL = 'laurel_revocations';

/** What a revocation announces: which credential, so servers forget it. Never a secret. */
interface Revocation {
  kind: 'app' | 'admin';
  id: string;
}

export interface Revoked<R> {
  row: R;
  /** false when it had been revoked before (the command changes nothing then). */
  revoked: boolean;
}

/**
 * Revokes an app: it is refused from now on, by every running server within a second or so
 * (the revocation is announced with NOTIFY, heard by `listenForRevocations`). Unknown key: not_found.
 */
export async function revokeApp(
  db: Database,
  apiKey: string,
  now: Date,
): Promise<Revoked<Omit<AppRow, 'secret_hash'>>> {
  const key = apiKey.trim().toLowerCase();
  const done = /^[0-9a-f]{40}$/.test(key)
    ? await db.transaction(async (tx) => {
        const r = await revokeAppRow(tx, key, now);
        if (r?.revoked) await announce(tx, { kind: 'app', id: key });
        return r;
      })
    : undefined;
  if (!done) throw new LaurelError('not_found', `no app with API key ${apiKey}`);
  return done;
}

/** Revokes an admin token by its id (the 16 hex digits after `lat_`), as `revokeApp` does an app. */
export async function revokeAdminToken(
  db: Database,
  tokenId: string,
  now: Date,
): Promise<Revoked<Omit<AdminTokenRow, 'secret_hash'>>> {
  // The whole token is accepted too; only its id is used.
  const id = (/^(?:lat_)?([0-9a-f]{16})(?:_.*)?$/i.exec(tokenId.trim())?.[1] ?? '').toLowerCase();
  const done = id
    ? await db.transaction(async (tx) => {
        const r = await revokeAdminTokenRow(tx, id, now);
        if (r?.revoked) await announce(tx, { kind: 'admin', id });
        return r;
      })
    : undefined;
  if (!done) throw new LaurelError('not_found', `no admin token with id ${tokenId.slice(0, 24)}`);
  return done;
}

/** NOTIFY inside the revoking transaction: delivered at its commit, never for a rollback. */
async function announce(tx: Queryable, r: Revocation): Promise<void> {
  await tx.query('SELECT pg_notify($1, $2)', [REVOCATIONS_CHANNEL, JSON.stringify(r)]);
}

/**
 * Makes `verifier` forget every revoked credential as soon as its revocation is announced, from any
 * process on the database; when announcements may have been missed (a lost connection), it forgets
 * everything it remembered. Answers the function that stops listening.
 */
export async function listenForRevocations(
  db: Database,
  verifier: CredentialVerifier,
): Promise<() => Promise<void>> {
  if (!db.listen) return async () => undefined;
  return db.listen(
    REVOCATIONS_CHANNEL,
    (payload) => {
      try {
        const r = JSON.parse(payload) as Revocation;
        if ((r.kind === 'app' || r.kind === 'admin') && typeof r.id === 'string')
          verifier.forget(r.kind, r.id);
      } catch {
        verifier.forgetAll();
      }
    },
    () => verifier.forgetAll(),
  );
}

/**
 * Verifies credentials against their scrypt hashes. Verified credentials are remembered by a
 * fingerprint for a short while, so a busy till does not pay for scrypt on every request; a
 * revoked key stops working when its revocation is heard (`listenForRevocations`), or at the
 * latest when its entry expires.
 */
export class CredentialVerifier {
  private readonly cache = new Map<string, { principal: AppPrincipal | AdminPrincipal; until: number }>();

  constructor(
    private readonly db: Queryable,
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 10_000,
    /** Failed authentications, limited per key and per address (src/http/auth.ts). */
    readonly limiter = new FailedAuthLimiter(),
  ) {}

  /** Unverified credentials are checked one at a time per client address (see `AddressLanes`). */
  readonly lanes = new AddressLanes();

  private remembered<P>(fp: string): P | undefined {
    const hit = this.cache.get(fp);
    if (!hit) return undefined;
    if (hit.until < Date.now()) {
      this.cache.delete(fp);
      return undefined;
    }
    return hit.principal as P;
  }

  /** Forgets the verified credentials of one app (by API key) or admin token (by id). */
  forget(kind: 'app' | 'admin', id: string): void {
    for (const [fp, { principal }] of this.cache) {
      if (
        principal.kind === 'app'
          ? kind === 'app' && principal.api_key === id
          : kind === 'admin' && principal.token_id === id
      ) {
        this.cache.delete(fp);
      }
    }
  }

  forgetAll(): void {
    this.cache.clear();
  }

  private remember(fp: string, principal: AppPrincipal | AdminPrincipal): void {
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(fp, { principal, until: Date.now() + this.ttlMs });
  }

  /**
   * Whether these credentials verified recently (no scrypt): a client address over its limit of
   * failures still reaches the server with credentials that work (a shop's tills behind one
   * address keep working while one of them is misconfigured).
   */
  knownGood(kind: 'app', apiKey: string, secret: string): boolean;
  knownGood(kind: 'admin', token: string): boolean;
  knownGood(kind: 'app' | 'admin', ...parts: string[]): boolean {
    return this.remembered(fingerprint(kind, ...parts)) !== undefined;
  }

  async verifyApp(apiKey: string, secret: string): Promise<AppPrincipal | null> {
    const fp = fingerprint('app', apiKey, secret);
    const hit = this.remembered<AppPrincipal>(fp);
    if (hit) return hit;
    const app = /^[0-9a-f]{40}$/.test(apiKey) ? await findActiveApp(this.db, apiKey) : undefined;
    const ok = await verifySecret(secret, app?.secret_hash ?? (await decoyHash()));
    if (!app || !ok) return null;
    const principal: AppPrincipal = { kind: 'app', api_key: app.api_key, retailer_id: app.retailer_id };
    this.remember(fp, principal);
    return principal;
  }

  async verifyAdminToken(token: string): Promise<AdminPrincipal | null> {
    const fp = fingerprint('admin', token);
    const hit = this.remembered<AdminPrincipal>(fp);
    if (hit) return hit;
    const m = /^lat_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(token);
    const row = m ? await findActiveAdminToken(this.db, m[1]!) : undefined;
    const ok = await verifySecret(m?.[2] ?? '', row?.secret_hash ?? (await decoyHash()));
    if (!row || !ok) return null;
    const principal: AdminPrincipal = { kind: 'admin', token_id: row.id, retailer_id: row.retailer_id };
    this.remember(fp, principal);
    return principal;
  }
}
