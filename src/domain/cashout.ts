import { createHmac } from 'node:crypto';
import { wallTime, zonedInstant } from './calendar.js';
import { derivedId } from './ids.js';

/**
 * Cash-out to gift cards (DESIGN §7, issue #5), pure: the periods, what a balance converts into,
 * and the gift card's identity. At each period end the member's Spendable balance becomes one gift
 * card worth the largest multiple of the denomination it covers; the rest stays. Escrow never
 * cashes out. Effective times are the rule's own: midnight in the program's zone that starts the
 * next period, so "the end of the last day of each quarter".
 */

export interface CashOutRule {
  frequency: 'quarterly';
  /** Points per currency unit (ACME: 100 points = 1 USD). */
  points_per_currency_unit: number;
  /** Gift cards come in multiples of this many currency units (ACME: 5 USD). */
  denomination: number;
}

export interface CashOutPeriod {
  /** `YYYY-Qn`, e.g. `2026-Q4`. */
  period: string;
  starts_at: Date;
  /** The cash-out instant: midnight in the program's zone at the start of the next period. */
  ends_at: Date;
}

const QUARTER_RE = /^(\d{4})-Q([1-4])$/;

function quarter(year: number, q: number, timeZone: string): CashOutPeriod {
  const next = q === 4 ? { year: year + 1, month: 1 } : { year, month: q * 3 + 1 };
  return {
    period: `${year}-Q${q}`,
    starts_at: zonedInstant(timeZone, year, (q - 1) * 3 + 1, 1),
    ends_at: zonedInstant(timeZone, next.year, next.month, 1),
  };
}

/** The period `at` falls in (its start ≤ at < its end), in the program's zone. */
export function periodAt(at: Date, timeZone: string): CashOutPeriod {
  const w = wallTime(at, timeZone);
  return quarter(w.year, Math.floor((w.month - 1) / 3) + 1, timeZone);
}

/** A period by its name (`2026-Q4`), or null when the name is not one. */
export function periodNamed(name: string, timeZone: string): CashOutPeriod | null {
  const m = QUARTER_RE.exec(name);
  if (!m) return null;
  const year = Number(m[1]);
  if (year < 1970 || year > 9998) return null;
  return quarter(year, Number(m[2]), timeZone);
}

/** The period that follows `p`. */
export function nextPeriod(p: CashOutPeriod, timeZone: string): CashOutPeriod {
  return periodAt(p.ends_at, timeZone);
}

/** Periods whose cash-out instant lies in (after, upTo], oldest first. */
export function periodEndsBetween(timeZone: string, after: Date, upTo: Date): CashOutPeriod[] {
  const out: CashOutPeriod[] = [];
  for (let p = periodAt(after, timeZone); p.ends_at <= upTo; p = nextPeriod(p, timeZone)) out.push(p);
  return out;
}

/**
 * Whether any period can end in (after, upTo] in some zone: a cheap test that needs no program. UTC
 * quarter boundaries are within 14 hours of every zone's, so two instants more than 14 hours away
 * from any UTC quarter boundary between them share every zone's quarter.
 */
export function mayCrossPeriodEnd(after: Date, upTo: Date): boolean {
  const MARGIN = 14 * 3_600_000;
  const q = (t: number): number => {
    const d = new Date(t);
    return d.getUTCFullYear() * 4 + Math.floor(d.getUTCMonth() / 3);
  };
  return upTo > after && q(after.getTime() - MARGIN) !== q(upTo.getTime() + MARGIN);
}

export interface CashOutAmount {
  /** Points converted: a whole number of denominations. */
  points: number;
  /** Value of the gift card in cents of the program's currency. */
  value_cents: number;
}

/** Points that buy one denomination of gift card (ACME: 5 USD × 100 = 500). */
export function pointsPerDenomination(rule: CashOutRule): number {
  return Math.round((Math.round(rule.denomination * 100) * rule.points_per_currency_unit) / 100);
}

/** What a Spendable balance converts into: whole denominations only; the rest stays (DESIGN §2). */
export function cashOutAmount(balance: number, rule: CashOutRule): CashOutAmount {
  const unit = pointsPerDenomination(rule);
  const cards = unit > 0 && balance > 0 ? Math.floor(balance / unit) : 0;
  return { points: cards * unit, value_cents: cards * Math.round(rule.denomination * 100) };
}

export interface MaturingLot {
  matures_at: Date;
  /** Points still waiting in the Spendable Escrow lot. */
  remaining: number;
}

export interface PlannedCashOut {
  period: CashOutPeriod;
  /** The Spendable balance at the period end, before the cash-out. */
  balance: number;
  points: number;
  value_cents: number;
  /** What stays in the Spendable Account. */
  left: number;
}

/**
 * The cash-outs of the given periods for a member whose Spendable balance is `spendable` now and
 * whose unrolled Spendable Escrow lots are `lots`: a lot that matures at or before a period's end
 * counts toward that period (its rollover is effective first). Periods that convert nothing are
 * left out. The same plan serves the writer (settlement) and every as-of read, so both agree.
 */
export function planCashOuts(
  spendable: number,
  lots: readonly MaturingLot[],
  periods: readonly CashOutPeriod[],
  ruleFor: (p: CashOutPeriod) => CashOutRule,
): PlannedCashOut[] {
  const waiting = [...lots].sort((a, b) => a.matures_at.getTime() - b.matures_at.getTime());
  let balance = spendable;
  let next = 0;
  const out: PlannedCashOut[] = [];
  for (const period of periods) {
    while (next < waiting.length && waiting[next]!.matures_at <= period.ends_at) {
      balance += waiting[next]!.remaining;
      next += 1;
    }
    const amount = cashOutAmount(balance, ruleFor(period));
    if (amount.points > 0) {
      out.push({ period, balance, ...amount, left: balance - amount.points });
      balance -= amount.points;
    }
  }
  return out;
}

/** A member's gift card of a period has one id, so a card read before it is written keeps it. */
export function giftCardId(userId: string, period: string): string {
  return derivedId(userId, `gift_card:${period}`);
}

/** Crockford's base 32: no I, L, O or U, so a code read aloud or retyped stays unambiguous. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * The gift card's code: 80 bits of HMAC-SHA256 under the server's gift-card key, in four groups of
 * four (`7K2M-…`). Unguessable without the key, never stored: the database holds only the card's
 * id, so a copy of the database reveals no code (docs/cash-out.md).
 */
export function giftCardCode(key: Buffer, cardId: string): string {
  const mac = createHmac('sha256', key).update(`laurel-gift-card:${cardId}`).digest();
  let bits = 0;
  let acc = 0;
  let out = '';
  for (const byte of mac.subarray(0, 10)) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  return out.match(/.{4}/g)!.join('-');
}

/** The code with all but its last group hidden, for agents and reports. */
export const maskedCode = (code: string): string => code.replace(/[0-9A-Z]{4}-/g, '••••-');
