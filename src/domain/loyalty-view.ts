import { derivedId } from './ids.js';
import {
  accountByRole,
  UNENROLLED,
  type AccountRole,
  type ProgramDocument,
  type TierLevel,
} from './program.js';
import { coreTime, isoLocalTime } from './time.js';
import { precisionOf, sumMajor, toMajor } from './precision.js';

/**
 * The loyalty part of the user object (seed Step 2, DESIGN §6): pure, from a program and a member's
 * standing. The ledger (#3) and tier engine (#4) will supply the standing; until they land a member
 * has zero balances and stands at the enrolled floor (BASE) from the moment they opted in.
 */

export interface AccountBalance {
  balance: number;
  life_time_value: number;
}

export interface MemberStanding {
  retailer_id: string;
  user_id: string;
  opted_in: boolean;
  balances: Partial<Record<AccountRole, AccountBalance>>;
  /** Accounts the member has used; the others show an empty user point account id (issue #3). */
  used: ReadonlySet<AccountRole>;
  /** Current level when enrolled; null means UNENROLLED. */
  tier: {
    level_id: string;
    entered_at: Date;
    /** When the level expires; null when it never does. */
    resets_at: Date | null;
    /** The end of the current qualifying period. */
    period_ends_at: Date;
    /** Issue #20: this period's qualifying points, the points still needed to keep the level, its last evaluation. */
    maintenance_points?: number;
    maintenance_required_points?: number;
    last_evaluated_at?: Date | null;
  } | null;
}

export interface TierOverview {
  id: string;
  tier_system_id: string;
  retailer_id: string;
  name: string;
  rank: number;
  status: number;
}

export interface LoyaltyFields {
  available_points: number;
  tier: string;
  tier_system: string;
  tier_points: number;
  next_tier_points: number | null;
  tier_ends_value: number | null;
  tier_entered_at: string | null;
  tier_resets_at: string | null;
}

const ZERO: AccountBalance = { balance: 0, life_time_value: 0 };
/** The `status` SessionM shows for an active level (observed as 2; reference §5). */
const ACTIVE_LEVEL_STATUS = 2;
/** Opaque rule codes echoed as the seed shows them (reference §5: store and echo, never interpret). */
const BALANCE_RULE = {
  discriminator: 2048,
  comparison: 4,
  constraint_discriminator: 8,
  node_discriminator: 2,
};

const balanceOf = (s: MemberStanding, role: AccountRole): AccountBalance => s.balances[role] ?? ZERO;

function currentLevel(program: ProgramDocument, s: MemberStanding): TierLevel | null {
  if (!s.tier) return null;
  return program.tier_system.levels.find((l) => l.id === s.tier!.level_id) ?? null;
}

function nextLevel(program: ProgramDocument, level: TierLevel): TierLevel | null {
  return (
    program.tier_system.levels.filter((l) => l.rank > level.rank).sort((a, b) => a.rank - b.rank)[0] ?? null
  );
}

/** The flat loyalty fields of the user object. */
export function loyaltyFields(program: ProgramDocument, s: MemberStanding): LoyaltyFields {
  const spendable = balanceOf(s, 'spendable').balance;
  const available =
    program.available_points === 'spendable_plus_escrow'
      ? spendable + balanceOf(s, 'spendable_escrow').balance
      : spendable;
  const tierPoints = balanceOf(s, 'tier').balance;
  const level = currentLevel(program, s);
  const next = level ? nextLevel(program, level) : null;
  return {
    // The Spendable pair shares one precision: minor units in the ledger, major units here (issue #14).
    available_points: toMajor(available, precisionOf(program, 'spendable')),
    tier: level?.name ?? UNENROLLED,
    tier_system: program.tier_system.name,
    tier_points: tierPoints,
    next_tier_points: next ? Math.max(0, next.threshold - tierPoints) : null,
    tier_ends_value: next ? next.threshold : null,
    tier_entered_at: level ? coreTime(s.tier!.entered_at) : null,
    // A level that never expires shows the end of the current qualifying period: every recorded
    // SessionM answer with a tier has a tier_resets_at string (DESIGN §6, amended 2026-12-04).
    tier_resets_at: level ? coreTime(s.tier!.resets_at ?? s.tier!.period_ends_at) : null,
  };
}

/**
 * The maintenance fields of the user object (issue #20): integers on every read, 0 when not
 * enrolled, since typed clients read them as numbers.
 */
export function maintenanceFields(s: MemberStanding): {
  maintenance_points: number;
  maintenance_required_points: number;
} {
  return {
    maintenance_points: s.tier?.maintenance_points ?? 0,
    maintenance_required_points: s.tier?.maintenance_required_points ?? 0,
  };
}

function overview(program: ProgramDocument, retailerId: string, level: TierLevel): TierOverview {
  return {
    id: level.id,
    tier_system_id: program.tier_system.id,
    retailer_id: retailerId,
    name: level.name,
    rank: level.rank,
    status: ACTIVE_LEVEL_STATUS,
  };
}

/** `tier_details` of the user object with `expand_incentives=true`, in the seed's shape. */
export function tierDetails(program: ProgramDocument, s: MemberStanding) {
  const level = currentLevel(program, s);
  const tierAccount = accountByRole(program, 'tier');
  const tierPoints = balanceOf(s, 'tier').balance;
  const tierLevels = [];
  if (level) {
    const next = nextLevel(program, level);
    const membershipId = derivedId(s.user_id, `tier_membership:${program.tier_system.id}`);
    const ruleTarget = next ?? level;
    const treeId = derivedId(ruleTarget.rule_id, 'tree');
    const parentId = derivedId(ruleTarget.rule_id, 'parent');
    tierLevels.push({
      id: membershipId,
      tier_system_id: program.tier_system.id,
      tier_level_id: level.id,
      user_id: s.user_id,
      join_date: isoLocalTime(s.tier!.entered_at),
      // Issue #20: the level's next evaluation is its expiry; both dates are left out when there is none.
      ...(s.tier!.resets_at ? { next_maintenance_eval_date: coreTime(s.tier!.resets_at) } : {}),
      ...(s.tier!.last_evaluated_at
        ? { last_maintenance_eval_date: coreTime(s.tier!.last_evaluated_at) }
        : {}),
      tier_overview: overview(program, s.retailer_id, level),
      ...(next ? { next_tier_overview: overview(program, s.retailer_id, next) } : {}),
      tier_progress: [
        {
          rule_tree_id: treeId,
          rules: [
            {
              query_result: tierPoints,
              rule_id: ruleTarget.rule_id,
              parent_id: parentId,
              tree_id: treeId,
              rule_passed: tierPoints >= ruleTarget.threshold,
              rule: {
                discriminator: BALANCE_RULE.discriminator,
                target_balance: ruleTarget.threshold,
                comparison: BALANCE_RULE.comparison,
                id: ruleTarget.rule_id,
                retailer_id: s.retailer_id,
                parent_id: parentId,
                rank: 0,
                is_new: false,
                constraints: [
                  {
                    discriminator: BALANCE_RULE.constraint_discriminator,
                    point_accounts: { [tierAccount.id]: tierAccount.name },
                    id: derivedId(ruleTarget.rule_id, 'constraint'),
                    rule_id: ruleTarget.rule_id,
                    is_new: false,
                    rank: 0,
                  },
                ],
              },
              discriminator: BALANCE_RULE.node_discriminator,
              rule_tree_name: '',
            },
          ],
        },
      ],
    });
  }
  return { tier_levels: tierLevels, point_account_balances: pointAccountBalances(program, s) };
}

/** The id of a member's own point account: derived, so it is the same in every answer. */
export const userPointAccountId = (userId: string, pointAccountId: string): string =>
  derivedId(userId, `user_point_account:${pointAccountId}`);

const ESCROW: ReadonlySet<AccountRole> = new Set(['spendable_escrow', 'tier_escrow']);

/**
 * The all_balances payload: one row per point account (reference §4). As the seed shows (DESIGN §3,
 * amended 2026-12-04): escrow rows have `life_time_value: 0` and `user_point_account_id: ""`, and
 * `life_time_points` sums the settled accounts only, so an earned point counts once per account it
 * settles in, not again on its way through escrow (issue #13 item 5).
 */
export function pointAccountBalances(program: ProgramDocument, s: MemberStanding) {
  const parts: { minor: number; lifetime: number; precision: 0 | 2 }[] = [];
  const details = program.point_accounts.map((a) => {
    const b = balanceOf(s, a.role);
    const escrow = ESCROW.has(a.role);
    // Minor units in the ledger, the account's major units in the answer (issue #14 item 3).
    const precision = a.precision ?? 0;
    parts.push({ minor: b.balance, lifetime: escrow ? 0 : b.life_time_value, precision });
    return {
      account_name: a.name,
      // Empty until the member's settled account is first used; always empty for escrow (the seed).
      user_point_account_id: !escrow && s.used.has(a.role) ? userPointAccountId(s.user_id, a.id) : '',
      point_account_id: a.id,
      grouping_label: a.grouping_label,
      available_balance: toMajor(b.balance, precision),
      life_time_value: escrow ? 0 : toMajor(b.life_time_value, precision),
    };
  });
  return {
    retailer_id: s.retailer_id,
    user_id: s.user_id,
    summary: {
      total_points: sumMajor(parts),
      life_time_points: sumMajor(parts.map((p) => ({ minor: p.lifetime, precision: p.precision }))),
    },
    details,
  };
}
