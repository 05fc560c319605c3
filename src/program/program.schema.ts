import { Type, type Static } from '@sinclair/typebox';
import { OkStatus } from '../http/envelope.js';

/**
 * The program document as a JSON schema (DESIGN §2, issue #3). Ids are optional on input: a
 * missing id is derived from the retailer and the entity's name, so ids stay stable across versions.
 */

const Uuid = (description: string) =>
  Type.String({
    pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
    description,
  });
const Name = (description: string) => Type.String({ minLength: 1, maxLength: 100, description });
const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'Program-local date YYYY-MM-DD' });

export const PointAccountSchema = Type.Object(
  {
    id: Type.Optional(
      Uuid(
        'The account id. Optional when writing: each role keeps its id across versions, and an id given must be it.',
      ),
    ),
    role: Type.Union(
      [
        Type.Literal('spendable'),
        Type.Literal('spendable_escrow'),
        Type.Literal('tier'),
        Type.Literal('tier_escrow'),
      ],
      {
        description:
          'spendable (points to spend), spendable_escrow (purchase points waiting out escrow_days), tier (Tier Qualifying points) or tier_escrow (their escrow).',
      },
    ),
    name: Name('Shown as account_name in balances and the point audit log, 1 to 100 characters.'),
    grouping_label: Type.String({
      maxLength: 50,
      description: 'Shown in balances, e.g. Spend, Tier or empty.',
    }),
    precision: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 2,
        description:
          'Decimals the account holds: 0 (whole points, the default) or 2 (hundredths: amounts such as 12.5 on the wire, stored exactly as integer hundredths). Only spendable and spendable_escrow may declare 2, both the same; it cannot change once the accounts hold points (docs/ledger.md).',
      }),
    ),
  },
  { additionalProperties: false },
);

export const TierLevelSchema = Type.Object(
  {
    id: Type.Optional(
      Uuid('The level id. Optional when writing: a level keeps its id by name across versions.'),
    ),
    name: Type.String({
      minLength: 1,
      maxLength: 50,
      pattern: '^[A-Za-z0-9 _-]+$',
      description:
        "Shown as the user's tier, e.g. GOLD: unique, letters, digits, spaces, _ and -; UNENROLLED is reserved.",
    }),
    rank: Type.Integer({
      minimum: 1,
      maximum: 100,
      description: 'Order of the levels, 1 to 100, distinct; a higher rank is a higher tier.',
    }),
    threshold: Type.Integer({
      minimum: 0,
      maximum: 1_000_000_000,
      description:
        'Tier Qualifying points within a qualifying period that reach the level; rising with rank, 0 for the lowest level.',
    }),
    maintenance_threshold: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1_000_000_000,
        description:
          "Tier Qualifying points within a qualifying period that keep the level while it is held, renewing it to its expiry from that period; at most threshold. Optional when writing: the level's threshold.",
      }),
    ),
    expiry: Type.String({
      pattern: '^(never|end_of_following_calendar_year|rolling_months:[1-9][0-9]?)$',
      description: 'never, end_of_following_calendar_year or rolling_months:N',
    }),
    rule_id: Type.Optional(
      Uuid(
        "Id of the level's qualifying rule, shown in tier_progress. Optional when writing: kept by level name.",
      ),
    ),
  },
  { additionalProperties: false },
);

const Code = Type.String({ minLength: 1, maxLength: 128 });
const CodeList = (description: string) =>
  Type.Optional(Type.Array(Code, { minItems: 1, maxItems: 1000, description }));

/**
 * A campaign's award as one object whose `type` says which fields it has; which fields each type
 * needs is checked by `normalizeProgram`, so an error names the missing field of the type sent
 * (a union here would report the first alternative's fields instead).
 */
export const CampaignAwardSchema = Type.Object(
  {
    type: Type.Union(
      [Type.Literal('multiplier'), Type.Literal('threshold_bonus'), Type.Literal('item_points')],
      { description: 'multiplier, threshold_bonus or item_points: which other fields the award has.' },
    ),
    factor: Type.Optional(
      Type.Number({ exclusiveMinimum: 1, maximum: 100, description: 'multiplier: base points × factor.' }),
    ),
    min_eligible_spend: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1_000_000, description: 'threshold_bonus: in currency units.' }),
    ),
    points: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'threshold_bonus: the bonus.' }),
    ),
    points_per_unit: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000, description: 'item_points: per unit listed.' }),
    ),
    item_ids: CodeList('item_points: lines with one of these item_ids count.'),
    categories: CodeList('item_points: lines with one of these categories (or pos_cat_key) count.'),
  },
  {
    additionalProperties: false,
    description:
      'multiplier {factor}: floor(base × factor) − base more points; threshold_bonus ' +
      '{min_eligible_spend, points}: points more when eligible spend reaches it; item_points ' +
      '{points_per_unit, item_ids and/or categories}: floor(points_per_unit × units listed).',
  },
);

export const CampaignTargetingSchema = Type.Object(
  {
    tiers: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 50 }), {
        maxItems: 20,
        description: "Tier level names; the member's tier at the purchase time.",
      }),
    ),
    store_ids: Type.Optional(
      Type.Array(Code, { maxItems: 1000, description: "The transaction's store_id, compared exactly." }),
    ),
    channels: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
        maxItems: 100,
        description: 'Compared without regard to case.',
      }),
    ),
  },
  { additionalProperties: false, description: 'An absent or empty list means everyone.' },
);

/** A campaign as the admin writes it (issue #5); `ended_at` is set only by the end action or the program. */
export const campaignFields = {
  id: Type.Optional(
    Uuid(
      'The campaign id. Optional when writing: a new campaign gets one, a program document keeps each by campaign name, and a change through /admin/v1/campaigns must keep it.',
    ),
  ),
  name: Name('Unique in the program, 1 to 100 characters; named in answers and the point audit log.'),
  starts_on: Day,
  ends_on: Day,
  award: CampaignAwardSchema,
  targeting: Type.Optional(CampaignTargetingSchema),
  max_awards_per_member: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      description: "How many of a member's purchases may hold points from it; absent: no limit.",
    }),
  ),
  tier_qualifying: Type.Boolean({
    description:
      "Whether the campaign's points also go to the Tier Qualifying accounts, counting toward tiers.",
  }),
  creative: Type.Optional(
    Type.Union([Type.Literal('tile'), Type.Literal('promotion')], {
      description: "Where Core's campaign listings show it: tiles (default) or promotions.",
    }),
  ),
  custom_payload: Type.Optional(
    Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), {
      maxProperties: 50,
      description:
        'A JSON object for clients, echoed as custom_payload in Core\'s listings (e.g. {"offer_id": "..."}); at most 4 KiB.',
    }),
  ),
};

export const CampaignInputSchema = Type.Object(campaignFields, {
  additionalProperties: false,
  description: 'The whole campaign.',
});
export type CampaignInput = Static<typeof CampaignInputSchema>;

export const CampaignSchema = Type.Object(
  {
    ...campaignFields,
    ended_at: Type.Optional(
      Type.String({
        maxLength: 40,
        description: 'ISO-8601 instant the campaign was ended; purchases at or after it get nothing.',
      }),
    ),
  },
  { additionalProperties: false },
);

const EventName = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^\\S(.*\\S)?$',
  description:
    'The event name clients send as event_lookup (or as a key of a campaign event), compared exactly.',
});

export const OutcomeLimitSchema = Type.Object(
  {
    max: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      description: 'How many times the outcome may apply to one member in the window.',
    }),
    window: Type.String({
      pattern: '^(lifetime|day|month|year|rolling_days:[1-9][0-9]{0,3})$',
      description:
        'lifetime, day, month or year (program-local calendar: the current one), or rolling_days:N (the last N days, 1 to 9999).',
    }),
  },
  { additionalProperties: false, description: 'A per-member limit; absent: no limit.' },
);

/**
 * One outcome as one object whose `type` says which fields it has; `normalizeProgram` checks them
 * (as for a campaign's award), so an error names the field of the type sent.
 */
export const BehaviourOutcomeSchema = Type.Object(
  {
    id: Type.Optional(
      Uuid('The outcome id. Optional when writing: an outcome keeps its id by position and type.'),
    ),
    type: Type.Union([Type.Literal('award_points'), Type.Literal('move_tier'), Type.Literal('add_tag')], {
      description: 'award_points, move_tier or add_tag: which other fields the outcome has.',
    }),
    points: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'award_points: how many.' }),
    ),
    account: Type.Optional(
      Type.Union([Type.Literal('spendable'), Type.Literal('tier')], {
        description: 'award_points: the settled account credited, spendable (default) or tier.',
      }),
    ),
    tier_level: Type.Optional(
      Type.String({ minLength: 1, maxLength: 50, description: 'move_tier: a level name of the program.' }),
    ),
    tag: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'add_tag: the tag, 1 to 100 characters.' }),
    ),
    ttl_seconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 316_224_000,
        description: 'add_tag: the tag expires after this many seconds; absent: a counter tag.',
      }),
    ),
    limit: Type.Optional(OutcomeLimitSchema),
  },
  {
    additionalProperties: false,
    description:
      'award_points {points, account?}: credits the member through the ledger; move_tier {tier_level}: ' +
      'moves the member as movement/move_user does; add_tag {tag, ttl_seconds?}: adds a tag. Each with an optional limit.',
  },
);

/** A behaviour as the admin writes it (issue #14 item 8). */
export const behaviourFields = {
  id: Type.Optional(
    Uuid(
      'The behaviour id. Optional when writing: a new behaviour gets one, a program document keeps each by event and campaign.',
    ),
  ),
  event: EventName,
  name: Type.Optional(Name('A label for people, 1 to 100 characters.')),
  campaign_id: Type.Optional(
    Uuid("A campaign of the program: the behaviour is then fed only by that campaign's events."),
  ),
  outcomes: Type.Array(BehaviourOutcomeSchema, {
    maxItems: 10,
    description: 'Up to 10 outcomes, each applied or not on its own; none: the event is only saved.',
  }),
};

export const BehaviourInputSchema = Type.Object(behaviourFields, {
  additionalProperties: false,
  description: 'The whole behaviour.',
});
export type BehaviourInput = Static<typeof BehaviourInputSchema>;

export const ProgramSchema = Type.Object(
  {
    name: Name("The program's name, 1 to 100 characters."),
    time_zone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone, e.g. America/New_York' }),
    currency: Type.String({
      pattern: '^[A-Z]{3}$',
      description: "The program's currency, three capital letters such as USD; gift cards are issued in it.",
    }),
    point_accounts: Type.Array(PointAccountSchema, {
      minItems: 4,
      maxItems: 4,
      description: 'Exactly four accounts, one per role.',
    }),
    earning: Type.Object(
      {
        points_per_currency_unit: Type.Integer({
          minimum: 0,
          maximum: 1000,
          description: 'Base points per whole currency unit of eligible spend, 0 to 1000.',
        }),
      },
      { additionalProperties: false, description: 'Base earning on purchases.' },
    ),
    escrow_days: Type.Integer({
      minimum: 0,
      maximum: 365,
      description:
        'Days, 0 to 365, that purchase points wait in escrow from the purchase time before they roll over.',
    }),
    available_points: Type.Union([Type.Literal('spendable'), Type.Literal('spendable_plus_escrow')], {
      description:
        "What the user's available_points shows: the Spendable balance, or Spendable plus Spendable Escrow.",
    }),
    tier_system: Type.Object(
      {
        id: Type.Optional(
          Uuid('The tier system id. Optional when writing; without it the current one is kept.'),
        ),
        name: Name("Shown as the user's tier_system, 1 to 100 characters."),
        qualifying_period: Type.Literal('calendar_year', {
          description:
            "calendar_year: Tier Qualifying points count per calendar year of the program's time zone.",
        }),
        downgrade: Type.Optional(
          Type.Union([Type.Literal('to_qualified_level'), Type.Literal('one_level')], {
            description:
              'Where a member goes when a level expires unrenewed: to_qualified_level (the highest level still held; the default) or one_level (at most one rank below the level that expired, never below the level still held).',
          }),
        ),
        levels: Type.Array(TierLevelSchema, {
          minItems: 1,
          maxItems: 20,
          description:
            'The levels, 1 to 20; the lowest (threshold 0, never expiring) is where every enrolled member starts.',
        }),
      },
      { additionalProperties: false, description: 'The tier ladder.' },
    ),
    late_return_policy: Type.Literal('claw_back_to_zero', {
      description:
        'claw_back_to_zero: a return after the points rolled over takes them from the settled account down to zero; the rest is shortfall.',
    }),
    cash_out: Type.Object(
      {
        frequency: Type.Literal('quarterly', {
          description: "quarterly: at the end of each calendar quarter in the program's time zone.",
        }),
        points_per_currency_unit: Type.Integer({
          minimum: 1,
          maximum: 1_000_000,
          description: 'Spendable points per currency unit of gift-card value, e.g. 100.',
        }),
        denomination: Type.Number({
          exclusiveMinimum: 0,
          maximum: 10_000,
          description: 'Gift cards are whole multiples of this value, in currency units (whole cents).',
        }),
      },
      {
        additionalProperties: false,
        description: 'Conversion of Spendable points into gift cards at each period end.',
      },
    ),
    campaigns: Type.Array(CampaignSchema, {
      maxItems: 200,
      description: 'Up to 200 campaigns; also managed one at a time through /admin/v1/campaigns.',
    }),
    behaviours: Type.Optional(
      Type.Array(BehaviourInputSchema, {
        maxItems: 200,
        description:
          'Up to 200 behaviours (events and their outcomes); also managed one at a time through /admin/v1/behaviours. Absent: the current ones are kept.',
      }),
    ),
  },
  {
    additionalProperties: false,
    $id: 'Program',
    description: 'The loyalty program: point accounts, earning, escrow, tiers, cash-out and campaigns.',
  },
);
export type ProgramInput = Static<typeof ProgramSchema>;

const versionFields = {
  version: Type.Integer({ description: 'The version number: 1 for the first, one more per change.' }),
  effective_from: Type.Union([Type.String(), Type.Null()], {
    description: 'ISO-8601; null for the first version, in force for all earlier times.',
  }),
  created_at: Type.String({ description: 'When the version was stored (ISO-8601, UTC).' }),
};

export const ProgramVersion = Type.Object(
  { ...versionFields, program: Type.Ref(ProgramSchema) },
  { description: 'The version with its program document.' },
);

export const ProgramResponse = Type.Object({ status: OkStatus, program_version: ProgramVersion });
export const ProgramVersionsResponse = Type.Object({
  status: OkStatus,
  versions: Type.Array(Type.Object(versionFields), { description: 'Every version, oldest first.' }),
});
export const ProgramBody = Type.Object({ program: Type.Ref(ProgramSchema) });
