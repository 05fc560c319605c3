import { describe, expect, it } from 'vitest';
import {
  cashOutAmount,
  giftCardCode,
  giftCardId,
  maskedCode,
  mayCrossPeriodEnd,
  periodAt,
  periodEndsBetween,
  periodNamed,
  planCashOuts,
  pointsPerDenomination,
  type CashOutRule,
} from './cashout.js';

const NY = 'America/New_York';
const ACME: CashOutRule = { frequency: 'quarterly', points_per_currency_unit: 100, denomination: 5 };
const at = (iso: string) => new Date(iso);

describe('cash-out periods', () => {
  it('quarters end at midnight in the program zone, across daylight saving', () => {
    expect(periodNamed('2026-Q4', NY)).toEqual({
      period: '2026-Q4',
      starts_at: at('2026-10-01T04:00:00Z'),
      ends_at: at('2027-01-01T05:00:00Z'),
    });
    expect(periodNamed('2027-Q1', NY)!.ends_at).toEqual(at('2027-04-01T04:00:00Z'));
    expect(periodNamed('2027-Q2', NY)!.ends_at).toEqual(at('2027-07-01T04:00:00Z'));
    expect(periodNamed('2027-Q3', 'UTC')!.ends_at).toEqual(at('2027-10-01T00:00:00Z'));
  });

  it('an instant belongs to the period whose start it has reached', () => {
    expect(periodAt(at('2027-01-01T04:59:59.999Z'), NY).period).toBe('2026-Q4');
    expect(periodAt(at('2027-01-01T05:00:00Z'), NY).period).toBe('2027-Q1');
    expect(periodAt(at('2027-01-01T02:00:00Z'), 'UTC').period).toBe('2027-Q1');
  });

  it('refuses names that are not quarters', () => {
    for (const bad of ['2026-Q5', '2026-Q0', '2026Q1', '26-Q1', '2026-q1', '', '2026-Q1 ']) {
      expect(periodNamed(bad, NY), bad).toBeNull();
    }
  });

  it('lists the period ends in (after, upTo], oldest first', () => {
    const ends = periodEndsBetween(NY, at('2026-11-02T00:00:00Z'), at('2027-07-01T04:00:00Z'));
    expect(ends.map((p) => p.period)).toEqual(['2026-Q4', '2027-Q1', '2027-Q2']);
    // An end exactly at `after` is already past; one exactly at `upTo` is due.
    expect(
      periodEndsBetween(NY, at('2027-01-01T05:00:00Z'), at('2027-04-01T04:00:00Z')).map((p) => p.period),
    ).toEqual(['2027-Q1']);
    expect(periodEndsBetween(NY, at('2027-01-01T05:00:00Z'), at('2027-04-01T03:59:59Z'))).toEqual([]);
  });

  it('the cheap test never misses a period end in any zone', () => {
    const zones = ['Pacific/Kiritimati', 'Pacific/Pago_Pago', NY, 'UTC', 'Asia/Kolkata'];
    const start = at('2026-01-01T00:00:00Z').getTime();
    for (let i = 0; i < 800; i++) {
      // A deterministic walk of pairs a few hours to a few months apart.
      const a = new Date(start + ((i * 7_919_993_311) % (800 * 86_400_000)));
      const b = new Date(a.getTime() + ((i * 104_729) % 97) * 3_600_000 * (i % 3 === 0 ? 24 : 1));
      for (const zone of zones) {
        if (periodEndsBetween(zone, a, b).length)
          expect(mayCrossPeriodEnd(a, b), `${zone} ${a.toISOString()} ${b.toISOString()}`).toBe(true);
      }
    }
    expect(mayCrossPeriodEnd(at('2026-11-02T00:00:00Z'), at('2026-12-20T00:00:00Z'))).toBe(false);
  });
});

describe('cash-out amounts', () => {
  it('converts whole denominations and keeps the rest (DESIGN §2: 100 points = 1 USD, multiples of 5 USD)', () => {
    expect(pointsPerDenomination(ACME)).toBe(500);
    expect(cashOutAmount(2370, ACME)).toEqual({ points: 2000, value_cents: 2000 });
    expect(cashOutAmount(499, ACME)).toEqual({ points: 0, value_cents: 0 });
    expect(cashOutAmount(500, ACME)).toEqual({ points: 500, value_cents: 500 });
    expect(cashOutAmount(0, ACME)).toEqual({ points: 0, value_cents: 0 });
    expect(cashOutAmount(1234, { ...ACME, denomination: 2.5 })).toEqual({ points: 1000, value_cents: 1000 });
  });

  it('plans each period from the balance and the lots matured by its end', () => {
    const q4 = periodNamed('2026-Q4', NY)!;
    const q1 = periodNamed('2027-Q1', NY)!;
    const plan = planCashOuts(
      370,
      [
        { matures_at: q4.ends_at, remaining: 200 },
        { matures_at: new Date(q4.ends_at.getTime() + 1), remaining: 900 },
      ],
      [q4, q1],
      () => ACME,
    );
    expect(plan).toEqual([
      { period: q4, balance: 570, points: 500, value_cents: 500, left: 70 },
      { period: q1, balance: 970, points: 500, value_cents: 500, left: 470 },
    ]);
    expect(planCashOuts(499, [], [q4, q1], () => ACME)).toEqual([]);
  });
});

describe('gift card identity', () => {
  const key = Buffer.alloc(32, 1);
  const user = '01890a5d-ac96-774b-bcce-b302099a8057';

  it('one id per member and period, stable', () => {
    expect(giftCardId(user, '2026-Q4')).toBe(giftCardId(user, '2026-Q4'));
    expect(giftCardId(user, '2026-Q4')).not.toBe(giftCardId(user, '2027-Q1'));
  });

  it('codes are 80 bits in Crockford base 32, depend on the key, and mask to their last group', () => {
    const id = giftCardId(user, '2026-Q4');
    const code = giftCardCode(key, id);
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    expect(giftCardCode(key, id)).toBe(code);
    expect(giftCardCode(Buffer.alloc(32, 2), id)).not.toBe(code);
    expect(maskedCode(code)).toBe(`••••-••••-••••-${code.slice(-4)}`);
    const codes = new Set(
      Array.from({ length: 2000 }, (_, i) => giftCardCode(key, giftCardId(user, `${2000 + i}-Q1`))),
    );
    expect(codes.size).toBe(2000);
  });
});
