import { periodAt } from './cashout.js';
import type { AccountBalance, MemberStanding } from './loyalty-view.js';
import type { AccountRole, ProgramDocument } from './program.js';
import { nextTierChangeAfter, type TierInputs } from './tiers.js';

/**
 * A member's standing as one stored row (issue #15, docs/decisions/0006-standing-row.md): pure.
 * What the user object's loyalty part is computed from (balances, used accounts, tier and its
 * dates) is stored beside the instant it was computed for and the instant it stops being true by
 * time alone; a read at T is served from it while computed_at <= T < valid_until and no write has
 * happened since. Everything here is about when that holds.
 */

/** The stored part of a `MemberStanding`: what does not come from the user row itself. */
export interface StoredStanding {
  balances: Partial<Record<AccountRole, [balance: number, life_time_value: number]>>;
  used: AccountRole[];
  tier: {
    level_id: string;
    entered_ms: number;
    resets_ms: number | null;
    period_ends_ms: number;
    maintenance_points: number;
    maintenance_required_points: number;
    last_evaluated_ms: number | null;
  } | null;
}

/** A standing → the JSON stored in `member_standings.body`. */
export function storedStanding(s: MemberStanding): StoredStanding {
  const balances: StoredStanding['balances'] = {};
  for (const [role, b] of Object.entries(s.balances) as [AccountRole, AccountBalance][]) {
    balances[role] = [b.balance, b.life_time_value];
  }
  const t = s.tier;
  return {
    balances,
    used: [...s.used].sort(),
    tier: t
      ? {
          level_id: t.level_id,
          entered_ms: t.entered_at.getTime(),
          resets_ms: t.resets_at?.getTime() ?? null,
          period_ends_ms: t.period_ends_at.getTime(),
          maintenance_points: t.maintenance_points ?? 0,
          maintenance_required_points: t.maintenance_required_points ?? 0,
          last_evaluated_ms: t.last_evaluated_at?.getTime() ?? null,
        }
      : null,
  };
}

/** The stored JSON → the standing of the member it belongs to. */
export function standingFromStored(
  member: { retailer_id: string; id: string; opted_in: boolean },
  s: StoredStanding,
): MemberStanding {
  const balances: MemberStanding['balances'] = {};
  for (const [role, [balance, life_time_value]] of Object.entries(s.balances) as [
    AccountRole,
    [number, number],
  ][]) {
    balances[role] = { balance, life_time_value };
  }
  const t = s.tier;
  return {
    retailer_id: member.retailer_id,
    user_id: member.id,
    opted_in: member.opted_in,
    balances,
    used: new Set(s.used),
    tier: t
      ? {
          level_id: t.level_id,
          entered_at: new Date(t.entered_ms),
          resets_at: t.resets_ms === null ? null : new Date(t.resets_ms),
          period_ends_at: new Date(t.period_ends_ms),
          maintenance_points: t.maintenance_points,
          maintenance_required_points: t.maintenance_required_points,
          last_evaluated_at: t.last_evaluated_ms === null ? null : new Date(t.last_evaluated_ms),
        }
      : null,
  };
}

/** What, besides the tier engine's inputs, a standing at `at` changes with by time alone. */
export interface TimeDrivenInputs {
  /**
   * The first instant after `at` of a stored input that a read at a later instant counts and a read
   * at `at` does not: a lot's maturation, a Tier Qualifying posting or manual move effective later,
   * a program version in force later. Null when there is none.
   */
  next_input_at: Date | null;
  /** Where the member's cash-outs stand (DESIGN §7); undefined for no user row. */
  cash_out: { since: Date; deleted: boolean } | undefined;
  /** Whether an enrollment change is stamped after `at` (a read clamps it to its own instant). */
  enrollment_after: boolean;
}

/**
 * The first instant after `at` at which the standing computed at `at` may differ by time alone
 * (DESIGN §5: every maturation, TQ reset, tier expiry and cash-out effective by T counts at T):
 * the earliest of the next stored input, the next cash-out instant, and the tier engine's next
 * change. An enrollment change stamped after `at` makes the standing true at `at` only.
 */
export function standingValidUntil(
  program: ProgramDocument,
  tierInputs: TierInputs,
  time: TimeDrivenInputs,
  at: Date,
): Date {
  const t = at.getTime();
  if (time.enrollment_after) return new Date(t + 1);
  let next = nextTierChangeAfter(program, tierInputs, at).getTime();
  if (time.next_input_at && time.next_input_at.getTime() > t) {
    next = Math.min(next, time.next_input_at.getTime());
  }
  if (time.cash_out && !time.cash_out.deleted) {
    // The periods due at T end in (since, T] (ledger.service periodsDue): the set grows at the
    // end of the period holding max(since, at).
    const from = Math.max(time.cash_out.since.getTime(), t);
    next = Math.min(next, periodAt(new Date(from), program.time_zone).ends_at.getTime());
  }
  return new Date(next);
}
