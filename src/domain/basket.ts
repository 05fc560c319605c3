import { validationError } from '../errors.js';
import { MAX_AMOUNT_CENTS, MAX_QUANTITY, QUANTITY_DECIMALS } from './bounds.js';
import { toCents, type Basket } from './earning.js';

/**
 * The basket of a POS transaction (reference §6), read into integer cents and checked (issue #3):
 * quantities, prices and amounts are non-negative with at most two decimals, line ids unique. A
 * line with quantity 0 is a line fully returned. A line's `category` (or SessionM's `pos_cat_key`)
 * and the transaction's `channel` are kept for campaigns (issue #5). Every amount is bounded and
 * computed in integers (`bounds.ts`, issue #13 item 2): a basket beyond the bounds is refused whole.
 */

export interface ItemInput {
  line_id: string | number;
  item_id: string;
  quantity: number;
  unit_price: number;
  subtotal?: number | undefined;
  category?: string | undefined;
  pos_cat_key?: string | undefined;
}

export interface DiscountInput {
  amount: number;
}

const dollars = (cents: number) => (cents / 100).toLocaleString('en-US');

function cents(field: string, amount: number): number {
  const c = toCents(amount);
  if (c === null) throw validationError(`${field} must be an amount with at most two decimals`, field);
  if (c < 0) throw validationError(`${field} must not be negative`, field);
  if (c > MAX_AMOUNT_CENTS)
    throw validationError(`${field} must be at most ${dollars(MAX_AMOUNT_CENTS)}`, field);
  return c;
}

/** A quantity in thousandths of a unit, exactly; null when it has more than three decimals. */
function milliUnits(quantity: number): number | null {
  const m = Math.round(quantity * 10 ** QUANTITY_DECIMALS);
  return Math.abs(quantity * 10 ** QUANTITY_DECIMALS - m) < 1e-6 ? m : null;
}

export function readBasket(
  items: ItemInput[],
  discounts: DiscountInput[],
  voided: boolean,
  channel?: string,
): Basket {
  const seen = new Set<string>();
  let total = 0;
  const lines = items.map((item, i) => {
    const field = `request_payload.items[${i}]`;
    const lineId = String(item.line_id);
    if (seen.has(lineId))
      throw validationError(`${field}.line_id ${lineId} appears twice`, `${field}.line_id`);
    seen.add(lineId);
    if (!Number.isFinite(item.quantity) || item.quantity < 0 || item.quantity > MAX_QUANTITY) {
      throw validationError(`${field}.quantity must be from 0 to 1,000,000`, `${field}.quantity`);
    }
    const milli = milliUnits(item.quantity);
    if (milli === null) {
      throw validationError(
        `${field}.quantity must have at most ${QUANTITY_DECIMALS} decimals`,
        `${field}.quantity`,
      );
    }
    const unit = cents(`${field}.unit_price`, item.unit_price);
    // unit × quantity in integers: cents × thousandths can pass 2^53, so BigInt, rounded half up.
    const subtotal =
      item.subtotal === undefined
        ? Number((BigInt(unit) * BigInt(milli) + 500n) / 1000n)
        : cents(`${field}.subtotal`, item.subtotal);
    if (subtotal > MAX_AMOUNT_CENTS) {
      throw validationError(
        `${field}: quantity × unit_price must be at most ${dollars(MAX_AMOUNT_CENTS)}`,
        `${field}.quantity`,
      );
    }
    total += subtotal;
    if (total > MAX_AMOUNT_CENTS) {
      throw validationError(
        `request_payload.items must total at most ${dollars(MAX_AMOUNT_CENTS)}`,
        'request_payload.items',
      );
    }
    // `category` wins over its alias; keys are left out when absent, so baskets stored before
    // categories existed still compare equal to an unchanged re-send.
    const category = item.category ?? item.pos_cat_key;
    return {
      line_id: lineId,
      item_id: item.item_id,
      quantity: item.quantity,
      subtotal_cents: subtotal,
      ...(category !== undefined ? { category } : {}),
    };
  });
  const discount = discounts.reduce(
    (n, d, i) => n + cents(`request_payload.discounts[${i}].amount`, d.amount),
    0,
  );
  if (discount > MAX_AMOUNT_CENTS) {
    throw validationError(
      `request_payload.discounts must total at most ${dollars(MAX_AMOUNT_CENTS)}`,
      'request_payload.discounts',
    );
  }
  return { lines, discount_cents: discount, voided, ...(channel !== undefined ? { channel } : {}) };
}
