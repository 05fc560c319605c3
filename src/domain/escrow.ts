import type { AccountRole } from './program.js';

/**
 * How a change in a purchase's award moves points (DESIGN §4): pure. A purchase's points wait in
 * its own escrow lot until the lot matures; a lower award debits that lot first, and once the lot
 * has matured the late-return policy takes the rest from the settled account, down to zero at most
 * (ACME), recording what it could not take as a shortfall. The purchase owes that shortfall until a
 * later credit of the same purchase repays it (amended 2026-12-04): so the points a purchase has
 * credited, net of what was taken back, never exceed its award, however often it is voided and
 * re-rung (issue #13: void and re-ring minted points).
 */

export type EscrowRole = Extract<AccountRole, 'spendable_escrow' | 'tier_escrow'>;
export type SettledRole = Extract<AccountRole, 'spendable' | 'tier'>;

export const SETTLED_OF: Record<EscrowRole, SettledRole> = {
  spendable_escrow: 'spendable',
  tier_escrow: 'tier',
};

export interface LotState {
  remaining: number;
  /** True once the lot has rolled over; its points then live in the settled account. */
  matured: boolean;
}

export interface AwardChange {
  /** Change to the lot (positive: more points wait in escrow; negative: taken from escrow). */
  lot: number;
  /** Change to the settled account. */
  settled: number;
  /** Points a late return could not take back because the settled account ran out. */
  shortfall: number;
  /** Points of an increase that repaid the purchase's outstanding shortfall instead of crediting. */
  repaid: number;
}

/** -n without producing -0. */
const negate = (n: number): number => (n === 0 ? 0 : -n);

/**
 * Plans a change of `delta` points to one escrow account of a purchase whose lot is `lot`
 * (undefined before the purchase's first award), with `settledBalance` in the settled account and
 * `owed` points of this account's shortfall still outstanding on the purchase. An increase repays
 * `owed` first and credits only the rest; a decrease takes from the waiting lot, then from the
 * settled account down to zero, and the rest becomes shortfall.
 */
export function planAwardChange(
  delta: number,
  lot: LotState | undefined,
  settledBalance: number,
  owed = 0,
): AwardChange {
  const open = lot === undefined || !lot.matured;
  if (delta >= 0) {
    const repaid = Math.min(delta, Math.max(0, owed));
    const credit = delta - repaid;
    return open
      ? { lot: credit, settled: 0, shortfall: 0, repaid }
      : { lot: 0, settled: credit, shortfall: 0, repaid };
  }
  const wanted = -delta;
  const fromLot = open ? Math.min(lot?.remaining ?? 0, wanted) : 0;
  const rest = wanted - fromLot;
  const fromSettled = Math.min(rest, Math.max(0, settledBalance));
  return { lot: negate(fromLot), settled: negate(fromSettled), shortfall: rest - fromSettled, repaid: 0 };
}
