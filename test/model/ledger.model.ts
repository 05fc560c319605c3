import { localYearStart, quarterEndsBetween } from '../reliability/conservation.model.js';

/**
 * A reference model of the ledger's rules for the model-based test (issue #13): plain arithmetic
 * written from DESIGN §2–§7 (ACME, no campaigns), never from Laurel's code. It holds what every
 * member should have at the model's `now`: four balances, the tier, and what each purchase owes.
 *
 * - A purchase earns floor(cents / 100) into both escrow lots, maturing 30 days after its time.
 * - A re-send changes the award by the difference: a waiting lot absorbs it; after maturity a
 *   decrease takes from the settled account down to zero (Tier Qualifying: this year's points
 *   only) and the rest is owed; an increase first repays what the purchase owes (DESIGN §4 amended).
 * - At each quarter end Spendable becomes gift cards in multiples of 500 points.
 * - Tier: the highest of BASE 0, SILVER 2,000, GOLD 10,000 that the year's Tier Qualifying balance
 *   reached at any moment in this or the previous year.
 */

export const DAY_MS = 86_400_000;
const ESCROW_MS = 30 * DAY_MS;
const LEVELS: ReadonlyArray<[string, number]> = [
  ['GOLD', 10_000],
  ['SILVER', 2_000],
  ['BASE', 0],
];

type Role = 'spendable' | 'tier';

export interface ModelPurchase {
  transactionId: string;
  time: Date;
  maturesAt: Date;
  cents: number;
  voided: boolean;
  award: number;
  /** What waits in each escrow lot; 0 once matured. */
  lot: Record<Role, number>;
  matured: boolean;
  owed: Record<Role, number>;
}

export interface ModelView {
  spendable: number;
  spendableEscrow: number;
  tier: number;
  tierEscrow: number;
  tierName: string;
}

/** The local (New York) calendar year of an instant: its midnight of 1 January is 05:00Z. */
const yearOf = (at: Date): number => localYearStart(at).getUTCFullYear();

export class MemberModel {
  readonly purchases = new Map<string, ModelPurchase>();
  spendable = 0;
  /** Tier Qualifying balance per local calendar year, and the most it reached in that year. */
  readonly tierByYear = new Map<number, number>();
  readonly tierMaxByYear = new Map<number, number>();
  /** Deposit and spend idempotency ids with the line they were first used with. */
  readonly ids = new Map<string, string>();
  /** Points repaid by re-sends so far: the generator aims for sequences that reach this rule. */
  repaid = 0;

  constructor(
    readonly externalId: string,
    readonly createdAt: Date,
  ) {}

  private addTier(at: Date, points: number): void {
    const y = yearOf(at);
    const v = (this.tierByYear.get(y) ?? 0) + points;
    this.tierByYear.set(y, v);
    this.tierMaxByYear.set(y, Math.max(this.tierMaxByYear.get(y) ?? 0, v));
  }

  /** Settled balance a clawback may take from at `now`. */
  private settled(role: Role, now: Date): number {
    return role === 'spendable' ? this.spendable : (this.tierByYear.get(yearOf(now)) ?? 0);
  }

  private moveSettled(role: Role, now: Date, points: number): void {
    if (role === 'spendable') this.spendable += points;
    else this.addTier(now, points);
  }

  /** Applies every maturation and quarter end in (from, to], in time order. */
  advance(from: Date, to: Date): void {
    const events: Array<{ at: Date; run: () => void }> = [];
    for (const p of this.purchases.values()) {
      if (!p.matured && p.maturesAt > from && p.maturesAt <= to) {
        events.push({
          at: p.maturesAt,
          run: () => {
            this.spendable += p.lot.spendable;
            this.addTier(p.maturesAt, p.lot.tier);
            p.lot = { spendable: 0, tier: 0 };
            p.matured = true;
          },
        });
      }
    }
    for (const q of quarterEndsBetween(from, to)) {
      if (q.at <= this.createdAt) continue;
      // A lot maturing exactly at the quarter end counts toward it: maturations sort first.
      events.push({ at: new Date(q.at.getTime() + 0.5), run: () => (this.spendable %= 500) });
    }
    events.sort((a, b) => a.at.getTime() - b.at.getTime());
    for (const e of events) e.run();
  }

  /** A send of the transaction with a basket worth `cents`, voided or not, at `now`. */
  send(transactionId: string, time: Date, cents: number, voided: boolean, now: Date): void {
    const award = voided ? 0 : Math.floor(cents / 100);
    let p = this.purchases.get(transactionId);
    if (!p) {
      p = {
        transactionId,
        time,
        maturesAt: new Date(time.getTime() + ESCROW_MS),
        cents,
        voided,
        award: 0,
        lot: { spendable: 0, tier: 0 },
        matured: false,
        owed: { spendable: 0, tier: 0 },
      };
      this.purchases.set(transactionId, p);
    }
    const delta = award - p.award;
    p.cents = cents;
    p.voided = voided;
    p.award = award;
    for (const role of ['spendable', 'tier'] as const) {
      if (delta > 0) {
        const repaid = Math.min(delta, p.owed[role]);
        p.owed[role] -= repaid;
        this.repaid += repaid;
        if (p.matured) this.moveSettled(role, now, delta - repaid);
        else p.lot[role] += delta - repaid;
      } else if (delta < 0) {
        let wanted = -delta;
        if (!p.matured) {
          const fromLot = Math.min(p.lot[role], wanted);
          p.lot[role] -= fromLot;
          wanted -= fromLot;
        }
        const taken = Math.min(wanted, Math.max(0, this.settled(role, now)));
        this.moveSettled(role, now, -taken);
        p.owed[role] += wanted - taken;
      }
    }
  }

  deposit(role: Role, amount: number, now: Date): void {
    this.moveSettled(role, now, amount);
  }

  view(now: Date): ModelView {
    const y = yearOf(now);
    const reached = Math.max(this.tierMaxByYear.get(y) ?? 0, this.tierMaxByYear.get(y - 1) ?? 0);
    let spendableEscrow = 0;
    let tierEscrow = 0;
    for (const p of this.purchases.values()) {
      spendableEscrow += p.lot.spendable;
      tierEscrow += p.lot.tier;
    }
    return {
      spendable: this.spendable,
      spendableEscrow,
      tier: this.tierByYear.get(y) ?? 0,
      tierEscrow,
      tierName: LEVELS.find(([, threshold]) => reached >= threshold)![0],
    };
  }
}
