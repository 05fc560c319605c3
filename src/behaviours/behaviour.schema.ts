import { Type, type Static } from '@sinclair/typebox';
import { OkStatus } from '../http/envelope.js';
import { BehaviourInputSchema, behaviourFields } from '../program/program.schema.js';

/**
 * Wire types of behaviours (issue #14 items 8 and 9): `trigger_user_event` (reference §5), a
 * campaign's events (reference §7) and the admin API. Fields SessionM clients send that Laurel does
 * not use (`culture`, `include_progress`) are accepted and ignored.
 */

const Text = (max: number, description: string) => Type.String({ minLength: 1, maxLength: max, description });

/** `true`/`false` as JSON booleans or as the strings clients send (`"true"`). */
const LooseBoolean = (description: string) =>
  Type.Union([Type.Boolean(), Type.String({ pattern: '^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$' })], {
    description,
  });

export const looseBoolean = (v: boolean | string | undefined): boolean =>
  typeof v === 'string' ? v.toLowerCase() === 'true' : (v ?? false);

export const TriggerEventBody = Type.Object(
  {
    retailer_id: Text(64, "Must be the app's retailer."),
    user_id: Text(128, "Laurel's user id, or with user_id_type external_id the member's external id."),
    user_id_type: Type.Optional(
      Type.String({
        maxLength: 32,
        description: 'SessionM_ID or user_id (default: Laurel user id), or external_id; any casing.',
      }),
    ),
    event_lookup: Type.String({
      minLength: 1,
      maxLength: 128,
      description:
        'The event name; behaviours of this name apply. An unknown event is saved with no outcome.',
    }),
    culture: Type.Optional(Type.String({ maxLength: 16, description: 'e.g. en-US; accepted and ignored.' })),
    include_progress: Type.Optional(LooseBoolean('Accepted and ignored.')),
    is_session_m: Type.Optional(LooseBoolean('Echoed in user_event.is_session_m; true or "true".')),
    idempotency_id: Type.Optional(
      Text(
        128,
        'Optional: the event is processed once per member and id; a repeat answers the stored answer, the id reused with another body answers 409 idempotency_conflict.',
      ),
    ),
  },
  { additionalProperties: true },
);
export type TriggerEventBody = Static<typeof TriggerEventBody>;

const OutcomeAnswer = Type.Object({
  is_outcome_applied: Type.Boolean({ description: 'Whether the outcome was applied to the member.' }),
  discriminator: Type.String({ description: 'The outcome type: award_points, move_tier or add_tag.' }),
  points_awarded: Type.Integer({ description: 'Points credited by this outcome; 0 for the others.' }),
  outcome_message: Type.Optional(
    Type.String({
      description: 'Why it was not applied (not enrolled, limit reached, ...); absent when applied.',
    }),
  ),
  behaviour_id: Type.String({ description: 'The behaviour the outcome belongs to.' }),
  outcome_id: Type.String({ description: 'The outcome id, as the program document shows it.' }),
});

export const EventPayloadSchema = Type.Object(
  {
    user_event: Type.Object(
      {
        id: Type.String({ description: 'The saved event id (a UUID).' }),
        time_of_occurrence: Type.String({ description: 'When it was processed (ISO-8601, UTC).' }),
        retailer_id: Type.String({ description: "The member's retailer." }),
        event_lookup: Type.String({ description: 'The event name as sent.' }),
        user_id: Type.String({ description: "Laurel's user id of the member." }),
        is_session_m: Type.Boolean({ description: 'As sent; false when absent.' }),
      },
      { description: 'The event as saved.' },
    ),
    event_saved_successfully: Type.Literal(true, { description: 'Always true: the event was saved.' }),
    rules_processed_successfully: Type.Literal(true, {
      description: 'Always true: every behaviour of the event was evaluated.',
    }),
    outcomes: Type.Array(OutcomeAnswer, {
      description:
        "Every outcome of the event's behaviours, in the program's order; empty for an unknown event.",
    }),
  },
  { description: 'The event as saved and the outcomes it applied or not.' },
);

export const TriggerEventResponse = Type.Object({ status: OkStatus, payload: EventPayloadSchema });

export const CampaignEventsBody = Type.Object(
  {
    events: Type.Record(
      Type.String({ minLength: 1, maxLength: 128 }),
      Type.Integer({ minimum: 1, maximum: 100 }),
      {
        minProperties: 1,
        maxProperties: 20,
        description: 'Event name to how many times it happened (1 to 100), up to 20 names.',
      },
    ),
  },
  { additionalProperties: true },
);
export type CampaignEventsBody = Static<typeof CampaignEventsBody>;

export const CampaignEventsResponse = Type.Object({
  status: OkStatus,
  campaign_id: Type.String({ description: 'The campaign the events were sent to.' }),
  events: Type.Array(EventPayloadSchema, {
    description: 'One processed event per occurrence, in the order of the body and its counts.',
  }),
});

export const BehaviourParams = Type.Object({
  behaviour_id: Type.String({ description: 'The behaviour id (a UUID).' }),
});

export const BehaviourBody = Type.Object(
  { behaviour: BehaviourInputSchema },
  { additionalProperties: false },
);
export type BehaviourBody = Static<typeof BehaviourBody>;

const { id: _id, ...rest } = behaviourFields;
export const AdminBehaviour = Type.Object(
  { id: Type.String({ description: 'The behaviour id (a UUID).' }), ...rest },
  { description: 'A behaviour of the program, with the ids of its outcomes.' },
);

const ProgramVersionNumber = Type.Integer({
  description: 'The program version holding this state of the behaviours (a change makes a new one).',
});

export const AdminBehaviourResponse = Type.Object({
  status: OkStatus,
  program_version: ProgramVersionNumber,
  behaviour: AdminBehaviour,
});

export const AdminBehavioursResponse = Type.Object({
  status: OkStatus,
  program_version: ProgramVersionNumber,
  behaviours: Type.Array(AdminBehaviour, {
    description: "Every behaviour of the program in force now, in the document's order.",
  }),
});
