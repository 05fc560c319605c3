import type { Queryable, Tx } from '../db/database.js';

/** A member's event as stored (migration 0008), with the answer it got. */
export interface UserEventRow {
  retailer_id: string;
  user_id: string;
  id: string;
  event_lookup: string;
  source: 'trigger_user_event' | 'campaign_event';
  campaign_id: string | null;
  is_session_m: boolean;
  program_version: number;
  idempotency_key: string | null;
  body_hash: string | null;
  response: unknown;
  occurred_at: Date;
}

/** An outcome an event applied: what the per-member limits count. */
export interface AppliedOutcomeRow {
  retailer_id: string;
  user_id: string;
  event_id: string;
  behaviour_id: string;
  outcome_id: string;
  applied_at: Date;
  journal_id: string | null;
  tier_move_id: string | null;
}

export async function insertUserEvent(tx: Tx, e: UserEventRow): Promise<void> {
  await tx.query(
    `INSERT INTO user_events (retailer_id, user_id, id, event_lookup, source, campaign_id, is_session_m,
       program_version, idempotency_key, body_hash, response, occurred_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [
      e.retailer_id,
      e.user_id,
      e.id,
      e.event_lookup,
      e.source,
      e.campaign_id,
      e.is_session_m,
      e.program_version,
      e.idempotency_key,
      e.body_hash,
      JSON.stringify(e.response),
      e.occurred_at,
    ],
  );
}

/** The event a member sent under an idempotency key, if any. */
export async function findUserEventByKey(
  db: Queryable,
  userId: string,
  key: string,
): Promise<Pick<UserEventRow, 'body_hash' | 'response'> | undefined> {
  const rows = await db.query<Pick<UserEventRow, 'body_hash' | 'response'>>(
    'SELECT body_hash, response FROM user_events WHERE user_id = $1 AND idempotency_key = $2',
    [userId, key],
  );
  return rows[0];
}

export async function insertAppliedOutcomes(tx: Tx, rows: readonly AppliedOutcomeRow[]): Promise<void> {
  if (!rows.length) return;
  await tx.query(
    `INSERT INTO behaviour_outcomes (retailer_id, user_id, event_id, behaviour_id, outcome_id, applied_at,
       journal_id, tier_move_id)
     SELECT retailer_id, user_id, event_id, behaviour_id, outcome_id, applied_at, journal_id, tier_move_id
     FROM jsonb_populate_recordset(NULL::behaviour_outcomes, $1::jsonb)`,
    [JSON.stringify(rows)],
  );
}

/**
 * How often each outcome applied to the member since its window's start (null: ever), in one
 * round trip; outcomes that never applied are absent.
 */
export async function countAppliedOutcomes(
  db: Queryable,
  userId: string,
  windows: readonly { outcome_id: string; since: Date | null }[],
): Promise<Map<string, number>> {
  if (!windows.length) return new Map();
  const rows = await db.query<{ outcome_id: string; n: number }>(
    `SELECT w.outcome_id, count(o.*)::int AS n
     FROM jsonb_to_recordset($2::jsonb) AS w(outcome_id uuid, since timestamptz)
     JOIN behaviour_outcomes o ON o.user_id = $1 AND o.outcome_id = w.outcome_id
       AND (w.since IS NULL OR o.applied_at >= w.since)
     GROUP BY w.outcome_id`,
    [userId, JSON.stringify(windows)],
  );
  return new Map(rows.map((r) => [r.outcome_id, Number(r.n)]));
}
