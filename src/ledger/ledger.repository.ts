import type { Queryable, Tx } from '../db/database.js';
import type { EscrowRole } from '../domain/escrow.js';
import { lockUsersAtOnce } from '../customers/customer.repository.js';
import { standingInvalidation } from '../tiers/standing-invalidation.js';
import {
  eventOwners,
  eventsParam,
  insertEvents,
  outboxWrites,
  type EventInput,
} from '../events/outbox.repository.js';

/** Journal kinds (DESIGN §3); each names why points moved. */
export type JournalKind =
  'purchase' | 'return' | 'rollover' | 'deposit' | 'spend' | 'cash_out' | 'behaviour' | 'opening';

/** Program-side accounts that member postings are balanced against. */
export type ProgramAccount =
  | 'program:issued'
  | 'program:returned'
  | 'program:redeemed'
  | 'program:adjusted'
  | 'program:cashed_out'
  /** Positions brought from another platform at the cut-over (issue #16). */
  | 'program:opening'
  /** What purchases owe: late returns' shortfalls (debit), less what later credits repaid. */
  | 'program:shortfall';

export interface Posting {
  account: string;
  amount: number;
}

export interface JournalInput {
  id: string;
  retailer_id: string;
  user_id: string;
  kind: JournalKind;
  effective_at: Date;
  recorded_at: Date;
  purchase_id?: string | null;
  lot_id?: string | null;
  idempotency_key?: string | null;
  request_id?: string | null;
  reference_id?: string | null;
  reference_type?: string | null;
  point_source_id?: string | null;
  details?: Record<string, unknown>;
  postings: Posting[];
}

/** A journal's postings must sum to zero, each a non-zero whole number of points. */
export function assertBalanced(j: JournalInput): void {
  const sum = j.postings.reduce((n, p) => n + p.amount, 0);
  if (sum !== 0 || j.postings.some((p) => p.amount === 0 || !Number.isSafeInteger(p.amount))) {
    throw new Error(`journal ${j.kind} does not balance: ${JSON.stringify(j.postings)}`);
  }
}

/**
 * The two JSON parameters `journalWrites` reads: the journals, and their postings numbered from 1
 * within each journal. Every journal must balance.
 */
export function journalParams(journals: readonly JournalInput[]): [string, string] {
  for (const j of journals) assertBalanced(j);
  return [
    JSON.stringify(journals.map(({ postings: _postings, ...j }) => ({ ...j, details: j.details ?? {} }))),
    JSON.stringify(
      journals.flatMap((j) =>
        j.postings.map((p, i) => ({ journal_id: j.id, line: i + 1, account: p.account, amount: p.amount })),
      ),
    ),
  ];
}

/**
 * The data-modifying `WITH` parts that write journals, their postings and the member balances they
 * move (DESIGN §3), from the parameters `journals` and `lines` that `journalParams` gives: the
 * one mechanism behind a single journal, a batch of rollovers and a purchase's write. `owner`, when
 * every journal is one member's, is an expression of that member's id: with it the planner reaches
 * the balances by index whatever it guesses of the JSON's size (it guesses 100 rows, and scanned
 * small tables); `ANY(<array>)` of the members' ids does the same for a batch of members. The
 * parts are named `ledger_*`; a statement appends its own after them.
 */
export function journalWrites(journals: string, lines: string, owner?: string): string {
  return `ledger_j AS (
       INSERT INTO journals (id, retailer_id, user_id, kind, effective_at, recorded_at, purchase_id, lot_id,
         idempotency_key, request_id, reference_id, reference_type, point_source_id, details)
       SELECT id, retailer_id, user_id, kind, effective_at, recorded_at, purchase_id, lot_id,
         idempotency_key, request_id, reference_id, reference_type, point_source_id, details
       FROM jsonb_populate_recordset(NULL::journals, ${journals}::jsonb)
       RETURNING id, retailer_id, user_id, recorded_at
     ), ledger_lines AS (
       SELECT j.id AS journal_id, x.line, j.retailer_id, j.user_id, j.recorded_at, x.account, x.amount
       FROM jsonb_to_recordset(${lines}::jsonb) AS x(journal_id uuid, line smallint, account text, amount bigint)
       JOIN ledger_j j ON j.id = x.journal_id
     ), ledger_p AS (
       INSERT INTO postings (journal_id, line, retailer_id, user_id, account, amount)
       SELECT journal_id, line, retailer_id, user_id, account, amount FROM ledger_lines
     ), ledger_d AS (
       SELECT user_id, retailer_id, account, max(recorded_at) AS recorded_at, sum(amount)::bigint AS amount,
              sum(greatest(amount, 0))::bigint AS credit
       FROM ledger_lines WHERE account NOT LIKE 'program:%' GROUP BY user_id, retailer_id, account
     ), ledger_u AS (
       -- Update first, insert the rest: a CHECK is tested on the row an upsert proposes before any
       -- conflict, so ON CONFLICT would refuse a debit of an existing balance. The members' row
       -- locks keep a concurrent insert of the same account out.
       UPDATE balances b SET balance = b.balance + d.amount, life_time_value = b.life_time_value + d.credit
       FROM ledger_d d WHERE b.user_id = d.user_id AND b.account = d.account${owner ? ` AND b.user_id = ${owner}` : ''}
       RETURNING b.user_id, b.account, b.life_time_value
     ), ledger_b AS (
       INSERT INTO balances (user_id, account, retailer_id, balance, life_time_value, first_used_at)
       SELECT d.user_id, d.account, d.retailer_id, d.amount, d.credit, d.recorded_at FROM ledger_d d
       WHERE NOT EXISTS (SELECT 1 FROM ledger_u u WHERE u.user_id = d.user_id AND u.account = d.account)
     ), ledger_s AS (
       -- Issue #15: the members' stored standings are stale from this statement on.
       ${standingInvalidation('SELECT user_id, retailer_id FROM ledger_j')}
     )`;
}

/**
 * Writes one journal, its postings and the member balances they move, in one statement (one round
 * trip). The postings must sum to zero; balances refuse to go below zero by constraint.
 */
export async function insertJournal(tx: Tx, j: JournalInput): Promise<void> {
  await insertJournals(tx, [j]);
}

/**
 * Writes one member's journals with their postings and balances, and the outbox rows of the change
 * (issue #17), in one statement: a deposit, a spend or a cash-out is one round trip (issue #15).
 */
export async function insertJournals(
  tx: Tx,
  journals: readonly JournalInput[],
  events: readonly EventInput[] = [],
): Promise<void> {
  if (!journals.length) return insertEvents(tx, events);
  const owner = journals[0]!.user_id;
  if (journals.some((j) => j.user_id !== owner)) throw new Error('insertJournals writes one member');
  const parts = [journalWrites('$1', '$2', '$3::uuid')];
  const params: unknown[] = [...journalParams(journals), owner];
  if (events.length) {
    parts.push(outboxWrites('$4', '$5::uuid[]'));
    params.push(eventsParam(events), eventOwners(events));
  }
  await tx.query(`WITH ${parts.join(', ')} SELECT 1`, params);
}

export interface BalanceRow {
  account: string;
  balance: number;
  life_time_value: number;
}

export interface DueRow {
  account: EscrowRole;
  matures_at: Date;
  due: number;
}

/** What the cash-out plan of a member starts from (DESIGN §7). */
export interface CashOutState {
  /** The last period end settled for the member, or when the member was created. */
  since: Date;
  /** An erased profile keeps its ledger but is never cashed out (docs/cash-out.md). */
  deleted: boolean;
}

/** What `readBalances` answers: the balances as materialised, what is due by the instant, the cash-out state. */
export interface LedgerRead {
  balances: BalanceRow[];
  due: DueRow[];
  cashOut: CashOutState | undefined;
}

/**
 * A member's materialised balances and, in the same round trip, the escrow still waiting in lots
 * that have matured by `at` but not yet been rolled over (DESIGN §5 as-of reads), by maturation
 * instant, and where the member's cash-outs stand (the `w` row carries it as epoch milliseconds).
 */
export async function readBalances(db: Queryable, userId: string, at: Date): Promise<LedgerRead> {
  const rows = await db.query<{
    kind: 'b' | 'd' | 'w';
    account: string;
    balance: number;
    life_time_value: number;
    at_ms: number | null;
  }>(
    `SELECT 'b' AS kind, account, balance, life_time_value, NULL::bigint AS at_ms FROM balances WHERE user_id = $1
     UNION ALL
     SELECT 'd', account, sum(remaining)::bigint, 0, (extract(epoch FROM matures_at) * 1000)::bigint FROM lots
     WHERE user_id = $1 AND rolled_over_at IS NULL AND matures_at <= $2 AND remaining > 0
     GROUP BY account, matures_at
     UNION ALL
     SELECT 'w', CASE WHEN deleted_at IS NULL THEN 'active' ELSE 'deleted' END, 0, 0,
            (extract(epoch FROM coalesce(cashed_out_through, created_at)) * 1000)::bigint
     FROM users WHERE id = $1`,
    [userId, at],
  );
  const w = rows.find((r) => r.kind === 'w');
  return {
    balances: rows.filter((r) => r.kind === 'b'),
    due: rows
      .filter((r) => r.kind === 'd')
      .map((r) => ({
        account: r.account as EscrowRole,
        matures_at: new Date(Number(r.at_ms)),
        due: r.balance,
      })),
    cashOut: w ? { since: new Date(Number(w.at_ms)), deleted: w.account === 'deleted' } : undefined,
  };
}

/** Records that every period ending by `through` is settled for the member (its standing is stale then). */
export async function setCashedOutThrough(tx: Tx, userId: string, through: Date): Promise<void> {
  await tx.query(
    `WITH u AS (UPDATE users SET cashed_out_through = $2 WHERE id = $1 RETURNING id AS user_id, retailer_id),
     s AS (${standingInvalidation('SELECT user_id, retailer_id FROM u')})
     SELECT 1`,
    [userId, through],
  );
}

export interface LotRow {
  id: string;
  purchase_id: string;
  account: EscrowRole;
  amount: number;
  remaining: number;
  matures_at: Date;
  rolled_over_at: Date | null;
  /**
   * A due Spendable Escrow lot's purchase's recorded precision (`dueStateColumns` reads it, for
   * the `points.rolled_over` event in points; issue #14 item 3); null or absent: whole points.
   */
  spendable_precision?: number | null;
}

/** A lot as `LOT_JSON` carries it inside a JSON answer: instants as epoch milliseconds. */
export type JsonLot = Omit<LotRow, 'matures_at' | 'rolled_over_at'> & {
  matures_ms: number;
  rolled_ms: number | null;
};

export const LOT_JSON = `json_build_object('id', id, 'purchase_id', purchase_id, 'account', account, 'amount', amount,
  'remaining', remaining, 'matures_ms', (extract(epoch FROM matures_at) * 1000)::bigint,
  'rolled_ms', (extract(epoch FROM rolled_over_at) * 1000)::bigint)`;

export const lotOf = ({ matures_ms, rolled_ms, ...l }: JsonLot): LotRow => ({
  ...l,
  matures_at: new Date(Number(matures_ms)),
  rolled_over_at: rolled_ms === null ? null : new Date(Number(rolled_ms)),
});

/** What a member's settlement starts from: the lots due by an instant, and where cash-outs stand. */
export interface DueState {
  lots: LotRow[];
  cashOut: CashOutState | undefined;
}

/** Where a member's cash-outs stand, as `cashOutColumn` carries it inside a JSON answer. */
export type CashOutJson = { since_ms: number; deleted: boolean } | null;

/** A scalar subquery giving, as JSON, where the member (an SQL expression of its id) stands in cash-outs. */
export function cashOutColumn(userId: string): string {
  return `(SELECT json_build_object(
            'since_ms', (extract(epoch FROM coalesce(cashed_out_through, created_at)) * 1000)::bigint,
            'deleted', deleted_at IS NOT NULL) FROM users WHERE id = ${userId})`;
}

export const cashOutOf = (c: CashOutJson): CashOutState | undefined =>
  c ? { since: new Date(Number(c.since_ms)), deleted: c.deleted } : undefined;

/** The columns `dueStateColumns` reads, as they arrive. */
export interface DueStateJson {
  due: JsonLot[];
  cash_out: CashOutJson;
}

/**
 * The select-list of what a member's settlement starts from (`DueState`): the member's lots matured
 * by `at` that wait to roll over, oldest first, and the cash-out state; `userId` and `at` are SQL
 * expressions. Read under the member's lock, which every change of those lots holds.
 */
export function dueStateColumns(userId: string, at: string): string {
  // A Spendable Escrow lot carries its purchase's precision (issue #14 item 3), read on the member's shard.
  return `(SELECT coalesce(json_agg(${LOT_JSON}::jsonb || jsonb_build_object('spendable_precision',
            CASE WHEN account = 'spendable_escrow' THEN (SELECT (p.award->>'spendable_precision')::int FROM purchases p
              WHERE p.user_id = ${userId} AND p.id = lots.purchase_id) END) ORDER BY matures_at, id), '[]') FROM lots
          WHERE user_id = ${userId} AND rolled_over_at IS NULL AND matures_at <= ${at}) AS due,
          ${cashOutColumn(userId)} AS cash_out`;
}

export const dueStateOf = (r: DueStateJson): DueState => ({
  lots: r.due.map(lotOf),
  cashOut: cashOutOf(r.cash_out),
});

/** The member's `DueState` in one round trip, under the member's lock. */
export async function readDueState(tx: Tx, userId: string, at: Date): Promise<DueState> {
  const rows = await tx.query<DueStateJson>(`SELECT ${dueStateColumns('$1', '$2')}`, [userId, at]);
  return dueStateOf(rows[0]!);
}

/** A batch member as the bulk rollover needs it: its lock taken, where its cash-outs stand. */
export interface LockedOwner extends CashOutState {
  id: string;
  retailer_id: string;
}

/** What a sweep locks of each ledger owner (`LockedOwner`), the row being `u`. */
const OWNER_COLUMNS = `u.id, u.retailer_id, coalesce(u.cashed_out_through, u.created_at) AS since,
  u.deleted_at IS NOT NULL AS deleted`;

/**
 * Locks the ledger owners of a sweep batch in id order (so two lockers of overlapping sets never
 * deadlock, and a purchase, which locks one member, simply waits), deleted ones too, like
 * `lockLedgerOwner`, with where each one's cash-outs stand. One statement per member: a lock
 * never spans two members' shards (issue #19).
 */
export async function lockLedgerOwners(tx: Tx, userIds: readonly string[]): Promise<LockedOwner[]> {
  const owners: LockedOwner[] = [];
  for (const id of [...userIds].sort()) {
    const rows = await tx.query<LockedOwner>(
      `SELECT ${OWNER_COLUMNS} FROM users u WHERE u.id = $1 FOR UPDATE`,
      [id],
    );
    owners.push(...rows);
  }
  return owners;
}

/**
 * `lockLedgerOwners` in one statement (`lockUsersAtOnce`), for one PostgreSQL server (issue #16: a
 * sweep batch of 500 members spent a sixth of its time in 500 round trips of one lock each).
 */
export function lockLedgerOwnersAtOnce(tx: Tx, userIds: readonly string[]): Promise<LockedOwner[]> {
  return lockUsersAtOnce<LockedOwner>(tx, userIds, OWNER_COLUMNS);
}

/**
 * Many lots' rollovers in one statement: their journals (as `insertJournal` writes each), the
 * balances they move, and every lot of `lots` marked rolled over (those left holding nothing have
 * no journal). The owners must be locked. With `owner`, every lot is that member's and the
 * statement stays on the member's shard.
 */
export async function writeRollovers(
  tx: Tx,
  lots: readonly { id: string; user_id: string }[],
  rollovers: readonly JournalInput[],
  now: Date,
  /** Their `points.rolled_over` events (issue #17), written in the same statement. */
  events: readonly EventInput[] = [],
  /** The one member whose lots these are, when there is one: the statement then names one shard. */
  owner?: string,
): Promise<void> {
  await tx.query(
    `WITH ${journalWrites('$1', '$2', owner ? '$5::uuid' : 'ANY($5::uuid[])')}, rolled AS (
       UPDATE lots SET rolled_over_at = $3, remaining = 0
       WHERE user_id = ${owner ? '$5' : 'ANY($5::uuid[])'} AND id = ANY($4::uuid[])
     ), ${outboxWrites('$6', owner ? 'ARRAY[$5::uuid]' : '$5::uuid[]')}
     SELECT 1`,
    [
      ...journalParams(rollovers),
      now,
      lots.map((l) => l.id),
      owner ?? [...new Set(lots.map((l) => l.user_id))],
      eventsParam(events),
    ],
  );
}

/**
 * A UUIDv7 (as `newId` makes) from an SQL expression of an instant: its milliseconds in the first
 * 48 bits, version 7, the rest random (gen_random_uuid's version-4 bits already carry the variant).
 */
const sqlIdAt = (at: string) =>
  `overlay(overlay(replace(gen_random_uuid()::text, '-', '')
     placing lpad(to_hex((extract(epoch FROM ${at}) * 1000)::bigint), 12, '0') from 1 for 12)
     placing '7' from 13 for 1)::uuid`;

/**
 * The set-based sweep (issue #16): every lot of the members `userIds` matured by `at` rolled over
 * in one statement, each purchase's lots by one journal effective at their maturation instant
 * (DESIGN §4), written by `journalWrites` as every ledger writer is; the lots are marked rolled over.
 * Lots change only under their member's lock, so the members must be locked (in the member lock
 * order, `lockLedgerOwners`); the lots need no lock of their own. Answers the lots and members.
 */
export async function rollOverDueLots(
  tx: Tx,
  userIds: readonly string[],
  at: Date,
  /** The members live whole on one server (`isOneServer`): no shard to keep the statement on. */
  opts: { oneServer?: boolean } = {},
): Promise<{
  lots: number;
  members: number;
  tier: RolledTier[];
}> {
  // Laid out by member (Citus, or partitioned as Citus distributes them), every member table is
  // reached with the batch named, so the statement stays on the batch's shards (issue #19). On one
  // server the batch is already in each join's key, and naming it again costs the index: PostgreSQL
  // costs `user_id = ANY(batch) AND user_id = x.user_id` as one index descent per batch member
  // for every row, so it scanned the whole of `balances` instead of reaching the batch's rows
  // through the primary key, and the estimate (500,000 at 500 members) had the statement JIT-compiled,
  // more than a second per batch (issue #16, docs/benchmarks.md).
  const batch = (column: string) => (opts.oneServer ? '' : `${column} = ANY($1::uuid[]) AND `);
  const rows = await tx.query<{
    lots: number;
    members: number;
    tier: RolledTier[];
  }>(
    `WITH due AS (
       SELECT user_id, retailer_id, purchase_id, account, remaining, matures_at FROM lots
       WHERE user_id = ANY($1::uuid[]) AND rolled_over_at IS NULL AND matures_at <= $2
     ), rolled AS (
       UPDATE lots SET rolled_over_at = $2, remaining = 0
       WHERE user_id = ANY($1::uuid[]) AND rolled_over_at IS NULL AND matures_at <= $2
     ), pj AS MATERIALIZED (
       SELECT ${sqlIdAt('matures_at')} AS id, user_id, retailer_id, purchase_id, matures_at,
              coalesce(sum(remaining) FILTER (WHERE account = 'spendable_escrow'), 0)::bigint AS s,
              coalesce(sum(remaining) FILTER (WHERE account = 'tier_escrow'), 0)::bigint AS t
       FROM due WHERE remaining > 0 GROUP BY user_id, retailer_id, purchase_id, matures_at
     ), pl AS (
       SELECT pj.id AS journal_id, row_number() OVER (PARTITION BY pj.id ORDER BY x.line) AS line,
              x.account, x.amount
       FROM pj CROSS JOIN LATERAL (VALUES (1, 'spendable_escrow', -pj.s), (2, 'spendable', pj.s),
         (3, 'tier_escrow', -pj.t), (4, 'tier', pj.t)) AS x(line, account, amount)
       WHERE x.amount <> 0
     ), ${journalWrites(
       `(SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'retailer_id', retailer_id, 'user_id', user_id,
           'kind', 'rollover', 'effective_at', matures_at, 'recorded_at', $2::timestamptz, 'purchase_id', purchase_id,
           'details', jsonb_build_object('reason', 'escrow period ended'))), '[]') FROM pj)`,
       `(SELECT coalesce(jsonb_agg(jsonb_build_object('journal_id', journal_id, 'line', line, 'account', account,
           'amount', amount)), '[]') FROM pl)`,
       // The batch's members: the balances are reached on their shards only (issue #19).
       opts.oneServer ? undefined : 'ANY($1::uuid[])',
     )}, outbox_rolled AS (
       -- One points.rolled_over event per purchase (issue #17), in the statement of the rollover.
       INSERT INTO events (user_id, id, retailer_id, type, created_at, effective_at, data)
       -- In points: a purchase whose award records precision 2 posted hundredths (issue #14 item 3).
       SELECT pj.user_id, ${sqlIdAt('$2::timestamptz')}, pj.retailer_id, 'points.rolled_over', $2, pj.matures_at,
              jsonb_build_object('user_id', pj.user_id, 'purchase_id', pj.purchase_id,
                'matured_at', to_char(pj.matures_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'points', jsonb_build_object('spendable',
                  CASE WHEN pj.s <> 0 AND (SELECT pu.award->>'spendable_precision' FROM purchases pu
                         WHERE ${batch('pu.user_id')}pu.user_id = pj.user_id AND pu.id = pj.purchase_id) = '2'
                       THEN to_jsonb(trim_scale(pj.s / 100.0)) ELSE to_jsonb(pj.s) END,
                  'tier_qualifying', pj.t))
              || coalesce((SELECT jsonb_build_object('external_id', u.external_id) FROM users u
                           WHERE ${batch('u.id')}u.id = pj.user_id AND u.external_id IS NOT NULL), '{}'::jsonb)
       FROM pj ORDER BY pj.user_id, pj.matures_at, pj.purchase_id
     )
     SELECT count(*)::int AS lots, count(DISTINCT user_id)::int AS members,
            (SELECT coalesce(json_agg(json_build_object('user_id', x.user_id, 'retailer_id', x.retailer_id,
                      'at_ms', (extract(epoch FROM x.matures_at) * 1000)::bigint,
                      'tier_credits', coalesce(u.life_time_value, d.credit, 0),
                      'moved', EXISTS (SELECT 1 FROM tier_moves m
                                       WHERE ${batch('m.user_id')}m.user_id = x.user_id))), '[]')
             FROM (SELECT DISTINCT user_id, retailer_id, matures_at FROM due
                   WHERE account = 'tier_escrow' AND remaining > 0) x
             -- Tier Qualifying points ever credited, these rollovers included: the balance row as
             -- this statement updated it, or as it inserted it.
             LEFT JOIN ledger_u u ON u.user_id = x.user_id AND u.account = 'tier'
             LEFT JOIN ledger_d d ON d.user_id = x.user_id AND d.account = 'tier') AS tier
     FROM due`,
    [userIds, at],
  );
  return rows[0] ?? { lots: 0, members: 0, tier: [] };
}

/** A Tier Qualifying rollover of a bulk rollover: when, and what could make it move a tier. */
export interface RolledTier {
  user_id: string;
  retailer_id: string;
  at_ms: number;
  /** Tier Qualifying points ever credited to the member, these rollovers included. */
  tier_credits: number;
  /** The member has tier moves (manual, imported): a level not reached by tier points. */
  moved: boolean;
}

/** Materialised balance of one member account inside the transaction (0 when never used). */
export async function balanceOf(tx: Tx, userId: string, account: string): Promise<number> {
  const rows = await tx.query<{ balance: number }>(
    'SELECT balance FROM balances WHERE user_id = $1 AND account = $2',
    [userId, account],
  );
  return rows[0]?.balance ?? 0;
}

/**
 * Whether any member of the retailer has used one of `accounts` (a balance row is written with the
 * account's first posting and never removed): an account's precision may change only before then
 * (issue #14 item 3). Rare, an admin's program change, so a scan is acceptable.
 */
export async function retailerUsedAccounts(
  db: Queryable,
  retailerId: string,
  accounts: readonly string[],
): Promise<boolean> {
  const rows = await db.query<{ used: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM balances WHERE retailer_id = $1 AND account = ANY($2::text[])) AS used',
    [retailerId, accounts],
  );
  return rows[0]?.used === true;
}

/**
 * Up to `limit` members with lots matured by `at` that wait to roll over, taken from the oldest due
 * lots through `lots_due_idx`, so a batch reads about `limit` index entries however large the
 * backlog. `skip` leaves out members a sweep already failed on, so it cannot loop on them;
 * `partition` keeps to one of `lanes` disjoint sets of members (by a hash of the id), so lanes
 * settling side by side never wait for each other's member locks.
 */
export async function findDueMembers(
  db: Queryable,
  at: Date,
  limit: number,
  skip: readonly string[] = [],
  partition: { lane: number; lanes: number } = { lane: 0, lanes: 1 },
): Promise<string[]> {
  const rows = await db.query<{ user_id: string }>(
    `SELECT DISTINCT user_id FROM (
       SELECT user_id FROM lots
       WHERE rolled_over_at IS NULL AND matures_at <= $1 AND user_id <> ALL($3::uuid[])
         AND ($5::int = 1 OR (hashtext(user_id::text) & 2147483647) % $5::int = $4::int)
       ORDER BY matures_at LIMIT $2
     ) due ORDER BY user_id`,
    [at, limit, skip, partition.lane, partition.lanes],
  );
  return rows.map((r) => r.user_id);
}

/**
 * Locks a ledger owner's row for the rest of the transaction, the same row every mutation of the
 * member locks (DESIGN §9). Unlike `lockUserById` it also finds deleted users: an erased profile
 * keeps its ledger, and its lots still roll over. Undefined only if no such row exists.
 */
export async function lockLedgerOwner(tx: Tx, userId: string): Promise<{ retailer_id: string } | undefined> {
  const rows = await tx.query<{ retailer_id: string }>(
    'SELECT retailer_id FROM users WHERE id = $1 FOR UPDATE',
    [userId],
  );
  return rows[0];
}

/**
 * The member's Tier Qualifying balance of the qualifying year that began at `yearStart` (DESIGN §6:
 * the account resets to 0 on 1 January in the program's zone). The materialised `tier` balance
 * keeps earlier years, so anything that takes tier points away (a late return's clawback, a spend)
 * measures "down to zero" against this instead. Tier postings never take a year below zero, so the
 * plain sum of the year's postings is the year's balance.
 */
export async function tierYearBalance(tx: Queryable, userId: string, yearStart: Date): Promise<number> {
  const rows = await tx.query<{ balance: number }>(
    `SELECT coalesce(sum(p.amount), 0)::bigint AS balance
     FROM postings p JOIN journals j ON j.user_id = p.user_id AND j.id = p.journal_id
     WHERE p.user_id = $1 AND j.user_id = $1 AND p.account = 'tier' AND j.effective_at >= $2`,
    [userId, yearStart],
  );
  return Math.max(0, rows[0]?.balance ?? 0);
}
