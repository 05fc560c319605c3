import { derivedId } from './ids.js';

/**
 * The program: one declarative document per retailer, versioned when changed (DESIGN §2). This
 * module holds its types, the ACME default, and the derivation of stable ids. Validation of a
 * document submitted through the admin API arrives with the points issue (#3).
 */

export type AccountRole = 'spendable' | 'spendable_escrow' | 'tier' | 'tier_escrow';

export interface PointAccount {
  id: string;
  role: AccountRole;
  name: string;
  grouping_label: string;
  /**
   * Decimals the account holds (issue #14 item 3): absent or 0, whole points; 2, hundredths, stored
   * as integer minor units (`precision.ts`). Only the Spendable pair may declare 2.
   */
  precision?: 0 | 2;
}

export type TierExpiry = 'never' | 'end_of_following_calendar_year' | `rolling_months:${number}`;

export interface TierLevel {
  id: string;
  name: string;
  rank: number;
  /** Tier Qualifying balance at which the level is reached. */
  threshold: number;
  /**
   * Tier Qualifying balance within a qualifying period that keeps the level while it is held
   * (issue #20); at most `threshold`. Absent in documents written before it existed: `threshold`.
   */
  maintenance_threshold?: number;
  expiry: TierExpiry;
  /** Id of the balance rule that qualifies for this level (shown in `tier_progress`). */
  rule_id: string;
}

/**
 * Where a member goes when a level expires unrenewed (issue #20): the highest level still held
 * (`to_qualified_level`), or at most one rank below the level that expired, never below that.
 */
export type TierDowngrade = 'to_qualified_level' | 'one_level';

export interface TierSystem {
  id: string;
  name: string;
  qualifying_period: 'calendar_year';
  /** Absent in documents written before it existed: `to_qualified_level`. */
  downgrade?: TierDowngrade;
  /** Ranked levels above UNENROLLED, lowest first; the first (threshold 0) is the enrolled floor. */
  levels: TierLevel[];
}

/** What a campaign adds to a purchase (issue #5). */
export type CampaignAwardRule =
  /** `floor(base × factor) − base` more points. */
  | { type: 'multiplier'; factor: number }
  /** `points` more when eligible spend (currency units) is at least `min_eligible_spend`. */
  | { type: 'threshold_bonus'; min_eligible_spend: number; points: number }
  /** `floor(points_per_unit × units)` over the lines whose item id or category is listed. */
  | { type: 'item_points'; points_per_unit: number; item_ids?: string[]; categories?: string[] };

/** Who a campaign is for; an absent or empty list means everyone. */
export interface CampaignTargeting {
  /** Tier level names of the program: the member's tier at the purchase time. */
  tiers?: string[];
  /** The transaction's `store_id`. */
  store_ids?: string[];
  /** The transaction's `channel`, compared without regard to case. */
  channels?: string[];
}

export interface Campaign {
  id: string;
  name: string;
  /** Program-local dates, inclusive (`YYYY-MM-DD`). */
  starts_on: string;
  ends_on: string;
  /** ISO instant set by the end action: purchases at or after it get nothing. */
  ended_at?: string;
  award: CampaignAwardRule;
  targeting?: CampaignTargeting;
  /** How many of a member's purchases may hold points from the campaign at once; absent: no limit. */
  max_awards_per_member?: number;
  tier_qualifying: boolean;
  /** Where Core's listing shows it (issue #14 item 9): among `tiles` (absent) or `promotions`. */
  creative?: 'tile' | 'promotion';
  /** A JSON object the program sets for its clients, echoed in Core's listings (`offer_id`, ...). */
  custom_payload?: Record<string, unknown>;
}

/**
 * How far back a per-member limit counts (issue #14 item 8): ever, the current program-local day,
 * month or year, or the last N days.
 */
export type BehaviourWindow = 'lifetime' | 'day' | 'month' | 'year' | `rolling_days:${number}`;

export interface OutcomeLimit {
  /** How many times the outcome may apply to one member within the window. */
  max: number;
  window: BehaviourWindow;
}

/** What a behaviour does when its event arrives; each outcome is applied or not on its own. */
export type BehaviourOutcome = { id: string; limit?: OutcomeLimit } & (
  | { type: 'award_points'; points: number; account: 'spendable' | 'tier' }
  /** Moves the member to the named level through the manual tier move (DESIGN §6). */
  | { type: 'move_tier'; tier_level: string }
  /** Adds a counter tag, or an expiring one when `ttl_seconds` is set (reference §3 tags). */
  | { type: 'add_tag'; tag: string; ttl_seconds?: number }
);

/**
 * A behaviour (issue #14 item 8): an event name (`event_lookup`) and its outcomes. One with a
 * `campaign_id` is fed only by that campaign's events, while the campaign runs.
 */
export interface Behaviour {
  id: string;
  event: string;
  name?: string;
  campaign_id?: string;
  outcomes: BehaviourOutcome[];
}

export interface ProgramDocument {
  name: string;
  time_zone: string;
  currency: string;
  point_accounts: PointAccount[];
  earning: { points_per_currency_unit: number };
  escrow_days: number;
  available_points: 'spendable' | 'spendable_plus_escrow';
  tier_system: TierSystem;
  late_return_policy: 'claw_back_to_zero';
  cash_out: { frequency: 'quarterly'; points_per_currency_unit: number; denomination: number };
  campaigns: Campaign[];
  /** Absent in versions written before behaviours existed, and when there are none. */
  behaviours?: Behaviour[];
}

/** The points that keep a level (issue #20): its maintenance threshold, by default its entry threshold. */
export const maintenanceThreshold = (level: TierLevel): number =>
  level.maintenance_threshold ?? level.threshold;

/** The tier system's downgrade policy (issue #20), `to_qualified_level` unless it says otherwise. */
export const downgradeOf = (system: TierSystem): TierDowngrade => system.downgrade ?? 'to_qualified_level';

/** The name the unenrolled state is shown under (rank 0; DESIGN §2). */
export const UNENROLLED = 'UNENROLLED';

/** The ACME program of the seed (DESIGN §2), with ids derived from the retailer's id. */
export function acmeProgram(retailerId: string): ProgramDocument {
  const id = (name: string): string => derivedId(retailerId, `acme:${name}`);
  const tierSystemId = id('tier_system');
  const level = (name: string, rank: number, threshold: number, expiry: TierExpiry): TierLevel => ({
    id: id(`tier_level:${name}`),
    name,
    rank,
    threshold,
    expiry,
    rule_id: id(`tier_rule:${name}`),
  });
  return {
    name: 'ACME',
    time_zone: 'America/New_York',
    currency: 'USD',
    point_accounts: [
      {
        id: id('account:spendable'),
        role: 'spendable',
        name: 'ACME Spendable Account',
        grouping_label: 'Spend',
      },
      {
        id: id('account:spendable_escrow'),
        role: 'spendable_escrow',
        name: 'ACME Spendable Escrow Account',
        grouping_label: '',
      },
      { id: id('account:tier'), role: 'tier', name: 'ACME Tier Qualifying Account', grouping_label: 'Tier' },
      {
        id: id('account:tier_escrow'),
        role: 'tier_escrow',
        name: 'ACME Tier-Qualifying Escrow Account',
        grouping_label: '',
      },
    ],
    earning: { points_per_currency_unit: 1 },
    escrow_days: 30,
    available_points: 'spendable',
    tier_system: {
      id: tierSystemId,
      name: 'ACME Tier System',
      qualifying_period: 'calendar_year',
      levels: [
        level('BASE', 1, 0, 'never'),
        level('SILVER', 2, 2000, 'end_of_following_calendar_year'),
        level('GOLD', 3, 10000, 'end_of_following_calendar_year'),
      ],
    },
    late_return_policy: 'claw_back_to_zero',
    cash_out: { frequency: 'quarterly', points_per_currency_unit: 100, denomination: 5 },
    campaigns: [
      {
        id: id('campaign:double_points_days'),
        name: 'Double Points Days',
        starts_on: '2026-11-27',
        ends_on: '2026-11-30',
        award: { type: 'multiplier', factor: 2 },
        tier_qualifying: false,
      },
      {
        id: id('campaign:big_basket_bonus'),
        name: 'Big Basket Bonus',
        starts_on: '2026-12-01',
        ends_on: '2026-12-31',
        award: { type: 'threshold_bonus', min_eligible_spend: 250, points: 500 },
        tier_qualifying: false,
      },
    ],
  };
}

export function accountByRole(program: ProgramDocument, role: AccountRole): PointAccount {
  const account = program.point_accounts.find((a) => a.role === role);
  if (!account) throw new Error(`program ${program.name} has no ${role} account`);
  return account;
}
