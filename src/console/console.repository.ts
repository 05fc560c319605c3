import type { Queryable } from '../db/database.js';

/** A console session as stored: the id itself is never stored, only its hash (migration 0005). */
export interface ConsoleSessionRow {
  id_hash: string;
  retailer_id: string;
  token_id: string;
  csrf_secret: string;
  created_at: Date;
  last_seen_at: Date;
  idle_expires_at: Date;
  expires_at: Date;
}

/**
 * Stores a session for an admin token, in one statement that also checks the token is still
 * active: a token revoked after the verifier cached it opens nothing. Answers false then.
 */
export async function insertSessionForActiveToken(db: Queryable, s: ConsoleSessionRow): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO console_sessions
       (id_hash, retailer_id, token_id, csrf_secret, created_at, last_seen_at, idle_expires_at, expires_at)
     SELECT $1, t.retailer_id, t.id, $4, $5, $6, $7, $8
     FROM admin_tokens t
     WHERE t.id = $3 AND t.retailer_id = $2 AND t.revoked_at IS NULL
     RETURNING id_hash`,
    [
      s.id_hash,
      s.retailer_id,
      s.token_id,
      s.csrf_secret,
      s.created_at,
      s.last_seen_at,
      s.idle_expires_at,
      s.expires_at,
    ],
  );
  return rows.length === 1;
}

/** The live session with this id hash at `now`, or nothing: expired, unknown or its token revoked. */
export async function findLiveSession(
  db: Queryable,
  idHash: string,
  now: Date,
): Promise<ConsoleSessionRow | undefined> {
  const rows = await db.query<ConsoleSessionRow>(
    `SELECT s.id_hash, s.retailer_id, s.token_id, s.csrf_secret, s.created_at, s.last_seen_at,
            s.idle_expires_at, s.expires_at
     FROM console_sessions s
     JOIN admin_tokens t ON t.id = s.token_id AND t.revoked_at IS NULL
     WHERE s.id_hash = $1 AND s.idle_expires_at > $2 AND s.expires_at > $2`,
    [idHash, now],
  );
  return rows[0];
}

/** Moves a session's idle expiry forward (never past its absolute expiry). */
export async function touchSession(db: Queryable, idHash: string, now: Date, idleUntil: Date): Promise<void> {
  await db.query(
    `UPDATE console_sessions SET last_seen_at = $2, idle_expires_at = least($3, expires_at)
     WHERE id_hash = $1`,
    [idHash, now, idleUntil],
  );
}

export async function deleteSession(db: Queryable, idHash: string): Promise<void> {
  await db.query('DELETE FROM console_sessions WHERE id_hash = $1', [idHash]);
}

/** Removes sessions that can no longer be used; answers how many. */
export async function deleteDeadSessions(db: Queryable, now: Date): Promise<number> {
  const rows = await db.query(
    `DELETE FROM console_sessions s
     WHERE s.idle_expires_at <= $1 OR s.expires_at <= $1
        OR EXISTS (SELECT 1 FROM admin_tokens t WHERE t.id = s.token_id AND t.revoked_at IS NOT NULL)
     RETURNING s.id_hash`,
    [now],
  );
  return rows.length;
}

/** A purchase's points still waiting in escrow, one row per purchase. */
export interface PendingLotRow {
  purchase_id: string;
  transaction_id: string;
  purchase_time: Date;
  matures_at: Date;
  spendable: number;
  tier: number;
}

/**
 * The member's escrow lots still waiting at `now`, soonest release first. Reads are as-of
 * (DESIGN §5): a lot that has matured by `now` already counts as rolled over even when no writer
 * has marked it yet, so only lots maturing after `now` are pending. Lots a return emptied are left
 * out. The two lots of a purchase share its maturation instant and show as one row.
 */
export async function findPendingLots(
  db: Queryable,
  retailerId: string,
  userId: string,
  now: Date,
): Promise<PendingLotRow[]> {
  return db.query<PendingLotRow>(
    `SELECT l.purchase_id, p.transaction_id, p.purchase_time, min(l.matures_at) AS matures_at,
            coalesce(sum(l.remaining) FILTER (WHERE l.account = 'spendable_escrow'), 0)::int8 AS spendable,
            coalesce(sum(l.remaining) FILTER (WHERE l.account = 'tier_escrow'), 0)::int8 AS tier
     FROM lots l JOIN purchases p ON p.id = l.purchase_id
     WHERE l.user_id = $2 AND l.retailer_id = $1 AND l.rolled_over_at IS NULL
       AND l.matures_at > $3 AND l.remaining > 0
     GROUP BY l.purchase_id, p.transaction_id, p.purchase_time
     ORDER BY min(l.matures_at), p.transaction_id`,
    [retailerId, userId, now],
  );
}
