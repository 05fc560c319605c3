import { validationError } from '../errors.js';
import { toCents, type Basket } from './earning.js';

/**
 * The basket of a POS transaction (reference §6), read into integer cents and checked (issue #3):
 * quantities, prices and amounts are non-negative with at most two decimals, line ids unique. A
 * line with quantity 0 is a line fully returned. A line's `category` (or SessionM's `pos_cat_key`)
 * and the transaction's `channel` are kept for campaigns (issue #5).
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

function cents(field: string, amount: number): number {
  const c = toCents(amount);
  if (c === null) throw validationError(`${field} must be an amount with at most two decimals`, field);
  if (c < 0) throw validationError(`${field} must not be negative`, field);
  return c;
}

export function readBasket(
  items: ItemInput[],
  discounts: DiscountInput[],
  voided: boolean,
  channel?: string,
): Basket {
  const seen = new Set<string>();
  const lines = items.map((item, i) => {
    const field = `request_payload.items[${i}]`;
    const lineId = String(item.line_id);
    if (seen.has(lineId))
      throw validationError(`${field}.line_id ${lineId} appears twice`, `${field}.line_id`);
    seen.add(lineId);
    if (!Number.isFinite(item.quantity) || item.quantity < 0 || item.quantity > 1e6) {
      throw validationError(`${field}.quantity must be from 0 to 1,000,000`, `${field}.quantity`);
    }
    const unit = cents(`${field}.unit_price`, item.unit_price);
    const subtotal =
      item.subtotal === undefined
        ? Math.round(unit * item.quantity)
        : cents(`${field}.subtotal`, item.subtotal);
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
  return { lines, discount_cents: discount, voided, ...(channel !== undefined ? { channel } : {}) };
}
