import type { Queryable } from '../db/database.js';
import type { MemberStanding } from '../domain/loyalty-view.js';
import type { ProgramDocument } from '../domain/program.js';
import { memberTier, tierAt } from '../domain/tiers.js';
import { balancesAsOf } from '../ledger/ledger.service.js';
import { readTqChanges } from './tier.repository.js';

/** What the tier of a member depends on besides the ledger. */
export interface MemberEnrollment {
  retailer_id: string;
  id: string;
  opted_in: boolean;
  /** Start of the current enrollment episode (DESIGN §6: opting in makes the member BASE then). */
  opted_in_at: Date | null;
}

/**
 * A member's standing as of `at`: balances with matured lots rolled over, and the tier the engine
 * derives from the Tier Qualifying history. The Tier Qualifying Account shows the current
 * qualifying year's balance: it resets to 0 on 1 January in the program's zone (DESIGN §6).
 */
export async function memberStandingAt(
  db: Queryable,
  program: ProgramDocument,
  member: MemberEnrollment,
  at: Date,
): Promise<MemberStanding> {
  const [balances, tqChanges] = await Promise.all([
    balancesAsOf(db, member.id, at),
    readTqChanges(db, member.id, at),
  ]);
  // A profile that exists and is opted in is enrolled by now at the latest, even when a tool on the
  // real clock created it "after" a simulated clock that lags behind (laurel demo, then --now).
  const enrolledAt = member.opted_in_at && member.opted_in_at > at ? at : member.opted_in_at;
  const enrollment = member.opted_in && enrolledAt ? [{ at: enrolledAt, opted_in: true }] : [];
  const tier = tierAt(program, { tq_changes: tqChanges, enrollment }, at);
  const lifetime = balances.balances.tier?.life_time_value ?? 0;
  return {
    retailer_id: member.retailer_id,
    user_id: member.id,
    opted_in: member.opted_in,
    balances: { ...balances.balances, tier: { balance: tier.tq_balance, life_time_value: lifetime } },
    used: balances.used,
    tier: member.opted_in ? memberTier(tier) : null,
  };
}
