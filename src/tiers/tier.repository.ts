import type { Queryable, Tx } from '../db/database.js';
import type { EnrollmentChange, TqChange } from '../domain/tiers.js';

/**
 * A member's Tier Qualifying history as of `at`, in one round trip: every posting to the Tier
 * Qualifying Account at its journal's effective instant, plus the tier escrow of lots matured by
 * `at` and not yet rolled over, at their maturation instant (DESIGN §5: reads do not wait for the
 * sweeper).
 */
export async function readTqChanges(db: Queryable, userId: string, at: Date): Promise<TqChange[]> {
  const rows = await db.query<{ at: Date; points: number }>(
    `SELECT j.effective_at AS at, p.amount AS points
     FROM postings p JOIN journals j ON j.id = p.journal_id
     WHERE p.user_id = $1 AND p.account = 'tier' AND j.effective_at <= $2
     UNION ALL
     SELECT matures_at, remaining FROM lots
     WHERE user_id = $1 AND account = 'tier_escrow' AND rolled_over_at IS NULL AND matures_at <= $2 AND remaining > 0`,
    [userId, at],
  );
  return rows.map((r) => ({ at: r.at, points: r.points }));
}

export interface TierMoveRow {
  id: string;
  retailer_id: string;
  user_id: string;
  tier_system_id: string;
  tier_level_id: string;
  effective_at: Date;
  recorded_at: Date;
  actor: string;
  reason: string;
}

export async function insertTierMove(tx: Tx, m: TierMoveRow): Promise<void> {
  await tx.query(
    `INSERT INTO tier_moves (id, retailer_id, user_id, tier_system_id, tier_level_id, effective_at, recorded_at, actor, reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      m.id,
      m.retailer_id,
      m.user_id,
      m.tier_system_id,
      m.tier_level_id,
      m.effective_at,
      m.recorded_at,
      m.actor,
      m.reason,
    ],
  );
}

/** The member's manual moves effective by `at`, oldest first. */
export async function readTierMoves(db: Queryable, userId: string, at: Date): Promise<TierMoveRow[]> {
  return db.query<TierMoveRow>(
    `SELECT id, retailer_id, user_id, tier_system_id, tier_level_id, effective_at, recorded_at, actor, reason
     FROM tier_moves WHERE user_id = $1 AND effective_at <= $2 ORDER BY effective_at, id`,
    [userId, at],
  );
}

/** The member's opt-ins and opt-outs, oldest first. */
export async function readEnrollment(db: Queryable, userId: string): Promise<EnrollmentChange[]> {
  return db.query<EnrollmentChange>(
    'SELECT at, opted_in FROM enrollment_events WHERE user_id = $1 ORDER BY at, id',
    [userId],
  );
}
