import type { Queryable } from '../db/database.js';
import type { ProgramDocument } from '../domain/program.js';
import type { StoredStanding } from '../domain/standing.js';
import { memberLedgerColumn, type MemberLedgerJson } from './tier.repository.js';

/**
 * A member's stored standing (issue #15, docs/decisions/0006-standing-row.md): read beside the
 * member in the statement that finds them, and stored by the read that had to compute it.
 */

/** What `standingRead` adds to the member's row, as it arrives. */
export interface StandingReadJson {
  /** The program version in force at the read's instant; its document only when the process did not say it holds it. */
  program_at: { version: number; document: ProgramDocument | null } | null;
  /** The retailer's newest program version: a stored standing was computed under it, or is stale. */
  program_latest: number | null;
  /** The stored standing's version (0 when there is no row): a store must find it unchanged. */
  standing_version: number;
  /** The stored standing when it answers the read: current, computed at or before the instant, still true at it. */
  standing: StoredStanding | null;
  /** Only when `standing` is null: the member's ledger as of the instant (`memberLedgerColumn`). */
  ledger: MemberLedgerJson | null;
  /** Only when `standing` is null: epoch ms of the first stored input a later read counts that this one does not. */
  next_input_ms: number | null;
}

/**
 * The joins and columns of `StandingReadJson` for the member `f` (with `f.id` and `f.retailer_id`)
 * as of the SQL expression `at`, `held` naming the program version whose document the process
 * holds. The ledger is read only when the stored standing does not answer (CASE evaluates its
 * branch lazily), so a read that hits costs a few index probes, and one that misses no second
 * round trip.
 */
export function standingRead(
  at: string,
  held: string,
  /** The member's id and retailer as SQL: constants keep every part on the member's shard (issue #19). */
  userId = 'f.id',
  retailerId = 'f.retailer_id',
): { joins: string; columns: string } {
  return {
    joins: `LEFT JOIN LATERAL (SELECT max(version) AS latest FROM program_versions
                               WHERE retailer_id = ${retailerId}) pl ON true
            LEFT JOIN LATERAL (SELECT version, effective_from, document FROM program_versions
                               WHERE retailer_id = ${retailerId} AND (effective_from IS NULL OR effective_from <= ${at})
                               ORDER BY version DESC LIMIT 1) pv ON true
            LEFT JOIN LATERAL (SELECT s.version,
                                      CASE WHEN s.body IS NOT NULL AND s.computed_at <= ${at} AND ${at} < s.valid_until
                                                AND s.program_version = pl.latest THEN s.body END AS body
                               FROM member_standings s WHERE s.user_id = ${userId}) ms ON true`,
    columns: `json_build_object('version', pv.version,
                'document', CASE WHEN pv.version IS DISTINCT FROM ${held} THEN pv.document END) AS program_at,
              pl.latest AS program_latest,
              coalesce(ms.version, 0) AS standing_version,
              ms.body AS standing,
              CASE WHEN ms.body IS NULL THEN ${memberLedgerColumn(userId, at)} END AS ledger,
              CASE WHEN ms.body IS NULL THEN ${nextInputColumn(userId, retailerId, at)} END AS next_input_ms`,
  };
}

/**
 * Epoch ms of the first instant after `at` at which a stored input of the member enters a read:
 * an unrolled lot's maturation, a Tier Qualifying posting or a manual move effective later, a
 * program version in force later (DESIGN §5: reads count what is effective by their instant).
 */
function nextInputColumn(userId: string, retailerId: string, at: string): string {
  const ms = (e: string) => `(extract(epoch FROM ${e}) * 1000)::bigint`;
  return `${ms(`least(
    (SELECT min(matures_at) FROM lots
     WHERE user_id = ${userId} AND rolled_over_at IS NULL AND remaining > 0 AND matures_at > ${at}),
    (SELECT min(j.effective_at) FROM postings p JOIN journals j ON j.id = p.journal_id AND j.user_id = p.user_id
     WHERE p.user_id = ${userId} AND p.account = 'tier' AND j.effective_at > ${at}),
    (SELECT min(effective_at) FROM tier_moves WHERE user_id = ${userId} AND effective_at > ${at}),
    (SELECT min(effective_from) FROM program_versions WHERE retailer_id = ${retailerId} AND effective_from > ${at}))`)}`;
}

/** A computed standing to store, with what identifies the state it was computed from. */
export interface StandingToStore {
  user_id: string;
  retailer_id: string;
  /** The version the read saw; the store changes nothing when a write has bumped it since. */
  seen_version: number;
  body: StoredStanding;
  computed_at: Date;
  valid_until: Date;
  program_version: number;
}

/**
 * Stores a standing a read computed, only over the version the read saw: a write committed since
 * (or holding the row now, SKIP LOCKED) bumps it, and the stale computation is dropped. The row is
 * a cache that any read can rebuild, so its commit does not wait for the WAL flush.
 */
export async function storeStanding(db: Queryable, s: StandingToStore): Promise<void> {
  const params = [
    s.user_id,
    s.retailer_id,
    s.seen_version,
    JSON.stringify(s.body),
    s.computed_at,
    s.valid_until,
    s.program_version,
  ];
  const relaxed = `cfg AS (SELECT set_config('synchronous_commit', 'off', true) AS off)`;
  if (s.seen_version === 0) {
    await db.query(
      `WITH ${relaxed}
       INSERT INTO member_standings (user_id, retailer_id, version, body, computed_at, valid_until, program_version)
       SELECT $1, $2, $3, $4::jsonb, $5, $6, $7 FROM cfg
       ON CONFLICT (user_id) DO NOTHING`,
      params,
    );
    return;
  }
  await db.query(
    `WITH ${relaxed}, cur AS (
       SELECT user_id FROM member_standings WHERE user_id = $1 AND version = $3 FOR UPDATE SKIP LOCKED
     )
     UPDATE member_standings s SET body = $4::jsonb, computed_at = $5, valid_until = $6, program_version = $7
     FROM cur, cfg WHERE s.user_id = $1 AND s.user_id = cur.user_id AND s.retailer_id = $2`,
    params,
  );
}
