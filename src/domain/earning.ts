import { localDate } from './calendar.js';
import type { Campaign, ProgramDocument } from './program.js';

/**
 * What a basket earns (DESIGN §2 base earning, §4 purchases): pure. Amounts are integer cents;
 * points are whole numbers.
 */

export interface BasketLine {
  line_id: string;
  item_id: string;
  quantity: number;
  /** The line's amount before transaction-level discounts, in cents. */
  subtotal_cents: number;
}

export interface Basket {
  lines: BasketLine[];
  /** Transaction-level discounts, in cents. */
  discount_cents: number;
  voided: boolean;
}

export interface CampaignAward {
  campaign_id: string;
  name: string;
  points: number;
  tier_qualifying: boolean;
}

export interface Award {
  eligible_cents: number;
  base: number;
  campaigns: CampaignAward[];
  /** Points for the Spendable Escrow Account. */
  spendable: number;
  /** Points for the Tier-Qualifying Escrow Account. */
  tier_qualifying: number;
}

/** Eligible spend: item subtotals minus discounts, tax excluded, never below zero; a void is zero. */
export function eligibleCents(basket: Basket): number {
  if (basket.voided) return 0;
  const items = basket.lines.reduce((n, l) => n + l.subtotal_cents, 0);
  return Math.max(0, items - basket.discount_cents);
}

function campaignActive(c: Campaign, day: string): boolean {
  return c.starts_on <= day && day <= c.ends_on;
}

/**
 * The award of a basket bought at `purchaseTime`, with the program version in force then: base
 * points `floor(eligible_cents / 100) × rate`, then the campaigns active on the purchase's local day.
 */
export function computeAward(program: ProgramDocument, basket: Basket, purchaseTime: Date): Award {
  const eligible = eligibleCents(basket);
  const base = Math.floor(eligible / 100) * program.earning.points_per_currency_unit;
  const day = localDate(purchaseTime, program.time_zone);
  const campaigns: CampaignAward[] = [];
  for (const c of program.campaigns) {
    if (!campaignActive(c, day)) continue;
    let points = 0;
    if (c.award.type === 'multiplier') points = Math.floor(base * c.award.factor) - base;
    else if (
      c.award.type === 'threshold_bonus' &&
      eligible > 0 &&
      eligible >= Math.round(c.award.min_eligible_spend * 100)
    ) {
      points = c.award.points;
    }
    if (points > 0)
      campaigns.push({ campaign_id: c.id, name: c.name, points, tier_qualifying: c.tier_qualifying });
  }
  const bonus = campaigns.reduce((n, c) => n + c.points, 0);
  const tierBonus = campaigns.filter((c) => c.tier_qualifying).reduce((n, c) => n + c.points, 0);
  return {
    eligible_cents: eligible,
    base,
    campaigns,
    spendable: base + bonus,
    tier_qualifying: base + tierBonus,
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
