import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * Wire types of the Incentives points API (reference §4, issue #3 item 6). Every body carries
 * `retailer_id`, which must be the app's retailer. Fields SessionM clients send that Laurel does
 * not use (`culture`, `rank`, `disable_event_publishing`, ...) are accepted and ignored.
 */

/** Largest single deposit or spend: a typo guard, far above any real adjustment. */
export const MAX_POINTS_PER_LINE = 10_000_000;

/** Largest `skip` of the point audit log. */
export const MAX_AUDIT_SKIP = 1_000_000;

const Text = (max: number, description?: string) =>
  Type.String({ minLength: 1, maxLength: max, ...(description ? { description } : {}) });
const Nullable = <T extends TSchema>(t: T, description?: string) =>
  Type.Union([t, Type.Null()], description ? { description } : {});

const Points = (description: string) =>
  Type.Integer({ minimum: 1, maximum: MAX_POINTS_PER_LINE, description });

const MemberBody = {
  retailer_id: Text(64, "Must be the app's retailer."),
  user_id: Text(64, 'Laurel user id.'),
  culture: Type.Optional(Type.String({ maxLength: 16 })),
};

export const BalanceBody = Type.Object(
  {
    ...MemberBody,
    point_account_ids: Type.Optional(
      Type.Array(Text(64), {
        maxItems: 20,
        description: 'Only these accounts; all when absent or empty. An unknown id is a validation error.',
      }),
    ),
  },
  { additionalProperties: true },
);
export type BalanceBody = Static<typeof BalanceBody>;

export const AllBalancesBody = Type.Object(MemberBody, { additionalProperties: true });
export type AllBalancesBody = Static<typeof AllBalancesBody>;

const BalanceDetail = Type.Object({
  account_name: Type.String(),
  user_point_account_id: Type.String({ description: 'Empty until the member first uses the account.' }),
  point_account_id: Type.String(),
  grouping_label: Type.String(),
  available_balance: Type.Integer(),
  life_time_value: Type.Integer({ description: 'Every point ever credited to the account.' }),
});

export const BalanceResponse = Type.Object({
  status: Type.Literal('ok'),
  payload: Type.Object({
    retailer_id: Type.String(),
    user_id: Type.String(),
    details: Type.Array(BalanceDetail),
  }),
});

export const AllBalancesResponse = Type.Object({
  status: Type.Literal('ok'),
  payload: Type.Object({
    retailer_id: Type.String(),
    user_id: Type.String(),
    summary: Type.Object({
      total_points: Type.Integer({ description: 'Sum over every account, tier-qualifying ones included.' }),
      life_time_points: Type.Integer(),
    }),
    details: Type.Array(BalanceDetail),
  }),
});

const DepositLine = Type.Object(
  {
    point_source_id: Type.Optional(Text(64)),
    point_account_id: Text(64, 'The Spendable or Tier Qualifying account; escrow accounts take no deposits.'),
    amount: Points('Whole points, 1 to 10,000,000. A deduction is a spend.'),
    reference_id: Type.Optional(Text(128)),
    reference_type: Type.Optional(Text(128, 'Free text, e.g. Goodwill or an agent note.')),
    idempotency_id: Type.Optional(
      Text(
        128,
        'Per member; the line is applied once. Defaults to reference_id; one of the two is required.',
      ),
    ),
    rank: Type.Optional(Type.Integer()),
  },
  { additionalProperties: true },
);

export const DepositBody = Type.Object(
  {
    ...MemberBody,
    deposit_details: Type.Array(DepositLine, { minItems: 1, maxItems: 100 }),
    allow_partial_success: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: true },
);
export type DepositBody = Static<typeof DepositBody>;

const DepositResult = Type.Object({
  point_account_id: Type.String(),
  amount: Type.Integer(),
  idempotency_id: Type.String(),
  applied: Type.Boolean({ description: 'False when this idempotency id was already deposited.' }),
});
export type DepositResult = Static<typeof DepositResult>;

export const DepositResponse = Type.Object({
  status: Type.Literal('ok'),
  payload: Type.Object({ user_id: Type.String(), details: Type.Array(DepositResult) }),
});
export type DepositPayload = Static<typeof DepositResponse>['payload'];

const SpendLine = Type.Object(
  {
    amount: Points('Whole points, 1 to 10,000,000.'),
    point_account_ids: Type.Optional(
      Type.Array(Text(64), {
        maxItems: 1,
        description: 'The account to spend from (Spendable or Tier Qualifying); Spendable when absent.',
      }),
    ),
    idempotency_id: Text(128, 'Per member; a repeat returns the first result and spends nothing.'),
    reference_id: Type.Optional(Text(128)),
    reference_type: Type.Optional(Text(128)),
    transaction_id: Type.Optional(Text(128)),
    point_source_id: Type.Optional(Text(64)),
  },
  { additionalProperties: true },
);

export const SpendBody = Type.Object(
  {
    ...MemberBody,
    spend_details: Type.Array(SpendLine, { minItems: 1, maxItems: 100 }),
    allow_partial_success: Type.Optional(
      Type.Boolean({
        description:
          'When false (default), one failing line means nothing is spent (400 insufficient_points).',
      }),
    ),
  },
  { additionalProperties: true },
);
export type SpendBody = Static<typeof SpendBody>;

const SpendResult = Type.Object({
  account_name: Type.String(),
  user_point_account_id: Type.String(),
  point_account_id: Type.String(),
  amount_spent: Type.Integer(),
  remaining_balance: Type.Integer({ description: "The account's balance after this line." }),
  reference_id: Nullable(Type.String()),
  reference_type: Nullable(Type.String()),
  idempotency_id: Type.String(),
  idempotency_summary: Type.Union([Type.Literal('new'), Type.Literal('duplicate')], {
    description: 'duplicate: this idempotency id was spent before; the first result is returned.',
  }),
  error_status: Nullable(Type.Literal('insufficient_points')),
  message: Nullable(Type.String()),
});
export type SpendResult = Static<typeof SpendResult>;

export const SpendResponse = Type.Object({
  status: Type.Literal('ok'),
  payload: Type.Object({
    details: Type.Array(SpendResult),
    summary: Type.Object({
      amount_spent: Type.Integer({ description: 'Points this request spent (repeats spend nothing).' }),
      remaining_balance: Type.Integer({ description: 'Spendable balance after the request.' }),
    }),
    time_of_occurrence: Type.String({ description: 'ISO-8601, UTC.' }),
  }),
});
export type SpendPayload = Static<typeof SpendResponse>['payload'];

export const AuditLogBody = Type.Object(
  {
    ...MemberBody,
    // The page is cut from the member's first skip + take rows, and LIMIT must be a bigint: a skip
    // of 1e308 was a 500 (issue #7). No member has a million audit rows.
    skip: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_AUDIT_SKIP, default: 0 })),
    take: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    exclude_specified_modification_types: Type.Optional(
      Type.Array(Type.Union([Type.String({ maxLength: 32 }), Type.Integer()]), {
        maxItems: 20,
        description: 'modification_type values to leave out: purchase, return, rollover, deposit, spend.',
      }),
    ),
  },
  { additionalProperties: true },
);
export type AuditLogBody = Static<typeof AuditLogBody>;

const AuditRow = Type.Object({
  id: Type.String({ description: 'Journal id and posting line.' }),
  retailer_id: Type.String(),
  user_id: Type.String(),
  account_name: Type.String(),
  point_account_id: Type.String(),
  user_point_account_id: Type.String(),
  modification: Type.Integer({ description: 'Signed change of the account.' }),
  audit_type: Type.Integer({
    description: 'Bitmask: 1 issued, 2 deducted, 16 adjustment; 0 for a tier change (docs/audit-log.md).',
  }),
  modification_type: Type.String({
    description: 'purchase, return, rollover, deposit, spend or tier_change.',
  }),
  modification_entity_id: Nullable(Type.String(), 'The purchase, for purchases, returns and rollovers.'),
  point_source_id: Nullable(Type.String()),
  reference_id: Nullable(Type.String()),
  reference_type: Nullable(Type.String()),
  time_of_occurrence: Type.String({ description: 'When it took effect (ISO-8601, UTC).' }),
  create_date: Type.String({ description: 'When it was recorded (ISO-8601, UTC).' }),
  request_id: Nullable(Type.String()),
  idempotency_id: Nullable(Type.String()),
  transaction_id: Nullable(Type.String()),
  reason: Type.String(),
  campaigns: Type.Optional(Type.Array(Type.String(), { description: 'Campaigns that added points.' })),
});
export type AuditRow = Static<typeof AuditRow>;

export const AuditLogResponse = Type.Object({
  status: Type.Literal('ok'),
  payload: Type.Object({ total_records: Type.Integer(), results: Type.Array(AuditRow) }),
});
export type AuditLogPayload = Static<typeof AuditLogResponse>['payload'];
