import type { UserInput } from '../customers/customer.schema.js';
import type { UserRow } from '../customers/customer.repository.js';
import { sameJson } from '../domain/canonical.js';
import {
  isCustomAttributeName,
  normalizeProfile,
  PROFILE_TEXT_FIELDS,
  type Identifier,
  type ProfileChanges,
} from '../domain/profile.js';
import { parseInstant } from '../domain/time.js';
import { LaurelError } from '../errors.js';
import { csvRecords, csvRowUnits, type CsvRecord } from './csv.js';
import type { ImportFormat, RowKey, SourceUnit } from './import.types.js';
import { ndjsonUnits, type PhysicalLine } from './line-reader.js';
import { checkUser } from './row-validation.js';

/**
 * Customers files (docs/import.md): CSV whose columns are the Core API's `user` fields, or NDJSON
 * of `user` objects. Each row is checked as the API checks a create body, before any database work.
 */

/** CSV columns read as text. */
const TEXT_COLUMNS = PROFILE_TEXT_FIELDS;
const FLAG_COLUMNS = ['opted_in', 'test_account'] as const;
/** The customer's past on the old platform (issue #16): instants, not fields of the API's body. */
const PAST_COLUMNS = ['enrolled_at', 'registered_at'] as const;
/** Every CSV column a customers file may have; `user_profile.NAME` columns are custom attributes. */
export const CUSTOMER_COLUMNS: readonly string[] = [
  ...TEXT_COLUMNS,
  'phone_numbers',
  ...FLAG_COLUMNS,
  ...PAST_COLUMNS,
];

/** One customers row: the API's create body and, when the file gives it, the customer's past. */
export interface CustomerRow {
  user: UserInput;
  enrolled_at?: Date;
  registered_at?: Date;
}
const PROFILE_PREFIX = 'user_profile.';

const TRUE = new Set(['true', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'no', 'n', '0']);

/** Checks a customers CSV header; throws a `validation` error naming the first unknown or repeated column. */
export function checkCustomerHeader(header: readonly string[]): void {
  const seen = new Set<string>();
  for (const raw of header) {
    const name = raw.trim();
    if (seen.has(name)) throw new LaurelError('validation', `the CSV header names column ${name} twice`);
    seen.add(name);
    const attribute = name.startsWith(PROFILE_PREFIX) ? name.slice(PROFILE_PREFIX.length) : undefined;
    // A name no attribute may have would be refused in every row, or, as `__proto__`, dropped from
    // every row without a word (an assignment to it sets no property).
    if (attribute !== undefined && !isCustomAttributeName(attribute)) {
      throw new LaurelError(
        'validation',
        `the CSV header has a column ${JSON.stringify(name)} whose attribute name is not allowed: ` +
          'user_profile.NAME takes up to 64 of A-Z, a-z, 0-9, _, . and -, not starting with _',
      );
    }
    if (attribute === undefined && !CUSTOMER_COLUMNS.includes(name)) {
      throw new LaurelError(
        'validation',
        `the CSV header has an unknown column ${JSON.stringify(name)}; customers columns are ` +
          `${CUSTOMER_COLUMNS.join(', ')} and user_profile.NAME (see docs/import.md)`,
      );
    }
  }
  if (!seen.has('external_id') && !seen.has('email')) {
    throw new LaurelError('validation', 'the CSV header needs an external_id or an email column');
  }
}

/** The `user` body of one CSV row: empty cells are left out; an error names the bad cell. */
export function customerFromCsv(row: Record<string, string>): UserInput | string {
  const user: Record<string, unknown> = {};
  for (const [column, cell] of Object.entries(row)) {
    const value = cell.trim();
    if (value === '') continue;
    if (column === 'phone_numbers') {
      user.phone_numbers = value
        .split(';')
        .map((p) => p.trim())
        .filter(Boolean)
        .map((phone_number) => ({ phone_number }));
    } else if ((FLAG_COLUMNS as readonly string[]).includes(column)) {
      const v = value.toLowerCase();
      if (!TRUE.has(v) && !FALSE.has(v))
        return `${column} must be true or false, not ${JSON.stringify(value)}`;
      user[column] = TRUE.has(v);
    } else if (column.startsWith(PROFILE_PREFIX)) {
      const profile = (user.user_profile ??= {}) as Record<string, unknown>;
      profile[column.slice(PROFILE_PREFIX.length)] = value;
    } else {
      user[column] = value;
    }
  }
  return user as UserInput;
}

/**
 * The past instants of a row, taken out of it: each an ISO 8601 instant with its offset, not after
 * the import's clock, enrollment not before registration, and no enrollment for an opted-out row.
 */
function takePast(
  user: Record<string, unknown>,
  now: Date,
): { past: Omit<CustomerRow, 'user'> } | { code: string; reason: string } {
  const past: Omit<CustomerRow, 'user'> = {};
  for (const f of PAST_COLUMNS) {
    if (!(f in user)) continue;
    const v = user[f];
    delete user[f];
    if (v === null || v === undefined) continue;
    const at = typeof v === 'string' ? parseInstant(v.trim()) : null;
    if (!at) {
      return {
        code: 'validation',
        reason: `${f} must be an ISO 8601 instant with its offset (2026-06-01T09:00:00Z), not ${JSON.stringify(v)}`,
      };
    }
    if (at > now) {
      return {
        code: 'validation',
        reason: `${f} ${at.toISOString()} is after the import's clock (${now.toISOString()})`,
      };
    }
    past[f] = at;
  }
  if (past.enrolled_at && past.registered_at && past.enrolled_at < past.registered_at) {
    return {
      code: 'validation',
      reason: `enrolled_at ${past.enrolled_at.toISOString()} is before registered_at ${past.registered_at.toISOString()}`,
    };
  }
  if (past.enrolled_at && user.opted_in === false) {
    return { code: 'validation', reason: 'enrolled_at is given for a customer who is not opted in' };
  }
  return { past };
}

/** The profile a row stands for, checked as the API checks a create body, or why it cannot be. */
function checkCustomer(value: unknown, now: Date): { row: CustomerRow } | { code: string; reason: string } {
  // A line may hold the Core body itself, {"user": {...}}.
  const unwrapped =
    value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 1
      ? ((value as { user?: unknown }).user ?? value)
      : value;
  if (!unwrapped || typeof unwrapped !== 'object' || Array.isArray(unwrapped)) {
    return { code: 'validation', reason: 'the line is not a JSON object' };
  }
  const body = { ...(unwrapped as Record<string, unknown>) };
  const taken = takePast(body, now);
  if ('code' in taken) return taken;
  const checked = checkUser(body);
  if (!checked.ok) return checked.problem;
  try {
    const c = normalizeProfile(checked.value, now);
    if (!c.email && !c.external_id) {
      return { code: 'missing_data', reason: 'user.email or user.external_id is required' };
    }
  } catch (err) {
    if (err instanceof LaurelError) return { code: err.code, reason: err.message };
    throw err;
  }
  return { row: { user: checked.value, ...taken.past } };
}

/**
 * An email folded at least as far as the database's `lower()` folds it, to order the rows that
 * claim it: `lower()` maps each character alone (\u0130 to i, \u03a3 to \u03c3 wherever it stands), where
 * `toLowerCase` maps some to two or by their place (\u0130 to i and a combining dot, a final \u03a3 to
 * \u03c2). Folding marks away too only ever orders more rows one after another.
 */
const emailOrderKey = (email: string): string =>
  [...email]
    .map((c) => c.toLowerCase())
    .join('')
    .normalize('NFKD')
    .replace(/\p{M}/gu, '');

/** Keys that may appear once in a file: the external id and the email (case-insensitive). */
function customerKeys(input: UserInput): RowKey[] {
  const keys: RowKey[] = [];
  const external = input.external_id?.trim();
  if (external) keys.push({ key: `external_id\u0000${external}`, label: `external_id ${external}` });
  const email = input.email?.trim().toLowerCase();
  if (email) keys.push({ key: `email\u0000${email}`, label: `email ${email}` });
  return keys;
}

function unitOf(
  base: { line: number; endLine: number; end: number; row: unknown },
  value: unknown,
  now: Date,
): SourceUnit<CustomerRow> {
  const checked = checkCustomer(value, now);
  if ('code' in checked) return { ...base, rejects: [{ line: base.line, ...checked, row: base.row }] };
  const user = checked.row.user;
  const keys = customerKeys(user);
  // Rows that claim one external id, as a primary or among `identifiers`, or one email as the
  // database compares emails, run in file order: the first gets it, as one at a time (two batches
  // at once would let a later row's commit first).
  const claims = [user.external_id, ...(user.identifiers ?? []).map((i) => i.external_id)]
    .map((x) => x?.trim())
    .filter((x) => x)
    .map((x) => `external_id\u0000${x}`);
  const email = user.email?.trim();
  if (email) claims.push(`email\u0000${emailOrderKey(email)}`);
  return { ...base, value: checked.row, keys, serial: [...new Set(claims)] };
}

/** The rows of a customers CSV, header first. */
export async function* customerCsvUnits(
  records: AsyncIterable<CsvRecord>,
  now: () => Date,
): AsyncGenerator<SourceUnit<CustomerRow>> {
  yield* csvRowUnits(records, checkCustomerHeader, (span) => {
    const user = customerFromCsv(span.row);
    if (typeof user === 'string') {
      return { ...span, rejects: [{ line: span.line, code: 'validation', reason: user, row: span.row }] };
    }
    return unitOf(span, user, now());
  });
}

/** The rows of a customers NDJSON file: one `user` object (or `{"user": {...}}`) per line. */
export async function* customerNdjsonUnits(
  lines: AsyncIterable<PhysicalLine>,
  now: () => Date,
): AsyncGenerator<SourceUnit<CustomerRow>> {
  yield* ndjsonUnits(lines, (base, value) => unitOf({ ...base, row: value }, value, now()));
}

/** The rows of a customers file in `format`, read from `lines`. */
export const customerUnits = (
  format: ImportFormat,
  lines: AsyncIterable<PhysicalLine>,
  now: () => Date,
): AsyncGenerator<SourceUnit<CustomerRow>> =>
  format === 'csv' ? customerCsvUnits(csvRecords(lines), now) : customerNdjsonUnits(lines, now);

/**
 * How an existing customer differs from a row (issue #6: a row whose customer exists with the same
 * data counts as already imported; with different data it is a conflict). Only the fields the row
 * gives are compared, as the API stores them.
 */
export function customerDifferences(
  given: ProfileChanges,
  stored: UserRow,
  storedIdentifiers: readonly Identifier[],
  past: Omit<CustomerRow, 'user'> = {},
): string[] {
  const diffs: string[] = [];
  const show = (v: unknown) => (v === null || v === undefined ? 'none' : JSON.stringify(v));
  const differ = (field: string, file: unknown, db: unknown) =>
    diffs.push(`${field} (stored ${show(db)}, in the file ${show(file)})`);

  if (given.external_id && given.external_id !== stored.external_id) {
    differ('external_id', given.external_id, stored.external_id);
  }
  if (given.email && given.email.toLowerCase() !== stored.email?.toLowerCase()) {
    differ('email', given.email, stored.email);
  }
  for (const f of [...TEXT_COLUMNS.filter((c) => c !== 'external_id' && c !== 'email')] as const) {
    const v = given[f];
    if (v !== undefined && (v ?? null) !== (stored[f] ?? null)) differ(f, v, stored[f]);
  }
  const at = (d: Date | null | undefined) => d?.toISOString() ?? null;
  if (past.enrolled_at && at(past.enrolled_at) !== at(stored.opted_in_at)) {
    differ('enrolled_at', at(past.enrolled_at), at(stored.opted_in_at));
  }
  if (past.registered_at && at(past.registered_at) !== at(stored.registered_at)) {
    differ('registered_at', at(past.registered_at), at(stored.registered_at));
  }
  if (given.opted_in !== undefined && given.opted_in !== stored.opted_in) {
    differ('opted_in', given.opted_in, stored.opted_in);
  }
  if (given.test_account !== undefined && given.test_account !== stored.test_account) {
    differ('test_account', given.test_account, stored.test_account);
  }
  if (given.phone_numbers !== undefined) {
    const strip = (ps: readonly { phone_number: string; phone_type: string; preference_flags: string[] }[]) =>
      ps.map((p) => ({ n: p.phone_number, t: p.phone_type, f: p.preference_flags }));
    if (!sameJson(strip(given.phone_numbers), strip(stored.phone_numbers))) {
      differ(
        'phone_numbers',
        given.phone_numbers.map((p) => p.phone_number),
        stored.phone_numbers.map((p) => p.phone_number),
      );
    }
  }
  if (given.identifiers !== undefined) {
    const have = new Set(storedIdentifiers.map((i) => `${i.external_id}\u0000${i.external_id_type ?? ''}`));
    const missing = given.identifiers.filter(
      (i) => !have.has(`${i.external_id}\u0000${i.external_id_type ?? ''}`),
    );
    if (missing.length) {
      differ(
        'identifiers',
        missing.map((i) => i.external_id),
        storedIdentifiers.map((i) => i.external_id),
      );
    }
  }
  if (given.user_profile !== undefined) {
    for (const [k, v] of Object.entries(given.user_profile)) {
      if (v !== null && !sameJson(v, stored.user_profile[k]))
        differ(`user_profile.${k}`, v, stored.user_profile[k]);
    }
  }
  return diffs;
}
