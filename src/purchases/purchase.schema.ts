import { Type, type Static } from '@sinclair/typebox';

/** Wire types of the POS API (reference §6, issue #3). Unknown fields of the till are accepted and ignored. */

const Id = (max: number, description?: string) =>
  Type.Union(
    [Type.String({ minLength: 1, maxLength: max }), Type.Integer()],
    description ? { description } : {},
  );

export const Item = Type.Object(
  {
    line_id: Id(64, 'Unique within the transaction; a re-send names the same lines.'),
    item_id: Type.String({
      minLength: 1,
      maxLength: 128,
      description: "The till's item id (SKU), for item_points campaigns.",
    }),
    quantity: Type.Number({ description: '0 marks a line fully returned.' }),
    unit_price: Type.Number({ description: 'Decimal currency units, e.g. 12.34.' }),
    subtotal: Type.Optional(Type.Number({ description: 'Line amount; quantity × unit_price when absent.' })),
    category: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'Item category, for item_points campaigns.' }),
    ),
    pos_cat_key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: "SessionM's name for category; category wins.",
      }),
    ),
  },
  { additionalProperties: true },
);

export const Payment = Type.Object(
  {
    payment_id: Type.Optional(Id(64, 'Accepted and ignored.')),
    amount: Type.Optional(Type.Number({ description: 'Accepted and ignored: points come from the items.' })),
    type: Type.Optional(Type.String({ maxLength: 64, description: 'e.g. CASH; accepted and ignored.' })),
    user_id: Type.Optional(
      Type.String({
        maxLength: 255,
        description: 'The member, read from the first payment that has one when the payload has no user_id.',
      }),
    ),
    user_id_type: Type.Optional(
      Type.String({ maxLength: 32, description: 'As request_payload.user_id_type, for this user_id.' }),
    ),
  },
  { additionalProperties: true },
);

export const Discount = Type.Object(
  {
    amount: Type.Number({
      description: 'Decimal currency units, not negative; subtracted from the eligible spend.',
    }),
  },
  { additionalProperties: true },
);

export const TransactionPayload = Type.Object(
  {
    transaction_id: Id(128, "The till's id; re-sending it with a changed basket is a return or edit."),
    open_time: Type.String({
      maxLength: 40,
      description: 'Purchase time, ISO-8601; without an offset it is read in the program time zone.',
    }),
    items: Type.Array(Item, {
      maxItems: 1000,
      description: 'The basket as it stands now, up to 1000 lines; a re-send gives every line again.',
    }),
    payments: Type.Optional(
      Type.Array(Payment, {
        maxItems: 100,
        description: 'Up to 100; Laurel reads only the member (user_id, user_id_type) from them.',
      }),
    ),
    discounts: Type.Optional(
      Type.Array(Discount, { maxItems: 100, description: 'Transaction-level discounts, up to 100.' }),
    ),
    is_voided: Type.Optional(
      Type.Boolean({
        description:
          'true voids the transaction: its eligible spend becomes 0, so its points are taken back.',
      }),
    ),
    channel: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description:
          'Sales channel (e.g. store, web, mobile), for campaign targeting; the first send decides.',
      }),
    ),
    user_id: Type.Optional(
      Type.String({ maxLength: 255, description: 'The member (or give it on a payment).' }),
    ),
    user_id_type: Type.Optional(
      Type.String({
        maxLength: 32,
        description: 'SessionM_ID (default: Laurel user id), external_id or email.',
      }),
    ),
  },
  { additionalProperties: true, description: 'The transaction.' },
);

export const SendTransactionBody = Type.Object(
  {
    store_id: Type.String({
      minLength: 1,
      maxLength: 128,
      description: "The store; campaigns' targeting.store_ids match it (the first send decides).",
    }),
    client_id: Type.Optional(Type.String({ maxLength: 128, description: 'Accepted and ignored.' })),
    request_id: Type.String({
      minLength: 1,
      maxLength: 128,
      description:
        'Idempotency key of this request, together with the transaction_id: the same request_id on another transaction is a new request.',
    }),
    culture: Type.Optional(Type.String({ maxLength: 16, description: 'e.g. en-US; accepted and ignored.' })),
    request_payload: TransactionPayload,
  },
  { additionalProperties: true },
);
export type SendTransactionBody = Static<typeof SendTransactionBody>;

const AccountAmount = Type.Object({
  account_name: Type.String({ description: "The point account's name in the program." }),
  point_account_id: Type.String({ description: "The program's point account id." }),
  amount: Type.Number({
    description:
      'Points; negative where points were taken back. Whole, but for an account of precision 2 where this request moved them (up to two decimals).',
  }),
});
const CampaignId = Type.String({ description: 'The campaign id (a UUID).' });
const CampaignName = Type.String({ description: 'The campaign name.' });

export const TransactionResult = Type.Object(
  {
    transaction_id: Type.String({ description: "The till's transaction id, as a string, trimmed." }),
    user_id: Type.Union([Type.String(), Type.Null()], {
      description: "Laurel's user id of the member; null when no member was found.",
    }),
    awarded: Type.Boolean({
      description: 'False when the member is unknown, or not enrolled now or on the day of the purchase.',
    }),
    reason: Type.Union([Type.String(), Type.Null()], {
      description: 'Why nothing was awarded: member_not_found or member_not_enrolled.',
    }),
    purchase_time: Type.String({ description: 'ISO-8601, UTC.' }),
    matures_at: Type.String({ description: 'When the escrowed points roll over (ISO-8601, UTC).' }),
    eligible_spend: Type.Number({
      description: 'Item subtotals less discounts, in currency units, never below 0; 0 for a void.',
    }),
    base_points: Type.Integer({
      description: "floor(eligible_spend) × the program's points_per_currency_unit, before campaigns.",
    }),
    campaigns: Type.Array(
      Type.Object({
        campaign_id: CampaignId,
        name: CampaignName,
        points: Type.Integer({ description: 'Points the campaign adds to this purchase.' }),
        tier_qualifying: Type.Boolean({ description: 'Whether those points also count toward tiers.' }),
      }),
      { description: 'Campaigns that add points to this purchase, by the rules of its purchase time.' },
    ),
    limited_campaigns: Type.Optional(
      Type.Array(Type.Object({ campaign_id: CampaignId, name: CampaignName }), {
        description:
          'Campaigns the purchase qualified for that gave nothing: the member already has their ' +
          'max_awards_per_member purchases holding points from them.',
      }),
    ),
    points_awarded: Type.Array(AccountAmount, { description: 'What this request changed, per account.' }),
    purchase_points: Type.Array(AccountAmount, { description: "The purchase's award as it now stands." }),
    shortfall: Type.Number({
      description: 'Points a late return could not take back (policy: down to zero).',
    }),
    shortfall_repaid: Type.Optional(
      Type.Number({
        description:
          'Points of this change that repaid what an earlier return of the purchase could not take ' +
          'back, instead of being credited again (a re-ring after a void, an edit upwards).',
      }),
    ),
    revision: Type.Integer({ description: 'Increments with each changed re-send.' }),
  },
  {
    description:
      'The purchase as it now stands; a repeated request_id and transaction_id answer the stored payload.',
  },
);
export type TransactionResult = Static<typeof TransactionResult>;

export const SendTransactionResponse = Type.Object({
  status: Type.Literal('OK', { description: 'Always OK, in capitals as SessionM’s POS API answers.' }),
  payload: TransactionResult,
});
