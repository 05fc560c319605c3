import { describe, expect, it } from 'vitest';
import { computeAward, toCents, type Basket } from './earning.js';
import { acmeProgram } from './program.js';

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

describe('earning', () => {
  it('earns one point per whole dollar of eligible spend, after discounts', () => {
    const a = computeAward(program, basket([1999, 1001], 50), new Date('2026-11-02T15:00:00Z'));
    expect(a).toEqual({ eligible_cents: 2950, base: 29, campaigns: [], spendable: 29, tier_qualifying: 29 });
  });

  it('earns nothing on a void or a basket fully discounted', () => {
    expect(computeAward(program, basket([5000], 0, true), new Date('2026-11-02T15:00:00Z')).spendable).toBe(
      0,
    );
    expect(computeAward(program, basket([5000], 9000), new Date('2026-11-02T15:00:00Z')).eligible_cents).toBe(
      0,
    );
  });

  it('doubles base points on Double Points Days, program-local edges included, not tier-qualifying', () => {
    // 27 Nov 2026 00:00 in New York is 05:00Z; one second earlier is the 26th.
    expect(computeAward(program, basket([10000]), new Date('2026-11-27T04:59:59Z')).spendable).toBe(100);
    const inside = computeAward(program, basket([10000]), new Date('2026-11-27T05:00:00Z'));
    expect(inside).toMatchObject({ base: 100, spendable: 200, tier_qualifying: 100 });
    expect(inside.campaigns[0]).toMatchObject({ name: 'Double Points Days', points: 100 });
    expect(computeAward(program, basket([10000]), new Date('2026-12-01T04:59:59Z')).spendable).toBe(200);
  });

  it('adds the Big Basket Bonus at 250 USD in December', () => {
    const dec = new Date('2026-12-10T15:00:00Z');
    expect(computeAward(program, basket([25000]), dec).spendable).toBe(750);
    expect(computeAward(program, basket([24999]), dec).spendable).toBe(249);
  });

  it('reads wire amounts as exact cents', () => {
    expect(toCents(12.34)).toBe(1234);
    expect(toCents(0.1 + 0.2)).toBe(30);
    expect(toCents(1.005)).toBeNull();
    expect(toCents(Number.NaN)).toBeNull();
    expect(toCents(1e12)).toBeNull();
  });
});
