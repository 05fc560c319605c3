import type { Tx } from '../db/database.js';
import type { EventType } from '../domain/events.js';

/** One outbox row as a writer gives it (issue #17); `data` carries the member's ids where there is one. */
export interface EventInput {
  id: string;
  type: EventType;
  retailer_id: string;
  /** The member the event is about; absent for an event of no member (keyed by the retailer then). */
  user_id?: string | null;
  created_at: Date;
  effective_at: Date;
  data: Record<string, unknown>;
}

/** The JSON parameter `outboxWrites` reads: the events in the order they happened. */
export const eventsParam = (events: readonly EventInput[]): string =>
  JSON.stringify(
    events.map((e) => ({
      owner_id: e.user_id ?? e.retailer_id,
      id: e.id,
      retailer_id: e.retailer_id,
      type: e.type,
      created_at: e.created_at,
      effective_at: e.effective_at,
      data: e.user_id ? { user_id: e.user_id, ...e.data } : e.data,
    })),
  );

/**
 * The data-modifying `WITH` part that writes outbox rows from the parameter `events` (an
 * `eventsParam`), named `outbox_e`, for a writer to append to the statement of its change: the
 * event commits or rolls back with the change (issue #17). Rows are numbered in the order given, so
 * one member's events draw rising `seq`s; a member event gains the member's `external_id` when the
 * member has one. An id already written (a tier change found again) is left as it is.
 */
export function outboxWrites(events: string, owners: string): string {
  return `outbox_e AS (
       INSERT INTO events (user_id, id, retailer_id, type, created_at, effective_at, data)
       SELECT x.owner_id, x.id, x.retailer_id, x.type, x.created_at, x.effective_at,
              CASE WHEN x.data ? 'user_id' AND NOT x.data ? 'external_id'
                THEN x.data || coalesce((SELECT jsonb_build_object('external_id', u.external_id) FROM users u
                                         WHERE u.id = ANY(${owners}) AND u.id = x.owner_id
                                           AND u.external_id IS NOT NULL), '{}'::jsonb)
                ELSE x.data END
       FROM (SELECT (e.v->>'owner_id')::uuid AS owner_id, (e.v->>'id')::uuid AS id,
                    (e.v->>'retailer_id')::uuid AS retailer_id, e.v->>'type' AS type,
                    (e.v->>'created_at')::timestamptz AS created_at, (e.v->>'effective_at')::timestamptz AS effective_at,
                    e.v->'data' AS data, e.n
             FROM jsonb_array_elements(${events}::jsonb) WITH ORDINALITY AS e(v, n)) x
       ORDER BY x.n
       ON CONFLICT (user_id, id) DO NOTHING
     )`;
}

/** The events' owners as values, so the member rows `outboxWrites` reads are found on their shards (issue #19). */
export const eventOwners = (events: readonly EventInput[]): string[] => [
  ...new Set(events.map((e) => e.user_id ?? e.retailer_id)),
];

/** Writes outbox rows in their own statement, inside the change's transaction. */
export async function insertEvents(tx: Tx, events: readonly EventInput[]): Promise<void> {
  if (!events.length) return;
  await tx.query(`WITH ${outboxWrites('$1', '$2::uuid[]')} SELECT 1`, [
    eventsParam(events),
    eventOwners(events),
  ]);
}
