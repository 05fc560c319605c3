import { isKnownState, normalizeCountry } from './countries.js';
import { ageInYears, isCalendarDate } from './time.js';
import { LaurelError, validationError } from '../errors.js';

/**
 * Rules of the customer profile (reference §3), pure: what a create or update body may say and the
 * normalised values stored. The wire schema checks types; this checks meaning.
 */

export interface PhoneNumber {
  phone_number: string;
  phone_type: string;
  preference_flags: string[];
  verified_ownership: boolean;
}

export interface Identifier {
  external_id: string;
  external_id_type: string | null;
}

/** Profile fields as stored; `undefined` means "not given", `null` means "clear it". */
export interface ProfileChanges {
  external_id?: string | null;
  external_id_type?: string | null;
  email?: string | null;
  opted_in?: boolean;
  first_name?: string | null;
  last_name?: string | null;
  gender?: string | null;
  dob?: string | null;
  address?: string | null;
  address2?: string | null;
  city?: string | null;
  state?: string | null;
  zip?: string | null;
  dma?: string | null;
  country?: string | null;
  locale?: string | null;
  test_account?: boolean;
  phone_numbers?: PhoneNumber[];
  identifiers?: Identifier[];
  user_profile?: Record<string, unknown>;
}

/** The body of a create or update as the wire schema admits it. */
export interface ProfileInput {
  external_id?: string | null;
  external_id_type?: string | null;
  email?: string | null;
  opted_in?: boolean | string;
  first_name?: string | null;
  last_name?: string | null;
  gender?: string | null;
  dob?: string | null;
  address?: string | null;
  address2?: string | null;
  city?: string | null;
  state?: string | null;
  zip?: string | null;
  dma?: string | null;
  country?: string | null;
  locale?: string | null;
  test_account?: boolean;
  phone_numbers?:
    | { phone_number: string; phone_type?: string | undefined; preference_flags?: string[] | undefined }[]
    | null;
  identifiers?: { external_id: string; external_id_type?: string | null | undefined }[] | null;
  user_profile?: Record<string, unknown> | null;
}

/** Members must be at least this old (reference §3: "dob must be >13 years old"). */
/** The profile's single-valued text fields, as the Core API's `user` object names them (reference §3). */
export const PROFILE_TEXT_FIELDS = [
  'external_id',
  'external_id_type',
  'email',
  'first_name',
  'last_name',
  'gender',
  'dob',
  'address',
  'address2',
  'city',
  'state',
  'zip',
  'dma',
  'country',
  'locale',
] as const;

export const MINIMUM_AGE = 13;
export const MAX_PROFILE_ATTRIBUTES = 200;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const GENDERS = new Set(['m', 'f', 'o', 'u']);
// Control characters have no place in a profile field and break logs and CSV exports.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

function text(field: string, v: string | null | undefined, max = 255): string | null | undefined {
  if (v === undefined || v === null) return v;
  const t = v.trim();
  if (CONTROL_RE.test(t)) throw validationError(`${field} must not contain control characters`, field);
  if (t.length > max) throw validationError(`${field} must be at most ${max} characters`, field);
  return t === '' ? null : t;
}

/** Digits of a phone number. */
export const phoneDigits = (phone: string): string => phone.replace(/\D/g, '');

/**
 * The key phones are compared on (issue #2: "phone compared on digits"): the last ten digits, or
 * all of them when fewer. So `5089959991`, `(508) 995-9991` and `+1 508 995 9991` are one number,
 * as a till that sends the national number expects of a profile stored in international form.
 */
export const phoneKey = (phone: string): string => phoneDigits(phone).slice(-10);

function bool(field: string, v: boolean | string | undefined): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  // SessionM clients send "true"/"false" strings (reference §3).
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw validationError(`${field} must be true or false`, field);
}

/** Checks and normalises a create or update body at time `now`. */
export function normalizeProfile(input: ProfileInput, now: Date): ProfileChanges {
  const out: ProfileChanges = {};
  const external = text('external_id', input.external_id);
  if (external !== undefined) out.external_id = external;
  const externalType = text('external_id_type', input.external_id_type, 64);
  if (externalType !== undefined) out.external_id_type = externalType;

  const email = text('email', input.email, 254);
  if (email !== undefined) {
    if (email !== null && !EMAIL_RE.test(email))
      throw validationError('email is not a valid address', 'email');
    out.email = email;
  }

  const optedIn = bool('opted_in', input.opted_in);
  if (optedIn !== undefined) out.opted_in = optedIn;

  for (const f of [
    'first_name',
    'last_name',
    'address',
    'address2',
    'city',
    'state',
    'zip',
    'dma',
  ] as const) {
    const v = text(f, input[f]);
    if (v !== undefined) out[f] = v;
  }
  const locale = text('locale', input.locale, 35);
  if (locale !== undefined) {
    if (locale !== null && !/^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$/.test(locale)) {
      throw validationError('locale must look like en-US', 'locale');
    }
    out.locale = locale;
  }

  const gender = text('gender', input.gender, 1);
  if (gender !== undefined) {
    if (gender !== null && !GENDERS.has(gender.toLowerCase())) {
      throw validationError('gender must be one of m, f, o, u', 'gender');
    }
    out.gender = gender === null ? null : gender.toLowerCase();
  }

  const dob = text('dob', input.dob, 10);
  if (dob !== undefined) {
    if (dob !== null) {
      if (!isCalendarDate(dob)) throw validationError('dob must be a date YYYY-MM-DD', 'dob');
      const age = ageInYears(dob, now);
      if (age < MINIMUM_AGE)
        throw validationError(`members must be at least ${MINIMUM_AGE} years old`, 'dob');
      if (age > 150) throw validationError('dob is too far in the past', 'dob');
    }
    out.dob = dob;
  }

  const country = text('country', input.country, 3);
  if (country !== undefined) {
    if (country === null) out.country = null;
    else {
      const code = normalizeCountry(country);
      if (!code)
        throw validationError(`country ${country} is not an ISO 3166-1 alpha-3 code such as USA`, 'country');
      out.country = code;
    }
  }

  if (input.test_account !== undefined) out.test_account = input.test_account;

  if (input.phone_numbers !== undefined) {
    // Arrays are replaced wholesale; [] or null clears (reference §3, PUT semantics).
    const phones = input.phone_numbers ?? [];
    if (phones.length > 10) throw validationError('at most 10 phone_numbers', 'phone_numbers');
    out.phone_numbers = phones.map((p, i) => {
      const number = text(`phone_numbers[${i}].phone_number`, p.phone_number, 32);
      const digits = number ? phoneDigits(number) : '';
      if (!number || digits.length < 7 || digits.length > 15 || !/^[+\d\s().-]+$/.test(number)) {
        throw validationError(`phone_numbers[${i}].phone_number is not a phone number`, 'phone_numbers');
      }
      return {
        phone_number: number,
        phone_type: text(`phone_numbers[${i}].phone_type`, p.phone_type, 32) ?? 'mobile',
        preference_flags: (p.preference_flags ?? []).map(
          (f, j) => text(`phone_numbers[${i}].preference_flags[${j}]`, f, 32) ?? '',
        ),
        verified_ownership: false,
      };
    });
  }

  if (input.identifiers !== undefined) {
    const ids = input.identifiers ?? [];
    if (ids.length > 20) throw validationError('at most 20 identifiers', 'identifiers');
    const seen = new Set<string>();
    out.identifiers = ids.map((id, i) => {
      const value = text(`identifiers[${i}].external_id`, id.external_id);
      if (!value) throw new LaurelError('missing_data', `identifiers[${i}].external_id is required`);
      if (seen.has(value)) throw validationError(`identifier ${value} is given twice`, 'identifiers');
      seen.add(value);
      return {
        external_id: value,
        external_id_type: text(`identifiers[${i}].external_id_type`, id.external_id_type, 64) ?? null,
      };
    });
  }

  if (input.user_profile !== undefined && input.user_profile !== null) {
    out.user_profile = checkCustomAttributes(input.user_profile);
  }
  return out;
}

/**
 * A member in the USA names a US state (by USPS code or name); other countries' states are not
 * checked. Run on the profile as it will be stored, when the state or the country changes.
 */
export function checkState(p: { state: string | null; country: string | null }): void {
  if (p.state !== null && !isKnownState(p.state, p.country)) {
    // SessionM's wording for the per-field map (issue #14 item 14).
    throw validationError(`state ${p.state} is not a state of ${p.country}`, 'state', 'not a valid state');
  }
}

/** A name a custom attribute may have: up to 64 of `A-Z a-z 0-9 _ . -`, not starting with `_`. */
export const isCustomAttributeName = (k: string): boolean =>
  !k.startsWith('_') && k.length <= 64 && /^[A-Za-z0-9_.-]+$/.test(k);

/** Custom attributes: a flat-keyed object of at most 200 attributes (reference §3, D-model). */
export function checkCustomAttributes(attrs: Record<string, unknown>): Record<string, unknown> {
  const keys = Object.keys(attrs);
  if (keys.length > MAX_PROFILE_ATTRIBUTES) {
    throw validationError(`user_profile has at most ${MAX_PROFILE_ATTRIBUTES} attributes`, 'user_profile');
  }
  for (const k of keys) {
    if (!isCustomAttributeName(k)) {
      throw validationError(
        `user_profile attribute name ${JSON.stringify(k.slice(0, 64))} is not allowed`,
        'user_profile',
      );
    }
  }
  // jsonb cannot store NUL (\u0000): reject it here rather than fail in the database with a 500.
  if (hasNul(attrs)) throw validationError('user_profile must not contain NUL characters', 'user_profile');
  if (JSON.stringify(attrs).length > 64 * 1024)
    throw validationError('user_profile is larger than 64 KiB', 'user_profile');
  return attrs;
}

function hasNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (Array.isArray(v)) return v.some(hasNul);
  if (v && typeof v === 'object')
    return Object.entries(v).some(([k, x]) => k.includes('\u0000') || hasNul(x));
  return false;
}

/** Merges custom attributes: given keys replace, `null` removes, others stay. */
export function mergeCustomAttributes(
  current: Record<string, unknown>,
  changes: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  return checkCustomAttributes(merged);
}
