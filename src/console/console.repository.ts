import type { Queryable } from '../db/database.js';

/** A console session as stored: the id itself is never stored, only its hash (migration 0005). */
export interface ConsoleSessionRow {
  id_hash: string;
  retailer_id: string;
  token_id: string;
  csrf_secret: string;
  agent_name: string | null;
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
       (id_hash, retailer_id, token_id, csrf_secret, created_at, last_seen_at, idle_expires_at, expires_at,
        agent_name)
     SELECT $1, t.retailer_id, t.id, $4, $5, $6, $7, $8, $9
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
      s.agent_name,
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
    `SELECT s.id_hash, s.retailer_id, s.token_id, s.csrf_secret, s.agent_name, s.created_at, s.last_seen_at,
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
     FROM lots l JOIN purchases p ON p.user_id = l.user_id AND p.id = l.purchase_id
     WHERE l.user_id = $2 AND p.user_id = $2 AND l.retailer_id = $1 AND l.rolled_over_at IS NULL
       AND l.matures_at > $3 AND l.remaining > 0
     GROUP BY l.purchase_id, p.transaction_id, p.purchase_time
     ORDER BY min(l.matures_at), p.transaction_id`,
    [retailerId, userId, now],
  );
}

/** How a member matched the agent's search: exact matches rank before prefixes. */
export type MatchKind =
  | 'laurel_id'
  | 'email'
  | 'external_id'
  | 'phone'
  | 'name'
  | 'email_prefix'
  | 'name_prefix'
  | 'external_id_prefix'
  | 'phone_prefix';

/** What to look for, each part already normalised; absent parts are not searched. */
export interface MemberSearchTerms {
  /** A whole Laurel id (uuid). */
  id?: string;
  /** Lowered text: a prefix of an email, a name (first or last) and an external id. */
  text?: string;
  /** The phone's search key digits (up to the last ten): a prefix or the whole key. */
  phoneDigits?: string;
}

export interface MemberMatchRow {
  user_id: string;
  rank: number;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  external_id: string | null;
  retailer_id: string;
  opted_in: boolean;
  opted_in_at: Date | null;
  /** The member's latest purchase, return or points change at or before now; null if none. */
  last_activity_at: Date | null;
}

/**
 * "`col` starts with `$n`" as a range of text_pattern_ops' operators, which a btree of migration
 * 0007 answers with a parameter too: `LIKE $n || '%'` uses the index only when the pattern is known
 * at planning, and prepared statements plan once for every value. U+10FFFF sorts after every
 * character that can follow the prefix.
 */
const startsWith = (col: string, n: number): string =>
  `(${col} ~>=~ $${n} AND ${col} ~<=~ ($${n} || chr(1114111)))`;

/**
 * Members matching the search, best first, at most `limit`. Every branch is one btree range scan of
 * migration 0007's indexes (or a primary-key probe) cut at `limit` rows, so a short prefix among a
 * million members reads one page of index, not the table. A member found by several branches keeps
 * the best rank: an exact match beats a prefix; then the most recent activity comes first.
 */
export async function searchMembers(
  db: Queryable,
  retailerId: string,
  terms: MemberSearchTerms,
  now: Date,
  limit: number,
): Promise<MemberMatchRow[]> {
  const params: unknown[] = [retailerId, limit];
  const branches: string[] = [];
  const live = 'u.retailer_id = $1 AND u.deleted_at IS NULL';
  if (terms.id) {
    params.push(terms.id);
    branches.push(`SELECT u.id, 0 AS rank FROM users u WHERE ${live} AND u.id = $${params.length}::uuid`);
  }
  if (terms.text) {
    params.push(terms.text);
    const n = params.length;
    const exact = `$${n}`;
    const name = `lower(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, ''))`;
    branches.push(
      `(SELECT u.id, CASE WHEN lower(u.email) = ${exact} THEN 1 ELSE 5 END AS rank FROM users u
        WHERE ${live} AND u.email IS NOT NULL AND ${startsWith('lower(u.email)', n)} LIMIT $2)`,
      `(SELECT i.user_id, CASE WHEN lower(i.external_id) = ${exact} THEN 2 ELSE 7 END FROM user_identifiers i
        WHERE i.retailer_id = $1 AND ${startsWith('lower(i.external_id)', n)} LIMIT $2)`,
      `(SELECT u.id, CASE WHEN ${name} = ${exact} THEN 4 ELSE 6 END FROM users u
        WHERE ${live} AND ${startsWith(name, n)} LIMIT $2)`,
      `(SELECT u.id, CASE WHEN lower(u.last_name) = ${exact} THEN 4 ELSE 6 END FROM users u
        WHERE ${live} AND u.last_name IS NOT NULL AND ${startsWith('lower(u.last_name)', n)} LIMIT $2)`,
    );
  }
  if (terms.phoneDigits) {
    params.push(terms.phoneDigits);
    const n = params.length;
    branches.push(
      `(SELECT ph.user_id, CASE WHEN ph.phone_key = $${n} THEN 3 ELSE 8 END FROM user_phones ph
        WHERE ph.retailer_id = $1 AND ${startsWith('ph.phone_key', n)} LIMIT $2)`,
    );
  }
  if (!branches.length) return [];
  params.push(now);
  return db.query<MemberMatchRow>(
    `WITH found (user_id, rank) AS (${branches.join(' UNION ALL ')}),
     best AS (SELECT user_id, min(rank) AS rank FROM found GROUP BY user_id)
     SELECT u.id AS user_id, b.rank, u.first_name, u.last_name, u.email, u.external_id, u.retailer_id, u.opted_in, u.opted_in_at,
            (SELECT max(j.effective_at) FROM journals j
              WHERE j.user_id = u.id AND j.effective_at <= $${params.length} AND j.kind <> 'rollover') AS last_activity_at
     FROM best b JOIN users u ON u.id = b.user_id AND u.retailer_id = $1 AND u.deleted_at IS NULL
     ORDER BY b.rank, last_activity_at DESC NULLS LAST, lower(u.last_name), lower(u.first_name), u.id
     LIMIT $2`,
    params,
  );
}

/** Records that the agent opened the member's page (newest view wins). */
export async function recordRecentView(
  db: Queryable,
  retailerId: string,
  agent: string,
  userId: string,
  at: Date,
): Promise<void> {
  await db.query(
    `INSERT INTO console_recent_views (retailer_id, agent, user_id, viewed_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (retailer_id, agent, user_id) DO UPDATE SET viewed_at = excluded.viewed_at`,
    [retailerId, agent, userId, at],
  );
}

export interface RecentViewRow {
  user_id: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  external_id: string | null;
  viewed_at: Date;
}

/** The members the agent opened last, newest first; erased members are left out. */
export async function findRecentViews(
  db: Queryable,
  retailerId: string,
  agent: string,
  limit: number,
): Promise<RecentViewRow[]> {
  return db.query<RecentViewRow>(
    `SELECT r.user_id, u.first_name, u.last_name, u.email, u.external_id, r.viewed_at
     FROM console_recent_views r JOIN users u ON u.id = r.user_id AND u.deleted_at IS NULL
     WHERE r.retailer_id = $1 AND r.agent = $2
     ORDER BY r.viewed_at DESC LIMIT $3`,
    [retailerId, agent, limit],
  );
}

/** One event of a member's history: a journal, or the rollover of one purchase (both its lots). */
export interface HistoryEventRow {
  event_key: string;
  kind: 'purchase' | 'return' | 'rollover' | 'deposit' | 'spend' | 'cash_out';
  effective_at: Date;
  purchase_id: string | null;
  transaction_id: string | null;
  reference_type: string | null;
  reference_id: string | null;
  point_source_id: string | null;
  details: Record<string, unknown>;
  spendable: number;
  spendable_escrow: number;
  tier: number;
  tier_escrow: number;
  total: number;
}

export interface HistoryFilter {
  /** Journal kinds to keep; empty keeps all. */
  kinds: readonly string[];
  from: Date | null;
  /** Exclusive. */
  until: Date | null;
  /** Only the events of this purchase. */
  purchaseId?: string | undefined;
}

/**
 * A page of the member's history, newest first, one row per event (issue #18 item 11): a purchase's
 * two lots roll over in two journals at one instant, shown as one rollover of that purchase, with
 * the points per member account summed. `total` counts every event the filter keeps.
 */
export async function findHistoryEvents(
  db: Queryable,
  userId: string,
  filter: HistoryFilter,
  page: { skip: number; take: number },
): Promise<HistoryEventRow[]> {
  return db.query<HistoryEventRow>(
    `WITH events AS (
       SELECT CASE WHEN j.kind = 'rollover' AND j.purchase_id IS NOT NULL
                   THEN 'rollover:' || j.purchase_id || ':' || extract(epoch FROM j.effective_at)
                   ELSE j.id::text END AS event_key,
              j.kind, j.effective_at, j.purchase_id, j.reference_type, j.reference_id, j.point_source_id,
              j.details, j.id, p.account, p.amount
       FROM journals j JOIN postings p ON p.user_id = j.user_id AND p.journal_id = j.id
       WHERE j.user_id = $1 AND p.user_id = $1 AND p.account NOT LIKE 'program:%'
         AND (cardinality($2::text[]) = 0 OR j.kind = ANY($2::text[]))
         AND ($3::timestamptz IS NULL OR j.effective_at >= $3)
         AND ($4::timestamptz IS NULL OR j.effective_at < $4)
         AND ($7::uuid IS NULL OR j.purchase_id = $7::uuid)
     )
     SELECT e.event_key, min(e.kind) AS kind, max(e.effective_at) AS effective_at,
            min(e.purchase_id::text) AS purchase_id,
            min(coalesce(e.details->>'transaction_id', pu.transaction_id)) AS transaction_id,
            min(e.reference_type) AS reference_type, min(e.reference_id) AS reference_id,
            min(e.point_source_id) AS point_source_id, (array_agg(e.details ORDER BY e.id))[1] AS details,
            coalesce(sum(e.amount) FILTER (WHERE e.account = 'spendable'), 0)::int8 AS spendable,
            coalesce(sum(e.amount) FILTER (WHERE e.account = 'spendable_escrow'), 0)::int8 AS spendable_escrow,
            coalesce(sum(e.amount) FILTER (WHERE e.account = 'tier'), 0)::int8 AS tier,
            coalesce(sum(e.amount) FILTER (WHERE e.account = 'tier_escrow'), 0)::int8 AS tier_escrow,
            count(*) OVER ()::int AS total
     FROM events e LEFT JOIN purchases pu ON pu.user_id = $1 AND pu.id = e.purchase_id
     GROUP BY e.event_key
     ORDER BY max(e.effective_at) DESC, e.event_key DESC
     LIMIT $5 OFFSET $6`,
    [userId, filter.kinds, filter.from, filter.until, page.take, page.skip, filter.purchaseId ?? null],
  );
}

/** A purchase of the member as the purchase view shows it. */
export interface PurchaseRow {
  id: string;
  transaction_id: string;
  store_id: string | null;
  purchase_time: Date;
  basket: Record<string, unknown>;
  award: Record<string, unknown>;
  not_awarded_reason: string | null;
  revision: number;
}

export async function findMemberPurchase(
  db: Queryable,
  retailerId: string,
  userId: string,
  purchaseId: string,
): Promise<PurchaseRow | undefined> {
  const rows = await db.query<PurchaseRow>(
    `SELECT id, transaction_id, store_id, purchase_time, basket, award, not_awarded_reason, revision
     FROM purchases WHERE retailer_id = $1 AND user_id = $2 AND id = $3::uuid`,
    [retailerId, userId, purchaseId],
  );
  return rows[0];
}

/** The purchase's lots: each escrow account's amount, what is left, and when it matures. */
export interface PurchaseLotRow {
  account: 'spendable_escrow' | 'tier_escrow';
  amount: number;
  remaining: number;
  matures_at: Date;
  rolled_over_at: Date | null;
}

export async function findPurchaseLots(
  db: Queryable,
  userId: string,
  purchaseId: string,
): Promise<PurchaseLotRow[]> {
  return db.query<PurchaseLotRow>(
    `SELECT account, amount, remaining, matures_at, rolled_over_at FROM lots
     WHERE user_id = $1 AND purchase_id = $2 ORDER BY account`,
    [userId, purchaseId],
  );
}
