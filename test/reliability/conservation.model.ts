/**
 * The reference model of the conservation workload (issue #7): plain arithmetic over what the
 * clients had acknowledged, written from the rules in DESIGN §2–§7 and never from Laurel's code.
 * It knows the ACME program without campaigns: a purchase earns floor(eligible cents / 100) points
 * into escrow; escrow matures 30 days after the purchase time into Spendable and Tier Qualifying;
 * at midnight America/New_York at the start of each quarter, Spendable becomes gift cards in
 * multiples of 500 points; the Tier Qualifying Account counts only the current calendar year.
 */

export const DAY_MS = 86_400_000;
export const ESCROW_DAYS = 30;
export const CASH_OUT_UNIT = 500;
export const ZONE = 'America/New_York';

/** The points a basket of eligible cents earns. */
export const pointsFor = (eligibleCents: number): number => Math.floor(eligibleCents / 100);

const zoneParts = new Intl.DateTimeFormat('en-US', {
  timeZone: ZONE,
  hourCycle: 'h23',
  year: 'numeric',
  month: 'numeric',
  day: 'numeric',
  hour: 'numeric',
  minute: 'numeric',
});

function localParts(at: Date): { year: number; month: number; day: number; hour: number; minute: number } {
  const parts = Object.fromEntries(zoneParts.formatToParts(at).map((p) => [p.type, p.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
  };
}

/** Midnight in New York on `year-month-01` (month 1–12): 05:00Z in winter, 04:00Z in summer. */
export function newYorkMidnight(year: number, month: number): Date {
  for (const offsetHours of [4, 5]) {
    const candidate = new Date(Date.UTC(year, month - 1, 1, offsetHours));
    const p = localParts(candidate);
    if (p.year === year && p.month === month && p.day === 1 && p.hour === 0 && p.minute === 0) {
      return candidate;
    }
  }
  throw new Error(`no New York midnight found for ${year}-${month}`);
}

export interface QuarterEnd {
  /** The quarter that ends, `YYYY-Qn`. */
  period: string;
  /** Its cash-out instant: midnight in New York at the start of the next quarter. */
  at: Date;
}

/** Quarter ends in (from, to], oldest first. */
export function quarterEndsBetween(from: Date, to: Date): QuarterEnd[] {
  const out: QuarterEnd[] = [];
  for (let year = from.getUTCFullYear() - 1; year <= to.getUTCFullYear() + 1; year++) {
    for (const month of [1, 4, 7, 10]) {
      const at = newYorkMidnight(year, month);
      if (at > from && at <= to) {
        out.push({ period: month === 1 ? `${year - 1}-Q4` : `${year}-Q${(month - 1) / 3}`, at });
      }
    }
  }
  return out.sort((a, b) => a.at.getTime() - b.at.getTime());
}

/** Midnight in New York on 1 January of the local year of `at`: the Tier Qualifying Account's start. */
export function localYearStart(at: Date): Date {
  return newYorkMidnight(localParts(at).year, 1);
}

export interface ModelLot {
  transactionId: string;
  purchaseTime: Date;
  maturesAt: Date;
  /** The purchase's current award: what its escrow lots hold until they mature. */
  award: number;
  rolled: boolean;
}

export interface Expected {
  spendable: number;
  spendableEscrow: number;
  tier: number;
  tierEscrow: number;
  /** Gift-card points per period. */
  cashOuts: Record<string, number>;
}

class MemberModel {
  readonly lots: ModelLot[] = [];
  /** Spendable as of the model's now. */
  spendable = 0;
  readonly cashOuts = new Map<string, number>();

  rollUpTo(at: Date): void {
    for (const lot of this.lots) {
      if (!lot.rolled && lot.maturesAt <= at) {
        lot.rolled = true;
        this.spendable += lot.award;
      }
    }
  }
}

/** The model: members' lots, Spendable and cash-outs, moved by acknowledged operations and time. */
export class ConservationModel {
  private readonly members = new Map<string, MemberModel>();
  private readonly lots = new Map<string, { member: string; lot: ModelLot }>();
  private current: Date;

  constructor(start: Date, memberIds: readonly string[]) {
    this.current = start;
    for (const id of memberIds) this.members.set(id, new MemberModel());
  }

  get now(): Date {
    return this.current;
  }

  private member(id: string): MemberModel {
    const m = this.members.get(id);
    if (!m) throw new Error(`model: unknown member ${id}`);
    return m;
  }

  /**
   * Moves time to `to`: lots and quarter ends in between, in time order; a lot that matures at or
   * before a quarter end counts in its cash-out (DESIGN §7).
   */
  advance(to: Date): void {
    if (to < this.current) throw new Error('model: time never moves backwards');
    for (const q of quarterEndsBetween(this.current, to)) {
      for (const [, m] of this.members) {
        m.rollUpTo(q.at);
        const points = Math.floor(m.spendable / CASH_OUT_UNIT) * CASH_OUT_UNIT;
        if (points > 0) {
          m.cashOuts.set(q.period, points);
          m.spendable -= points;
        }
      }
    }
    for (const [, m] of this.members) m.rollUpTo(to);
    this.current = to;
  }

  /** An acknowledged first send: its award waits in escrow for 30 days from the purchase time. */
  purchase(memberId: string, transactionId: string, purchaseTime: Date, award: number): void {
    if (this.lots.has(transactionId)) throw new Error(`model: transaction ${transactionId} bought twice`);
    const lot: ModelLot = {
      transactionId,
      purchaseTime,
      maturesAt: new Date(purchaseTime.getTime() + ESCROW_DAYS * DAY_MS),
      award,
      rolled: false,
    };
    this.member(memberId).lots.push(lot);
    this.lots.set(transactionId, { member: memberId, lot });
    this.member(memberId).rollUpTo(this.current);
  }

  /** Whether a purchase's escrow still waits now (a return then takes points from its own lot). */
  inEscrow(transactionId: string): boolean {
    const entry = this.lots.get(transactionId);
    return !!entry && entry.lot.maturesAt > this.current;
  }

  /** An acknowledged return, edit or void of a purchase still in escrow: its lot holds the new award. */
  changeAward(transactionId: string, award: number): void {
    const entry = this.lots.get(transactionId);
    if (!entry) throw new Error(`model: no purchase ${transactionId}`);
    if (!this.inEscrow(transactionId)) throw new Error(`model: ${transactionId} has matured`);
    entry.lot.award = award;
  }

  deposit(memberId: string, amount: number): void {
    this.member(memberId).spendable += amount;
  }

  spend(memberId: string, amount: number): void {
    this.member(memberId).spendable -= amount;
  }

  /** What every read of the member must show now. */
  expected(memberId: string): Expected {
    const m = this.member(memberId);
    const waiting = m.lots.filter((l) => l.maturesAt > this.current).reduce((n, l) => n + l.award, 0);
    const yearStart = localYearStart(this.current);
    const tier = m.lots
      .filter((l) => l.maturesAt >= yearStart && l.maturesAt <= this.current)
      .reduce((n, l) => n + l.award, 0);
    return {
      spendable: m.spendable,
      spendableEscrow: waiting,
      tier,
      tierEscrow: waiting,
      cashOuts: Object.fromEntries(m.cashOuts),
    };
  }

  /** Lots (one per escrow account of each purchase with points) that have matured by now. */
  maturedPurchases(): number {
    let n = 0;
    // One rollover journal per purchase whose lots held points at maturity (issue #16).
    for (const { lot } of this.lots.values()) if (lot.maturesAt <= this.current && lot.award > 0) n += 1;
    return n;
  }

  /** Every cash-out of every member, `user_id/period` → points. */
  allCashOuts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, m] of this.members) for (const [p, points] of m.cashOuts) out.set(`${id}/${p}`, points);
    return out;
  }

  /** The current award of every purchase. */
  awards(): Map<string, number> {
    return new Map([...this.lots].map(([tx, e]) => [tx, e.lot.award]));
  }
}
