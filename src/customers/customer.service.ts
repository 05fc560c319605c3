import type { Database, Queryable, Tx } from '../db/database.js';
import { eventOf, tierChangeEvents, tierEventsOfLedger } from '../events/event.service.js';
import { insertEvents } from '../events/outbox.repository.js';
import { sameJson } from '../domain/canonical.js';
import { isUuid, newId } from '../domain/ids.js';
import {
  checkState,
  mergeCustomAttributes,
  normalizeProfile,
  phoneKey,
  PROFILE_TEXT_FIELDS,
  type Identifier,
  type ProfileInput,
} from '../domain/profile.js';
import { LaurelError, validationError } from '../errors.js';
import { setCashedOutThrough } from '../ledger/ledger.repository.js';
import type { MemberStanding } from '../domain/loyalty-view.js';
import type { ProgramDocument } from '../domain/program.js';
import { getProgramAt, heldProgramVersion } from '../program/program.service.js';
import { isOneServer } from '../db/distribution.js';
import type { MemberLedger } from '../tiers/tier.repository.js';
import { standingRead, type StandingReadJson } from '../tiers/standing.repository.js';
import { standingFromRead } from '../tiers/standing.service.js';
import { memberStandingAt } from '../tiers/tier.service.js';
import {
  eraseUser,
  findUserById,
  findUserByExternalId,
  findUserIdByExternalId,
  findUsersByIds,
  insertEnrollmentEvent,
  insertMembers,
  insertUser,
  listIdentifiers,
  listTags,
  lockUserById,
  replaceIdentifiers,
  replaceEmailKey,
  replacePhones,
  searchUser,
  updateUserColumns,
  upsertTags,
  type EnrollmentCause,
  type NewMemberWrite,
  type SearchCriteria,
  type TagRow,
  type UserRow,
  type WritableUserColumn,
} from './customer.repository.js';
import { insertMemberAction } from './member-action.repository.js';

/** How a route names a user: by Laurel's id or by an external id. */
export type UserRef = { id: string } | { external_id: string };

const notFound = (): LaurelError => new LaurelError('user_not_found');

// PostgreSQL text cannot hold NUL, so no stored id contains one: not found, instead of a 500.
const storable = (s: string): boolean => !s.includes('\u0000');

/** Maps a unique violation to the field it protects; other errors pass through. */
function mapUniqueViolation(err: unknown): unknown {
  const e = err as { code?: string; constraint?: string; message?: string };
  if (e?.code !== '23505') return err;
  const where = `${e.constraint ?? ''} ${e.message ?? ''}`;
  // The lookup tables keep emails and external ids unique in the retailer (migration 0011).
  if (where.includes('member_emails_uq')) return new LaurelError('email_taken');
  if (where.includes('member_external_ids_uq') || where.includes('user_identifiers_pkey')) {
    return new LaurelError('external_id_taken');
  }
  return err;
}

async function withUniqueErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw mapUniqueViolation(err);
  }
}

/** Records an opt-in or opt-out: tier episodes and the tier history start and end with them (issue #4). */
const recordEnrollment = (
  tx: Tx,
  retailerId: string,
  userId: string,
  optedIn: boolean,
  cause: EnrollmentCause,
  now: Date,
  actor: string | null,
): Promise<void> =>
  insertEnrollmentEvent(tx, {
    id: newId(now.getTime()),
    retailer_id: retailerId,
    user_id: userId,
    opted_in: optedIn,
    at: now,
    cause,
    actor,
  });

/** Finds a user by id or external id within the retailer; another retailer's user is not found. */
export async function getUser(db: Queryable, retailerId: string, ref: UserRef): Promise<UserRow> {
  const row =
    'id' in ref
      ? isUuid(ref.id)
        ? await findUserById(db, retailerId, ref.id.toLowerCase())
        : undefined
      : storable(ref.external_id)
        ? await findUserByExternalId(db, retailerId, ref.external_id)
        : undefined;
  if (!row) throw notFound();
  return row;
}

async function lockUser(tx: Tx, retailerId: string, ref: UserRef): Promise<UserRow> {
  let id: string | undefined;
  if ('id' in ref) id = isUuid(ref.id) ? ref.id.toLowerCase() : undefined;
  else if (storable(ref.external_id)) id = await findUserIdByExternalId(tx, retailerId, ref.external_id);
  const row = id ? await lockUserById(tx, retailerId, id) : undefined;
  if (!row) throw notFound();
  return row;
}

/** Several users by id, in the order asked; unknown ids are left out. */
export async function getUsers(db: Queryable, retailerId: string, ids: string[]): Promise<UserRow[]> {
  const valid = [...new Set(ids.filter(isUuid).map((i) => i.toLowerCase()))];
  if (!valid.length) return [];
  const rows = await findUsersByIds(db, retailerId, valid);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return valid.flatMap((id) => byId.get(id) ?? []);
}

export interface SearchQuery {
  email?: string | undefined;
  external_id?: string | undefined;
  mobile_number?: string | undefined;
}

/** Exact-match search (seed Step 1); email case-insensitive, phone compared on digits. */
export async function searchUsers(db: Queryable, retailerId: string, q: SearchQuery): Promise<UserRow> {
  const row = await searchUser(db, retailerId, criteriaOf(q));
  if (!row) throw notFound();
  return row;
}

/**
 * The member a search finds, with the program in force at `at` and the member's standing at `at`,
 * in one round trip (issue #8: a lookup took three): the stored standing when it answers, otherwise
 * the ledger read beside the member, computed and stored (issue #15).
 */
export async function searchStanding(
  db: Queryable,
  retailerId: string,
  q: SearchQuery,
  at: Date,
): Promise<{ row: UserRow; program: ProgramDocument; standing: MemberStanding }> {
  return findStanding(db, retailerId, criteriaOf(q), at);
}

/** `getUser` with the program in force at `at` and the member's standing at `at`, in one round trip (issue #15). */
export async function getUserStanding(
  db: Queryable,
  retailerId: string,
  ref: UserRef,
  at: Date,
  /** Checks the request against the program in force once the member is found, before any write. */
  check?: (program: ProgramDocument) => void,
): Promise<{ row: UserRow; program: ProgramDocument; standing: MemberStanding }> {
  if ('id' in ref) {
    if (!isUuid(ref.id)) throw notFound();
    return findStanding(db, retailerId, { id: ref.id.toLowerCase() }, at, check);
  }
  if (!storable(ref.external_id)) throw notFound();
  return findStanding(db, retailerId, { external_id: ref.external_id }, at, check);
}

async function findStanding(
  db: Queryable,
  retailerId: string,
  criteria: SearchCriteria,
  at: Date,
  check?: (program: ProgramDocument) => void,
): Promise<{ row: UserRow; program: ProgramDocument; standing: MemberStanding }> {
  const found = await searchUser<StandingReadJson>(db, retailerId, criteria, (first, member) => ({
    ...standingRead(`$${first}::timestamptz`, `$${first + 1}::int`, member, '$1'),
    params: [at, heldProgramVersion(retailerId)],
  }));
  if (!found) throw notFound();
  const {
    program_at,
    program_latest,
    standing_version,
    standing: stored,
    ledger,
    next_input_ms,
    ...row
  } = found;
  const read = { program_at, program_latest, standing_version, standing: stored, ledger, next_input_ms };
  const { program, standing } = await standingFromRead(db, row, at, read, check);
  return { row, program, standing };
}

/** What a search asks for, checked: one of email, external id or mobile number. */
function criteriaOf(q: SearchQuery): SearchCriteria {
  const c: SearchCriteria = {};
  if (q.email !== undefined) c.email = q.email.trim();
  if (q.external_id !== undefined) c.external_id = q.external_id.trim();
  if (q.mobile_number !== undefined) {
    const key = phoneKey(q.mobile_number);
    if (!key) throw validationError('mobile_number must contain digits', 'mobile_number');
    c.phone_key = key;
  }
  if (!Object.keys(c).length) {
    throw new LaurelError('missing_data', 'search needs one of email, external_id or mobile_number');
  }
  if (![c.email, c.external_id].every((v) => v === undefined || storable(v))) throw notFound();
  return c;
}

/**
 * A customer brought from another platform with their past (issue #16, docs/import.md): when they
 * registered and enrolled there, and the instant from which Laurel runs their cash-outs.
 */
export interface ImportedPast {
  /** Start of the enrollment episode (DESIGN §6): tiers count tier-qualifying points from here. */
  enrolled_at?: Date | undefined;
  registered_at?: Date | undefined;
  /** Cash-outs run only for periods ending after this instant (DESIGN §7; the old platform paid the rest). */
  cutover?: Date | undefined;
  /** Who creates the profile (issue #18 item 10), recorded with its enrollment: `app:<api_key>`. */
  actor?: string | undefined;
}

/**
 * A member about to be created, checked: everything its creation writes but what the database
 * draws (the referrer code) and what needs the program (the tier change of its enrollment).
 */
export interface NewMember {
  row: Omit<UserRow, 'referrer_code'>;
  /** The instant of the creation: its events', and the one its tier is read at. */
  now: Date;
  /** A cut-over later than the creation (DESIGN §7): cash-outs run for the periods after it. */
  cashed_out_through: Date | null;
  /** Who creates the profile, recorded with its enrollment (issue #18 item 10). */
  actor: string | null;
  identifiers: Identifier[];
}

/**
 * Checks a profile to create (reference §3): it needs an email or an external id, both unique in
 * the retailer (which only the write can tell). Nothing is read or written.
 */
export function newMember(
  retailerId: string,
  input: ProfileInput,
  now: Date,
  /** Only the bulk import gives a past; the API's customers start now (and name their app). */
  past: ImportedPast = {},
): NewMember {
  const c = normalizeProfile(input, now);
  if (!c.email && !c.external_id) {
    throw new LaurelError('missing_data', 'user.email or user.external_id is required');
  }
  const optedIn = c.opted_in ?? true;
  const row: Omit<UserRow, 'referrer_code'> = {
    id: newId(now.getTime()),
    retailer_id: retailerId,
    external_id: c.external_id ?? null,
    external_id_type: c.external_id ? (c.external_id_type ?? null) : null,
    email: c.email ?? null,
    opted_in: optedIn,
    opted_in_at: optedIn ? (past.enrolled_at ?? now) : null,
    activated: false,
    suspended: false,
    test_account: c.test_account ?? false,
    account_status: 'good',
    first_name: c.first_name ?? null,
    last_name: c.last_name ?? null,
    gender: c.gender ?? null,
    dob: c.dob ?? null,
    address: c.address ?? null,
    address2: c.address2 ?? null,
    city: c.city ?? null,
    state: c.state ?? null,
    zip: c.zip ?? null,
    dma: c.dma ?? null,
    country: c.country ?? null,
    locale: c.locale ?? null,
    phone_numbers: c.phone_numbers ?? [],
    user_profile: c.user_profile ? mergeCustomAttributes({}, c.user_profile) : {},
    user_profile_version: c.user_profile ? 1 : 0,
    created_at: now,
    updated_at: now,
    registered_at: past.registered_at ?? now,
  };
  checkState(row);
  return {
    row,
    now,
    // Cash-outs are due for the periods after `coalesce(cashed_out_through, created_at)`; a later
    // cutover keeps the quarters the old platform still pays out of Laurel's hands.
    cashed_out_through: past.cutover && past.cutover > now ? past.cutover : null,
    actor: past.actor ?? null,
    identifiers: c.identifiers ?? [],
  };
}

/**
 * What creating each member writes, its events included: `member.created`, and the tier change of
 * its enrollment (issue #17). A new member's ledger is its enrollment alone, so its tier needs no
 * read; the program is read once per retailer, at the latest creation instant among its members
 * (a version stored those few milliseconds earlier is then the one read, as the till's sends read
 * theirs together: docs/decisions/0007-group-commit.md).
 */
async function writesOf(
  db: Queryable,
  members: readonly NewMember[],
  /** Programs already read at the latest creation instant of their retailer's members. */
  known: ReadonlyMap<string, ProgramDocument> = new Map(),
): Promise<NewMemberWrite[]> {
  const latest = new Map<string, Date>();
  for (const m of members) {
    const at = latest.get(m.row.retailer_id);
    if (m.row.opted_in_at && (!at || m.now > at)) latest.set(m.row.retailer_id, m.now);
  }
  const programs = new Map<string, ProgramDocument>(known);
  for (const [retailerId, at] of latest) {
    if (!programs.has(retailerId)) programs.set(retailerId, await getProgramAt(db, retailerId, at));
  }
  const writes: NewMemberWrite[] = [];
  for (const m of members) {
    const { row, now } = m;
    // The member's row is written in the same statement as its events, which cannot see it there.
    const data = (d: Record<string, unknown>) =>
      row.external_id === null ? d : { ...d, external_id: row.external_id };
    const enrolled = row.opted_in_at;
    const tierEvents = enrolled
      ? await tierEventsOfLedger(
          db,
          programs.get(row.retailer_id)!,
          row,
          newMemberLedger(enrolled, m.actor, m.cashed_out_through ?? row.created_at),
          [enrolled],
          now,
        )
      : [];
    const primary = row.external_id
      ? [{ external_id: row.external_id, external_id_type: row.external_id_type }]
      : [];
    writes.push({
      row,
      cashed_out_through: m.cashed_out_through,
      // Its id is of the enrollment's own instant, as every enrollment event's.
      enrollment: enrolled ? { id: newId(enrolled.getTime()), at: enrolled, actor: m.actor } : null,
      identifiers: [
        ...primary.map((i) => ({ ...i, is_primary: true })),
        ...m.identifiers
          .filter((o) => o.external_id !== row.external_id)
          .map((o) => ({ ...o, is_primary: false })),
      ],
      phone_keys: phoneKeysOf(row),
      events: [
        eventOf('member.created', row.retailer_id, row.id, now, data({ opted_in: row.opted_in })),
        ...tierEvents.map((e) => ({ ...e, data: data(e.data) })),
      ],
    });
  }
  return writes;
}

/**
 * The ledger of a member just created: its opt-in (none when created opted out), and where its
 * cash-outs start (`cashOutColumn`).
 */
const newMemberLedger = (at: Date | null, actor: string | null, cashOutSince: Date): MemberLedger => ({
  balances: [],
  due: [],
  cashOut: { since: cashOutSince, deleted: false },
  tqChanges: [],
  moves: [],
  enrollment: at ? [{ at, opted_in: true, actor }] : [],
});

/**
 * Creates members in one statement (`insertMembers`), on one PostgreSQL server: the bulk import's
 * batch of new customers (issue #16), or one profile of the API. Answers their rows, in order. A
 * taken email or external id fails the statement, and so every member of it.
 */
export async function insertNewMembers(
  db: Queryable,
  members: readonly NewMember[],
  known?: ReadonlyMap<string, ProgramDocument>,
): Promise<CreatedMember[]> {
  const written = await insertMembers(db, await writesOf(db, members, known));
  return members.map((m) => {
    const { referrer_code, identifiers } = written.get(m.row.id)!;
    return { row: { ...m.row, referrer_code }, identifiers };
  });
}

/** A member just created, with its identifiers in the order a read lists them. */
export interface CreatedMember {
  row: UserRow;
  identifiers: Identifier[];
}

/**
 * Creates one member statement by statement, each on one shard: where the members are not whole on
 * one server (Citus, issue #19), whose lookup tables are distributed by their own keys.
 */
export async function insertNewMemberByParts(
  tx: Tx,
  member: NewMember,
  known?: ReadonlyMap<string, ProgramDocument>,
): Promise<UserRow> {
  const [w] = await writesOf(tx, [member], known);
  const { row } = w!;
  const code = await insertUser(tx, row);
  if (w!.enrollment) {
    await insertEnrollmentEvent(tx, {
      ...w!.enrollment,
      retailer_id: row.retailer_id,
      user_id: row.id,
      opted_in: true,
      cause: 'created',
    });
  }
  if (w!.cashed_out_through) await setCashedOutThrough(tx, row.id, w!.cashed_out_through);
  await replaceIdentifiers(
    tx,
    row.retailer_id,
    row.id,
    w!.identifiers.find((i) => i.is_primary) ?? null,
    w!.identifiers.filter((i) => !i.is_primary),
    row.created_at,
  );
  await replacePhones(tx, row.retailer_id, row.id, w!.phone_keys);
  await insertEvents(tx, w!.events);
  return { ...row, referrer_code: code };
}

/** Creates a profile (reference §3). Needs an email or an external id; both are unique in the retailer. */
export async function createUser(
  db: Database,
  retailerId: string,
  input: ProfileInput,
  now: Date,
  /** Only the bulk import gives a past; the API's customers start now (and name their app). */
  past: ImportedPast = {},
): Promise<UserRow> {
  const member = newMember(retailerId, input, now, past);
  // One statement on one server, so no transaction of its own (issue #16).
  const oneServer = await isOneServer(db);
  return withUniqueErrors(async () =>
    oneServer
      ? (await insertNewMembers(db, [member]))[0]!.row
      : db.transaction((tx) => insertNewMemberByParts(tx, member)),
  );
}

/**
 * `createUser` with what the API answers beside the new member: the program in force at `now` and
 * the member's standing then, computed from the ledger a new member has (its enrollment alone), so
 * the answer reads nothing back (issue #15: a create took six round trips, three of them this
 * read). The same standing a read of the member computes from its ledger (a test compares them).
 */
export async function createUserWithStanding(
  db: Database,
  retailerId: string,
  input: ProfileInput,
  now: Date,
  past: ImportedPast = {},
): Promise<CreatedMember & { program: ProgramDocument; standing: MemberStanding }> {
  const member = newMember(retailerId, input, now, past);
  const program = await getProgramAt(db, retailerId, now);
  const known = new Map([[retailerId, program]]);
  const oneServer = await isOneServer(db);
  const { row, identifiers } = await withUniqueErrors(async () =>
    oneServer
      ? (await insertNewMembers(db, [member], known))[0]!
      : db.transaction(async (tx) => {
          const created = await insertNewMemberByParts(tx, member, known);
          return { row: created, identifiers: await listIdentifiers(tx, created.id) };
        }),
  );
  const ledger = newMemberLedger(row.opted_in_at, member.actor, member.cashed_out_through ?? row.created_at);
  return { row, identifiers, program, standing: await memberStandingAt(db, program, row, now, ledger) };
}

const phoneKeysOf = (row: Pick<UserRow, 'phone_numbers'>): string[] =>
  row.phone_numbers.map((p) => phoneKey(p.phone_number));

const same = sameJson;

/** Columns a profile change moves that are not fields of their own in the member's history. */
const UNRECORDED_FIELDS = new Set<string>(['opted_in', 'opted_in_at', 'user_profile_version', 'updated_at']);

/**
 * Updates a profile: fields are partial, arrays are replaced wholesale (reference §3). The same
 * payload twice changes nothing, `updated_at` included.
 */
export async function updateUser(
  db: Database,
  retailerId: string,
  ref: UserRef,
  input: ProfileInput,
  now: Date,
  /** Who asks (issue #18 item 10): `app:<api_key>` or a console agent; recorded with enrollment changes. */
  actor: string | null = null,
): Promise<UserRow> {
  const c = normalizeProfile(input, now);
  return withUniqueErrors(() =>
    db.transaction(async (tx) => {
      const current = await lockUser(tx, retailerId, ref);
      const next: UserRow = { ...current };
      for (const f of PROFILE_TEXT_FIELDS) if (c[f] !== undefined) next[f] = c[f];
      if (c.external_id === null) next.external_id_type = null;
      if (c.test_account !== undefined) next.test_account = c.test_account;
      if (c.phone_numbers !== undefined) next.phone_numbers = c.phone_numbers;
      if (c.opted_in !== undefined && c.opted_in !== current.opted_in) {
        next.opted_in = c.opted_in;
        next.opted_in_at = c.opted_in ? now : null;
      }
      if (c.user_profile !== undefined) {
        const merged = mergeCustomAttributes(current.user_profile, c.user_profile);
        if (!same(merged, current.user_profile)) {
          next.user_profile = merged;
          next.user_profile_version = current.user_profile_version + 1;
        }
      }
      if (c.state !== undefined || c.country !== undefined) checkState(next);
      if (!next.email && !next.external_id) {
        throw validationError('a user keeps an email or an external_id; both cannot be cleared');
      }

      const changed = (Object.keys(next) as (keyof UserRow)[]).filter((k) => !same(next[k], current[k]));
      const identifiersChanged = await syncIdentifiers(tx, current, next, c.identifiers, now);
      if (!changed.length && !identifiersChanged) return current;

      next.updated_at = now;
      const columns: Partial<Record<WritableUserColumn, unknown>> = { updated_at: now };
      for (const k of changed) columns[k as WritableUserColumn] = next[k];
      if (changed.includes('email')) {
        await replaceEmailKey(tx, retailerId, current.id, current.email, next.email);
      }
      await updateUserColumns(
        tx,
        retailerId,
        current.id,
        columns as Partial<Pick<UserRow, WritableUserColumn>>,
      );
      if (next.opted_in !== current.opted_in) {
        await recordEnrollment(tx, retailerId, current.id, next.opted_in, 'profile_update', now, actor);
      }
      if (changed.includes('phone_numbers'))
        await replacePhones(tx, retailerId, current.id, phoneKeysOf(next));
      // Who changed which fields, for the member's history (issue #18 item 10); opting in or out
      // has its own record above. Names only: the values stay in the profile, where erasure finds them.
      const fields = [
        ...changed.filter((k) => !UNRECORDED_FIELDS.has(k)),
        ...(identifiersChanged ? ['identifiers'] : []),
      ];
      if (actor && fields.length) {
        await insertMemberAction(tx, {
          user_id: current.id,
          id: newId(now.getTime()),
          retailer_id: retailerId,
          at: now,
          actor,
          kind: 'profile_changed',
          details: { fields },
        });
      }
      // Issue #17: which fields changed, never their values; an enrollment change moves the tier.
      await insertEvents(tx, [
        eventOf('member.updated', retailerId, current.id, now, {
          changed: [
            ...changed.filter((k) => k !== 'updated_at' && k !== 'opted_in_at'),
            ...(identifiersChanged ? ['identifiers'] : []),
          ],
        }),
        ...(next.opted_in !== current.opted_in
          ? await tierChangeEvents(tx, retailerId, current.id, [now], now)
          : []),
      ]);
      return next;
    }),
  );
}

/** Rewrites the identifier rows when the primary external id or the identifier list changed. */
async function syncIdentifiers(
  tx: Tx,
  current: UserRow,
  next: UserRow,
  given: Identifier[] | undefined,
  now: Date,
): Promise<boolean> {
  const primaryChanged =
    next.external_id !== current.external_id || next.external_id_type !== current.external_id_type;
  if (!primaryChanged && given === undefined) return false;
  const existing = await listIdentifiers(tx, current.id);
  const others =
    given ??
    existing.filter((i) => i.external_id !== current.external_id && i.external_id !== next.external_id);
  const primary = next.external_id
    ? { external_id: next.external_id, external_id_type: next.external_id_type }
    : null;
  const wanted = [
    ...(primary ? [primary] : []),
    ...others.filter((o) => o.external_id !== primary?.external_id),
  ];
  if (same(wanted, existing)) return false;
  await replaceIdentifiers(tx, current.retailer_id, current.id, primary, others, now);
  return true;
}

/** Deletes a profile; it then answers user_not_found everywhere (reference §8). */
export async function deleteUser(
  db: Database,
  retailerId: string,
  ref: UserRef,
  now: Date,
  actor: string | null = null,
): Promise<void> {
  await db.transaction(async (tx) => {
    const current = await lockUser(tx, retailerId, ref);
    if (current.opted_in) {
      await recordEnrollment(tx, retailerId, current.id, false, 'deleted', now, actor);
    }
    // Before the erasure, so the event still carries the member's external id (issue #17).
    await insertEvents(tx, [
      ...(current.opted_in ? await tierChangeEvents(tx, retailerId, current.id, [now], now) : []),
      eventOf('member.deleted', retailerId, current.id, now, {}),
    ]);
    await eraseUser(tx, retailerId, current, now);
  });
}

/** Creates or updates custom attributes (`models/user_profile`): keys merge, `null` removes one. */
export async function setCustomAttributes(
  db: Database,
  retailerId: string,
  ref: UserRef,
  attrs: Record<string, unknown>,
  now: Date,
): Promise<UserRow> {
  return db.transaction(async (tx) => {
    const current = await lockUser(tx, retailerId, ref);
    const merged = mergeCustomAttributes(current.user_profile, attrs);
    if (same(merged, current.user_profile)) return current;
    const next = {
      ...current,
      user_profile: merged,
      user_profile_version: current.user_profile_version + 1,
      updated_at: now,
    };
    await updateUserColumns(tx, retailerId, current.id, {
      user_profile: next.user_profile,
      user_profile_version: next.user_profile_version,
      updated_at: now,
    });
    await insertEvents(tx, [
      eventOf('member.updated', retailerId, current.id, now, { changed: ['user_profile'] }),
    ]);
    return next;
  });
}

export const MAX_TAG_TTL_SECONDS = 10 * 366 * 24 * 3600;
/** Live tags a member may hold (issue #13 item 7: 2,000 tags made every read 229 KB). */
export const MAX_TAGS_PER_MEMBER = 200;

/** Adds counter tags, or expiring tags when `ttlSeconds` is given (reference §3, tags). */
export async function addTags(
  db: Database,
  retailerId: string,
  ref: UserRef,
  tags: string[],
  ttlSeconds: number | undefined,
  now: Date,
): Promise<TagRow[]> {
  const clean = [...new Set(tags.map((t) => t.trim()))];
  if (!clean.length) throw new LaurelError('missing_data', 'tags must name at least one tag');
  // eslint-disable-next-line no-control-regex
  if (clean.some((t) => !t || t.length > 100 || /[\u0000-\u001f\u007f]/.test(t))) {
    throw validationError('each tag is 1 to 100 printable characters', 'tags');
  }
  if (
    ttlSeconds !== undefined &&
    (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MAX_TAG_TTL_SECONDS)
  ) {
    throw validationError(`ttl is a whole number of seconds from 1 to ${MAX_TAG_TTL_SECONDS}`, 'ttl');
  }
  const expiresAt = ttlSeconds === undefined ? null : new Date(now.getTime() + ttlSeconds * 1000);
  return db.transaction(async (tx) => {
    const user = await lockUser(tx, retailerId, ref);
    await upsertTags(tx, retailerId, user.id, clean, expiresAt, now);
    const held = await listTags(tx, user.id, now);
    // Checked after the upsert, inside the member's lock: a refused request rolls back whole.
    if (held.length > MAX_TAGS_PER_MEMBER) {
      throw validationError(
        `a member holds at most ${MAX_TAGS_PER_MEMBER} tags; this request would make ${held.length}`,
        'tags',
      );
    }
    return held;
  });
}

export async function getTags(db: Queryable, retailerId: string, ref: UserRef, now: Date): Promise<TagRow[]> {
  const user = await getUser(db, retailerId, ref);
  return listTags(db, user.id, now);
}

export { listIdentifiers };
