import { validationError } from '../errors.js';
import { MAX_PURCHASE_POINTS } from './bounds.js';
import type { Campaign, ProgramDocument } from './program.js';
import { scaleOf, toMinor, type Precision } from './precision.js';

/**
 * What a basket earns (DESIGN §2 base earning, §4 purchases; issue #5 campaigns): pure. Amounts are
 * integer cents; points are whole numbers. Which campaigns apply is decided in `campaigns.ts`.
 */

export interface BasketLine {
  line_id: string;
  item_id: string;
  quantity: number;
  /** The line's amount before transaction-level discounts, in cents. */
  subtotal_cents: number;
  /** The item's category (`category`, or SessionM's `pos_cat_key`), for item_points campaigns. */
  category?: string;
}

export interface Basket {
  lines: BasketLine[];
  /** Transaction-level discounts, in cents. */
  discount_cents: number;
  voided: boolean;
  /** The transaction's channel as the first send gave it, for campaign targeting. */
  channel?: string;
}

export interface CampaignRef {
  campaign_id: string;
  name: string;
}

export interface CampaignAward extends CampaignRef {
  points: number;
  tier_qualifying: boolean;
}

export interface Award {
  eligible_cents: number;
  base: number;
  /** Campaigns that add points, each with `points > 0` (the per-member limit counts these). */
  campaigns: CampaignAward[];
  /** Points for the Spendable Escrow Account. */
  spendable: number;
  /** Points for the Tier-Qualifying Escrow Account. */
  tier_qualifying: number;
  /**
   * The campaigns the purchase qualified for at its first send (window, end, targeting), by id:
   * re-sends price only these. Absent on awards written before campaigns had targeting.
   */
  eligible_campaigns?: string[];
  /** The member's tier at the purchase time, recorded when a running campaign targeted tiers. */
  tier?: string | null;
  /** Eligible campaigns that gave nothing because the member had reached their limit. */
  limited_campaigns?: CampaignRef[];
  /**
   * The Spendable pair's precision when its points were first posted (issue #14 item 3): absent for
   * whole points. `spendable` stays in points; the ledger holds `spendable × 10^precision`. Recorded
   * so a re-send posts in the units its first send did, whichever version priced it.
   */
  spendable_precision?: 2;
}

/** Which campaigns a basket is priced with. */
export interface AwardTerms {
  /** The eligible campaigns' ids (`eligibleCampaignIds`, or the purchase's stored ones). */
  campaign_ids: readonly string[];
  /** The tier the eligibility was decided with, to record; omitted when no campaign targeted tiers. */
  tier?: string | null;
  /** Eligible campaigns withheld by the per-member limit. */
  withheld?: readonly string[];
}

/** Eligible spend: item subtotals minus discounts, tax excluded, never below zero; a void is zero. */
export function eligibleCents(basket: Basket): number {
  if (basket.voided) return 0;
  const items = basket.lines.reduce((n, l) => n + l.subtotal_cents, 0);
  return Math.max(0, items - basket.discount_cents);
}

/**
 * `floor` of a product of decimals, read as the decimal it stands for: 1.15 × 100 is 114.99999999999999
 * in binary floating point, and earns 115 points, not 114.
 */
export function floorPoints(x: number): number {
  const nearest = Math.round(x);
  return Math.abs(x - nearest) <= 1e-9 * Math.max(1, Math.abs(x)) ? nearest : Math.floor(x);
}

/**
 * `floor(factor × n / per)` exactly, reading `factor` as the decimal it is written as: a tolerance
 * on the float product grows with it, and past 5×10^8 points it rounded .5 and more up (issue #13:
 * every points computation exact). Exponent-notation factors (below 10^-6) keep `floorPoints`.
 */
function floorTimes(factor: number, n: number, per = 1): number {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(String(factor));
  if (!m) return floorPoints((factor * n) / per);
  const fraction = m[2] ?? '';
  return Number((BigInt(m[1]! + fraction) * BigInt(n)) / (10n ** BigInt(fraction.length) * BigInt(per)));
}

/**
 * Thousandths of a unit of the basket's lines that an item_points campaign lists, by item id or
 * by category: integers, since a quantity has at most three decimals (`basket.ts`).
 */
function listedMilliUnits(basket: Basket, itemIds: readonly string[], categories: readonly string[]): number {
  if (basket.voided) return 0;
  const items = new Set(itemIds);
  const cats = new Set(categories);
  return basket.lines
    .filter((l) => items.has(l.item_id) || (l.category !== undefined && cats.has(l.category)))
    .reduce((n, l) => n + Math.round(l.quantity * 1000), 0);
}

/** What one campaign adds to a basket with these base points and eligible spend. */
export function campaignPoints(c: Campaign, basket: Basket, base: number, eligible: number): number {
  switch (c.award.type) {
    case 'multiplier':
      return floorTimes(c.award.factor, base) - base;
    case 'threshold_bonus':
      return eligible > 0 && eligible >= Math.round(c.award.min_eligible_spend * 100) ? c.award.points : 0;
    case 'item_points':
      return floorTimes(
        c.award.points_per_unit,
        listedMilliUnits(basket, c.award.item_ids ?? [], c.award.categories ?? []),
        1000,
      );
  }
}

/**
 * The award of a basket with a program version: base points `floor(eligible_cents / 100) × rate`,
 * then what each eligible campaign adds, in the document's order. A withheld campaign that would
 * add points is listed in `limited_campaigns` instead.
 */
export function computeAward(program: ProgramDocument, basket: Basket, terms: AwardTerms): Award {
  const eligible = eligibleCents(basket);
  const base = Math.floor(eligible / 100) * program.earning.points_per_currency_unit;
  const ids = new Set(terms.campaign_ids);
  const withheld = new Set(terms.withheld ?? []);
  const campaigns: CampaignAward[] = [];
  const limited: CampaignRef[] = [];
  for (const c of program.campaigns) {
    if (!ids.has(c.id)) continue;
    const points = campaignPoints(c, basket, base, eligible);
    if (points <= 0) continue;
    if (withheld.has(c.id)) limited.push({ campaign_id: c.id, name: c.name });
    else campaigns.push({ campaign_id: c.id, name: c.name, points, tier_qualifying: c.tier_qualifying });
  }
  const bonus = campaigns.reduce((n, c) => n + c.points, 0);
  const tierBonus = campaigns.filter((c) => c.tier_qualifying).reduce((n, c) => n + c.points, 0);
  return {
    eligible_cents: eligible,
    base,
    campaigns,
    spendable: base + bonus,
    tier_qualifying: base + tierBonus,
    eligible_campaigns: [...terms.campaign_ids],
    ...(terms.tier !== undefined ? { tier: terms.tier } : {}),
    ...(limited.length ? { limited_campaigns: limited } : {}),
  };
}

/**
 * Decimal currency units on the wire (`12.34`) to integer cents. Null when the amount has more than
 * two decimals, is not finite, or is beyond a billion units.
 */
export function toCents(amount: number): number | null {
  if (!Number.isFinite(amount) || Math.abs(amount) > 1e9) return null;
  const cents = Math.round(amount * 100);
  return Math.abs(amount * 100 - cents) < 1e-6 ? cents : null;
}

/**
 * The award with the Spendable pair's precision recorded (issue #14 item 3), refused when its
 * Spendable points in minor units pass what one purchase may credit an account: the bound holds
 * in the ledger's units (DESIGN §3), so an account of precision 2 takes at most a hundredth of it.
 */
export function inPrecision(award: Award, precision: Precision): Award {
  if (precision === 0) return award;
  if (award.spendable * scaleOf(precision) > MAX_PURCHASE_POINTS) {
    const most = MAX_PURCHASE_POINTS / scaleOf(precision);
    throw validationError(
      `request_payload.items would award ${award.spendable.toLocaleString('en-US')} points; ` +
        `a purchase awards at most ${most.toLocaleString('en-US')} to an account of precision ${precision}`,
      'request_payload.items',
    );
  }
  return { ...award, spendable_precision: 2 };
}

/** What an award puts in one escrow account, in its minor units (issue #14 item 3). */
export const escrowMinor = (award: Award, role: 'spendable_escrow' | 'tier_escrow'): number =>
  role === 'spendable_escrow'
    ? toMinor(award.spendable, award.spendable_precision ?? 0)
    : award.tier_qualifying;

/**
 * Refuses an award beyond what one purchase may credit an account (issue #13 item 2): a basket
 * within the money bounds can still reach it through a program's rate and campaigns.
 */
export function assertAwardWithinBounds(award: Award): Award {
  const most = Math.max(award.spendable, award.tier_qualifying);
  if (!Number.isSafeInteger(most) || most > MAX_PURCHASE_POINTS) {
    throw validationError(
      `request_payload.items would award ${Number.isSafeInteger(most) ? most.toLocaleString('en-US') : 'too many'} points; ` +
        `a purchase awards at most ${MAX_PURCHASE_POINTS.toLocaleString('en-US')}`,
      'request_payload.items',
    );
  }
  return award;
}
