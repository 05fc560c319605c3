import type { Queryable, Tx } from '../db/database.js';
import type { Award, Basket } from '../domain/earning.js';
import type { EscrowRole, SettledRole } from '../domain/escrow.js';
import {
  LOT_JSON,
  lotOf,
  dueStateColumns,
  dueStateOf,
  type DueState,
  type DueStateJson,
  journalParams,
  journalWrites,
  type JournalInput,
  type JsonLot,
  type LotRow,
} from '../ledger/ledger.repository.js';
import { eventOwners, eventsParam, outboxWrites, type EventInput } from '../events/outbox.repository.js';
import {
  programAtColumn,
  programOf,
  type ProgramJson,
  type ProgramVersionRow,
} from '../program/program.repository.js';

export interface PurchaseRow {
  id: string;
  retailer_id: string;
  transaction_id: string;
  /**
   * The purchase's owner, the member it is distributed with (migration 0011): the member it names,
   * or, for a purchase of no known member, the purchase itself (`user_id = id`). `memberOf` says
   * who earned it.
   */
  user_id: string;
  store_id: string | null;
  purchase_time: Date;
  program_version: number;
  basket: Basket;
  award: Award;
  not_awarded_reason: string | null;
  revision: number;
  /** What late returns could not take back and later credits have not yet repaid (DESIGN §4). */
  shortfall: Partial<Record<SettledRole, number>>;
  /**
   * A purchase imported with `--history-only` (issue #16): what it earned on the old platform,
   * whose points are in the member's opening balance. Null or absent for every other purchase.
   */
  earned_elsewhere?: Partial<Record<SettledRole, number>> | null;
  created_at: Date;
  updated_at: Date;
}

/** The member a purchase credits: its owner, unless no known member made it (DESIGN §4). */
export const memberOf = (p: Pick<PurchaseRow, 'user_id' | 'not_awarded_reason'>): string | null =>
  p.not_awarded_reason === 'member_not_found' ? null : p.user_id;

/**
 * How many of a member's purchases other than `exceptPurchaseId` hold points from a campaign now:
 * their award lists it (an award lists only campaigns with points > 0). Read under the member's
 * lock, the lock every change to those purchases takes (issue #5 per-member limit).
 */
export async function countPurchasesHoldingCampaign(
  tx: Tx,
  userId: string,
  campaignId: string,
  exceptPurchaseId: string,
): Promise<number> {
  const rows = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM purchases
     WHERE user_id = $1 AND id <> $2 AND award->'campaigns' @> $3::jsonb`,
    [userId, exceptPurchaseId, JSON.stringify([{ campaign_id: campaignId }])],
  );
  return rows[0]?.n ?? 0;
}

export interface PosRequestRow {
  body_hash: string;
  response: unknown;
}

/**
 * The stored answer of (`request_id`, `transaction_id`) (DESIGN §4: the key includes the
 * transaction), on the shard of the transaction's owner (migration 0011).
 */
export async function findPosRequest(
  db: Queryable,
  ownerId: string,
  retailerId: string,
  requestId: string,
  transactionId: string,
): Promise<PosRequestRow | undefined> {
  const rows = await db.query<PosRequestRow>(
    `SELECT body_hash, response FROM pos_requests
     WHERE user_id = $1 AND retailer_id = $2 AND request_id = $3 AND transaction_id = $4`,
    [ownerId, retailerId, requestId, transactionId],
  );
  return rows[0];
}

/** How a transaction names its member (`user_id_type`), resolved to one lookup. */
export type MemberKey = { type: 'SessionM_ID' | 'external_id' | 'email'; id: string };

/**
 * A retailer's transaction id as claimed in `transaction_keys` (migration 0011): the purchase it
 * is, and the owner whose shard holds it. A claim is made before the purchase is written, in a
 * statement of its own, so a claim may name a purchase not written yet (its first send failed):
 * the next send writes it there.
 */
export interface TransactionClaim {
  user_id: string;
  purchase_id: string;
}

/** What a send needs before its transaction, read in one round trip (issue #8). */
export interface SendContext {
  /** The program version in force at the read's instant. */
  program: ProgramVersionRow | undefined;
  /** The member the transaction names, if it is a live profile of the retailer. */
  memberId: string | undefined;
  /** The claim of the transaction id, if any. */
  claim: TransactionClaim | undefined;
  /** The instant of the member's opening position, when asked for and one was imported (issue #16). */
  openingAt?: Date | undefined;
}

/** One lookup step each (migration 0011): the member's shard is then known. */
const MEMBER_BY: Record<MemberKey['type'], string> = {
  SessionM_ID: `SELECT u.id FROM users u WHERE u.retailer_id = $1 AND u.id = $4::uuid AND u.deleted_at IS NULL`,
  external_id: `SELECT user_id AS id FROM member_external_ids WHERE external_id = $4 AND retailer_id = $1`,
  email: `SELECT user_id AS id FROM member_emails WHERE email_key = lower($4) AND retailer_id = $1`,
};

/**
 * `findMemberId` as an SQL expression, for statements that look up many keys at once: the live
 * member of the retailer that the key (`type`, `id`: SQL expressions of text) names, or NULL. A
 * SessionM id must be a UUID (the cast fails otherwise).
 */
export function memberIdOfKey(retailerId: string, type: string, id: string): string {
  return `CASE ${type}
         WHEN 'SessionM_ID' THEN (SELECT u.id FROM users u
           WHERE u.retailer_id = ${retailerId} AND u.id = ${id}::uuid AND u.deleted_at IS NULL)
         WHEN 'external_id' THEN (SELECT user_id FROM member_external_ids
           WHERE external_id = ${id} AND retailer_id = ${retailerId})
         WHEN 'email' THEN (SELECT user_id FROM member_emails WHERE email_key = lower(${id}) AND retailer_id = ${retailerId})
       END`;
}

/** The live member a key names in the retailer, as a till's transaction would find it. */
export async function findMemberId(
  db: Queryable,
  retailerId: string,
  member: MemberKey,
): Promise<string | undefined> {
  const rows = await db.query<{ id: string }>(MEMBER_BY[member.type].replaceAll('$4', '$2'), [
    retailerId,
    member.id,
  ]);
  return rows[0]?.id;
}

/**
 * The program version in force at `at`, the member and the claim of the transaction id, together.
 * Nothing is locked: the claim decides the owner, and the send re-reads the rest under its locks.
 */
export async function readSendContext(
  db: Queryable,
  retailerId: string,
  transactionId: string,
  member: MemberKey | undefined,
  at: Date,
): Promise<SendContext> {
  const rows = await db.query<{
    program: ProgramJson | null;
    member_id: string | null;
    claim: TransactionClaim | null;
  }>(
    `SELECT
       ${programAtColumn('$1', '$3')} AS program,
       (${member ? MEMBER_BY[member.type] : 'SELECT NULL::uuid WHERE $4::text IS NULL'}) AS member_id,
       (SELECT json_build_object('user_id', user_id, 'purchase_id', purchase_id) FROM transaction_keys
        WHERE transaction_id = $2 AND retailer_id = $1) AS claim`,
    [retailerId, transactionId, at, member?.id ?? null],
  );
  const r = rows[0]!;
  return {
    program: r.program ? programOf(r.program) : undefined,
    memberId: r.member_id ?? undefined,
    claim: r.claim ?? undefined,
  };
}

/** One send's part of `readSendContexts`. */
export interface SendToRead {
  transactionId: string;
  key: MemberKey | undefined;
}

/**
 * `readSendContext` for many sends of one retailer at one instant, in one statement (issue #16: an
 * import reads its rows' contexts a batch at a time): the program once, and each send's member,
 * claim and, with `openingKey`, opening instant, in the order given. One server only: it joins
 * the lookup tables and the members' journals in one statement.
 */
export async function readSendContexts(
  db: Queryable,
  retailerId: string,
  at: Date,
  sends: readonly SendToRead[],
  openingKey?: string,
): Promise<SendContext[]> {
  const rows = await db.query<{
    program: ProgramJson | null;
    member_id: string | null;
    claim: TransactionClaim | null;
    opening_at: Date | string | null;
  }>(
    `SELECT CASE WHEN k.i = 1 THEN ${programAtColumn('$1', '$2')} END AS program, m.id AS member_id,
       (SELECT json_build_object('user_id', user_id, 'purchase_id', purchase_id) FROM transaction_keys t
         WHERE t.transaction_id = k.transaction_id AND t.retailer_id = $1) AS claim,
       CASE WHEN $6::text IS NOT NULL THEN
         (SELECT effective_at FROM journals j WHERE j.user_id = m.id AND j.idempotency_key = $6) END AS opening_at
     FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS k(transaction_id, key_type, key_id, i)
     CROSS JOIN LATERAL (SELECT ${memberIdOfKey('$1', 'k.key_type', 'k.key_id')} AS id) m
     ORDER BY k.i`,
    [
      retailerId,
      at,
      sends.map((s) => s.transactionId),
      sends.map((s) => s.key?.type ?? null),
      sends.map((s) => s.key?.id ?? null),
      openingKey ?? null,
    ],
  );
  const program = rows[0]?.program ? programOf(rows[0].program) : undefined;
  return rows.map((r) => ({
    program,
    memberId: r.member_id ?? undefined,
    claim: r.claim ?? undefined,
    ...(r.opening_at ? { openingAt: new Date(r.opening_at) } : {}),
  }));
}

/**
 * Claims a transaction id for a purchase and its owner, in a statement of its own on the lookup
 * table's shard (no transaction spans two shards: DESIGN §9). False when it was claimed already
 * (by a concurrent send): read the claim again.
 */
export async function claimTransaction(
  db: Queryable,
  retailerId: string,
  transactionId: string,
  claim: TransactionClaim,
  now: Date,
): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO transaction_keys (retailer_id, transaction_id, user_id, purchase_id, created_at)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (transaction_id, retailer_id) DO NOTHING
     RETURNING purchase_id`,
    [retailerId, transactionId, claim.user_id, claim.purchase_id, now],
  );
  return rows.length === 1;
}

/** The purchase under its lock, with its lots and (when it has an owner) what is due to the owner. */
export interface LockedPurchase {
  purchase: PurchaseRow | undefined;
  /** The purchase's escrow lots. */
  lots: LotRow[];
  /** What the owner's settlement starts from: lots due by the instant, where cash-outs stand. */
  due: DueState;
}

/**
 * Locks the purchase of the transaction id on its owner's shard and reads, in the same round trip,
 * its lots, the owner's lots due by `at` and the owner's cash-out state. A member owner's row must already be locked (the previous statement), so those
 * reads see every change made under that lock; lots are changed only under it, so they need no
 * lock of their own.
 */
export async function lockPurchaseWithDue(
  tx: Tx,
  retailerId: string,
  transactionId: string,
  ownerId: string,
  at: Date,
): Promise<LockedPurchase> {
  const rows = await tx.query<LockedPurchaseJson>(
    `WITH p AS (
       SELECT * FROM purchases WHERE user_id = $3 AND retailer_id = $1 AND transaction_id = $2 FOR UPDATE
     )
     SELECT ${lockedPurchaseColumns('(SELECT json_build_object(' + PURCHASE_JSON + ') FROM p)', '(SELECT id FROM p)', '$3', '$4')}`,
    [retailerId, transactionId, ownerId, at],
  );
  return lockedPurchaseOf(rows[0]!);
}

/** What a send locks and reads, one item of `lockPurchasesWithDue`. */
export interface PurchaseToLock {
  retailerId: string;
  transactionId: string;
  ownerId: string;
  at: Date;
}

/**
 * `lockPurchaseWithDue` for many sends of a batch in one statement (issue #15), the purchases
 * locked in (owner, id) order; one answer per send, in order. For one PostgreSQL server, with
 * every member owner already locked: on Citus it would span shards (issue #19). Each owner at
 * most once.
 */
export async function lockPurchasesWithDue(
  tx: Tx,
  sends: readonly PurchaseToLock[],
): Promise<LockedPurchase[]> {
  const rows = await tx.query<LockedPurchaseJson>(
    `WITH k AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS k(i int, retailer_id uuid, transaction_id text, owner uuid,
         at timestamptz)
     ), p AS MATERIALIZED (
       -- Each purchase by its key from the batch's rows, not the owners' purchases filtered: with
       -- "user_id = ANY(owners)" PostgreSQL read every purchase of every owner, so a batch's read grew
       -- with the members' histories (an import of members with hundreds of purchases each).
       SELECT pu.* FROM (SELECT DISTINCT owner, retailer_id, transaction_id FROM k) kk
       JOIN purchases pu
         ON pu.user_id = kk.owner AND pu.retailer_id = kk.retailer_id AND pu.transaction_id = kk.transaction_id
       ORDER BY pu.user_id, pu.id
       FOR UPDATE OF pu
     )
     SELECT ${lockedPurchaseColumns(
       `(SELECT json_build_object(${PURCHASE_JSON}) FROM p WHERE p.user_id = k.owner AND p.transaction_id = k.transaction_id)`,
       '(SELECT p.id FROM p WHERE p.user_id = k.owner AND p.transaction_id = k.transaction_id)',
       'k.owner',
       'k.at',
     )}
     FROM k ORDER BY k.i`,
    [
      JSON.stringify(
        sends.map((s, i) => ({
          i,
          retailer_id: s.retailerId,
          transaction_id: s.transactionId,
          owner: s.ownerId,
          at: s.at,
        })),
      ),
    ],
  );
  return rows.map(lockedPurchaseOf);
}

/** A purchase row as `json_build_object` arguments, over a relation with purchases' columns. */
const PURCHASE_JSON = `'id', id, 'retailer_id', retailer_id, 'transaction_id', transaction_id,
  'user_id', user_id, 'store_id', store_id, 'program_version', program_version, 'basket', basket,
  'award', award, 'not_awarded_reason', not_awarded_reason, 'revision', revision, 'shortfall', shortfall,
  'earned_elsewhere', earned_elsewhere,
  'purchase_ms', (extract(epoch FROM purchase_time) * 1000)::bigint,
  'created_ms', (extract(epoch FROM created_at) * 1000)::bigint,
  'updated_ms', (extract(epoch FROM updated_at) * 1000)::bigint`;

type LockedPurchaseJson = {
  purchase:
    | (Omit<PurchaseRow, 'purchase_time' | 'created_at' | 'updated_at'> & {
        purchase_ms: number;
        created_ms: number;
        updated_ms: number;
      })
    | null;
  lots: JsonLot[];
} & DueStateJson;

/** The select-list of a locked purchase: the purchase (JSON), its lots, what is due to the owner. */
function lockedPurchaseColumns(purchase: string, purchaseId: string, owner: string, at: string): string {
  return `${purchase} AS purchase,
       (SELECT coalesce(json_agg(${LOT_JSON}), '[]') FROM lots
        WHERE user_id = ${owner} AND purchase_id = ${purchaseId}) AS lots,
       ${dueStateColumns(owner, at)}`;
}

function lockedPurchaseOf(r: LockedPurchaseJson): LockedPurchase {
  const p = r.purchase;
  return {
    purchase: p
      ? (({ purchase_ms, created_ms, updated_ms, ...rest }) => ({
          ...rest,
          purchase_time: new Date(Number(purchase_ms)),
          created_at: new Date(Number(created_ms)),
          updated_at: new Date(Number(updated_ms)),
        }))(p)
      : undefined,
    lots: r.lots.map(lotOf),
    due: dueStateOf(r),
  };
}

/** A new escrow lot of a purchase; it starts holding its whole amount. */
export interface NewLot {
  id: string;
  retailer_id: string;
  user_id: string;
  purchase_id: string;
  account: EscrowRole;
  amount: number;
  matures_at: Date;
  created_at: Date;
}

/** Everything a send writes, in one statement. */
export interface PurchaseWrite {
  /** A first send's purchase, or a re-send's new basket and award. */
  insert?: PurchaseRow;
  update?: Pick<PurchaseRow, 'id' | 'basket' | 'award' | 'revision' | 'shortfall' | 'updated_at'>;
  lotInserts: NewLot[];
  /** Changes of what waits in existing lots: an increase also raises the amount. */
  lotChanges: { id: string; delta: number }[];
  /** The journal of the award's change, if it moved points. */
  journal?: JournalInput;
  /** The send's outbox rows (`purchase.posted`, `purchase.adjusted`; issue #17), in the same statement. */
  events?: EventInput[];
  /**
   * A first send's claim of its transaction id, written with its purchase (issue #15), on one
   * PostgreSQL server: a claim made concurrently fails the statement by the claim's key. On Citus
   * the claim is on the lookup table's shard and is written before, in a statement of its own.
   */
  claim?: TransactionClaim & { retailer_id: string; transaction_id: string; created_at: Date };
  /** The stored answer for the request id (DESIGN §4 idempotency, by constraint), with the owner. */
  request: {
    user_id: string;
    retailer_id: string;
    request_id: string;
    transaction_id: string;
    body_hash: string;
    response: unknown;
    created_at: Date;
  };
}

/** Inserts purchases from `source`, rows of the purchases type (one send's or a batch's). */
const PURCHASE_INSERT = (
  source: string,
) => `INSERT INTO purchases (id, retailer_id, transaction_id, user_id, store_id,
         purchase_time, program_version, basket, award, not_awarded_reason, revision, shortfall, earned_elsewhere,
         created_at, updated_at)
       SELECT id, retailer_id, transaction_id, user_id, store_id, purchase_time, program_version,
         basket, award, not_awarded_reason, revision, shortfall, earned_elsewhere, created_at, updated_at
       FROM ${source}`;

/** Inserts new escrow lots (`NewLot`) from a JSON array parameter; each starts holding its amount. */
const LOT_INSERT = (
  lots: string,
) => `INSERT INTO lots (id, retailer_id, user_id, purchase_id, account, amount, remaining,
         matures_at, created_at)
       SELECT id, retailer_id, user_id, purchase_id, account, amount, amount, matures_at, created_at
       FROM jsonb_to_recordset(${lots}::jsonb) AS x(id uuid, retailer_id uuid, user_id uuid, purchase_id uuid,
         account text, amount bigint, matures_at timestamptz, created_at timestamptz)`;

/**
 * Writes a send in one round trip (issue #8; it was up to nine): the purchase, its lots, the
 * journal with its postings and the balances they move (`journalWrites`, as every ledger writer), its
 * outbox rows, and the stored answer. Parts that are absent are empty and write nothing. The member, if any, must be
 * locked.
 */
export async function writePurchase(tx: Tx, w: PurchaseWrite): Promise<void> {
  const j = w.journal;
  await tx.query(
    `WITH ${w.claim ? `${CLAIM_WRITE('$17')}, ` : ''}ins AS (
       ${PURCHASE_INSERT('jsonb_populate_record(NULL::purchases, $1::jsonb) WHERE $1::jsonb IS NOT NULL')}
     ), upd AS (
       UPDATE purchases p SET basket = x.basket, award = x.award, revision = x.revision, shortfall = x.shortfall,
         updated_at = x.updated_at
       -- The purchases row type, not a column list: Citus cannot plan jsonb_to_record's (issue #19).
       FROM jsonb_populate_record(NULL::purchases, $2::jsonb) x
       WHERE p.user_id = $15 AND p.id = x.id
     ), li AS (
       ${LOT_INSERT('$3')}
     ), lc AS (
       -- The purchase's id as a constant: the planner reaches its lots by index whatever it guesses
       -- of the JSON's size (it guesses 100 rows, and scanned small tables).
       UPDATE lots l SET remaining = l.remaining + x.delta, amount = l.amount + greatest(x.delta, 0)
       FROM jsonb_to_recordset($4::jsonb) AS x(id uuid, delta bigint)
       WHERE l.user_id = $15 AND l.purchase_id = $12 AND l.id = x.id
     ), ${journalWrites('$5', '$6', '$13::uuid')}, ${outboxWrites('$16', 'ARRAY[$15::uuid]')}
     INSERT INTO pos_requests (user_id, retailer_id, request_id, transaction_id, body_hash, response, created_at)
     VALUES ($15, $7, $8, $14, $9, $10, $11)`,
    [
      w.insert ? JSON.stringify(w.insert) : null,
      w.update ? JSON.stringify(w.update) : null,
      JSON.stringify(w.lotInserts),
      JSON.stringify(w.lotChanges),
      ...journalParams(j ? [j] : []),
      w.request.retailer_id,
      w.request.request_id,
      w.request.body_hash,
      JSON.stringify(w.request.response),
      w.request.created_at,
      (w.insert ?? w.update)?.id ?? null,
      // The owner also when there is no journal: every part then names one shard (issue #19).
      j?.user_id ?? w.request.user_id,
      w.request.transaction_id,
      w.request.user_id,
      eventsParam(w.events ?? []),
      ...(w.claim ? [JSON.stringify([w.claim])] : []),
    ],
  );
}

/** The `WITH` part that writes claims of transaction ids (`PurchaseWrite.claim`), from a JSON array. */
const CLAIM_WRITE = (claims: string) => `claims AS (
       INSERT INTO transaction_keys (retailer_id, transaction_id, user_id, purchase_id, created_at)
       SELECT retailer_id, transaction_id, user_id, purchase_id, created_at
       FROM jsonb_populate_recordset(NULL::transaction_keys, ${claims}::jsonb)
     )`;

/**
 * Many sends' writes in one statement (issue #15): what `writePurchase` writes for one, for the
 * sends of a batch, each of another owner (a batch writes before the next send of the same
 * owner). For one PostgreSQL server: on Citus the statement would span shards (issue #19). So the
 * rows are reached by their own keys, without the batch's owners as a filter beside them: the
 * planner costs `user_id = ANY(batch) AND user_id = x.user_id` as one index descent per owner for
 * every row, and at an import's batch size then scanned whole tables (as the sweep's statement did).
 */
export async function writePurchases(tx: Tx, writes: readonly PurchaseWrite[]): Promise<void> {
  if (writes.length === 1) return writePurchase(tx, writes[0]!);
  const owner = (w: PurchaseWrite) => w.journal?.user_id ?? w.request.user_id;
  const events = writes.flatMap((w) => w.events ?? []);
  await tx.query(
    `WITH ${CLAIM_WRITE('$10')}, ins AS (
       ${PURCHASE_INSERT('jsonb_populate_recordset(NULL::purchases, $1::jsonb)')}
     ), upd AS (
       UPDATE purchases p SET basket = x.basket, award = x.award, revision = x.revision, shortfall = x.shortfall,
         updated_at = x.updated_at
       FROM jsonb_populate_recordset(NULL::purchases, $2::jsonb) x
       WHERE p.user_id = x.user_id AND p.id = x.id
     ), li AS (
       ${LOT_INSERT('$3')}
     ), lc AS (
       UPDATE lots l SET remaining = l.remaining + x.delta, amount = l.amount + greatest(x.delta, 0)
       FROM jsonb_to_recordset($4::jsonb) AS x(id uuid, user_id uuid, purchase_id uuid, delta bigint)
       WHERE l.user_id = x.user_id AND l.purchase_id = x.purchase_id AND l.id = x.id
     ), ${journalWrites('$5', '$6')}, ${outboxWrites('$7', '$8::uuid[]')}
     INSERT INTO pos_requests (user_id, retailer_id, request_id, transaction_id, body_hash, response, created_at)
     SELECT user_id, retailer_id, request_id, transaction_id, body_hash, response, created_at
     FROM jsonb_populate_recordset(NULL::pos_requests, $9::jsonb)`,
    [
      JSON.stringify(writes.flatMap((w) => (w.insert ? [w.insert] : []))),
      JSON.stringify(writes.flatMap((w) => (w.update ? [{ ...w.update, user_id: owner(w) }] : []))),
      JSON.stringify(writes.flatMap((w) => w.lotInserts)),
      JSON.stringify(
        writes.flatMap((w) =>
          w.lotChanges.map((c) => ({ ...c, user_id: owner(w), purchase_id: (w.insert ?? w.update)?.id })),
        ),
      ),
      ...journalParams(writes.flatMap((w) => (w.journal ? [w.journal] : []))),
      eventsParam(events),
      eventOwners(events),
      JSON.stringify(writes.map((w) => w.request)),
      JSON.stringify(writes.flatMap((w) => (w.claim ? [w.claim] : []))),
    ],
  );
}
