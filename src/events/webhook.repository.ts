import type { Queryable, Tx } from '../db/database.js';

/** The nil UUID: the destination id of deliveries to the events broker (no webhook has it). */
export const BROKER_DESTINATION = '00000000-0000-0000-0000-000000000000';

export interface WebhookRow {
  id: string;
  retailer_id: string;
  url: string;
  events: string[];
  description: string | null;
  secret_sealed: string;
  created_at: Date;
}

const WEBHOOK_COLUMNS = 'id, retailer_id, url, events, description, secret_sealed, created_at';

export async function insertWebhook(db: Queryable, w: WebhookRow): Promise<void> {
  await db.query(
    `INSERT INTO webhooks (id, retailer_id, url, events, description, secret_sealed, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [w.id, w.retailer_id, w.url, w.events, w.description, w.secret_sealed, w.created_at],
  );
}

/** The retailer's live webhooks, oldest first. */
export async function listWebhookRows(db: Queryable, retailerId: string): Promise<WebhookRow[]> {
  return db.query<WebhookRow>(
    `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE retailer_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`,
    [retailerId],
  );
}

export async function findWebhook(
  db: Queryable,
  retailerId: string,
  id: string,
): Promise<WebhookRow | undefined> {
  const rows = await db.query<WebhookRow>(
    `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE retailer_id = $1 AND id = $2 AND deleted_at IS NULL`,
    [retailerId, id],
  );
  return rows[0];
}

/** Webhooks by id, deleted ones left out: what the delivery loop signs with. */
export async function findWebhooksByIds(db: Queryable, ids: readonly string[]): Promise<WebhookRow[]> {
  return db.query<WebhookRow>(
    `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`,
    [ids],
  );
}

/** Deletes a webhook: it hears nothing more, its pending deliveries fail. True when it existed. */
export async function deleteWebhook(tx: Tx, retailerId: string, id: string, now: Date): Promise<boolean> {
  const rows = await tx.query<{ id: string }>(
    `UPDATE webhooks SET deleted_at = $3 WHERE retailer_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING id`,
    [retailerId, id, now],
  );
  if (!rows.length) return false;
  await tx.query(
    `UPDATE event_deliveries SET status = 'failed', last_error = 'webhook deleted', next_attempt_at = NULL
     WHERE webhook_id = $1 AND status = 'pending'`,
    [id],
  );
  return true;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryRow {
  event_id: string;
  event_type: string;
  user_id: string;
  status: DeliveryStatus;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
  created_at: Date;
}

/** A webhook's deliveries, newest first, of one status or all. */
export async function listDeliveries(
  db: Queryable,
  webhookId: string,
  status: DeliveryStatus | undefined,
  limit: number,
): Promise<DeliveryRow[]> {
  return db.query<DeliveryRow>(
    `SELECT d.event_id, e.type AS event_type, d.user_id, d.status, d.attempts, d.last_status, d.last_error,
            d.next_attempt_at, d.last_attempt_at, d.delivered_at, d.created_at
     FROM event_deliveries d JOIN events e ON e.user_id = d.user_id AND e.id = d.event_id
     WHERE d.webhook_id = $1 AND ($2::text IS NULL OR d.status = $2)
     ORDER BY d.created_at DESC, d.seq DESC LIMIT $3`,
    [webhookId, status ?? null, limit],
  );
}

/** Per webhook of a retailer: pending and failed counts and the latest failure (the console). */
export interface WebhookHealth {
  webhook_id: string;
  pending: number;
  failed: number;
  last_failure_at: Date | null;
  last_failure: string | null;
}

export async function webhookHealth(db: Queryable, retailerId: string): Promise<WebhookHealth[]> {
  return db.query<WebhookHealth>(
    `SELECT w.id AS webhook_id,
            (SELECT count(*)::int FROM event_deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending') AS pending,
            (SELECT count(*)::int FROM event_deliveries d WHERE d.webhook_id = w.id AND d.status = 'failed') AS failed,
            f.last_attempt_at AS last_failure_at,
            f.last_error AS last_failure
     FROM webhooks w
     LEFT JOIN LATERAL (
       SELECT d.last_attempt_at, coalesce(d.last_error, 'HTTP ' || d.last_status) AS last_error
       FROM event_deliveries d
       WHERE d.webhook_id = w.id AND (d.last_error IS NOT NULL OR d.last_status NOT BETWEEN 200 AND 299)
         AND d.last_attempt_at IS NOT NULL
       ORDER BY d.last_attempt_at DESC LIMIT 1
     ) f ON true
     WHERE w.retailer_id = $1 AND w.deleted_at IS NULL`,
    [retailerId],
  );
}

/**
 * Queues the retailer's events created since `since` for the webhook again (replay): a delivery
 * already there becomes pending with a fresh count of attempts. Answers how many were queued.
 */
export async function replayDeliveries(tx: Tx, webhook: WebhookRow, since: Date, now: Date): Promise<number> {
  const rows = await tx.query<{ n: number }>(
    `WITH q AS (
       INSERT INTO event_deliveries (user_id, webhook_id, event_id, retailer_id, seq, status, attempts, next_attempt_at, created_at)
       SELECT e.user_id, $2, e.id, e.retailer_id, e.seq, 'pending', 0, $5, $5
       FROM events e
       WHERE e.retailer_id = $1 AND e.created_at >= $3 AND e.dispatched_at IS NOT NULL
         AND ('*' = ANY($4::text[]) OR e.type = ANY($4::text[]))
       ON CONFLICT (user_id, webhook_id, event_id) DO UPDATE
         SET status = 'pending', attempts = 0, next_attempt_at = $5, created_at = $5, delivered_at = NULL,
             last_error = NULL, last_status = NULL
       RETURNING 1
     ) SELECT count(*)::int AS n FROM q`,
    [webhook.retailer_id, webhook.id, since, webhook.events, now],
  );
  return rows[0]?.n ?? 0;
}
