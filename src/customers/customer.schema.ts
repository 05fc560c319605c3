import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** Wire types of the Customer Profile API (reference §3); they drive validation, serialisation and OpenAPI. */

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const OptText = (max = 255, description?: string) =>
  Type.Optional(Nullable(Type.String({ maxLength: max, ...(description ? { description } : {}) })));

export const ApiKeyParams = Type.Object({
  api_key: Type.String({ description: 'The app (digital property) key, 40 lowercase hex characters.' }),
});
export const UserIdParams = Type.Object({
  api_key: Type.String(),
  user_id: Type.String({ description: "Laurel's user id (a UUID)." }),
});
export const ExternalIdParams = Type.Object({
  api_key: Type.String(),
  external_id: Type.String({ description: 'An external id of the user.' }),
});

export const PhoneNumberInput = Type.Object({
  phone_number: Type.String({ maxLength: 32, examples: ['+1 508 995 9991'] }),
  phone_type: Type.Optional(Type.String({ maxLength: 32, examples: ['mobile'] })),
  preference_flags: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 10 })),
});

export const IdentifierInput = Type.Object({
  external_id: Type.String({ maxLength: 255 }),
  external_id_type: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
});

/** Create and update bodies share one shape; on update every field is optional and `null` clears. */
export const UserInput = Type.Object(
  {
    external_id: OptText(255, 'Required when there is no email; unique in the retailer.'),
    external_id_type: OptText(64, 'e.g. merchant_identifier'),
    email: OptText(254, 'Required when there is no external_id; unique in the retailer, case-insensitive.'),
    opted_in: Type.Optional(
      Type.Union([Type.Boolean(), Type.Literal('true'), Type.Literal('false')], {
        description: 'Enrolled in the loyalty program; defaults to true. Clients may send "true"/"false".',
      }),
    ),
    first_name: OptText(),
    last_name: OptText(),
    gender: OptText(1, 'm, f, o or u'),
    dob: OptText(10, 'YYYY-MM-DD; members are at least 13 years old.'),
    address: OptText(),
    address2: OptText(),
    city: OptText(),
    state: OptText(),
    zip: OptText(),
    dma: OptText(),
    country: OptText(3, 'ISO 3166-1 alpha-3, e.g. USA'),
    locale: OptText(35, 'e.g. en-US'),
    test_account: Type.Optional(Type.Boolean()),
    phone_numbers: Type.Optional(
      Nullable(Type.Array(PhoneNumberInput, { maxItems: 10, description: 'Replaced wholesale; [] clears.' })),
    ),
    identifiers: Type.Optional(
      Nullable(
        Type.Array(IdentifierInput, {
          maxItems: 20,
          description: 'Further external ids; replaced wholesale.',
        }),
      ),
    ),
    user_profile: Type.Optional(
      Nullable(Type.Object({}, { additionalProperties: true, description: 'Custom attributes (merged).' })),
    ),
  },
  {
    additionalProperties: true,
    description: 'Fields not listed here (ip, referral, password...) are ignored.',
  },
);
export type UserInput = Static<typeof UserInput>;

export const UserBody = Type.Object({ user: UserInput });

export const UserProfileBody = Type.Object({
  user_profile: Type.Object(
    {},
    { additionalProperties: true, description: 'Attributes to set; null removes one.' },
  ),
});

export const TagsBody = Type.Object({
  tags: Type.Array(Type.String({ maxLength: 100 }), { minItems: 1, maxItems: 50 }),
  ttl: Type.Optional(
    Type.Integer({ description: 'Seconds until the tags expire; without it each tag counts up by one.' }),
  ),
});

const Flag = Type.Optional(
  Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('1'), Type.Literal('0')]),
);

export const UserQuery = Type.Object(
  {
    'user[user_profile]': Flag,
    expand_incentives: Flag,
    show_identifiers: Flag,
  },
  { additionalProperties: true },
);
export type UserQuery = Static<typeof UserQuery>;

export const SearchQuery = Type.Object(
  {
    email: Type.Optional(Type.String({ maxLength: 254 })),
    external_id: Type.Optional(Type.String({ maxLength: 255 })),
    mobile_number: Type.Optional(Type.String({ maxLength: 32 })),
    'user[user_profile]': Flag,
    expand_incentives: Flag,
    show_identifiers: Flag,
  },
  { additionalProperties: true },
);
export type SearchQuery = Static<typeof SearchQuery>;

export const MultiGetQuery = Type.Object(
  {
    'user_ids[]': Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 100 })])),
    'user[user_profile]': Flag,
    expand_incentives: Flag,
    show_identifiers: Flag,
  },
  { additionalProperties: true },
);
export type MultiGetQuery = Static<typeof MultiGetQuery>;

const TierOverview = Type.Object({
  id: Type.String(),
  tier_system_id: Type.String(),
  retailer_id: Type.String(),
  name: Type.String(),
  rank: Type.Integer(),
  status: Type.Integer(),
});

const RuleConstraint = Type.Object({
  discriminator: Type.Integer(),
  point_accounts: Type.Record(Type.String(), Type.String()),
  id: Type.String(),
  rule_id: Type.String(),
  is_new: Type.Boolean(),
  rank: Type.Integer(),
});

const TierRule = Type.Object({
  query_result: Type.Number({ description: 'Current Tier Qualifying balance.' }),
  rule_id: Type.String(),
  parent_id: Type.String(),
  tree_id: Type.String(),
  rule_passed: Type.Boolean(),
  rule: Type.Object({
    discriminator: Type.Integer(),
    target_balance: Type.Number({ description: 'Threshold of the next tier.' }),
    comparison: Type.Integer(),
    id: Type.String(),
    retailer_id: Type.String(),
    parent_id: Type.String(),
    rank: Type.Integer(),
    is_new: Type.Boolean(),
    constraints: Type.Array(RuleConstraint),
  }),
  discriminator: Type.Integer(),
  rule_tree_name: Type.String(),
});

export const PointAccountBalances = Type.Object({
  retailer_id: Type.String(),
  user_id: Type.String(),
  summary: Type.Object({ total_points: Type.Number(), life_time_points: Type.Number() }),
  details: Type.Array(
    Type.Object({
      account_name: Type.String(),
      user_point_account_id: Type.String(),
      point_account_id: Type.String(),
      grouping_label: Type.String(),
      available_balance: Type.Number(),
      life_time_value: Type.Number(),
    }),
  ),
});

const TierDetails = Type.Object({
  tier_levels: Type.Array(
    Type.Object({
      id: Type.String(),
      tier_system_id: Type.String(),
      tier_level_id: Type.String(),
      user_id: Type.String(),
      join_date: Type.String({ description: 'UTC, ISO-8601 without zone, e.g. 2019-03-22T18:12:02.78' }),
      tier_overview: TierOverview,
      next_tier_overview: Type.Optional(TierOverview),
      tier_progress: Type.Array(Type.Object({ rule_tree_id: Type.String(), rules: Type.Array(TierRule) })),
    }),
  ),
  point_account_balances: PointAccountBalances,
});

const NText = (description: string) => Type.Union([Type.String(), Type.Null()], { description });
const CoreTime = (description: string) =>
  Type.Union([Type.String(), Type.Null()], { description: `${description} (YYYY-MM-DD HH:MM:SS, UTC)` });

export const User = Type.Object(
  {
    id: Type.String({ description: "Laurel's user id (a UUID)." }),
    external_id: NText('The primary external id (e.g. a loyalty card or the retailer’s customer number).'),
    opted_in: Type.Boolean({
      description: 'Enrolled in the loyalty program; false means UNENROLLED, earning nothing.',
    }),
    activated: Type.Boolean({ description: 'Kept for SessionM clients; Laurel does not use it.' }),
    proxy_ids: Type.Array(Type.String(), { description: 'Kept for SessionM clients; always empty.' }),
    available_points: Type.Number({ description: 'Spendable balance (or Spendable + escrow, per program).' }),
    test_points: Type.Number({ description: 'Kept for SessionM clients; always 0.' }),
    unclaimed_achievement_count: Type.Integer({ description: 'Kept for SessionM clients; always 0.' }),
    email: NText('Unique per retailer; compared case-insensitively.'),
    gender: NText('As given, e.g. f, m.'),
    dob: Nullable(Type.String({ description: 'YYYY-MM-DD' })),
    created_at: CoreTime('Created'),
    updated_at: CoreTime('Last profile change'),
    address: NText('Street address.'),
    address2: NText('Second address line.'),
    city: NText('City.'),
    zip: NText('Postal code.'),
    dma: NText('Designated market area code.'),
    state: NText('State or region.'),
    country: NText('ISO 3166-1 alpha-3, e.g. USA.'),
    suspended: Type.Boolean({ description: 'Kept for SessionM clients; Laurel does not suspend accounts.' }),
    last_name: NText('Family name.'),
    first_name: NText('Given name.'),
    registered_at: CoreTime('Registered'),
    profile_photo_url: Type.String({
      description: 'A neutral placeholder path kept for SessionM clients; Laurel stores no photos.',
    }),
    account_status: Type.String({ description: 'good for every live profile.' }),
    current_zip: NText('The postal code of the address (SessionM shows both).'),
    current_dma: NText('The market area of the address.'),
    current_state: NText('The state of the address.'),
    current_country: NText('The country of the address.'),
    tier: Type.String({ description: 'Current tier name, UNENROLLED when not opted in.' }),
    tier_system: Type.String({ description: "The program's tier system name." }),
    tier_points: Type.Number({ description: 'Tier Qualifying Account balance.' }),
    next_tier_points: Nullable(Type.Number({ description: 'Points still needed for the next tier.' })),
    tier_ends_value: Nullable(Type.Number({ description: "The next tier's threshold." })),
    tier_entered_at: CoreTime('When the current tier was reached'),
    tier_resets_at: CoreTime('When the current tier expires; null for BASE'),
    locale: NText('e.g. en-US.'),
    test_account: Type.Boolean({ description: 'A test profile of the retailer’s own.' }),
    phone_numbers: Type.Union(
      [
        Type.Array(
          Type.Object({
            phone_number: Type.String({ description: 'As given; searches compare the last ten digits.' }),
            phone_type: Type.String({ description: 'e.g. mobile, home.' }),
            preference_flags: Type.Array(Type.String(), { description: 'e.g. primary.' }),
            verified_ownership: Type.Boolean({ description: 'Always false: Laurel does not verify phones.' }),
          }),
        ),
        Type.Null(),
      ],
      { description: 'Replaced wholesale by a PUT; [] clears.' },
    ),
    identifiers: Type.Optional(
      Type.Array(
        Type.Object({ external_id: Type.String(), external_id_type: NText('e.g. merchant_identifier.') }),
        {
          description: 'With show_identifiers=true.',
        },
      ),
    ),
    user_profile: Type.Optional(
      Type.Object(
        { _version: Type.Integer({ description: 'Increases with every change of the custom attributes.' }) },
        { additionalProperties: true, description: 'With user[user_profile]=true.' },
      ),
    ),
    tier_details: Type.Optional(TierDetails),
  },
  { $id: 'User' },
);

export const UserResponse = Type.Object({ status: Type.Literal('ok'), user: Type.Ref(User) });
export const UsersResponse = Type.Object({ status: Type.Literal('ok'), users: Type.Array(Type.Ref(User)) });
export const OkResponse = Type.Object({ status: Type.Literal('ok') });

export const Tag = Type.Object({
  tag: Type.String(),
  count: Nullable(Type.Integer()),
  expires_at: CoreTime('Expiry of a TTL tag'),
  created_at: CoreTime('First added'),
  updated_at: CoreTime('Last added'),
});
export const TagsResponse = Type.Object({ status: Type.Literal('ok'), tags: Type.Array(Tag) });

export const TierHistoryResponse = Type.Object({
  status: Type.Literal('ok'),
  tier_history: Type.Array(
    Type.Object({
      at: Type.String({ description: 'Effective time (YYYY-MM-DD HH:MM:SS, UTC)' }),
      from_tier: Nullable(Type.String({ description: 'null: UNENROLLED' })),
      to_tier: Nullable(Type.String({ description: 'null: UNENROLLED' })),
      cause: Type.String({ description: 'qualified, expired, manual_move, opted_in or opted_out' }),
      reason: Type.String(),
    }),
  ),
});
