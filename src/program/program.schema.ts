import { Type, type Static } from '@sinclair/typebox';

/**
 * The program document as a JSON schema (DESIGN §2, issue #3). Ids are optional on input: a
 * missing id is derived from the retailer and the entity's name, so ids stay stable across versions.
 */

const Uuid = Type.String({
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
});
const Name = Type.String({ minLength: 1, maxLength: 100 });
const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'Program-local date YYYY-MM-DD' });

export const PointAccountSchema = Type.Object(
  {
    id: Type.Optional(Uuid),
    role: Type.Union([
      Type.Literal('spendable'),
      Type.Literal('spendable_escrow'),
      Type.Literal('tier'),
      Type.Literal('tier_escrow'),
    ]),
    name: Name,
    grouping_label: Type.String({ maxLength: 50 }),
  },
  { additionalProperties: false },
);

export const TierLevelSchema = Type.Object(
  {
    id: Type.Optional(Uuid),
    name: Type.String({ minLength: 1, maxLength: 50, pattern: '^[A-Za-z0-9 _-]+$' }),
    rank: Type.Integer({ minimum: 1, maximum: 100 }),
    threshold: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
    expiry: Type.String({
      pattern: '^(never|end_of_following_calendar_year|rolling_months:[1-9][0-9]?)$',
      description: 'never, end_of_following_calendar_year or rolling_months:N',
    }),
    rule_id: Type.Optional(Uuid),
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
    type: Type.Union([
      Type.Literal('multiplier'),
      Type.Literal('threshold_bonus'),
      Type.Literal('item_points'),
    ]),
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
    store_ids: Type.Optional(Type.Array(Code, { maxItems: 1000 })),
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
  id: Type.Optional(Uuid),
  name: Name,
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
  tier_qualifying: Type.Boolean(),
};

export const CampaignInputSchema = Type.Object(campaignFields, { additionalProperties: false });
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

export const ProgramSchema = Type.Object(
  {
    name: Name,
    time_zone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone, e.g. America/New_York' }),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    point_accounts: Type.Array(PointAccountSchema, { minItems: 4, maxItems: 4 }),
    earning: Type.Object(
      { points_per_currency_unit: Type.Integer({ minimum: 0, maximum: 1000 }) },
      { additionalProperties: false },
    ),
    escrow_days: Type.Integer({ minimum: 0, maximum: 365 }),
    available_points: Type.Union([Type.Literal('spendable'), Type.Literal('spendable_plus_escrow')]),
    tier_system: Type.Object(
      {
        id: Type.Optional(Uuid),
        name: Name,
        qualifying_period: Type.Literal('calendar_year'),
        levels: Type.Array(TierLevelSchema, { minItems: 1, maxItems: 20 }),
      },
      { additionalProperties: false },
    ),
    late_return_policy: Type.Literal('claw_back_to_zero'),
    cash_out: Type.Object(
      {
        frequency: Type.Literal('quarterly'),
        points_per_currency_unit: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
        denomination: Type.Number({ exclusiveMinimum: 0, maximum: 10_000 }),
      },
      { additionalProperties: false },
    ),
    campaigns: Type.Array(CampaignSchema, { maxItems: 200 }),
  },
  { additionalProperties: false, $id: 'Program' },
);
export type ProgramInput = Static<typeof ProgramSchema>;

export const ProgramVersion = Type.Object({
  version: Type.Integer(),
  effective_from: Type.Union([Type.String(), Type.Null()], {
    description: 'ISO-8601; null for the first version, in force for all earlier times.',
  }),
  created_at: Type.String(),
  program: Type.Ref(ProgramSchema),
});

export const ProgramResponse = Type.Object({ status: Type.Literal('ok'), program_version: ProgramVersion });
export const ProgramVersionsResponse = Type.Object({
  status: Type.Literal('ok'),
  versions: Type.Array(
    Type.Object({
      version: Type.Integer(),
      effective_from: Type.Union([Type.String(), Type.Null()]),
      created_at: Type.String(),
    }),
  ),
});
export const ProgramBody = Type.Object({ program: Type.Ref(ProgramSchema) });
