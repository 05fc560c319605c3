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
    item_id: Type.String({ minLength: 1, maxLength: 128 }),
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
    payment_id: Type.Optional(Id(64)),
    amount: Type.Optional(Type.Number()),
    type: Type.Optional(Type.String({ maxLength: 64 })),
    user_id: Type.Optional(Type.String({ maxLength: 255 })),
    user_id_type: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: true },
);

export const Discount = Type.Object({ amount: Type.Number() }, { additionalProperties: true });

export const TransactionPayload = Type.Object(
  {
    transaction_id: Id(128, "The till's id; re-sending it with a changed basket is a return or edit."),
    open_time: Type.String({
      maxLength: 40,
      description: 'Purchase time, ISO-8601; without an offset it is read in the program time zone.',
    }),
    items: Type.Array(Item, { maxItems: 1000 }),
    payments: Type.Optional(Type.Array(Payment, { maxItems: 100 })),
    discounts: Type.Optional(Type.Array(Discount, { maxItems: 100 })),
    is_voided: Type.Optional(Type.Boolean()),
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
  { additionalProperties: true },
);

export const SendTransactionBody = Type.Object(
  {
    store_id: Type.String({ minLength: 1, maxLength: 128 }),
    client_id: Type.Optional(Type.String({ maxLength: 128 })),
    request_id: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'Idempotency key of this request.',
    }),
    culture: Type.Optional(Type.String({ maxLength: 16 })),
    request_payload: TransactionPayload,
  },
  { additionalProperties: true },
);
export type SendTransactionBody = Static<typeof SendTransactionBody>;

const AccountAmount = Type.Object({
  account_name: Type.String(),
  point_account_id: Type.String(),
  amount: Type.Integer(),
});

export const TransactionResult = Type.Object({
  transaction_id: Type.String(),
  user_id: Type.Union([Type.String(), Type.Null()]),
  awarded: Type.Boolean({ description: 'False when the member is unknown or not enrolled.' }),
  reason: Type.Union([Type.String(), Type.Null()], {
    description: 'Why nothing was awarded: member_not_found or member_not_enrolled.',
  }),
  purchase_time: Type.String({ description: 'ISO-8601, UTC.' }),
  matures_at: Type.String({ description: 'When the escrowed points roll over (ISO-8601, UTC).' }),
  eligible_spend: Type.Number(),
  base_points: Type.Integer(),
  campaigns: Type.Array(
    Type.Object({
      campaign_id: Type.String(),
      name: Type.String(),
      points: Type.Integer(),
      tier_qualifying: Type.Boolean(),
    }),
    { description: 'Campaigns that add points to this purchase, by the rules of its purchase time.' },
  ),
  limited_campaigns: Type.Optional(
    Type.Array(Type.Object({ campaign_id: Type.String(), name: Type.String() }), {
      description:
        'Campaigns the purchase qualified for that gave nothing: the member already has their ' +
        'max_awards_per_member purchases holding points from them.',
    }),
  ),
  points_awarded: Type.Array(AccountAmount, { description: 'What this request changed, per account.' }),
  purchase_points: Type.Array(AccountAmount, { description: "The purchase's award as it now stands." }),
  shortfall: Type.Integer({
    description: 'Points a late return could not take back (policy: down to zero).',
  }),
  revision: Type.Integer({ description: 'Increments with each changed re-send.' }),
});
export type TransactionResult = Static<typeof TransactionResult>;

export const SendTransactionResponse = Type.Object({
  status: Type.Literal('OK'),
  payload: TransactionResult,
});
