import type { Queryable } from '../db/database.js';

/**
 * Live members of the retailer with this phone key, at most two (enough to tell one from many),
 * from the phone lookup table (migration 0011): an erased member's phones are removed from it.
 */
export async function findUserIdsByPhoneKey(
  db: Queryable,
  retailerId: string,
  phoneKey: string,
): Promise<string[]> {
  const rows = await db.query<{ user_id: string }>(
    `SELECT user_id FROM member_phones WHERE phone_key = $2 AND retailer_id = $1 ORDER BY user_id LIMIT 2`,
    [retailerId, phoneKey],
  );
  return rows.map((r) => r.user_id);
}

/**
 * The member of the retailer's purchase with this transaction id; undefined when none. Two
 * single-shard steps (issue #19): the transaction id's claim names the owner, whose shard says
 * whether the purchase is there and was made by a known member.
 */
export async function findPurchaseOwner(
  db: Queryable,
  retailerId: string,
  transactionId: string,
): Promise<string | undefined> {
  const claims = await db.query<{ user_id: string; purchase_id: string }>(
    'SELECT user_id, purchase_id FROM transaction_keys WHERE transaction_id = $2 AND retailer_id = $1',
    [retailerId, transactionId],
  );
  const claim = claims[0];
  // A purchase of no known member owns itself.
  if (!claim || claim.user_id === claim.purchase_id) return undefined;
  const rows = await db.query<{ user_id: string }>(
    `SELECT user_id FROM purchases
     WHERE user_id = $1 AND retailer_id = $2 AND transaction_id = $3
       AND not_awarded_reason IS DISTINCT FROM 'member_not_found'`,
    [claim.user_id, retailerId, transactionId],
  );
  return rows[0]?.user_id;
}
