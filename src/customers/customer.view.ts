import {
  loyaltyFields,
  maintenanceFields,
  tierDetails,
  type MemberStanding,
} from '../domain/loyalty-view.js';
import type { Identifier } from '../domain/profile.js';
import type { ProgramDocument } from '../domain/program.js';
import { coreTime } from '../domain/time.js';
import type { TagRow, UserRow } from './customer.repository.js';

/** What the query flags ask to include (reference §3). */
export interface UserViewFlags {
  user_profile: boolean;
  expand_incentives: boolean;
  show_identifiers: boolean;
}

/** `T` with every key whose value may be null made optional and never null. */
type WithoutNulls<T> = { [K in keyof T as null extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as null extends T[K] ? K : never]?: Exclude<T[K], null>;
};

/**
 * Leaves out every null-valued key: a field the member does not have is absent, never `null`,
 * because typed SessionM clients fail on a null string (DESIGN §8, issue #14 item 11).
 */
export function withoutNulls<T extends object>(o: T): WithoutNulls<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null)) as WithoutNulls<T>;
}

/** Row → the Core user object, in the seed's field order and formats; absent fields left out. */
export function toWireUser(
  row: UserRow,
  program: ProgramDocument,
  flags: UserViewFlags,
  identifiers: Identifier[] | undefined,
  standing: MemberStanding,
) {
  const loyalty = loyaltyFields(program, standing);
  return withoutNulls({
    id: row.id,
    external_id: row.external_id,
    opted_in: row.opted_in,
    activated: row.activated,
    proxy_ids: [] as string[],
    available_points: loyalty.available_points,
    test_points: 0,
    unclaimed_achievement_count: 0,
    email: row.email,
    gender: row.gender,
    dob: row.dob,
    created_at: coreTime(row.created_at),
    updated_at: coreTime(row.updated_at),
    address: row.address,
    address2: row.address2,
    city: row.city,
    zip: row.zip,
    dma: row.dma,
    state: row.state,
    country: row.country,
    suspended: row.suspended,
    last_name: row.last_name,
    first_name: row.first_name,
    registered_at: coreTime(row.registered_at),
    profile_photo_url: '/images/account-neutral.png',
    account_status: row.account_status,
    referrer_code: row.referrer_code,
    current_zip: row.zip,
    current_dma: row.dma,
    current_state: row.state,
    current_country: row.country,
    tier: loyalty.tier,
    tier_system: loyalty.tier_system,
    tier_points: loyalty.tier_points,
    next_tier_points: loyalty.next_tier_points,
    tier_ends_value: loyalty.tier_ends_value,
    tier_entered_at: loyalty.tier_entered_at,
    tier_resets_at: loyalty.tier_resets_at,
    ...maintenanceFields(standing),
    locale: row.locale,
    test_account: row.test_account,
    // No numbers (never given, or cleared with []) is left out like any absent field.
    phone_numbers: row.phone_numbers.length ? row.phone_numbers : null,
    ...(flags.show_identifiers ? { identifiers: (identifiers ?? []).map(withoutNulls) } : {}),
    ...(flags.user_profile ? { user_profile: toWireUserProfile(row) } : {}),
    ...(flags.expand_incentives ? { tier_details: tierDetails(program, standing) } : {}),
  });
}

/** The custom attributes with their version, as the user object and models/user_profile show them. */
export function toWireUserProfile(row: Pick<UserRow, 'user_profile' | 'user_profile_version'>) {
  return { _version: row.user_profile_version, ...row.user_profile };
}

export function toWireTag(t: TagRow) {
  return {
    tag: t.tag,
    count: t.count,
    expires_at: coreTime(t.expires_at),
    created_at: coreTime(t.created_at),
    updated_at: coreTime(t.updated_at),
  };
}
