import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { OkStatus } from '../http/envelope.js';

/** Wire types of the Customer Profile API (reference §3); they drive validation, serialisation and OpenAPI. */

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const OptText = (max = 255, description?: string) =>
  Type.Optional(Nullable(Type.String({ maxLength: max, ...(description ? { description } : {}) })));

const ApiKey = Type.String({
  description:
    "The app (digital property) key, 40 lowercase hex characters; it must be the Basic credentials' key.",
});
export const ApiKeyParams = Type.Object({ api_key: ApiKey });
export const UserIdParams = Type.Object({
  api_key: ApiKey,
  user_id: Type.String({ description: "Laurel's user id (a UUID)." }),
});
export const ExternalIdParams = Type.Object({
  api_key: ApiKey,
  external_id: Type.String({
    description: 'Any external id of the user: the primary one or one of its identifiers.',
  }),
});

export const PhoneNumberInput = Type.Object({
  phone_number: Type.String({
    maxLength: 32,
    examples: ['+1 508 995 9991'],
    description:
      '7 to 15 digits; +, spaces, dots, dashes and parentheses allowed. Not checked for uniqueness.',
  }),
  phone_type: Type.Optional(
    Type.String({ maxLength: 32, examples: ['mobile'], description: 'e.g. mobile (the default) or home.' }),
  ),
  preference_flags: Type.Optional(
    Type.Array(Type.String({ maxLength: 32 }), { maxItems: 10, description: 'e.g. primary; up to 10.' }),
  ),
});

export const IdentifierInput = Type.Object({
  external_id: Type.String({
    maxLength: 255,
    description: 'A further external id; unique in the retailer and given once per list.',
  }),
  external_id_type: Type.Optional(
    Nullable(Type.String({ maxLength: 64, description: 'e.g. merchant_identifier.' })),
  ),
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
    first_name: OptText(255, 'Given name.'),
    last_name: OptText(255, 'Family name.'),
    gender: OptText(1, 'm, f, o or u'),
    dob: OptText(10, 'YYYY-MM-DD; members are at least 13 years old.'),
    address: OptText(255, 'Street address.'),
    address2: OptText(255, 'Second address line.'),
    city: OptText(255, 'City.'),
    state: OptText(255, 'State or region.'),
    zip: OptText(255, 'Postal code.'),
    dma: OptText(255, 'Designated market area code.'),
    country: OptText(3, 'ISO 3166-1 alpha-3, e.g. USA'),
    locale: OptText(35, 'e.g. en-US'),
    test_account: Type.Optional(
      Type.Boolean({
        description: 'Marks a test profile of the retailer’s own (stored and shown only); defaults to false.',
      }),
    ),
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
    description:
      'Fields not listed here (ip, referral, password...) are ignored. Text is trimmed; an empty string clears like null.',
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
  tags: Type.Array(Type.String({ maxLength: 100 }), {
    minItems: 1,
    maxItems: 50,
    description: 'Tag names, 1 to 50, each 1 to 100 printable characters; trimmed, and a repeat counts once.',
  }),
  ttl: Type.Optional(
    Type.Integer({ description: 'Seconds until the tags expire; without it each tag counts up by one.' }),
  ),
});

const Flag = (description: string) =>
  Type.Optional(
    Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('1'), Type.Literal('0')], {
      description,
    }),
  );

/** The three flags of every answer that carries a user object (reference §3). */
const userFlags = {
  'user[user_profile]': Flag('true or 1 adds the custom attributes as user.user_profile; default false.'),
  expand_incentives: Flag(
    'true or 1 adds user.tier_details (tier levels and point account balances); default false.',
  ),
  show_identifiers: Flag('true or 1 adds user.identifiers, every external id with its type; default false.'),
};

export const UserQuery = Type.Object(userFlags, { additionalProperties: true });
export type UserQuery = Static<typeof UserQuery>;

export const SearchQuery = Type.Object(
  {
    email: Type.Optional(
      Type.String({
        maxLength: 254,
        description: 'Exact email, compared case-insensitively. Criteria given together must all match.',
      }),
    ),
    external_id: Type.Optional(
      Type.String({
        maxLength: 255,
        description: 'Exact external id: the primary one or one of the identifiers.',
      }),
    ),
    mobile_number: Type.Optional(
      Type.String({
        maxLength: 32,
        description:
          'A phone number, compared on its last ten digits (5089959991 finds +1 508 995 9991); of several matches the most recently updated profile answers.',
      }),
    ),
    ...userFlags,
  },
  { additionalProperties: true },
);
export type SearchQuery = Static<typeof SearchQuery>;

export const MultiGetQuery = Type.Object(
  {
    'user_ids[]': Type.Optional(
      Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 100 })], {
        description:
          'Laurel user ids, the parameter repeated for each (up to 100); answered in this order, each once.',
      }),
    ),
    ...userFlags,
  },
  { additionalProperties: true },
);
export type MultiGetQuery = Static<typeof MultiGetQuery>;

const RetailerId = Type.String({ description: "The retailer's id (a UUID)." });
const MemberId = Type.String({ description: "Laurel's user id of the member." });
/** The rule tree mimics SessionM's; its codes are opaque, echoed as the seed shows them (reference §5). */
const Opaque = (value: number | boolean) =>
  `Kept for SessionM clients (an opaque code); always ${String(value)}.`;

const TierOverview = (description: string) =>
  Type.Object(
    {
      id: Type.String({ description: 'The tier level id (a UUID).' }),
      tier_system_id: Type.String({ description: "The program's tier system id." }),
      retailer_id: RetailerId,
      name: Type.String({ description: 'The level name, e.g. SILVER.' }),
      rank: Type.Integer({ description: "The level's rank in the program; a higher rank is a higher tier." }),
      status: Type.Integer({ description: 'Always 2, the status SessionM shows for an active level.' }),
    },
    { description },
  );

const RuleConstraint = Type.Object({
  discriminator: Type.Integer({ description: Opaque(8) }),
  point_accounts: Type.Record(Type.String(), Type.String(), {
    description: 'The account the rule reads, point account id to name: the Tier Qualifying Account.',
  }),
  id: Type.String({ description: 'The constraint id, derived from the rule id (stable).' }),
  rule_id: Type.String({ description: 'The rule it belongs to.' }),
  is_new: Type.Boolean({ description: Opaque(false) }),
  rank: Type.Integer({ description: Opaque(0) }),
});

const TierRule = Type.Object({
  query_result: Type.Number({ description: 'Current Tier Qualifying balance.' }),
  rule_id: Type.String({ description: "The next level's rule_id (at the top level, the current level's)." }),
  parent_id: Type.String({ description: "The rule's parent node id, derived from the rule id (stable)." }),
  tree_id: Type.String({ description: 'The rule tree id (as rule_tree_id).' }),
  rule_passed: Type.Boolean({ description: 'Whether query_result has reached target_balance.' }),
  rule: Type.Object(
    {
      discriminator: Type.Integer({ description: Opaque(2048) }),
      target_balance: Type.Number({
        description: 'Threshold of the next tier (at the top level, of the current one).',
      }),
      comparison: Type.Integer({ description: Opaque(4) }),
      id: Type.String({ description: 'The rule id (as rule_id).' }),
      retailer_id: RetailerId,
      parent_id: Type.String({ description: 'As the node’s parent_id.' }),
      rank: Type.Integer({ description: Opaque(0) }),
      is_new: Type.Boolean({ description: Opaque(false) }),
      constraints: Type.Array(RuleConstraint, { description: 'One constraint: the account the rule reads.' }),
    },
    { description: 'A balance rule: the Tier Qualifying balance against target_balance.' },
  ),
  discriminator: Type.Integer({ description: Opaque(2) }),
  rule_tree_name: Type.String({ description: 'Always empty.' }),
});

export const PointAccountBalances = Type.Object(
  {
    retailer_id: RetailerId,
    user_id: MemberId,
    summary: Type.Object(
      {
        total_points: Type.Number({
          description: 'Sum of available_balance over every account, escrow and tier-qualifying included.',
        }),
        life_time_points: Type.Number({ description: 'Sum of life_time_value over every account.' }),
      },
      { description: 'Totals over the accounts.' },
    ),
    details: Type.Array(
      Type.Object({
        account_name: Type.String({ description: "The point account's name in the program." }),
        user_point_account_id: Type.String({
          description: "The member's own account id (stable); empty until the member first uses the account.",
        }),
        point_account_id: Type.String({ description: "The program's point account id." }),
        grouping_label: Type.String({
          description: "The account's grouping label, e.g. Spend, Tier or empty.",
        }),
        available_balance: Type.Number({
          description:
            'Whole points now; for the Tier Qualifying Account, those of the current qualifying year.',
        }),
        life_time_value: Type.Number({ description: 'Every point ever credited to the account.' }),
      }),
      { description: "One row per point account of the program, in the program's order." },
    ),
  },
  { description: 'The balance of every point account, as user_points/all_balances answers it.' },
);

const TierDetails = Type.Object(
  {
    tier_levels: Type.Array(
      Type.Object({
        id: Type.String({ description: "The member's tier-system membership id, derived (stable)." }),
        tier_system_id: Type.String({ description: "The program's tier system id." }),
        tier_level_id: Type.String({ description: "The current level's id." }),
        user_id: MemberId,
        join_date: Type.String({ description: 'UTC, ISO-8601 without zone, e.g. 2019-03-22T18:12:02.78' }),
        next_maintenance_eval_date: Type.Optional(
          Type.String({
            description:
              'When the level is next evaluated (YYYY-MM-DD HH:MM:SS, UTC): its expiry, equal to tier_resets_at; left out for a level that never expires.',
          }),
        ),
        last_maintenance_eval_date: Type.Optional(
          Type.String({
            description:
              'When the level was last evaluated (YYYY-MM-DD HH:MM:SS, UTC): kept by its maintenance threshold, or landed on at an expiry; left out when there was none yet.',
          }),
        ),
        tier_overview: TierOverview('The current level.'),
        next_tier_overview: Type.Optional(TierOverview('The next level up; absent at the top level.')),
        tier_progress: Type.Array(
          Type.Object({
            rule_tree_id: Type.String({
              description: 'The rule tree id, derived from the rule id (stable).',
            }),
            rules: Type.Array(TierRule, {
              description: 'One rule: the balance rule of the next level (at the top, of the current one).',
            }),
          }),
          {
            description:
              'Progress toward the next level (at the top level, the current one), as a SessionM rule tree.',
          },
        ),
      }),
      { description: "The member's place in the tier system; empty when not enrolled." },
    ),
    point_account_balances: PointAccountBalances,
  },
  { description: 'With expand_incentives=true.' },
);

const CoreTime = (description: string) =>
  Type.Union([Type.String(), Type.Null()], { description: `${description} (YYYY-MM-DD HH:MM:SS, UTC)` });
/** A field the member may not have: then left out, never null (DESIGN §8, issue #14 item 11). */
const Absent = ' Left out when the member has none, never null.';
const OptString = (description: string) => Type.Optional(Type.String({ description: description + Absent }));
const Time = (description: string) =>
  Type.String({ description: `${description} (YYYY-MM-DD HH:MM:SS, UTC)` });

export const User = Type.Object(
  {
    id: Type.String({ description: "Laurel's user id (a UUID)." }),
    external_id: OptString(
      'The primary external id (e.g. a loyalty card or the retailer’s customer number).',
    ),
    opted_in: Type.Boolean({
      description: 'Enrolled in the loyalty program; false means UNENROLLED, earning nothing.',
    }),
    activated: Type.Boolean({ description: 'Kept for SessionM clients; Laurel does not use it.' }),
    proxy_ids: Type.Array(Type.String(), { description: 'Kept for SessionM clients; always empty.' }),
    available_points: Type.Number({ description: 'Spendable balance (or Spendable + escrow, per program).' }),
    test_points: Type.Number({ description: 'Kept for SessionM clients; always 0.' }),
    unclaimed_achievement_count: Type.Integer({ description: 'Kept for SessionM clients; always 0.' }),
    email: OptString('Unique per retailer; compared case-insensitively.'),
    gender: OptString('As given, e.g. f, m.'),
    dob: OptString('Date of birth, YYYY-MM-DD.'),
    created_at: Time('Created'),
    updated_at: Time('Last profile change'),
    address: OptString('Street address.'),
    address2: OptString('Second address line.'),
    city: OptString('City.'),
    zip: OptString('Postal code.'),
    dma: OptString('Designated market area code.'),
    state: OptString('State or region.'),
    country: OptString('ISO 3166-1 alpha-3, e.g. USA.'),
    suspended: Type.Boolean({ description: 'Kept for SessionM clients; Laurel does not suspend accounts.' }),
    last_name: OptString('Family name.'),
    first_name: OptString('Given name.'),
    registered_at: Time('Registered'),
    profile_photo_url: Type.String({
      description: 'A neutral placeholder path kept for SessionM clients; Laurel stores no photos.',
    }),
    account_status: Type.String({ description: 'good for every live profile.' }),
    referrer_code: Type.String({
      description:
        "The member's own referral code: 8 characters (digits and capitals), given at creation, never changed, unique.",
      examples: ['7KQ2M9XD'],
    }),
    current_zip: OptString('The postal code of the address (SessionM shows both).'),
    current_dma: OptString('The market area of the address.'),
    current_state: OptString('The state of the address.'),
    current_country: OptString('The country of the address.'),
    tier: Type.String({ description: 'Current tier name, UNENROLLED when not opted in.' }),
    tier_system: Type.String({ description: "The program's tier system name." }),
    tier_points: Type.Number({ description: 'Tier Qualifying Account balance.' }),
    next_tier_points: Type.Optional(
      Type.Number({ description: 'Points still needed for the next tier; left out at the top level.' }),
    ),
    tier_ends_value: Type.Optional(
      Type.Number({ description: "The next tier's threshold; left out at the top level." }),
    ),
    tier_entered_at: Type.Optional(Time('When the current tier was reached; left out when UNENROLLED')),
    tier_resets_at: Type.Optional(
      Time(
        'When the current tier expires; for a level that never expires (BASE), the end of the current qualifying period. Present whenever the member is enrolled; left out when UNENROLLED',
      ),
    ),
    maintenance_points: Type.Integer({
      description:
        'Tier Qualifying points of this qualifying period counted toward keeping the current tier.',
    }),
    maintenance_required_points: Type.Integer({
      description:
        'Points still needed this period to keep the current tier at its next evaluation; 0 once secured, for a tier that never expires, or when not enrolled.',
    }),
    locale: OptString('e.g. en-US.'),
    test_account: Type.Boolean({ description: 'A test profile of the retailer’s own.' }),
    phone_numbers: Type.Optional(
      Type.Array(
        Type.Object({
          phone_number: Type.String({ description: 'As given; searches compare the last ten digits.' }),
          phone_type: Type.String({ description: 'e.g. mobile, home.' }),
          preference_flags: Type.Array(Type.String(), { description: 'e.g. primary.' }),
          verified_ownership: Type.Boolean({ description: 'Always false: Laurel does not verify phones.' }),
        }),
        {
          description:
            'Replaced wholesale by a PUT; [] clears. Left out when the member has no number, never null.',
        },
      ),
    ),
    identifiers: Type.Optional(
      Type.Array(
        Type.Object({
          external_id: Type.String({ description: 'An external id; the primary one (external_id) first.' }),
          external_id_type: OptString('e.g. merchant_identifier.'),
        }),
        {
          description: 'With show_identifiers=true, and always in the answer of a create or update.',
        },
      ),
    ),
    user_profile: Type.Optional(
      Type.Object(
        { _version: Type.Integer({ description: 'Increases with every change of the custom attributes.' }) },
        {
          additionalProperties: true,
          description: 'With user[user_profile]=true, and always in the answer of a create or update.',
        },
      ),
    ),
    tier_details: Type.Optional(TierDetails),
  },
  {
    $id: 'User',
    description:
      'A customer profile; the query flags add identifiers, user_profile and tier_details (a create or update always has the first two). A field the member does not have is left out, never null.',
  },
);

export const UserResponse = Type.Object({ status: OkStatus, user: Type.Ref(User) });
export const UsersResponse = Type.Object({
  status: OkStatus,
  users: Type.Array(Type.Ref(User), {
    description: 'The profiles found, in the order asked; unknown ids are left out.',
  }),
});
export const OkResponse = Type.Object({ status: OkStatus });

export const UserProfileResponse = Type.Object({
  status: OkStatus,
  user_profile: Type.Object(
    { _version: Type.Integer({ description: 'Increases with every change of the custom attributes.' }) },
    { additionalProperties: true, description: 'Every custom attribute of the profile, after the change.' },
  ),
});

export const Tag = Type.Object({
  tag: Type.String({ description: 'The tag name.' }),
  count: Nullable(
    Type.Integer({ description: 'Times a counter tag was added; null for an expiring (ttl) tag.' }),
  ),
  expires_at: CoreTime('Expiry of a TTL tag'),
  created_at: CoreTime('First added'),
  updated_at: CoreTime('Last added'),
});
export const TagsResponse = Type.Object({
  status: OkStatus,
  tags: Type.Array(Tag, { description: 'Every live tag of the profile (expired ones left out), by name.' }),
});

export const TierHistoryResponse = Type.Object({
  status: OkStatus,
  tier_history: Type.Array(
    Type.Object({
      at: Type.String({ description: 'Effective time (YYYY-MM-DD HH:MM:SS, UTC)' }),
      from_tier: Nullable(Type.String({ description: 'null: UNENROLLED' })),
      to_tier: Nullable(Type.String({ description: 'null: UNENROLLED' })),
      cause: Type.String({
        description:
          'qualified, expired, soft_landing, renewed (the level kept), manual_move, opted_in or opted_out',
      }),
      reason: Type.String({
        description: 'A plain-language sentence, e.g. Reached 2,000 Tier Qualifying points.',
      }),
    }),
    { description: 'Every tier change, oldest first.' },
  ),
});
