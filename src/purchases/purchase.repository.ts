import type { Queryable, Tx } from '../db/database.js';
import type { Award, Basket } from '../domain/earning.js';

export interface PurchaseRow {
  id: string;
  retailer_id: string;
  transaction_id: string;
  user_id: string | null;
  store_id: string | null;
  purchase_time: Date;
  program_version: number;
  basket: Basket;
  award: Award;
  not_awarded_reason: string | null;
  revision: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, retailer_id, transaction_id, user_id, store_id, purchase_time, program_version, basket, award,
  not_awarded_reason, revision, created_at, updated_at`;

export async function lockPurchase(
  tx: Tx,
  retailerId: string,
  transactionId: string,
): Promise<PurchaseRow | undefined> {
  const rows = await tx.query<PurchaseRow>(
    `SELECT ${COLUMNS} FROM purchases WHERE retailer_id = $1 AND transaction_id = $2 FOR UPDATE`,
    [retailerId, transactionId],
  );
  return rows[0];
}

export async function insertPurchase(tx: Tx, p: PurchaseRow): Promise<void> {
  await tx.query(
    `INSERT INTO purchases (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      p.id,
      p.retailer_id,
      p.transaction_id,
      p.user_id,
      p.store_id,
      p.purchase_time,
      p.program_version,
      JSON.stringify(p.basket),
      JSON.stringify(p.award),
      p.not_awarded_reason,
      p.revision,
      p.created_at,
      p.updated_at,
    ],
  );
}

export async function updatePurchaseBasket(
  tx: Tx,
  id: string,
  basket: Basket,
  award: Award,
  revision: number,
  now: Date,
): Promise<void> {
  await tx.query(
    'UPDATE purchases SET basket = $2, award = $3, revision = $4, updated_at = $5 WHERE id = $1',
    [id, JSON.stringify(basket), JSON.stringify(award), revision, now],
  );
}

/**
 * How many of a member's purchases other than `exceptPurchaseId` hold points from a campaign now:
 * their award lists it (an award lists only campaigns with points > 0). Read under the member's
 * lock, the lock every change to those purchases takes (issue #5 per-member limit).
 */
export async function countPurchasesHoldingCampaign(
  tx: Tx,
  userId: string,
  campaignId: string,
  exceptPurchaseId: string,
): Promise<number> {
  const rows = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM purchases
     WHERE user_id = $1 AND id <> $2 AND award->'campaigns' @> $3::jsonb`,
    [userId, exceptPurchaseId, JSON.stringify([{ campaign_id: campaignId }])],
  );
  return rows[0]?.n ?? 0;
}

export interface PosRequestRow {
  body_hash: string;
  response: unknown;
}

export async function findPosRequest(
  db: Queryable,
  retailerId: string,
  requestId: string,
): Promise<PosRequestRow | undefined> {
  const rows = await db.query<PosRequestRow>(
    'SELECT body_hash, response FROM pos_requests WHERE retailer_id = $1 AND request_id = $2',
    [retailerId, requestId],
  );
  return rows[0];
}

export async function insertPosRequest(
  tx: Tx,
  retailerId: string,
  requestId: string,
  bodyHash: string,
  response: unknown,
  now: Date,
): Promise<void> {
  await tx.query(
    'INSERT INTO pos_requests (retailer_id, request_id, body_hash, response, created_at) VALUES ($1, $2, $3, $4, $5)',
    [retailerId, requestId, bodyHash, JSON.stringify(response), now],
  );
}
