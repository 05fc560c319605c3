import type { Queryable } from '../db/database.js';

/** Live members of the retailer with this phone key, at most two (enough to tell one from many). */
export async function findUserIdsByPhoneKey(
  db: Queryable,
  retailerId: string,
  phoneKey: string,
): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT DISTINCT u.id FROM user_phones p JOIN users u ON u.id = p.user_id
     WHERE p.retailer_id = $1 AND p.phone_key = $2 AND u.retailer_id = $1 AND u.deleted_at IS NULL
     LIMIT 2`,
    [retailerId, phoneKey],
  );
  return rows.map((r) => r.id);
}

/** The member of the retailer's purchase with this transaction id; undefined when none. */
export async function findPurchaseOwner(
  db: Queryable,
  retailerId: string,
  transactionId: string,
): Promise<string | undefined> {
  const rows = await db.query<{ user_id: string | null }>(
    'SELECT user_id FROM purchases WHERE retailer_id = $1 AND transaction_id = $2',
    [retailerId, transactionId],
  );
  return rows[0]?.user_id ?? undefined;
}
