/**
 * The bounds of every amount a request can carry (DESIGN §3, amended 2026-12-04: "bounded so the
 * ledger holds them exactly"; issue #13 item 2). Each is far above what a real till sends and far
 * below where integer arithmetic in a double stops being exact (2^53 ≈ 9.0e15): a basket's cents,
 * a purchase's points and a member's balance built from millions of such purchases all stay exact.
 * `laurel verify` reports any stored amount beyond them.
 */

/** A line's quantity: 0 (returned) to a million units, with at most three decimals (weights). */
export const MAX_QUANTITY = 1_000_000;
export const QUANTITY_DECIMALS = 3;

/** Any amount of money in a basket (unit price, line subtotal, discount, the basket's total): $10M. */
export const MAX_AMOUNT_CENTS = 1_000_000_000;

/** Points a purchase may award to one account (base and campaigns together). */
export const MAX_PURCHASE_POINTS = 1_000_000_000;

/** Points of one posting of any journal, and of any balance `verify` accepts. */
export const MAX_LEDGER_AMOUNT = 1_000_000_000_000_000;
