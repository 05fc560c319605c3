import { isOneServer } from '../db/distribution.js';
import type { Queryable, Tx } from '../db/database.js';
import type { Identifier, PhoneNumber } from '../domain/profile.js';
import type { ProgramDocument } from '../domain/program.js';
import { eventOwners, eventsParam, outboxWrites, type EventInput } from '../events/outbox.repository.js';
import { standingInvalidation } from '../tiers/standing-invalidation.js';

export interface UserRow {
  id: string;
  retailer_id: string;
  external_id: string | null;
  external_id_type: string | null;
  email: string | null;
  opted_in: boolean;
  opted_in_at: Date | null;
  activated: boolean;
  suspended: boolean;
  test_account: boolean;
  account_status: string;
  first_name: string | null;
  last_name: string | null;
  gender: string | null;
  dob: string | null;
  address: string | null;
  address2: string | null;
  city: string | null;
  state: string | null;
  zip: string | null;
  dma: string | null;
  country: string | null;
  locale: string | null;
  phone_numbers: PhoneNumber[];
  user_profile: Record<string, unknown>;
  user_profile_version: number;
  /** The member's own short code, drawn by the database at creation (migration 0010). */
  referrer_code: string;
  created_at: Date;
  updated_at: Date;
  registered_at: Date;
}

/** Columns that a create or update may write. */
export type WritableUserColumn = Exclude<
  keyof UserRow,
  | 'id'
  | 'retailer_id'
  | 'created_at'
  | 'registered_at'
  | 'activated'
  | 'suspended'
  | 'account_status'
  | 'referrer_code'
>;

// `dob` is read as text: `pg` would turn a date into a local-time Date and shift it.
const COLUMNS = `u.id, u.retailer_id, u.external_id, u.external_id_type, u.email, u.opted_in, u.opted_in_at,
  u.activated, u.suspended, u.test_account, u.account_status, u.first_name, u.last_name, u.gender,
  u.dob::text AS dob, u.address, u.address2, u.city, u.state, u.zip, u.dma, u.country, u.locale,
  u.phone_numbers, u.user_profile, u.user_profile_version, u.referrer_code, u.created_at, u.updated_at, u.registered_at`;

const JSON_COLUMNS = new Set(['phone_numbers', 'user_profile']);

/**
 * Inserts a member; the database draws the referrer code (migration 0010) and answers it. The
 * email and the referrer code are claimed in their lookup tables (migration 0011), whose keys keep
 * them unique in the retailer.
 */
export async function insertUser(tx: Tx, row: Omit<UserRow, 'referrer_code'>): Promise<string> {
  const cols = Object.keys(row) as (keyof typeof row)[];
  const values = cols.map((c) => (JSON_COLUMNS.has(c) ? JSON.stringify(row[c]) : row[c]));
  const rows = await tx.query<{ referrer_code: string }>(
    `INSERT INTO users (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})
     RETURNING referrer_code`,
    values,
  );
  const code = rows[0]!.referrer_code;
  await tx.query(
    'INSERT INTO member_referrer_codes (retailer_id, referrer_code, user_id) VALUES ($1, $2, $3)',
    [row.retailer_id, code, row.id],
  );
  if (row.email !== null) await replaceEmailKey(tx, row.retailer_id, row.id, null, row.email);
  return code;
}

/** An identifier row of a new member: the primary external id first, then the others (`replaceIdentifiers`). */
export type NewIdentifier = Identifier & { is_primary: boolean };

/**
 * Everything creating a member writes but the referrer code, which the database draws: its row
 * (with where its cash-outs start), the opt-in that starts its first enrollment episode (issue #4),
 * its identifiers and phone keys with their lookup rows, and its outbox rows (issue #17).
 */
export interface NewMemberWrite {
  row: Omit<UserRow, 'referrer_code'>;
  /** Cash-outs run for the periods after it (DESIGN §7); null: after the creation. */
  cashed_out_through: Date | null;
  enrollment: { id: string; at: Date; actor: string | null } | null;
  identifiers: NewIdentifier[];
  phone_keys: string[];
  /** In the order they happened; member events carry the member's `external_id` already. */
  events: EventInput[];
}

/** The columns a new member's row is written with; the rest take their defaults (the referrer code). */
const NEW_USER_COLUMNS = `id, retailer_id, external_id, external_id_type, email, opted_in, opted_in_at, activated,
  suspended, test_account, account_status, first_name, last_name, gender, dob, address, address2, city, state, zip,
  dma, country, locale, phone_numbers, user_profile, user_profile_version, created_at, updated_at, registered_at,
  cashed_out_through`;

/**
 * Writes new members in one statement (issue #16: it was about ten round trips a member), each as
 * `insertUser`, `insertEnrollmentEvent`, `setCashedOutThrough`, `replaceIdentifiers`,
 * `replacePhones` and `insertEvents` write one; answers each member's referrer code by id. A key
 * another member holds fails the statement by its lookup table's key, as those do: an email
 * (`member_emails_uq`) before an external id, whichever rows hold them. For one PostgreSQL
 * server: the lookup tables are distributed by their own keys on Citus (issue #19), where
 * `insertUser` and the others write a member part by part.
 */
export async function insertMembers(
  db: Queryable,
  members: readonly NewMemberWrite[],
): Promise<Map<string, { referrer_code: string; identifiers: Identifier[] }>> {
  const events = members.flatMap((m) => m.events);
  const rows = await db.query<{ id: string; referrer_code: string; identifiers: Identifier[] }>(
    `WITH x AS MATERIALIZED (
       SELECT * FROM jsonb_populate_recordset(NULL::users, $1::jsonb)
     ), u AS (
       INSERT INTO users (${NEW_USER_COLUMNS}) SELECT ${NEW_USER_COLUMNS} FROM x
       RETURNING id, retailer_id, referrer_code
     ), codes AS (
       INSERT INTO member_referrer_codes (retailer_id, referrer_code, user_id) SELECT retailer_id, referrer_code, id FROM u
     ), emails AS (
       INSERT INTO member_emails (retailer_id, email_key, user_id)
       SELECT retailer_id, lower(email), id FROM x WHERE email IS NOT NULL
       RETURNING user_id
     ), ids AS MATERIALIZED (
       -- Read only once every email is in (the scalar subquery runs first): a taken email fails
       -- the statement before a taken external id can, as when a member was written part by part.
       SELECT * FROM jsonb_populate_recordset(NULL::user_identifiers, $2::jsonb)
       WHERE (SELECT count(*) FROM emails) >= 0
     ), ui AS (
       INSERT INTO user_identifiers (retailer_id, external_id, user_id, external_id_type, is_primary, created_at)
       SELECT retailer_id, external_id, user_id, external_id_type, is_primary, created_at FROM ids
     ), xi AS (
       INSERT INTO member_external_ids (retailer_id, external_id, user_id) SELECT retailer_id, external_id, user_id FROM ids
     ), ph AS MATERIALIZED (
       SELECT * FROM jsonb_populate_recordset(NULL::user_phones, $3::jsonb)
     ), up AS (
       INSERT INTO user_phones (retailer_id, user_id, position, phone_key)
       SELECT retailer_id, user_id, position, phone_key FROM ph
     ), mp AS (
       INSERT INTO member_phones (retailer_id, phone_key, user_id) SELECT DISTINCT retailer_id, phone_key, user_id FROM ph
     ), en AS (
       INSERT INTO enrollment_events (id, retailer_id, user_id, opted_in, at, cause, actor)
       SELECT id, retailer_id, user_id, true, at, 'created', actor
       FROM jsonb_populate_recordset(NULL::enrollment_events, $4::jsonb)
     ), s AS (
       ${standingInvalidation('SELECT id AS user_id, retailer_id FROM x WHERE opted_in OR cashed_out_through IS NOT NULL')}
     ), ${outboxWrites('$5', '$6::uuid[]')}
     -- Each member's identifiers as \`listIdentifiers\` orders them, in this database's collation:
     -- the answer of a create shows them without reading them back (issue #15).
     SELECT u.id, u.referrer_code,
            coalesce((SELECT json_agg(json_build_object('external_id', i.external_id,
                                                         'external_id_type', i.external_id_type)
                                      ORDER BY i.is_primary DESC, i.created_at, i.external_id)
                      FROM ids i WHERE i.user_id = u.id), '[]') AS identifiers
     FROM u`,
    [
      JSON.stringify(members.map((m) => ({ ...m.row, cashed_out_through: m.cashed_out_through }))),
      JSON.stringify(
        members.flatMap((m) =>
          m.identifiers.map((i) => ({
            ...i,
            retailer_id: m.row.retailer_id,
            user_id: m.row.id,
            created_at: m.row.created_at,
          })),
        ),
      ),
      JSON.stringify(
        members.flatMap((m) =>
          m.phone_keys.map((phone_key, position) => ({
            retailer_id: m.row.retailer_id,
            user_id: m.row.id,
            position,
            phone_key,
          })),
        ),
      ),
      JSON.stringify(
        members.flatMap((m) =>
          m.enrollment ? [{ ...m.enrollment, retailer_id: m.row.retailer_id, user_id: m.row.id }] : [],
        ),
      ),
      eventsParam(events),
      eventOwners(events),
    ],
  );
  return new Map(rows.map(({ id, ...r }) => [id, r]));
}

/**
 * Which of these emails (compared case-insensitively, answered as given) and external ids
 * members of the retailer hold, through the lookup tables, in one statement: the bulk import's
 * check of a batch's new customers (issue #16).
 */
export async function findTakenKeys(
  db: Queryable,
  retailerId: string,
  emails: readonly string[],
  externalIds: readonly string[],
): Promise<{ emails: Set<string>; externalIds: Set<string> }> {
  const rows = await db.query<{ email: boolean; key: string }>(
    `SELECT true AS email, e AS key FROM unnest($2::text[]) AS e
     WHERE EXISTS (SELECT 1 FROM member_emails WHERE email_key = lower(e) AND retailer_id = $1)
     UNION ALL
     SELECT false, x FROM unnest($3::text[]) AS x
     WHERE EXISTS (SELECT 1 FROM member_external_ids WHERE external_id = x AND retailer_id = $1)`,
    [retailerId, emails, externalIds],
  );
  return {
    emails: new Set(rows.filter((r) => r.email).map((r) => r.key)),
    externalIds: new Set(rows.filter((r) => !r.email).map((r) => r.key)),
  };
}

/**
 * Moves the member's email in its lookup table from `before` to `after` (either may be null); a
 * taken email fails on `member_emails_uq`. Emails compare case-insensitively (reference §3).
 */
export async function replaceEmailKey(
  tx: Tx,
  retailerId: string,
  userId: string,
  before: string | null,
  after: string | null,
): Promise<void> {
  if (before !== null) {
    await tx.query(
      'DELETE FROM member_emails WHERE email_key = lower($2) AND retailer_id = $1 AND user_id = $3',
      [retailerId, before, userId],
    );
  }
  if (after !== null) {
    await tx.query('INSERT INTO member_emails (retailer_id, email_key, user_id) VALUES ($1, lower($2), $3)', [
      retailerId,
      after,
      userId,
    ]);
  }
}

export async function updateUserColumns(
  tx: Tx,
  retailerId: string,
  id: string,
  changes: Partial<Pick<UserRow, WritableUserColumn>>,
): Promise<void> {
  const cols = Object.keys(changes) as WritableUserColumn[];
  if (!cols.length) return;
  const values = cols.map((c) => (JSON_COLUMNS.has(c) ? JSON.stringify(changes[c]) : changes[c]));
  await tx.query(
    `UPDATE users SET ${cols.map((c, i) => `${c} = $${i + 3}`).join(', ')}
     WHERE retailer_id = $1 AND id = $2 AND deleted_at IS NULL`,
    [retailerId, id, ...values],
  );
}

export async function findUserById(
  db: Queryable,
  retailerId: string,
  id: string,
): Promise<UserRow | undefined> {
  const rows = await db.query<UserRow>(
    `SELECT ${COLUMNS} FROM users u WHERE u.retailer_id = $1 AND u.id = $2 AND u.deleted_at IS NULL`,
    [retailerId, id],
  );
  return rows[0];
}

/** Locks the user's row for the rest of the transaction: every mutation of a customer is serialised on it (DESIGN §9). */
export async function lockUserById(tx: Tx, retailerId: string, id: string): Promise<UserRow | undefined> {
  const rows = await tx.query<UserRow>(
    `SELECT ${COLUMNS} FROM users u WHERE u.retailer_id = $1 AND u.id = $2 AND u.deleted_at IS NULL FOR UPDATE`,
    [retailerId, id],
  );
  return rows[0];
}

/** The program version in force read beside a member's lock: its document only when the process does not hold it. */
export interface ProgramAtRead {
  version: number;
  document: ProgramDocument | null;
}

/**
 * `lockUserById` with the retailer's program version in force at `at`, read in the same statement
 * (issue #15: a deposit or spend spent a round trip on it before its transaction). The document
 * comes only when its version is not `held`, the version whose document the process holds. The
 * program is answered even when there is no such member, so a request is checked against it first.
 */
export async function lockUserWithProgramAt(
  tx: Tx,
  retailerId: string,
  id: string,
  at: Date,
  held: number,
): Promise<{ user: UserRow | undefined; program: ProgramAtRead | undefined }> {
  const rows = await tx.query<
    UserRow & { found: boolean; program_version: number | null; program_document: ProgramDocument | null }
  >(
    `WITH u AS (
       SELECT ${COLUMNS} FROM users u WHERE u.retailer_id = $1 AND u.id = $2 AND u.deleted_at IS NULL FOR UPDATE
     )
     SELECT u.*, u.id IS NOT NULL AS found, pv.version AS program_version,
            CASE WHEN pv.version IS DISTINCT FROM $4::int THEN pv.document END AS program_document
     FROM (VALUES (1)) one
     LEFT JOIN u ON true
     LEFT JOIN LATERAL (SELECT version, document FROM program_versions
                        WHERE retailer_id = $1 AND (effective_from IS NULL OR effective_from <= $3)
                        ORDER BY version DESC LIMIT 1) pv ON true`,
    [retailerId, id, at, held],
  );
  const { found, program_version, program_document, ...user } = rows[0]!;
  return {
    user: found ? (user as UserRow) : undefined,
    program: program_version === null ? undefined : { version: program_version, document: program_document },
  };
}

/** The member of an external id, through its lookup table (one step; migration 0011). */
/**
 * Locks a ledger owner's row, deleted or not (an erased profile keeps its ledger: DESIGN §3), with
 * the profile when it is live. Undefined when there is no such member of the retailer.
 */
export async function lockOwner(
  tx: Tx,
  retailerId: string,
  id: string,
): Promise<{ row: UserRow; deleted: boolean } | undefined> {
  const rows = await tx.query<UserRow & { deleted: boolean }>(
    `SELECT ${COLUMNS}, u.deleted_at IS NOT NULL AS deleted FROM users u
     WHERE u.retailer_id = $1 AND u.id = $2 FOR UPDATE`,
    [retailerId, id],
  );
  const r = rows[0];
  if (!r) return undefined;
  const { deleted, ...row } = r;
  return { row, deleted };
}

/** A ledger owner under its lock: its row, and whether the profile was erased. */
export interface LockedMember {
  row: UserRow;
  deleted: boolean;
}

/**
 * Locks the member rows `ids` in one statement, deleted ones too, answering `columns` of each (the
 * row is `u`). The one lock statement of many members (the group commit's batch, the sweep's): for
 * one PostgreSQL server only, as Citus refuses a row lock that spans shards (issue #19), so callers
 * ask `isOneServer` and otherwise lock member by member, in the same order.
 */
export function lockUsersAtOnce<R>(tx: Tx, ids: readonly string[], columns: string): Promise<R[]> {
  // In id order (DESIGN §9: every mutation of a member is serialised on the member), so two lockers
  // of overlapping sets never deadlock and a request that locks one member simply waits: the row
  // locks sit above the sort, so PostgreSQL locks the rows in the order the sort hands them up.
  return tx.query<R>(`SELECT ${columns} FROM users u WHERE u.id = ANY($1::uuid[]) ORDER BY u.id FOR UPDATE`, [
    [...ids].sort(),
  ]);
}

/** Many ledger owners locked at once (`lockUsersAtOnce`), as `lockOwner` locks one; by id. */
export async function lockMembersAtOnce(tx: Tx, ids: readonly string[]): Promise<Map<string, LockedMember>> {
  const rows = await lockUsersAtOnce<UserRow & { deleted: boolean }>(
    tx,
    ids,
    `${COLUMNS}, u.deleted_at IS NOT NULL AS deleted`,
  );
  return new Map(rows.map(({ deleted, ...row }) => [row.id, { row, deleted }]));
}

export async function findUserIdByExternalId(
  db: Queryable,
  retailerId: string,
  externalId: string,
): Promise<string | undefined> {
  const rows = await db.query<{ user_id: string }>(
    'SELECT user_id FROM member_external_ids WHERE external_id = $2 AND retailer_id = $1',
    [retailerId, externalId],
  );
  return rows[0]?.user_id;
}

/** A member by external id: the lookup table names the member, then the member's shard answers. */
export async function findUserByExternalId(
  db: Queryable,
  retailerId: string,
  externalId: string,
): Promise<UserRow | undefined> {
  const id = await findUserIdByExternalId(db, retailerId, externalId);
  return id === undefined ? undefined : findUserById(db, retailerId, id);
}

export async function findUsersByIds(db: Queryable, retailerId: string, ids: string[]): Promise<UserRow[]> {
  return db.query<UserRow>(
    `SELECT ${COLUMNS} FROM users u WHERE u.retailer_id = $1 AND u.id = ANY($2::uuid[]) AND u.deleted_at IS NULL`,
    [retailerId, ids],
  );
}

export interface SearchCriteria {
  /** Laurel's id, lowercase. */
  id?: string;
  email?: string;
  external_id?: string;
  phone_key?: string;
}

/**
 * The members each given criterion names, through the lookup tables (migration 0011), one
 * statement per criterion; every criterion must hold, so the answer is their intersection.
 */
async function candidateIds(
  db: Queryable,
  retailerId: string,
  c: Omit<SearchCriteria, 'id'>,
): Promise<string[]> {
  const lists: string[][] = [];
  const ids = async (sql: string, key: string) =>
    (await db.query<{ user_id: string }>(sql, [retailerId, key])).map((r) => r.user_id);
  if (c.email !== undefined) {
    lists.push(
      await ids(
        'SELECT user_id FROM member_emails WHERE email_key = lower($2) AND retailer_id = $1',
        c.email,
      ),
    );
  }
  if (c.external_id !== undefined) {
    lists.push(
      await ids(
        'SELECT user_id FROM member_external_ids WHERE external_id = $2 AND retailer_id = $1',
        c.external_id,
      ),
    );
  }
  if (c.phone_key !== undefined) {
    lists.push(
      await ids('SELECT user_id FROM member_phones WHERE phone_key = $2 AND retailer_id = $1', c.phone_key),
    );
  }
  const [first = [], ...rest] = lists;
  return [...new Set(first)].filter((id) => rest.every((l) => l.includes(id)));
}

/** The lookup tables that name a member by a unique key, `$2` (issue #19). */
const MEMBER_BY_KEY = {
  email: 'SELECT user_id FROM member_emails WHERE email_key = lower($2) AND retailer_id = $1',
  external_id: 'SELECT user_id FROM member_external_ids WHERE external_id = $2 AND retailer_id = $1',
} as const;

/** The one unique key a search names, when it names nothing else (most searches). */
function soleKey(c: SearchCriteria): keyof typeof MEMBER_BY_KEY | undefined {
  const named = (['id', 'email', 'external_id', 'phone_key'] as const).filter((k) => c[k] !== undefined);
  const [only] = named;
  return named.length === 1 && (only === 'email' || only === 'external_id') ? only : undefined;
}

/**
 * Exact-match search; every given criterion must hold. Phones are not unique, so of several
 * matches the most recently updated profile answers. On Citus, two steps (issue #19): the lookup
 * tables name the member, then one statement on the member's shard reads it. On one server, a
 * search by email or by external id alone is one statement, the lookup table inside it (issue #15).
 */
export async function searchUser<X extends object = object>(
  db: Queryable,
  retailerId: string,
  c: SearchCriteria,
  /**
   * More columns (and joins) to read in the same statement about the member found, who is `f`
   * (`f.id`, `f.retailer_id`); `member` is an SQL expression of the member's id and `$1` is the
   * retailer's, which keep every part on the member's shard. Their parameters are numbered from
   * `first` (issue #8: the member and its standing in one statement).
   */
  also?: (first: number, member: string) => { columns: string; params: unknown[]; joins?: string },
): Promise<(UserRow & X) | undefined> {
  const sole = soleKey(c);
  let member = '$2::uuid';
  let key: string | undefined;
  if (sole && (await isOneServer(db))) {
    member = `(${MEMBER_BY_KEY[sole]})`;
    key = c[sole];
  } else {
    const ids = c.id !== undefined ? [c.id] : await candidateIds(db, retailerId, c);
    key = ids[0];
    if (ids.length > 1) {
      const rows = await db.query<{ id: string }>(
        `SELECT u.id FROM users u WHERE u.retailer_id = $1 AND u.id = ANY($2::uuid[]) AND u.deleted_at IS NULL
         ORDER BY u.updated_at DESC, u.id DESC LIMIT 1`,
        [retailerId, ids],
      );
      key = rows[0]?.id;
    }
    if (key === undefined) return undefined;
  }
  const found = `SELECT ${COLUMNS} FROM users u WHERE u.retailer_id = $1 AND u.id = ${member} AND u.deleted_at IS NULL`;
  if (!also) return (await db.query<UserRow & X>(found, [retailerId, key]))[0];
  const more = also(3, member);
  const rows = await db.query<UserRow & X>(
    `SELECT f.*, ${more.columns} FROM (${found}) f ${more.joins ?? ''}`,
    [retailerId, key, ...more.params],
  );
  return rows[0];
}

export async function listIdentifiers(db: Queryable, userId: string): Promise<Identifier[]> {
  return db.query<Identifier>(
    `SELECT external_id, external_id_type FROM user_identifiers WHERE user_id = $1
     ORDER BY is_primary DESC, created_at, external_id`,
    [userId],
  );
}

/**
 * Replaces the user's identifiers: the primary external id first, then the others. Their lookup
 * rows follow (migration 0011); an external id another member holds fails on
 * `member_external_ids_uq`.
 */
export async function replaceIdentifiers(
  tx: Tx,
  retailerId: string,
  userId: string,
  primary: Identifier | null,
  others: Identifier[],
  now: Date,
): Promise<void> {
  await dropIdentifiers(tx, retailerId, userId);
  const all = [
    ...(primary ? [{ ...primary, is_primary: true }] : []),
    ...others.filter((o) => o.external_id !== primary?.external_id).map((o) => ({ ...o, is_primary: false })),
  ];
  if (!all.length) return;
  await tx.query(
    `INSERT INTO user_identifiers (retailer_id, external_id, user_id, external_id_type, is_primary, created_at)
     SELECT $1, x.external_id, $2, x.external_id_type, x.is_primary, $3
     FROM jsonb_to_recordset($4::jsonb) AS x(external_id text, external_id_type text, is_primary boolean)`,
    [retailerId, userId, now, JSON.stringify(all)],
  );
  await tx.query(
    `INSERT INTO member_external_ids (retailer_id, external_id, user_id)
     SELECT $1, k, $2 FROM unnest($3::text[]) AS k`,
    [retailerId, userId, all.map((i) => i.external_id)],
  );
}

/** Removes the user's identifiers and their lookup rows. */
async function dropIdentifiers(tx: Tx, retailerId: string, userId: string): Promise<void> {
  const gone = await tx.query<{ external_id: string }>(
    'DELETE FROM user_identifiers WHERE user_id = $1 RETURNING external_id',
    [userId],
  );
  if (!gone.length) return;
  await tx.query(
    'DELETE FROM member_external_ids WHERE external_id = ANY($2::text[]) AND retailer_id = $1 AND user_id = $3',
    [retailerId, gone.map((g) => g.external_id), userId],
  );
}

/** Replaces the user's phone search keys and their lookup rows (a phone may name several members). */
export async function replacePhones(
  tx: Tx,
  retailerId: string,
  userId: string,
  keys: string[],
): Promise<void> {
  await dropPhones(tx, retailerId, userId);
  if (!keys.length) return;
  await tx.query(
    `INSERT INTO user_phones (retailer_id, user_id, position, phone_key)
     SELECT $1, $2, (ord - 1)::int, d FROM unnest($3::text[]) WITH ORDINALITY AS t(d, ord)`,
    [retailerId, userId, keys],
  );
  await tx.query(
    `INSERT INTO member_phones (retailer_id, phone_key, user_id)
     SELECT DISTINCT $1::uuid, k, $2::uuid FROM unnest($3::text[]) AS k`,
    [retailerId, userId, keys],
  );
}

async function dropPhones(tx: Tx, retailerId: string, userId: string): Promise<void> {
  const gone = await tx.query<{ phone_key: string }>(
    'DELETE FROM user_phones WHERE user_id = $1 RETURNING phone_key',
    [userId],
  );
  if (!gone.length) return;
  await tx.query(
    'DELETE FROM member_phones WHERE phone_key = ANY($2::text[]) AND retailer_id = $1 AND user_id = $3',
    [retailerId, [...new Set(gone.map((g) => g.phone_key))], userId],
  );
}

/**
 * Deletes a profile: its personal data is erased and its identifiers released (their lookup rows
 * too), while the row stays so the immutable ledger keeps a member to point at (DESIGN §3). Reads
 * then answer user_not_found. The referrer code stays claimed: a code is never reused.
 */
export async function eraseUser(
  tx: Tx,
  retailerId: string,
  user: Pick<UserRow, 'id' | 'email'>,
  now: Date,
): Promise<void> {
  const id = user.id;
  await dropIdentifiers(tx, retailerId, id);
  await dropPhones(tx, retailerId, id);
  await replaceEmailKey(tx, retailerId, id, user.email, null);
  await tx.query('DELETE FROM user_tags WHERE user_id = $1', [id]);
  await tx.query(
    `WITH u AS (
       UPDATE users SET deleted_at = $3, updated_at = $3, email = NULL, external_id = NULL, external_id_type = NULL,
         first_name = NULL, last_name = NULL, gender = NULL, dob = NULL, address = NULL, address2 = NULL, city = NULL,
         state = NULL, zip = NULL, dma = NULL, country = NULL, locale = NULL, phone_numbers = '[]',
         user_profile = '{}', opted_in = false, opted_in_at = NULL
       WHERE retailer_id = $1 AND id = $2 RETURNING id AS user_id, retailer_id
     ), s AS (${standingInvalidation('SELECT user_id, retailer_id FROM u')})
     SELECT 1`,
    [retailerId, id, now],
  );
}

export interface TagRow {
  tag: string;
  count: number | null;
  expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/**
 * Adds tags: a counter tag counts up by one; a tag sent with a TTL becomes an expiring tag and
 * loses its count (a tag has a count or a TTL, never both: reference §3). An expired tag starts over.
 */
export async function upsertTags(
  tx: Tx,
  retailerId: string,
  userId: string,
  tags: string[],
  expiresAt: Date | null,
  now: Date,
): Promise<void> {
  await tx.query(
    `INSERT INTO user_tags AS t (retailer_id, user_id, tag, count, expires_at, created_at, updated_at)
     SELECT $1, $2, tag, CASE WHEN $3::timestamptz IS NULL THEN 1 END, $3, $4, $4 FROM unnest($5::text[]) AS tag
     ON CONFLICT (user_id, tag) DO UPDATE SET
       count = CASE
         WHEN EXCLUDED.expires_at IS NOT NULL THEN NULL
         WHEN t.count IS NOT NULL THEN t.count + 1
         ELSE 1 END,
       expires_at = EXCLUDED.expires_at,
       created_at = CASE WHEN t.expires_at IS NOT NULL AND t.expires_at <= $4 THEN $4 ELSE t.created_at END,
       updated_at = $4`,
    [retailerId, userId, expiresAt, now, tags],
  );
}

export async function listTags(db: Queryable, userId: string, now: Date): Promise<TagRow[]> {
  return db.query<TagRow>(
    `SELECT tag, count, expires_at, created_at, updated_at FROM user_tags
     WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY tag`,
    [userId, now],
  );
}

export type EnrollmentCause = 'created' | 'profile_update' | 'deleted';

/** Records an opt-in or opt-out (issue #4: tier episodes and history start and end with them). */
export async function insertEnrollmentEvent(
  tx: Tx,
  e: {
    id: string;
    retailer_id: string;
    user_id: string;
    opted_in: boolean;
    at: Date;
    cause: EnrollmentCause;
    /** Who made the change (issue #18 item 10): `app:<api_key>`, a console agent; null when unknown. */
    actor: string | null;
  },
): Promise<void> {
  await tx.query(
    `WITH e AS (
       INSERT INTO enrollment_events (id, retailer_id, user_id, opted_in, at, cause, actor)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING user_id, retailer_id
     ), s AS (${standingInvalidation('SELECT user_id, retailer_id FROM e')})
     SELECT 1`,
    [e.id, e.retailer_id, e.user_id, e.opted_in, e.at, e.cause, e.actor],
  );
}
