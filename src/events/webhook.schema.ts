import { Type, type Static } from '@sinclair/typebox';
import { EVENT_TYPES, WILDCARD } from '../domain/events.js';
import { OkStatus } from '../http/envelope.js';

/** Wire types of the webhooks admin API (issue #17, docs/events.md). */

const EventName = Type.Union([...[WILDCARD, ...EVENT_TYPES].map((t) => Type.Literal(t))], {
  description: 'An event type, or * for every type.',
});

export const WebhookBody = Type.Object(
  {
    webhook: Type.Object(
      {
        url: Type.String({
          minLength: 1,
          maxLength: 2000,
          description: 'Where events are POSTed: an http or https URL.',
        }),
        events: Type.Array(EventName, {
          minItems: 1,
          maxItems: EVENT_TYPES.length + 1,
          uniqueItems: true,
          description: 'The event types it hears, or ["*"].',
        }),
        description: Type.Optional(Type.String({ maxLength: 500, description: 'A note for the retailer.' })),
      },
      { additionalProperties: false, description: 'The webhook to create.' },
    ),
  },
  { additionalProperties: false },
);
export type WebhookBody = Static<typeof WebhookBody>;

export const WebhookParams = Type.Object({
  webhook_id: Type.String({ description: 'The webhook id (a UUID).' }),
});

const WebhookFields = {
  id: Type.String({ description: 'The webhook id.' }),
  url: Type.String({ description: 'Where events are POSTed.' }),
  events: Type.Array(Type.String(), { description: 'The event types it hears, or ["*"].' }),
  description: Type.Optional(Type.String({ description: 'The note given when it was created.' })),
  created_at: Type.String({ description: 'ISO-8601, UTC.' }),
};

export const Webhook = Type.Object(WebhookFields, {
  description: 'A webhook (its secret is shown only when created).',
});

export const CreatedWebhookResponse = Type.Object({
  status: OkStatus,
  webhook: Type.Object(
    {
      ...WebhookFields,
      secret: Type.String({
        description: 'The signing secret, shown this once: keep it where the receiver can read it.',
      }),
    },
    { description: 'The new webhook with its signing secret.' },
  ),
});

export const WebhookResponse = Type.Object({ status: OkStatus, webhook: Webhook });
export const WebhooksResponse = Type.Object({
  status: OkStatus,
  webhooks: Type.Array(Webhook, { description: "The retailer's webhooks, oldest first." }),
});
export const DeletedResponse = Type.Object({ status: OkStatus });

export const DeliveriesQuery = Type.Object({
  status: Type.Optional(
    Type.Union([Type.Literal('failed'), Type.Literal('pending'), Type.Literal('delivered')], {
      description: 'Only deliveries of this status.',
    }),
  ),
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 100,
      description: 'At most this many, newest first.',
    }),
  ),
});

export const DeliveriesResponse = Type.Object({
  status: OkStatus,
  deliveries: Type.Array(
    Type.Object({
      event_id: Type.String({ description: 'The event id (its laurel-event-id header).' }),
      event_type: Type.String({ description: 'The event type.' }),
      user_id: Type.Optional(Type.String({ description: 'The member, for an event of a member.' })),
      status: Type.String({ description: 'pending, delivered or failed.' }),
      attempts: Type.Integer({ description: 'Attempts made so far.' }),
      last_status_code: Type.Optional(Type.Integer({ description: "The receiver's last HTTP status." })),
      last_error: Type.Optional(Type.String({ description: 'Why the last attempt failed.' })),
      next_attempt_at: Type.Optional(
        Type.String({ description: 'When a pending delivery is tried next (ISO-8601).' }),
      ),
      last_attempt_at: Type.Optional(Type.String({ description: 'When it was last tried (ISO-8601).' })),
      delivered_at: Type.Optional(Type.String({ description: 'When a receiver answered 2xx (ISO-8601).' })),
    }),
    { description: 'Newest first.' },
  ),
});

export const ReplayBody = Type.Object(
  {
    since: Type.String({
      format: 'date-time',
      description: 'Send again every event created since this instant.',
    }),
  },
  { additionalProperties: false },
);

export const ReplayResponse = Type.Object({
  status: OkStatus,
  queued: Type.Integer({ description: 'Events queued for the webhook again.' }),
});
