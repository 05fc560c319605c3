import { describe, expect, it } from 'vitest';
import { MAX_LEDGER_AMOUNT } from './bounds.js';
import { computeAward, escrowMinor, inPrecision } from './earning.js';
import { openingPostings } from './opening.js';
import { acmeProgram } from './program.js';
import { formatMajor, parseAmount, precisionOf, sumMajor, toMajor, toMinor } from './precision.js';

describe('account precision (issue #14 item 3)', () => {
  it('parses a wire amount into exact minor units from its decimal text', () => {
    expect(parseAmount(12.5, 2)).toEqual({ minor: 1250 });
    expect(parseAmount(12.34, 2)).toEqual({ minor: 1234 });
    expect(parseAmount(0.01, 2)).toEqual({ minor: 1 });
    // 0.1 + 0.2 is 0.30000000000000004 in binary; the text a client wrote, 0.3, is what counts.
    expect(parseAmount(0.3, 2)).toEqual({ minor: 30 });
    expect(parseAmount(1.15, 2)).toEqual({ minor: 115 });
    expect(parseAmount(4.35, 2)).toEqual({ minor: 435 }); // 4.35 × 100 is 434.99999999999994
    expect(parseAmount(10_000_000, 2)).toEqual({ minor: 1_000_000_000 });
    expect(parseAmount(7, 0)).toEqual({ minor: 7 });
    expect(parseAmount(12.5, 0)).toHaveProperty('error', expect.stringMatching(/whole points/));
    expect(parseAmount(12.345, 2)).toHaveProperty('error', expect.stringMatching(/more than 2 decimals/));
    expect(parseAmount(1e-7, 2)).toHaveProperty('error');
    expect(parseAmount(0, 2)).toHaveProperty('error');
    expect(parseAmount(-1, 2)).toHaveProperty('error');
    expect(parseAmount(Number.NaN, 2)).toHaveProperty('error');
    expect(parseAmount(Number.POSITIVE_INFINITY, 0)).toHaveProperty('error');
    expect(parseAmount(1e21, 0)).toHaveProperty('error');
  });

  it('answers minor units as the exact major decimal', () => {
    expect(toMajor(1250, 2)).toBe(12.5);
    expect(toMajor(1, 2)).toBe(0.01);
    expect(toMajor(-5, 2)).toBe(-0.05);
    expect(toMajor(0, 2)).toBe(0);
    expect(toMajor(1234, 0)).toBe(1234);
    expect(formatMajor(1250, 2)).toBe('12.5');
    expect(formatMajor(100, 2)).toBe('1');
    expect(formatMajor(-1234, 2)).toBe('-12.34');
    // Every amount within the ledger's bounds prints back as its decimal text.
    for (const minor of [
      MAX_LEDGER_AMOUNT,
      MAX_LEDGER_AMOUNT - 1,
      123_456_789_012_345,
      999_999_999_999_999,
    ]) {
      expect(String(toMajor(minor, 2))).toBe(formatMajor(minor, 2));
    }
  });

  it('round-trips every hundredth a client can send', () => {
    for (let minor = 1; minor <= 100_000; minor += 7) {
      expect(parseAmount(toMajor(minor, 2), 2)).toEqual({ minor });
    }
  });

  it('scales rule amounts by integers and sums mixed precisions exactly', () => {
    expect(toMinor(500, 2)).toBe(50_000);
    expect(toMinor(500, 0)).toBe(500);
    expect(
      sumMajor([
        { minor: 1250, precision: 2 },
        { minor: 10, precision: 0 },
      ]),
    ).toBe(22.5);
    expect(
      sumMajor([
        { minor: 10, precision: 0 },
        { minor: 5, precision: 0 },
      ]),
    ).toBe(15);
    // Summed as floats, 0.1 + 0.2 is 0.30000000000000004.
    expect(
      sumMajor([
        { minor: 10, precision: 2 },
        { minor: 20, precision: 2 },
      ]),
    ).toBe(0.3);
    expect(
      sumMajor([
        { minor: 123_456_789, precision: 0 },
        { minor: 1, precision: 2 },
        { minor: 2, precision: 2 },
      ]),
    ).toBe(123_456_789.03);
  });

  it('reads an account without precision as 0', () => {
    const acme = acmeProgram('00000000-0000-4000-8000-000000000001');
    expect(precisionOf(acme, 'spendable')).toBe(0);
    const decimal = {
      ...acme,
      point_accounts: acme.point_accounts.map((a) =>
        a.role.startsWith('spendable') ? { ...a, precision: 2 as const } : a,
      ),
    };
    expect(precisionOf(decimal, 'spendable')).toBe(2);
    expect(precisionOf(decimal, 'spendable_escrow')).toBe(2);
    expect(precisionOf(decimal, 'tier')).toBe(0);
  });

  it('records an award in points with its precision, posted in hundredths, bounded in them', () => {
    const acme = acmeProgram('00000000-0000-4000-8000-000000000001');
    const basket = (cents: number) => ({
      lines: [{ line_id: '1', item_id: 'A', quantity: 1, subtotal_cents: cents }],
      discount_cents: 0,
      voided: false,
    });
    const award = computeAward(acme, basket(12_000), { campaign_ids: [] });
    expect(inPrecision(award, 0)).toBe(award);
    const cents = inPrecision(award, 2);
    expect(cents).toMatchObject({ spendable: 120, tier_qualifying: 120, spendable_precision: 2 });
    expect(escrowMinor(cents, 'spendable_escrow')).toBe(12_000);
    expect(escrowMinor(cents, 'tier_escrow')).toBe(120);
    // 10,000,001 points is past 10^9 hundredths: refused whole, naming the field.
    const big = computeAward(acme, basket(1_000_000_100), { campaign_ids: [] });
    expect(() => inPrecision(big, 2)).toThrow(/at most 10,000,000 to an account of precision 2/);
  });

  it("posts an opening balance in the Spendable account's units", () => {
    const position = {
      cutover: '2026-06-01T00:00:00.000Z',
      balance: 300,
      life_time_value: 500,
      tier_points: 40,
      tier_level_id: null,
      tier_entered_at: null,
      tier_expires_at: null,
    };
    expect(openingPostings(position, 100)).toEqual([
      { account: 'spendable', amount: 50_000 },
      { account: 'spendable', amount: -20_000 },
      { account: 'tier', amount: 40 },
      { account: 'program:opening', amount: -50_040 },
      { account: 'program:opening', amount: 20_000 },
    ]);
  });
});
