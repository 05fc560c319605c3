import type { Tx } from '../db/database.js';
import type { EventType } from '../domain/events.js';
import { newId, stableV7 } from '../domain/ids.js';
import type { TierChange } from '../domain/tiers.js';
import { getProgramAt } from '../program/program.service.js';
import { tierStandingAt } from '../tiers/tier.service.js';
import type { EventInput } from './outbox.repository.js';

/**
 * Builds outbox rows (issue #17, docs/events.md). Writers call these inside the transaction of the
 * change and write the rows with it.
 */

/** An event of `type` happening `now` (effective then unless said otherwise). */
export function eventOf(
  type: EventType,
  retailerId: string,
  userId: string | null,
  now: Date,
  data: Record<string, unknown>,
  effectiveAt: Date = now,
): EventInput {
  return {
    id: newId(now.getTime()),
    type,
    retailer_id: retailerId,
    user_id: userId,
    created_at: now,
    effective_at: effectiveAt,
    data,
  };
}

/** A member's enrollment as the tier engine reads it. */
interface EnrollmentRow {
  retailer_id: string;
  id: string;
  opted_in: boolean;
  opted_in_at: Date | null;
}

/**
 * The `tier.changed` events of a member's tier changes effective at one of `instants` (issue #17):
 * the instants a write has just made real — the maturation instants of lots it rolled over, the
 * period ends it settled, or its own instant. Each carries its own instant as `effective_at`, so a
 * crossing at a maturation instant reads the same whether the sweeper ran every second or a month
 * later (DESIGN §5). Ids are derived from the change, so a change found twice is written once.
 * Runs under the member's lock, after the write.
 */
export async function tierChangeEvents(
  tx: Tx,
  retailerId: string,
  userId: string,
  instants: readonly Date[],
  now: Date,
): Promise<EventInput[]> {
  if (!instants.length) return [];
  const [member] = await tx.query<EnrollmentRow>(
    'SELECT retailer_id, id, opted_in, opted_in_at FROM users WHERE id = $1',
    [userId],
  );
  if (!member) return [];
  const program = await getProgramAt(tx, retailerId, now);
  const { tier } = await tierStandingAt(tx, program, member, now);
  const at = new Set(instants.map((i) => i.getTime()));
  const levels = new Map(program.tier_system.levels.map((l) => [l.id, l.name]));
  const name = (id: string | null) => (id === null ? null : (levels.get(id) ?? id));
  return tier.history
    .filter((c) => at.has(c.at.getTime()) && c.from_level_id !== c.to_level_id)
    .map((c: TierChange) => ({
      id: stableV7(
        c.at.getTime(),
        `tier.changed|${userId}|${c.at.toISOString()}|${c.cause}|${c.to_level_id}`,
      ),
      type: 'tier.changed' as const,
      retailer_id: retailerId,
      user_id: userId,
      created_at: now,
      effective_at: c.at,
      data: {
        tier_system_id: program.tier_system.id,
        from: name(c.from_level_id),
        to: name(c.to_level_id),
        from_level_id: c.from_level_id,
        to_level_id: c.to_level_id,
        cause: c.cause,
      },
    }));
}
