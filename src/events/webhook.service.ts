import type { Database, Queryable } from '../db/database.js';
import { isUuid, newId } from '../domain/ids.js';
import { LaurelError, validationError } from '../errors.js';
import { newWebhookSecret, type SecretBox } from './secret-box.js';
import {
  deleteWebhook as deleteWebhookRow,
  findWebhook,
  insertWebhook,
  listDeliveries,
  listWebhookRows,
  replayDeliveries,
  type DeliveryStatus,
  type WebhookRow,
} from './webhook.repository.js';
import type { WebhookBody } from './webhook.schema.js';

/** Webhooks of a retailer (issue #17, docs/events.md). */

export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  description?: string;
  created_at: string;
}

export const webhookView = (w: WebhookRow): WebhookView => ({
  id: w.id,
  url: w.url,
  events: w.events,
  ...(w.description !== null ? { description: w.description } : {}),
  created_at: new Date(w.created_at).toISOString(),
});

/** A URL a webhook may have: http or https, nothing else (no file:, no javascript:, no ftp:). */
function checkUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw validationError('webhook.url is not a URL', 'webhook.url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw validationError(
      `webhook.url must be http or https, not ${url.protocol.replace(/:$/, '')}`,
      'webhook.url',
    );
  }
  return url.toString();
}

/** Creates a webhook; the answer carries its signing secret, the only time it is shown. */
export async function createWebhook(
  db: Database,
  box: SecretBox,
  retailerId: string,
  body: WebhookBody['webhook'],
  now: Date,
): Promise<WebhookView & { secret: string }> {
  const url = checkUrl(body.url);
  const secret = newWebhookSecret();
  const row: WebhookRow = {
    id: newId(now.getTime()),
    retailer_id: retailerId,
    url,
    events: body.events.includes('*') ? ['*'] : [...body.events],
    description: body.description ?? null,
    secret_sealed: box.seal(secret),
    created_at: now,
  };
  await insertWebhook(db, row);
  return { ...webhookView(row), secret };
}

export async function listWebhooks(db: Queryable, retailerId: string): Promise<WebhookView[]> {
  return (await listWebhookRows(db, retailerId)).map(webhookView);
}

/** The retailer's webhook, or `webhook_not_found` (another retailer's answers the same). */
export async function getWebhookRow(db: Queryable, retailerId: string, id: string): Promise<WebhookRow> {
  const row = isUuid(id) ? await findWebhook(db, retailerId, id.toLowerCase()) : undefined;
  if (!row) throw new LaurelError('webhook_not_found');
  return row;
}

export async function deleteWebhook(db: Database, retailerId: string, id: string, now: Date): Promise<void> {
  const gone =
    isUuid(id) && (await db.transaction((tx) => deleteWebhookRow(tx, retailerId, id.toLowerCase(), now)));
  if (!gone) throw new LaurelError('webhook_not_found');
}

export async function webhookDeliveries(
  db: Queryable,
  retailerId: string,
  id: string,
  status: DeliveryStatus | undefined,
  limit: number,
) {
  const hook = await getWebhookRow(db, retailerId, id);
  const rows = await listDeliveries(db, hook.id, status, limit);
  const iso = (d: Date | null) => (d === null ? undefined : new Date(d).toISOString());
  return rows.map((r) => ({
    event_id: r.event_id,
    event_type: r.event_type,
    ...(r.user_id !== retailerId ? { user_id: r.user_id } : {}),
    status: r.status,
    attempts: r.attempts,
    ...(r.last_status !== null ? { last_status_code: r.last_status } : {}),
    ...(r.last_error !== null ? { last_error: r.last_error } : {}),
    ...(r.status === 'pending' && r.next_attempt_at ? { next_attempt_at: iso(r.next_attempt_at) } : {}),
    ...(r.last_attempt_at ? { last_attempt_at: iso(r.last_attempt_at) } : {}),
    ...(r.delivered_at ? { delivered_at: iso(r.delivered_at) } : {}),
  }));
}

/** Queues every event of the retailer created since `since` that the webhook hears, again. */
export async function replayWebhook(
  db: Database,
  retailerId: string,
  id: string,
  since: string,
  wallNow: Date,
): Promise<number> {
  const at = new Date(since);
  if (Number.isNaN(at.getTime())) throw validationError('since must be an ISO-8601 time', 'since');
  const hook = await getWebhookRow(db, retailerId, id);
  return db.transaction((tx) => replayDeliveries(tx, hook, at, wallNow));
}
