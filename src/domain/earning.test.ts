import { describe, expect, it } from 'vitest';
import { eligibleCampaignIds } from './campaigns.js';
import { computeAward, floorPoints, toCents, type Basket } from './earning.js';
import { acmeProgram, type Campaign, type ProgramDocument } from './program.js';

const program = acmeProgram('66f9b3f2-7770-4dca-ac8e-2a1ef7e8e54b');
const basket = (cents: number[], discount = 0, voided = false): Basket => ({
  lines: cents.map((c, i) => ({
    line_id: String(i + 1),
    item_id: `SKU${i}`,
    quantity: 1,
    subtotal_cents: c,
  })),
  discount_cents: discount,
  voided,
});
/** The award of a basket bought at `iso` by anyone, anywhere: the campaigns running then. */
const awardAt = (p: ProgramDocument, b: Basket, iso: string) =>
  computeAward(p, b, {
    campaign_ids: eligibleCampaignIds(p, new Date(iso), { store_id: null, channel: null, tier: null }),
  });
const withCampaigns = (...campaigns: Campaign[]): ProgramDocument => ({ ...program, campaigns });
const campaign = (c: Partial<Campaign> & Pick<Campaign, 'award'>): Campaign => ({
  id: c.name ?? 'c-1',
  name: 'C',
  starts_on: '2026-01-01',
  ends_on: '2026-12-31',
  tier_qualifying: false,
  ...c,
});

describe('earning', () => {
  it('earns one point per whole dollar of eligible spend, after discounts', () => {
    const a = awardAt(program, basket([1999, 1001], 50), '2026-11-02T15:00:00Z');
    expect(a).toEqual({
      eligible_cents: 2950,
      base: 29,
      campaigns: [],
      spendable: 29,
      tier_qualifying: 29,
      eligible_campaigns: [],
    });
  });

  it('earns nothing on a void or a basket fully discounted', () => {
    expect(awardAt(program, basket([5000], 0, true), '2026-11-02T15:00:00Z').spendable).toBe(0);
    expect(awardAt(program, basket([5000], 9000), '2026-11-02T15:00:00Z').eligible_cents).toBe(0);
  });

  it('doubles base points on Double Points Days, program-local edges included, not tier-qualifying', () => {
    // 27 Nov 2026 00:00 in New York is 05:00Z; one second earlier is the 26th.
    expect(awardAt(program, basket([10000]), '2026-11-27T04:59:59Z').spendable).toBe(100);
    const inside = awardAt(program, basket([10000]), '2026-11-27T05:00:00Z');
    expect(inside).toMatchObject({ base: 100, spendable: 200, tier_qualifying: 100 });
    expect(inside.campaigns[0]).toMatchObject({ name: 'Double Points Days', points: 100 });
    expect(awardAt(program, basket([10000]), '2026-12-01T04:59:59Z').spendable).toBe(200);
  });

  it('adds the Big Basket Bonus at 250 USD in December', () => {
    const dec = '2026-12-10T15:00:00Z';
    expect(awardAt(program, basket([25000]), dec).spendable).toBe(750);
    expect(awardAt(program, basket([24999]), dec).spendable).toBe(249);
  });

  it('prices only the campaigns it is given, and lists a withheld one that would have given points', () => {
    const dpd = program.campaigns[0]!;
    const at = '2026-11-28T15:00:00Z';
    expect(computeAward(program, basket([10000]), { campaign_ids: [] }).spendable).toBe(100);
    const limited = computeAward(program, basket([10000]), {
      campaign_ids: [dpd.id],
      tier: 'GOLD',
      withheld: [dpd.id],
    });
    expect(limited).toMatchObject({
      spendable: 100,
      campaigns: [],
      eligible_campaigns: [dpd.id],
      tier: 'GOLD',
      limited_campaigns: [{ campaign_id: dpd.id, name: 'Double Points Days' }],
    });
    expect(awardAt(program, basket([10000]), at).eligible_campaigns).toEqual([dpd.id]);
  });

  it('adds item points per unit of the listed items or categories, following the quantities', () => {
    const c = campaign({
      name: 'Coffee Club',
      award: { type: 'item_points', points_per_unit: 2.5, item_ids: ['LATTE'], categories: ['beans'] },
    });
    const p = withCampaigns(c);
    const b: Basket = {
      lines: [
        { line_id: '1', item_id: 'LATTE', quantity: 3, subtotal_cents: 1200 },
        { line_id: '2', item_id: 'ARABICA', quantity: 2, subtotal_cents: 3000, category: 'beans' },
        { line_id: '3', item_id: 'MUG', quantity: 5, subtotal_cents: 5000, category: 'cups' },
      ],
      discount_cents: 0,
      voided: false,
    };
    const a = computeAward(p, b, { campaign_ids: [c.id] });
    // 3 lattes + 2 bags of beans = 5 units × 2.5 = 12.5 → 12.
    expect(a).toMatchObject({ base: 92, spendable: 104, tier_qualifying: 92 });
    expect(a.campaigns).toEqual([
      { campaign_id: c.id, name: 'Coffee Club', points: 12, tier_qualifying: false },
    ]);
    const returned = { ...b, lines: b.lines.map((l) => (l.line_id === '1' ? { ...l, quantity: 1 } : l)) };
    expect(computeAward(p, returned, { campaign_ids: [c.id] }).campaigns[0]!.points).toBe(7);
    expect(computeAward(p, { ...b, voided: true }, { campaign_ids: [c.id] }).campaigns).toEqual([]);
  });

  it('puts tier-qualifying campaign points in the tier-qualifying award too', () => {
    const c = campaign({ name: 'TQ Boost', award: { type: 'multiplier', factor: 3 }, tier_qualifying: true });
    const a = computeAward(withCampaigns(c), basket([5000]), { campaign_ids: [c.id] });
    expect(a).toMatchObject({ base: 50, spendable: 150, tier_qualifying: 150 });
  });

  it('floors products of decimals as the decimals they stand for (1.15 × 100 is 115)', () => {
    expect(floorPoints(1.15 * 100)).toBe(115);
    expect(floorPoints(0.29 * 100)).toBe(29);
    expect(floorPoints(12.5)).toBe(12);
    expect(floorPoints(99.999)).toBe(99);
    const c = campaign({ name: 'Plus 15', award: { type: 'multiplier', factor: 1.15 } });
    expect(computeAward(withCampaigns(c), basket([10000]), { campaign_ids: [c.id] }).spendable).toBe(115);
  });

  it('a campaign past 5×10^8 points is floored, not rounded up (issue #13: exact points)', () => {
    // 700,000.0006 × 1,000 units is 700,000,000.6: the float tolerance once gave 700,000,001.
    const items = campaign({
      name: 'Per unit',
      award: { type: 'item_points', points_per_unit: 700_000.0006, item_ids: ['SKU0'] },
    });
    const thousand: Basket = {
      lines: [{ line_id: '1', item_id: 'SKU0', quantity: 1000, subtotal_cents: 1000 }],
      discount_cents: 0,
      voided: false,
    };
    const per = computeAward(withCampaigns(items), thousand, { campaign_ids: [items.id] });
    expect(per.campaigns[0]!.points).toBe(700_000_000);
    // Fractional quantities count in exact thousandths: 0.1 + 0.2 units × 10 points is 3.
    const tenths: Basket = {
      ...thousand,
      lines: [
        { line_id: '1', item_id: 'SKU0', quantity: 0.1, subtotal_cents: 100 },
        { line_id: '2', item_id: 'SKU0', quantity: 0.2, subtotal_cents: 100 },
      ],
    };
    const ten = campaign({
      name: 'Ten',
      award: { type: 'item_points', points_per_unit: 10, item_ids: ['SKU0'] },
    });
    expect(computeAward(withCampaigns(ten), tenths, { campaign_ids: [ten.id] }).campaigns[0]!.points).toBe(3);
    // A multiplier on a base of 700,000,000 by 1.0000000009 adds 0.63 points: none.
    const times = campaign({ name: 'Times', award: { type: 'multiplier', factor: 1.0000000009 } });
    const big = { ...program, earning: { ...program.earning, points_per_currency_unit: 100 } };
    const award = computeAward({ ...big, campaigns: [times] }, basket([700_000_000]), {
      campaign_ids: [times.id],
    });
    expect(award).toMatchObject({ base: 700_000_000, spendable: 700_000_000, campaigns: [] });
  });

  it('reads wire amounts as exact cents', () => {
    expect(toCents(12.34)).toBe(1234);
    expect(toCents(0.1 + 0.2)).toBe(30);
    expect(toCents(1.005)).toBeNull();
    expect(toCents(Number.NaN)).toBeNull();
    expect(toCents(1e12)).toBeNull();
  });
});
