import { Type, type Static } from '@sinclair/typebox';
import { User } from '../customers/customer.schema.js';
import { AllBalancesResponse } from '../incentives/incentives.schema.js';

/**
 * Wire types of the POS user lookup (`POST /api/2.0/lookup`, reference §6, issue #14 item 7): the
 * POS request container, whose payload names the member one way, and the member as the till reads
 * it. Unknown fields are accepted and ignored.
 */

/** An empty string is the same as absent: clients send "" for the keys they do not use. */
const Key = (max: number, description: string) =>
  Type.String({ maxLength: max, description: `${description} "" is the same as absent.` });

export const LookupPayload = Type.Object(
  {
    email: Type.Optional(Key(254, 'Exact email, compared case-insensitively.')),
    phone: Type.Optional(
      Key(
        32,
        'A phone number (digits; separators ignored), compared on its last ten digits. More than one member with it is a validation error: look up by another key.',
      ),
    ),
    user_id: Type.Optional(Key(64, "Laurel's user id (SessionM_ID).")),
    external_customer_id: Type.Optional(
      Key(255, 'A loyalty card or other external id: the primary one or one of the identifiers.'),
    ),
    transaction: Type.Optional(
      Type.Object(
        {
          transaction_id: Type.Optional(
            Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Integer()], {
              description: 'A transaction already sent: its member answers, when no other key is given.',
            }),
          ),
        },
        {
          additionalProperties: true,
          description:
            'The transaction being rung up, as in send_transaction. With another key it is context only (Laurel has no offers); alone, its transaction_id names the member of that purchase.',
        },
      ),
    ),
  },
  {
    additionalProperties: true,
    description: 'One of email, phone, user_id or external_customer_id; or a transaction alone.',
  },
);
export type LookupPayload = Static<typeof LookupPayload>;

export const LookupBody = Type.Object(
  {
    store_id: Type.Optional(Type.String({ maxLength: 128, description: 'Accepted and ignored.' })),
    client_id: Type.Optional(Type.String({ maxLength: 128, description: 'Accepted and ignored.' })),
    request_id: Type.Optional(
      Type.String({ maxLength: 128, description: 'Accepted and ignored: a lookup changes nothing.' }),
    ),
    culture: Type.Optional(Type.String({ maxLength: 16, description: 'e.g. en-US; accepted and ignored.' })),
    request_payload: LookupPayload,
  },
  { additionalProperties: true },
);
export type LookupBody = Static<typeof LookupBody>;

export const LookupResponse = Type.Object({
  status: Type.Literal('OK', { description: 'As every POS answer.' }),
  payload: Type.Object(
    {
      user: Type.Ref(User, {
        description:
          'The member as the Core API answers it (no query flags: no user_profile, identifiers or tier_details).',
      }),
      point_account_balances: AllBalancesResponse.properties.payload,
      offers: Type.Array(Type.Object({}, { additionalProperties: true }), {
        description: 'Wallet offers; always empty: Laurel has no offers.',
      }),
    },
    { description: 'The member found, with balances as of now.' },
  ),
});
