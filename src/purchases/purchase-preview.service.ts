import type { Database } from '../db/database.js';
import { readBasket } from '../domain/basket.js';
import { startOfLocalYearAt } from '../domain/calendar.js';
import { eligibleCents, type Award } from '../domain/earning.js';
import { loyaltyFields } from '../domain/loyalty-view.js';
import type { TierLevel } from '../domain/program.js';
import { nextTierFor } from '../domain/tiers.js';
import { getUser } from '../customers/customer.service.js';
import { getProgramVersionAt } from '../program/program.service.js';
import { memberStandingAt } from '../tiers/tier.service.js';
import { firstSendTerms, limitedAward } from './purchase.service.js';

/** No purchase has this id: the per-member limits count every purchase the member holds. */
const NO_PURCHASE = '00000000-0000-0000-0000-000000000000';

/** What a basket would earn a member now, and where it would take them (issue #18 item 12). */
export interface PurchasePreview {
  enrolled: boolean;
  /** The award a purchase of this basket now would get: base, campaigns, tier-qualifying. */
  award: Award;
  /** When its escrow would roll over (the return period's end). */
  matures_at: Date;
  /** The tier and Tier Qualifying points now. */
  tier: string;
  tier_points: number;
  /**
   * Tier Qualifying points when it matures: today's plus this purchase's, or only this purchase's
   * when it matures in the next qualifying period (the balance resets on 1 January, DESIGN §2).
   */
  tier_points_after: number;
  /** Whether the points count toward the next qualifying year rather than this one. */
  next_period: boolean;
  /** The highest level above today's that `tier_points_after` reaches; null when none. */
  reaches: TierLevel | null;
  /** The level after that (or after today's), and the points still missing to it; null at the top. */
  next: TierLevel | null;
  to_next: number | null;
}

/**
 * What a purchase of `amount` (currency units, as a till sends `unit_price`) by this member would
 * earn now, by the rules of a real first send (DESIGN §4): the program version in force now, the
 * campaigns running now that target this store, channel and the member's tier, their per-member
 * limits, and nothing for a member who is not enrolled. Validated as a till's basket is; writes
 * nothing. Throws `user_not_found`, or `validation` for an amount a till could not send.
 */
export async function previewPurchase(
  db: Database,
  retailerId: string,
  userId: string,
  input: { amount: number; store_id?: string | undefined },
  now: Date,
): Promise<PurchasePreview> {
  const user = await getUser(db, retailerId, { id: userId });
  const basket = readBasket(
    [{ line_id: 1, item_id: 'what-if', quantity: 1, unit_price: input.amount }],
    [],
    false,
  );
  const { document: program } = await getProgramVersionAt(db, retailerId, now);
  const standing = await memberStandingAt(db, program, user, now);
  const loyalty = loyaltyFields(program, standing);
  const award = user.opted_in
    ? await db.transaction(async (tx) => {
        const terms = await firstSendTerms(tx, program, {
          storeId: input.store_id ?? '',
          purchaseTime: now,
          basket,
          member: user,
        });
        return limitedAward(tx, program, basket, terms, user.id, NO_PURCHASE, []);
      })
    : { eligible_cents: eligibleCents(basket), base: 0, campaigns: [], spendable: 0, tier_qualifying: 0 };
  const maturesAt = new Date(now.getTime() + program.escrow_days * 86_400_000);
  const tz = program.time_zone;
  const nextPeriod = startOfLocalYearAt(maturesAt, tz).getTime() > startOfLocalYearAt(now, tz).getTime();
  const after = (nextPeriod ? 0 : loyalty.tier_points) + award.tier_qualifying;
  const levels = [...program.tier_system.levels].sort((a, b) => a.rank - b.rank);
  const current = levels.find((l) => l.name === loyalty.tier) ?? null;
  const reaches =
    user.opted_in && current
      ? ([...levels].reverse().find((l) => l.rank > current.rank && l.threshold <= after) ?? null)
      : null;
  const from = reaches ?? current;
  const next = user.opted_in && from ? nextTierFor(program, from) : null;
  return {
    enrolled: user.opted_in,
    award,
    matures_at: maturesAt,
    tier: loyalty.tier,
    tier_points: loyalty.tier_points,
    tier_points_after: after,
    next_period: nextPeriod,
    reaches,
    next,
    to_next: next ? Math.max(0, next.threshold - after) : null,
  };
}
