import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { OkStatus } from '../http/envelope.js';

/**
 * Wire types of the Incentives points API (reference §4, issue #3 item 6). Every body carries
 * `retailer_id`, which must be the app's retailer. Fields SessionM clients send that Laurel does
 * not use (`culture`, `rank`, `disable_event_publishing`, ...) are accepted and ignored.
 */

/** Largest single deposit or spend: a typo guard, far above any real adjustment. */
/**
 * A line's `rank`, kept and answered back as `spend_weight`: a 32-bit integer, as the clients
 * that send it declare it. Unbounded, JSON's -1e309 parsed as -Infinity, passed as an integer, was
 * stored, and broke the answer after the spend committed (fuzzer seed 65259131).
 */
const RANK_BOUNDS = { minimum: -2_147_483_648, maximum: 2_147_483_647 } as const;

export const MAX_POINTS_PER_LINE = 10_000_000;

/** Largest `skip` of the point audit log. */
export const MAX_AUDIT_SKIP = 1_000_000;

const Text = (max: number, description?: string) =>
  Type.String({ minLength: 1, maxLength: max, ...(description ? { description } : {}) });
const Nullable = <T extends TSchema>(t: T, description?: string) =>
  Type.Union([t, Type.Null()], description ? { description } : {});

/**
 * A line's amount in the account's major units (issue #14 item 3): whole points on an account of
 * precision 0, up to two decimals on one of precision 2; the service refuses more decimals than
 * the account holds (400 validation naming the field).
 */
const Points = (description: string) =>
  Type.Number({ exclusiveMinimum: 0, maximum: MAX_POINTS_PER_LINE, description });

/** An amount answered in the account's major units: an integer unless the account has precision 2. */
const Amount = (description: string) =>
  Type.Number({
    description: `${description} In the account's points: whole unless the program gives it precision 2 (then up to two decimals, e.g. 12.5).`,
  });

const MemberBody = {
  retailer_id: Text(64, "Must be the app's retailer."),
  user_id: Text(64, 'Laurel user id.'),
  culture: Type.Optional(Type.String({ maxLength: 16, description: 'e.g. en-US; accepted and ignored.' })),
};

const RetailerId = Type.String({ description: "The app's retailer id." });
const MemberId = Type.String({ description: "Laurel's user id of the member." });
const AccountName = Type.String({ description: "The point account's name in the program." });
const PointAccountId = Type.String({ description: "The program's point account id." });
const UserPointAccountId = Type.String({ description: "The member's own account id (stable)." });
const Recorded = (what: string) => `${what}; recorded and shown in the point audit log.`;
/** A point source id; "" (a client's default) means none (issue #14 item 3). */
const PointSourceId = Type.Optional(
  Type.String({ maxLength: 64, description: Recorded('Free text; "" is the same as absent') }),
);

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
  account_name: AccountName,
  user_point_account_id: Type.String({ description: 'Empty until the member first uses the account.' }),
  point_account_id: PointAccountId,
  grouping_label: Type.String({ description: "The account's grouping label, e.g. Spend, Tier or empty." }),
  available_balance: Amount(
    'Points now; for the Tier Qualifying Account, those of the current qualifying year.',
  ),
  life_time_value: Amount('Every point ever credited to the account.'),
});

export const BalanceResponse = Type.Object({
  status: OkStatus,
  payload: Type.Object(
    {
      retailer_id: RetailerId,
      user_id: MemberId,
      details: Type.Array(BalanceDetail, {
        description: "One row per account asked for, in the program's order.",
      }),
    },
    { description: "The member's balances." },
  ),
});

export const AllBalancesResponse = Type.Object({
  status: OkStatus,
  payload: Type.Object(
    {
      retailer_id: RetailerId,
      user_id: MemberId,
      summary: Type.Object(
        {
          total_points: Amount('Sum over every account, tier-qualifying ones included, exact.'),
          life_time_points: Amount('Sum of life_time_value over every account, exact.'),
        },
        { description: 'Totals over the accounts.' },
      ),
      details: Type.Array(BalanceDetail, {
        description: "One row per point account, in the program's order.",
      }),
    },
    { description: 'The member’s balances, as the user object’s point_account_balances.' },
  ),
});

const DepositLine = Type.Object(
  {
    point_source_id: PointSourceId,
    point_account_id: Text(64, 'The Spendable or Tier Qualifying account; escrow accounts take no deposits.'),
    amount: Points(
      'Points, more than 0 and at most 10,000,000: whole, or with up to two decimals (12.5) on an account of precision 2. A deduction is a spend.',
    ),
    reference_id: Type.Optional(
      Text(
        128,
        'Free text, recorded and shown in the point audit log; the idempotency id when idempotency_id is absent.',
      ),
    ),
    reference_type: Type.Optional(Text(128, 'Free text, e.g. Goodwill or an agent note.')),
    idempotency_id: Type.Optional(
      Text(
        128,
        'Per member; the line is applied once. Defaults to reference_id. A line with neither is applied every time it is sent (not idempotent, as in SessionM).',
      ),
    ),
    rank: Type.Optional(
      Type.Integer({
        ...RANK_BOUNDS,
        description: "Kept with the deposit and shown as its audit rows' spend_weight.",
      }),
    ),
  },
  { additionalProperties: true },
);

export const DepositBody = Type.Object(
  {
    ...MemberBody,
    deposit_details: Type.Array(DepositLine, {
      minItems: 1,
      maxItems: 100,
      description: 'The deposits, 1 to 100 lines, applied in order in one transaction.',
    }),
    allow_partial_success: Type.Optional(
      Type.Boolean({
        description:
          'Accepted and ignored: an invalid line fails the whole request, and a repeat is not a failure.',
      }),
    ),
  },
  { additionalProperties: true },
);
export type DepositBody = Static<typeof DepositBody>;

const DepositResult = Type.Object({
  point_account_id: Type.String({ description: "The line's point account." }),
  amount: Amount("The line's amount (also when not applied)."),
  idempotency_id: Nullable(
    Type.String(),
    "The line's idempotency_id, else its reference_id; null when it has neither.",
  ),
  applied: Type.Boolean({ description: 'False when this idempotency id was already deposited.' }),
});
export type DepositResult = Static<typeof DepositResult>;

export const DepositResponse = Type.Object({
  status: OkStatus,
  payload: Type.Object(
    {
      user_id: MemberId,
      details: Type.Array(DepositResult, { description: 'One result per line, in order.' }),
    },
    { description: 'What the deposit did.' },
  ),
});
export type DepositPayload = Static<typeof DepositResponse>['payload'];

const SpendLine = Type.Object(
  {
    amount: Points(
      'Points, more than 0 and at most 10,000,000: whole, or with up to two decimals (12.5) on an account of precision 2.',
    ),
    point_account_ids: Type.Optional(
      Type.Array(Text(64), {
        maxItems: 1,
        description: 'The account to spend from (Spendable or Tier Qualifying); Spendable when absent.',
      }),
    ),
    idempotency_id: Text(128, 'Per member; a repeat returns the first result and spends nothing.'),
    reference_id: Type.Optional(Text(128, Recorded('Free text'))),
    reference_type: Type.Optional(Text(128, Recorded('Free text, e.g. REWARD_STORE'))),
    transaction_id: Type.Optional(
      Text(128, "Free text; recorded and shown as the point audit log row's transaction_id."),
    ),
    point_source_id: PointSourceId,
    rank: Type.Optional(
      Type.Integer({
        ...RANK_BOUNDS,
        description: "Kept with the spend and shown as its audit row's spend_weight.",
      }),
    ),
  },
  { additionalProperties: true },
);

export const SpendBody = Type.Object(
  {
    ...MemberBody,
    spend_details: Type.Array(SpendLine, {
      minItems: 1,
      maxItems: 100,
      description:
        'The spends, 1 to 100 lines, in order; each line sees the balance the lines before it left.',
    }),
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

const AuditRow = Type.Object({
  id: Type.String({ description: 'Journal id and posting line.' }),
  retailer_id: RetailerId,
  user_id: MemberId,
  account_name: Type.String({
    description: "The point account's name; for a tier change, the tier system's name.",
  }),
  point_account_id: Type.String({
    description: "The program's point account id; empty for a tier change.",
  }),
  user_point_account_id: Type.String({
    description: "The member's own account id (stable); empty for a tier change.",
  }),
  modification: Amount('Signed change of the account.'),
  amount_spent: Amount('Points this row redeemed (a spend or a cash-out: the debit, unsigned); else 0.'),
  amount_expired: Type.Integer({
    description: 'Points this row expired; always 0: points do not expire in Laurel (docs/audit-log.md).',
  }),
  spend_weight: Type.Integer({
    description: "The deposit's or spend's rank, as sent; else 0.",
  }),
  audit_type: Type.Integer({
    description: 'Bitmask: 1 issued, 2 deducted, 16 adjustment; 0 for a tier change (docs/audit-log.md).',
  }),
  modification_type: Type.String({
    description: 'purchase, return, rollover, deposit, spend, cash_out, behaviour, opening or tier_change.',
  }),
  modification_entity_id: Nullable(Type.String(), 'The purchase, for purchases, returns and rollovers.'),
  point_source_id: Nullable(Type.String(), "The deposit's or spend's point_source_id; else null."),
  point_source_name: Type.String({
    description:
      'Where the points came from or went, a name per modification_type: Purchase, Return, Escrow Rollover, Manual Adjustment, Agent Adjustment, Spend, Cash-out, Behavior: <event>, Opening Balance, Tier Change (docs/audit-log.md).',
  }),
  reference_id: Nullable(
    Type.String(),
    "The deposit's or spend's reference_id; the till's transaction id for a purchase or return; the gift card id for a cash-out; else null.",
  ),
  reference_type: Nullable(
    Type.String(),
    "The deposit's or spend's reference_type; POS Transaction for a purchase or return, Gift Card for a cash-out, the cause of a tier change; else null.",
  ),
  time_of_occurrence: Type.String({ description: 'When it took effect (ISO-8601, UTC).' }),
  create_date: Type.String({ description: 'When it was recorded (ISO-8601, UTC).' }),
  request_id: Nullable(Type.String(), 'The send_transaction request_id of a purchase or return; else null.'),
  idempotency_id: Nullable(
    Type.String(),
    "The deposit's or spend's idempotency id (a deposit without one: its reference_id); else null.",
  ),
  transaction_id: Nullable(
    Type.String(),
    "The till's transaction id for a purchase, return or rollover; a spend's own transaction_id; else null.",
  ),
  reason: Type.String({
    description: 'A plain-language sentence saying why, e.g. Purchase T-1001 earned 60 points.',
  }),
  campaigns: Type.Optional(Type.Array(Type.String(), { description: 'Campaigns that added points.' })),
});
export type AuditRow = Static<typeof AuditRow>;

/**
 * `error_status` of a spend line (issue #14 item 12): an integer, as SessionM's typed clients
 * decode it (a C# POS reads a non-nullable int). 0 is success; each per-line failure has its code.
 * docs/errors.md lists them; change both together.
 */
export const SPEND_LINE_ERROR = { none: 0, insufficient_points: 1 } as const;

const SpendResult = Type.Object({
  account_name: Type.String({ description: 'The account spent from.' }),
  user_point_account_id: UserPointAccountId,
  point_account_id: PointAccountId,
  amount_spent: Amount('Points the line spent; 0 when it failed.'),
  remaining_balance: Amount("The account's balance after this line."),
  reference_id: Nullable(Type.String(), 'As sent; null when absent.'),
  reference_type: Nullable(Type.String(), 'As sent; null when absent.'),
  tracking_id: Nullable(
    Type.String(),
    "The spend's journal id (its point audit log rows are `<tracking_id>:<line>`); the same on a duplicate; null when the line failed.",
  ),
  idempotency_id: Type.String({ description: 'As sent.' }),
  idempotency_summary: Type.Union([Type.Literal('new'), Type.Literal('duplicate')], {
    description: 'duplicate: this idempotency id was spent before; the first result is returned.',
  }),
  error_status: Type.Integer({
    description:
      '0 when the line spent (or is a duplicate); 1 insufficient_points: the account could not cover the line (only with allow_partial_success). docs/errors.md.',
  }),
  error_response: Nullable(
    Type.Object({ error: Type.String({ description: 'The code, e.g. insufficient_points.' }) }),
    'null on success; {"error": "<code>"} when the line failed.',
  ),
  message: Nullable(Type.String(), 'Why the line failed, with the points needed and available; else null.'),
});
export type SpendResult = Static<typeof SpendResult>;

export const SpendResponse = Type.Object({
  status: OkStatus,
  payload: Type.Object(
    {
      retailer_id: RetailerId,
      user_id: MemberId,
      details: Type.Array(SpendResult, { description: 'One result per line, in order.' }),
      summary: Type.Object(
        {
          amount_spent: Amount('Points this request spent (repeats spend nothing).'),
          remaining_balance: Amount('Spendable balance after the request.'),
        },
        { description: 'Totals of the request.' },
      ),
      audits: Type.Array(AuditRow, {
        description:
          'The point audit log rows this request wrote, one per spent line, as fetch_point_audit_logs shows them; none for duplicates and failed lines.',
      }),
      time_of_occurrence: Type.String({ description: 'ISO-8601, UTC.' }),
    },
    { description: 'What the spend did.' },
  ),
});
export type SpendPayload = Static<typeof SpendResponse>['payload'];

export const AuditLogBody = Type.Object(
  {
    ...MemberBody,
    // The page is cut from the member's first skip + take rows, and LIMIT must be a bigint: a skip
    // of 1e308 was a 500 (issue #7). No member has a million audit rows.
    skip: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_AUDIT_SKIP,
        default: 0,
        description: 'Rows to skip, 0 to 1,000,000; default 0.',
      }),
    ),
    take: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 500,
        default: 50,
        description: 'Rows to answer, 1 to 500; default 50.',
      }),
    ),
    exclude_specified_modification_types: Type.Optional(
      Type.Union(
        [
          Type.Array(Type.Union([Type.String({ maxLength: 32 }), Type.Integer()]), { maxItems: 20 }),
          Type.Boolean(),
        ],
        {
          description:
            'modification_type values to leave out: purchase, return, rollover, deposit, spend, cash_out, behaviour, opening or tier_change; other values match nothing. A boolean (true or false, as some clients send) means no exclusion list.',
        },
      ),
    ),
  },
  { additionalProperties: true },
);
export type AuditLogBody = Static<typeof AuditLogBody>;

export const AuditLogResponse = Type.Object({
  status: OkStatus,
  payload: Type.Object(
    {
      total_records: Type.Integer({
        description: 'Rows the filter keeps in all, tier changes included (also on a page past the end).',
      }),
      results: Type.Array(AuditRow, { description: 'The page, newest first.' }),
    },
    { description: "A page of the member's point history." },
  ),
});
export type AuditLogPayload = Static<typeof AuditLogResponse>['payload'];
