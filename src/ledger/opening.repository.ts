import type { Queryable, Tx } from '../db/database.js';
import type { OpeningPosition } from '../domain/opening.js';
import { programAtColumn, programOf, type ProgramJson } from '../program/program.repository.js';
import type { ProgramVersionRow } from '../program/program.repository.js';
import { memberIdOfKey, type MemberKey } from '../purchases/purchase.repository.js';
import {
  memberLedgerColumn,
  memberLedgerOf,
  type MemberLedger,
  type MemberLedgerJson,
  type TierMoveRow,
} from '../tiers/tier.repository.js';
import { journalParams, journalWrites, type JournalInput } from './ledger.repository.js';

/**
 * The SQL of a batched import of opening positions (issue #16): the rows' contexts read together
 * before their batch, what each needs read under the batch's member locks in one statement, and
 * the batch's openings written in one.
 */

/** What a group of opening rows needs before its batch: the programs and each row's member. */
export interface OpeningContexts {
  /** The program version in force at the cut-over. */
  program: ProgramVersionRow | undefined;
  /** The version in force at `now`, when `now` is after the cut-over (else the same one). */
  programNow: ProgramVersionRow | undefined;
  /** Per key, in order: the live member it names in the retailer, if any. */
  memberIds: (string | undefined)[];
}

/**
 * The program in force at `cutover` and at `now`, and the live member each key names (as
 * `findMemberId` finds it), in one statement. A key that is undefined names nobody.
 */
export async function readOpeningContexts(
  db: Queryable,
  retailerId: string,
  cutover: Date,
  now: Date,
  keys: readonly (MemberKey | undefined)[],
): Promise<OpeningContexts> {
  const rows = await db.query<{
    program: ProgramJson | null;
    program_now: ProgramJson | null;
    member_id: string | null;
  }>(
    `SELECT CASE WHEN k.i = 1 THEN ${programAtColumn('$1', '$2')} END AS program,
       CASE WHEN k.i = 1 AND $3::timestamptz > $2::timestamptz THEN ${programAtColumn('$1', '$3')} END AS program_now,
       m.id AS member_id
     FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS k(key_type, key_id, i)
     CROSS JOIN LATERAL (SELECT ${memberIdOfKey('$1', 'k.key_type', 'k.key_id')} AS id) m
     ORDER BY k.i`,
    [retailerId, cutover, now, keys.map((k) => k?.type ?? null), keys.map((k) => k?.id ?? null)],
  );
  const first = rows[0];
  const program = first?.program ? programOf(first.program) : undefined;
  return {
    program,
    programNow: now > cutover ? (first?.program_now ? programOf(first.program_now) : undefined) : program,
    memberIds: rows.map((r) => r.member_id ?? undefined),
  };
}

/** What an opening row reads under its member's lock. */
export interface OpeningToRead {
  userId: string;
  /** The instant to read the member's ledger at (the cut-over), or null: the ledger is not needed. */
  ledgerAt: Date | null;
}

/** What a member's account holds: its balance and the sum of its credits (`balances`). */
export interface Held {
  balance: number;
  life_time_value: number;
}

/** The member's opening position already posted, what its accounts hold, and its ledger when asked for. */
export interface OpeningState {
  prior: OpeningPosition | undefined;
  /**
   * The member's Spendable and Tier Qualifying balances before the opening (none: nothing held),
   * each with what waits in its escrow account: those points roll into it later, crediting it.
   */
  held: { spendable?: Held; tier?: Held };
  ledger: MemberLedger | undefined;
}

/**
 * For each item, in one statement: the opening position already posted for the member, what its
 * Spendable and Tier Qualifying accounts hold, and the member's ledger as `readMemberLedger` reads
 * it at `ledgerAt`. The members must be locked.
 */
export async function readOpeningStates(
  tx: Tx,
  items: readonly OpeningToRead[],
  openingKey: string,
): Promise<OpeningState[]> {
  const rows = await tx.query<{
    prior: OpeningPosition | null;
    held: OpeningState['held'] | null;
    ledger: MemberLedgerJson | null;
  }>(
    `SELECT (SELECT j.details->'position' FROM journals j
              WHERE j.user_id = k.user_id AND j.idempotency_key = $3) AS prior,
            (SELECT json_object_agg(h.role, json_build_object('balance', h.balance,
                      'life_time_value', h.credits))
             FROM (SELECT CASE WHEN b.account LIKE 'spendable%' THEN 'spendable' ELSE 'tier' END AS role,
                          sum(b.balance) AS balance,
                          sum(CASE WHEN b.account IN ('spendable_escrow', 'tier_escrow') THEN b.balance ELSE b.life_time_value END)
                            AS credits
                   FROM balances b
                   WHERE b.user_id = k.user_id
                     AND b.account IN ('spendable', 'spendable_escrow', 'tier', 'tier_escrow')
                   GROUP BY 1) h) AS held,
            CASE WHEN k.at IS NOT NULL THEN ${memberLedgerColumn('k.user_id', 'k.at')} END AS ledger
     FROM unnest($1::uuid[], $2::timestamptz[]) WITH ORDINALITY AS k(user_id, at, i)
     ORDER BY k.i`,
    [items.map((i) => i.userId), items.map((i) => i.ledgerAt), openingKey],
  );
  return rows.map((r) => ({
    prior: r.prior ?? undefined,
    held: r.held ?? {},
    ledger: r.ledger ? memberLedgerOf(r.ledger) : undefined,
  }));
}

/** One member's opening: its journal and, for a tier above the floor, its tier move. */
export interface OpeningWrite {
  journal: JournalInput;
  move: TierMoveRow | undefined;
}

/**
 * Writes openings in one statement: their journals with postings and balances, as every ledger
 * writer does (`journalWrites`), and their tier moves. Each opening has a journal, whose write
 * marks its member's stored standing stale (issue #15), the tier move's change included.
 */
export async function writeOpenings(tx: Tx, writes: readonly OpeningWrite[]): Promise<void> {
  const owners = new Set(writes.map((w) => w.journal.user_id));
  // One member: the balances are reached by its id (`journalWrites`).
  const owner = owners.size === 1 ? '$4::uuid' : undefined;
  await tx.query(
    `WITH ${journalWrites('$1', '$2', owner)}, opening_moves AS (
       INSERT INTO tier_moves (id, retailer_id, user_id, tier_system_id, tier_level_id, effective_at, recorded_at, actor,
         reason, holds_until)
       SELECT id, retailer_id, user_id, tier_system_id, tier_level_id, effective_at, recorded_at, actor, reason,
         holds_until
       FROM jsonb_populate_recordset(NULL::tier_moves, $3::jsonb)
     )
     SELECT 1`,
    [
      ...journalParams(writes.map((w) => w.journal)),
      JSON.stringify(
        writes.flatMap((w) => (w.move ? [{ ...w.move, holds_until: w.move.holds_until ?? null }] : [])),
      ),
      ...(owner ? [[...owners][0]] : []),
    ],
  );
}
