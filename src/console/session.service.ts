import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import type { CredentialVerifier } from '../tenancy/tenancy.service.js';
import {
  deleteDeadSessions,
  deleteSession,
  findLiveSession,
  insertSessionForActiveToken,
  touchSession,
} from './console.repository.js';

/**
 * Server-side sessions of the console (issue #6, docs/console.md). Times here are the wall clock,
 * never the program's simulated clock: a session's life is a security rule about real hours, and
 * moving the simulated clock a year ahead must not sign every agent out.
 */

/** A session ends after this long without a request... */
export const SESSION_IDLE_MS = 8 * 3_600_000;
/** ...and in any case this long after sign-in. */
export const SESSION_MAX_MS = 12 * 3_600_000;
/** A request moves the idle expiry only when the last move is older than this: no write per page. */
const TOUCH_EVERY_MS = 60_000;

/** Who a console request acts for. */
export interface ConsoleSession {
  idHash: string;
  retailerId: string;
  tokenId: string;
  /**
   * The agent's name given at sign-in (issue #18 item 10): every action of the session is recorded
   * under it. Null only for sessions opened before agents named themselves.
   */
  agentName: string | null;
  /** The token every form of this session carries (synchronizer token, checked on every POST). */
  csrfToken: string;
}

/** 256 random bits: unguessable, so a fast hash is enough to store it (no scrypt needed). */
const randomToken = (): string => randomBytes(32).toString('base64url');
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export const hashSessionId = (id: string): string => createHash('sha256').update(id).digest('hex');

const csrfOf = (secret: string): string =>
  createHmac('sha256', secret).update('laurel-console-csrf').digest('base64url');

/** Constant-time equality of two strings (false when lengths differ). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export type SignInResult =
  { ok: true; sessionId: string; session: ConsoleSession } | { ok: false; retryAfter: number };

/**
 * Signs in with an admin token, verified exactly as the admin API verifies a bearer token (the
 * same verifier, under the same limits of failed attempts per token id and per client address),
 * and opens a session for it. Dead sessions are swept at the same time, so the table stays small.
 * `retryAfter` is non-zero when the attempt was refused unchecked for too many failures.
 */
export async function signIn(
  db: Queryable,
  verifier: CredentialVerifier,
  token: string,
  agentName: string,
  address: string,
  now: Date,
): Promise<SignInResult> {
  // The key of an admin token is its public id (`lat_<id>_<secret>`), as in src/http/auth.ts.
  const id = /^lat_([0-9a-f]{16})_/.exec(token)?.[1];
  const key = id ? `lat_${id}` : null;
  const wait = verifier.knownGood('admin', token) ? 0 : verifier.limiter.retryAfter(address, key);
  if (wait) return { ok: false, retryAfter: wait };
  const principal = await verifier.verifyAdminToken(token);
  if (!principal) {
    verifier.limiter.fail(address, key);
    return { ok: false, retryAfter: 0 };
  }
  const sessionId = randomToken();
  const csrfSecret = randomToken();
  const row = {
    id_hash: hashSessionId(sessionId),
    retailer_id: principal.retailer_id,
    token_id: principal.token_id,
    csrf_secret: csrfSecret,
    agent_name: agentName,
    created_at: now,
    last_seen_at: now,
    idle_expires_at: new Date(now.getTime() + SESSION_IDLE_MS),
    expires_at: new Date(now.getTime() + SESSION_MAX_MS),
  };
  await deleteDeadSessions(db, now);
  if (!(await insertSessionForActiveToken(db, row))) return { ok: false, retryAfter: 0 };
  return {
    ok: true,
    sessionId,
    session: {
      idHash: row.id_hash,
      retailerId: row.retailer_id,
      tokenId: row.token_id,
      agentName,
      csrfToken: csrfOf(csrfSecret),
    },
  };
}

/** The live session a cookie names, or null (unknown, expired, or its token revoked). */
export async function resumeSession(
  db: Queryable,
  sessionId: string | undefined,
  now: Date,
): Promise<ConsoleSession | null> {
  if (!sessionId || !TOKEN_RE.test(sessionId)) return null;
  const idHash = hashSessionId(sessionId);
  const row = await findLiveSession(db, idHash, now);
  if (!row) return null;
  if (now.getTime() - row.last_seen_at.getTime() >= TOUCH_EVERY_MS) {
    await touchSession(db, idHash, now, new Date(now.getTime() + SESSION_IDLE_MS));
  }
  return {
    idHash,
    retailerId: row.retailer_id,
    tokenId: row.token_id,
    agentName: row.agent_name,
    csrfToken: csrfOf(row.csrf_secret),
  };
}

/** Ends a session (sign-out). Unknown ids are ignored. */
export async function signOut(db: Queryable, sessionId: string | undefined): Promise<void> {
  if (sessionId && TOKEN_RE.test(sessionId)) await deleteSession(db, hashSessionId(sessionId));
}

/** Longest agent name the sign-in form takes. */
export const MAX_AGENT_NAME_LENGTH = 60;

/**
 * The agent's name from the sign-in form, tidied, or null when it is missing or unusable: a name is
 * 1 to 60 characters with at least one letter and no control characters.
 */
export function agentNameOf(input: string | undefined): string | null {
  const name = (input ?? '').trim().replace(/\s+/g, ' ');
  if (!name || name.length > MAX_AGENT_NAME_LENGTH) return null;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name) || !/\p{L}/u.test(name)) return null;
  return name;
}

/** Who did it, as the audit trail records an agent: `Dana Whitfield (console, token lat_…)`. */
export const agentLabel = (s: ConsoleSession): string =>
  `${s.agentName ?? 'unnamed agent'} (console, token lat_${s.tokenId})`;

/** Whether a submitted form token is this session's. */
export const csrfMatches = (session: ConsoleSession, submitted: string | undefined): boolean =>
  submitted !== undefined && sameSecret(session.csrfToken, submitted);

/** A fresh random value for a form: the sign-in form's double-submit token, an adjustment's nonce. */
export const newFormNonce = (): string => randomBytes(16).toString('base64url');
export const isFormNonce = (s: string | undefined): s is string => !!s && /^[A-Za-z0-9_-]{22}$/.test(s);
