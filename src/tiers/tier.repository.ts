import type { Queryable } from '../db/database.js';
import type { TqChange } from '../domain/tiers.js';

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
