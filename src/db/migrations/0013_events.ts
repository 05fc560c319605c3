/**
 * Events (issue #17, docs/events.md): a transactional outbox, webhooks and their deliveries.
 *
 * `events` is the outbox: every change that matters writes its event row in the statement or
 * transaction of the change itself, so a change that rolls back emits nothing. It is keyed by
 * `(user_id, id)` for distribution by member (DESIGN §9): `user_id` is the member, or the
 * retailer's own id for an event of no member (a campaign change, a purchase of nobody). `seq`
 * orders one member's events: every writer of a member holds the member's row lock, so a later
 * event of a member always draws a higher `seq`. `dispatched_at` is set once the event has been
 * fanned out into deliveries; the partial indexes keep the dispatcher's reads small.
 *
 * `webhooks` belong to a retailer (not to a member). The signing secret is stored sealed
 * (AES-256-GCM under a key derived from the server's key, src/events/secret-box.ts), never in
 * plain text.
 *
 * `event_deliveries`: one row per event and destination, a webhook or (the nil id) the events
 * broker; customer-owned like its event. The delivery loop claims due rows with
 * `FOR UPDATE SKIP LOCKED`, and a row waits while an earlier event of its member to the same
 * destination is still pending (per-member order).
 *
 * `event_brokers`: present when some server publishes to a broker (`laurel serve --events-broker`),
 * so every server's dispatcher queues each event for it.
 */
export const name = 'events';

export const sql = `
CREATE TABLE events (
  user_id        uuid NOT NULL,
  id             uuid NOT NULL,
  seq            bigserial NOT NULL,
  retailer_id    uuid NOT NULL REFERENCES retailers (id),
  type           text NOT NULL CHECK (type ~ '^[a-z_]+\\.[a-z_]+$'),
  created_at     timestamptz NOT NULL,
  effective_at   timestamptz NOT NULL,
  data           jsonb NOT NULL,
  dispatched_at  timestamptz,
  PRIMARY KEY (user_id, id)
);
CREATE INDEX events_undispatched_idx ON events (seq) WHERE dispatched_at IS NULL;
CREATE INDEX events_undispatched_member_idx ON events (user_id, seq) WHERE dispatched_at IS NULL;
CREATE INDEX events_retailer_time_idx ON events (retailer_id, created_at);

CREATE TABLE webhooks (
  id             uuid PRIMARY KEY,
  retailer_id    uuid NOT NULL REFERENCES retailers (id),
  url            text NOT NULL CHECK (url ~ '^https?://'),
  events         text[] NOT NULL CHECK (cardinality(events) > 0),
  description    text,
  secret_sealed  text NOT NULL,
  created_at     timestamptz NOT NULL,
  deleted_at     timestamptz
);
CREATE INDEX webhooks_retailer_idx ON webhooks (retailer_id) WHERE deleted_at IS NULL;

CREATE TABLE event_deliveries (
  user_id          uuid NOT NULL,
  webhook_id       uuid NOT NULL,
  event_id         uuid NOT NULL,
  retailer_id      uuid NOT NULL,
  seq              bigint NOT NULL,
  status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz,
  last_attempt_at  timestamptz,
  last_status      integer,
  last_error       text,
  created_at       timestamptz NOT NULL,
  delivered_at     timestamptz,
  PRIMARY KEY (user_id, webhook_id, event_id),
  FOREIGN KEY (user_id, event_id) REFERENCES events (user_id, id)
);
CREATE INDEX event_deliveries_due_idx ON event_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX event_deliveries_order_idx ON event_deliveries (webhook_id, user_id, seq) WHERE status = 'pending';
CREATE INDEX event_deliveries_list_idx ON event_deliveries (webhook_id, status, created_at);

CREATE TABLE event_brokers (
  name           text PRIMARY KEY,
  registered_at  timestamptz NOT NULL
);
`;
