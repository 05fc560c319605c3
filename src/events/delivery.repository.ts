import type { Database } from '../db/database.js';
import type { EventEnvelope, EventType } from '../domain/events.js';
import { BROKER_DESTINATION } from './webhook.repository.js';

/**
 * Fans undispatched events out into deliveries (issue #17): one per live webhook of the event's
 * retailer that subscribes to its type, and one for the broker when a server publishes to one.
 * Claims the events with `FOR UPDATE SKIP LOCKED`, so two servers fan out disjoint events. Answers
 * how many events it dispatched.
 *
 * `perMember` (on Citus, issue #19): Citus refuses a row lock that spans shards ("could not run
 * distributed query with FOR UPDATE/SHARE commands"), so an unlocked read across the members finds
 * whose events wait, oldest first, and each member's are claimed in a statement of their own, on
 * the member's shard. On one PostgreSQL server one statement claims them all.
 */
export async function dispatchEvents(
  db: Database,
  limit: number,
  now: Date,
  perMember = false,
): Promise<number> {
  if (!perMember) return dispatchOf(db, limit, now, null);
  const owners = await db.query<{ user_id: string }>(
    `SELECT user_id FROM events WHERE dispatched_at IS NULL GROUP BY user_id ORDER BY min(seq) LIMIT $1`,
    [limit],
  );
  let dispatched = 0;
  for (const { user_id } of owners) {
    if (dispatched >= limit) break;
    dispatched += await dispatchOf(db, limit - dispatched, now, user_id);
  }
  return dispatched;
}

/** One fan-out statement: every member's waiting events, or `owner`'s only. */
async function dispatchOf(db: Database, limit: number, now: Date, owner: string | null): Promise<number> {
  const mine = owner === null ? '' : 'user_id = $4::uuid AND ';
  const rows = await db.query<{ n: number }>(
    `WITH ev AS (
       SELECT user_id, id, seq, retailer_id, type FROM events
       WHERE ${mine}dispatched_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED
     ), fan AS (
       INSERT INTO event_deliveries (user_id, webhook_id, event_id, retailer_id, seq, status, attempts, next_attempt_at, created_at)
       SELECT ev.user_id, w.id, ev.id, ev.retailer_id, ev.seq, 'pending', 0, $2::timestamptz, $2::timestamptz
       FROM ev JOIN webhooks w ON w.retailer_id = ev.retailer_id AND w.deleted_at IS NULL
         AND ('*' = ANY(w.events) OR ev.type = ANY(w.events))
       UNION ALL
       SELECT ev.user_id, $3::uuid, ev.id, ev.retailer_id, ev.seq, 'pending', 0, $2::timestamptz, $2::timestamptz
       FROM ev WHERE EXISTS (SELECT 1 FROM event_brokers)
       ON CONFLICT (user_id, webhook_id, event_id) DO NOTHING
     ), done AS (
       UPDATE events e SET dispatched_at = $2 FROM ev WHERE ${mine.replace('user_id', 'e.user_id')}e.user_id = ev.user_id AND e.id = ev.id
     )
     SELECT count(*)::int AS n FROM ev`,
    owner === null ? [limit, now, BROKER_DESTINATION] : [limit, now, BROKER_DESTINATION, owner],
  );
  return rows[0]?.n ?? 0;
}

/** A delivery claimed for one attempt, with its event. */
export interface ClaimedDelivery {
  user_id: string;
  webhook_id: string;
  event_id: string;
  /** This attempt's number (1 for the first). */
  attempts: number;
  /** When the delivery was queued: retries stop a window after it. */
  created_at: Date;
  event: EventEnvelope;
}

/** A delivery `d` is the head of its member's queue to its destination. */
const HEAD = `NOT EXISTS (SELECT 1 FROM event_deliveries p
                         WHERE p.webhook_id = d.webhook_id AND p.user_id = d.user_id AND p.status = 'pending'
                           AND p.seq < d.seq)
         AND NOT EXISTS (SELECT 1 FROM events x
                         WHERE x.user_id = d.user_id AND x.dispatched_at IS NULL AND x.seq < d.seq)`;

/**
 * Claims up to `limit` due deliveries to webhooks (`broker` false) or to the broker, for one
 * attempt each: `FOR UPDATE SKIP LOCKED`, so two servers never claim one attempt, and the claim
 * is a lease (`next_attempt_at` moves `leaseMs` ahead) that another server takes over if this one
 * dies mid-attempt (at-least-once). Only the head of each member's queue to a destination is due:
 * a delivery waits while an earlier event of its member to the same destination is pending, or
 * not yet fanned out (per-member order). `perMember`: member by member, as `dispatchEvents`.
 */
export async function claimDeliveries(
  db: Database,
  broker: boolean,
  limit: number,
  now: Date,
  leaseMs: number,
  perMember = false,
): Promise<ClaimedDelivery[]> {
  if (!perMember) return claimOf(db, broker, limit, now, leaseMs, null);
  const owners = await db.query<{ user_id: string }>(
    // Only members whose queue head is due: a member whose head is out on a lease waits.
    `SELECT d.user_id FROM event_deliveries d
     WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.webhook_id = $3::uuid) = $4
       AND ${HEAD}
     GROUP BY d.user_id ORDER BY min(d.next_attempt_at) LIMIT $2`,
    [now, limit, BROKER_DESTINATION, broker],
  );
  const claimed: ClaimedDelivery[] = [];
  for (const { user_id } of owners) {
    if (claimed.length >= limit) break;
    claimed.push(...(await claimOf(db, broker, limit - claimed.length, now, leaseMs, user_id)));
  }
  return claimed;
}

/** One claim statement: every member's due heads, or `owner`'s only. */
async function claimOf(
  db: Database,
  broker: boolean,
  limit: number,
  now: Date,
  leaseMs: number,
  owner: string | null,
): Promise<ClaimedDelivery[]> {
  const mine = owner === null ? '' : 'd.user_id = $6::uuid AND ';
  const rows = await db.query<{
    user_id: string;
    webhook_id: string;
    event_id: string;
    attempts: number;
    created_at: Date;
    type: EventType;
    event_created_at: Date;
    effective_at: Date;
    retailer_id: string;
    data: Record<string, unknown>;
  }>(
    `WITH c AS (
       SELECT d.user_id, d.webhook_id, d.event_id FROM event_deliveries d
       WHERE ${mine}d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.webhook_id = $4::uuid) = $5
         AND ${HEAD}
       ORDER BY d.next_attempt_at LIMIT $2
       FOR UPDATE OF d SKIP LOCKED
     ), claimed AS (
       UPDATE event_deliveries d SET attempts = d.attempts + 1, last_attempt_at = $1,
              next_attempt_at = $1::timestamptz + make_interval(secs => $3::double precision / 1000)
       FROM c WHERE ${mine}d.user_id = c.user_id AND d.webhook_id = c.webhook_id AND d.event_id = c.event_id
       RETURNING d.user_id, d.webhook_id, d.event_id, d.attempts, d.created_at
     )
     SELECT c.user_id, c.webhook_id, c.event_id, c.attempts, c.created_at, e.type,
            e.created_at AS event_created_at, e.effective_at, e.retailer_id, e.data
     FROM claimed c JOIN events e ON ${mine.replace('d.user_id', 'e.user_id')}e.user_id = c.user_id AND e.id = c.event_id
     ORDER BY e.seq`,
    owner === null
      ? [now, limit, leaseMs, BROKER_DESTINATION, broker]
      : [now, limit, leaseMs, BROKER_DESTINATION, broker, owner],
  );
  return rows.map((r) => ({
    user_id: r.user_id,
    webhook_id: r.webhook_id,
    event_id: r.event_id,
    attempts: r.attempts,
    created_at: new Date(r.created_at),
    event: {
      id: r.event_id,
      type: r.type,
      created_at: new Date(r.event_created_at).toISOString(),
      effective_at: new Date(r.effective_at).toISOString(),
      retailer_id: r.retailer_id,
      data: r.data,
    },
  }));
}

/** What one attempt came to. */
export interface AttemptOutcome {
  status: 'delivered' | 'pending' | 'failed';
  code: number | null;
  error: string | null;
  at: Date;
  /** The next attempt, when pending. */
  next: Date | null;
}

/**
 * Records an attempt's outcome, only if the delivery is still at that attempt (a lease that ran
 * out and was taken over by another server's later attempt is not overwritten).
 */
export async function recordAttempt(db: Database, d: ClaimedDelivery, o: AttemptOutcome): Promise<void> {
  await db.query(
    `UPDATE event_deliveries SET status = $5, last_status = $6, last_error = $7, last_attempt_at = $8,
            next_attempt_at = $9, delivered_at = CASE WHEN $5 = 'delivered' THEN $8::timestamptz END
     WHERE user_id = $1 AND webhook_id = $2 AND event_id = $3 AND attempts = $4 AND status = 'pending'`,
    [d.user_id, d.webhook_id, d.event_id, d.attempts, o.status, o.code, o.error, o.at, o.next],
  );
}

/** Records that some server publishes every event to a broker (`laurel serve --events-broker`). */
export async function registerBroker(db: Database, now: Date): Promise<void> {
  await db.query(
    `INSERT INTO event_brokers (name, registered_at) VALUES ('default', $1) ON CONFLICT (name) DO NOTHING`,
    [now],
  );
}
