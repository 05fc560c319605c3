import type { Queryable, Tx } from '../db/database.js';
import type { EventType } from '../domain/events.js';
import { newId, stableV7 } from '../domain/ids.js';
import type { TierChange } from '../domain/tiers.js';
import { getProgramAt } from '../program/program.service.js';
import type { ProgramDocument } from '../domain/program.js';
import {
  memberLedgerColumn,
  memberLedgerOf,
  type MemberLedger,
  type MemberLedgerJson,
} from '../tiers/tier.repository.js';
import { tierStandingAt, type MemberEnrollment } from '../tiers/tier.service.js';
import type { EventInput } from './outbox.repository.js';

/**
 * Builds outbox rows (issue #17, docs/events.md). Writers call these inside the transaction of the
 * change and write the rows with it.
 */

/** An event of `type` happening `now` (effective then unless said otherwise). */
export function eventOf(
  type: EventType,
  retailerId: string,
  userId: string | null,
  now: Date,
  data: Record<string, unknown>,
  effectiveAt: Date = now,
): EventInput {
  return {
    id: newId(now.getTime()),
    type,
    retailer_id: retailerId,
    user_id: userId,
    created_at: now,
    effective_at: effectiveAt,
    data,
  };
}

/** Whose tier changes to look for, at which instants. */
export interface TierInstants {
  retailerId: string;
  userId: string;
  instants: readonly Date[];
}

/**
 * The `tier.changed` events of a member's tier changes effective at one of `instants` (issue #17):
 * the instants a write has just made real — the maturation instants of lots it rolled over, the
 * period ends it settled, or its own instant. Each carries its own instant as `effective_at`, so a
 * crossing at a maturation instant reads the same whether the sweeper ran every second or a month
 * later (DESIGN §5). Ids are derived from the change, so a change found twice is written once.
 * Runs under the member's lock, after the write.
 */
export async function tierChangeEvents(
  tx: Tx,
  retailerId: string,
  userId: string,
  instants: readonly Date[],
  now: Date,
): Promise<EventInput[]> {
  return tierChangeEventsOf(tx, [{ retailerId, userId, instants }], now);
}

/**
 * `tierChangeEvents` for many members (a sweep batch): their ledgers in one round trip, the
 * program once per retailer.
 */
export async function tierChangeEventsOf(
  tx: Tx,
  members: readonly TierInstants[],
  now: Date,
): Promise<EventInput[]> {
  const wanted = members.filter((m) => m.instants.length);
  if (!wanted.length) return [];
  const rows = await tx.query<{
    retailer_id: string;
    id: string;
    opted_in: boolean;
    opted_in_at: Date | null;
    ledger: MemberLedgerJson;
  }>(
    // One member (a write's own settlement) by value, so every table is read on its shard (issue #19).
    wanted.length === 1
      ? `SELECT u.retailer_id, u.id, u.opted_in, u.opted_in_at, ${memberLedgerColumn('$1::uuid', '$2')} AS ledger
         FROM users u WHERE u.id = $1::uuid`
      : `SELECT u.retailer_id, u.id, u.opted_in, u.opted_in_at, ${memberLedgerColumn('u.id', '$2')} AS ledger
         FROM users u WHERE u.id = ANY($1::uuid[])`,
    [wanted.length === 1 ? wanted[0]!.userId : wanted.map((m) => m.userId), now],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const programs = new Map<string, ProgramDocument>();
  const out: EventInput[] = [];
  for (const m of wanted) {
    const row = byId.get(m.userId);
    if (!row) continue;
    let program = programs.get(m.retailerId);
    if (!program) {
      program = await getProgramAt(tx, m.retailerId, now);
      programs.set(m.retailerId, program);
    }
    const member = {
      retailer_id: row.retailer_id,
      id: row.id,
      opted_in: row.opted_in,
      opted_in_at: row.opted_in_at === null ? null : new Date(row.opted_in_at),
    };
    out.push(...(await tierEventsOfLedger(tx, program, member, memberLedgerOf(row.ledger), m.instants, now)));
  }
  return out;
}

/**
 * The `tier.changed` events of one member whose ledger is known (read, or a member just created,
 * whose ledger is its enrollment alone), at `instants`, as `tierChangeEvents` finds them.
 */
export async function tierEventsOfLedger(
  db: Queryable,
  program: ProgramDocument,
  member: MemberEnrollment,
  ledger: MemberLedger,
  instants: readonly Date[],
  now: Date,
): Promise<EventInput[]> {
  const { tier } = await tierStandingAt(db, program, member, now, ledger);
  const at = new Set(instants.map((i) => i.getTime()));
  const levels = new Map(program.tier_system.levels.map((l) => [l.id, l.name]));
  const name = (id: string | null) => (id === null ? null : (levels.get(id) ?? id));
  return tier.history
    .filter((c) => at.has(c.at.getTime()) && c.from_level_id !== c.to_level_id)
    .map((c) => tierEvent(c, program.tier_system.id, name, member.retailer_id, member.id, now));
}

function tierEvent(
  c: TierChange,
  tierSystemId: string,
  name: (id: string | null) => string | null,
  retailerId: string,
  userId: string,
  now: Date,
): EventInput {
  return {
    id: stableV7(c.at.getTime(), `tier.changed|${userId}|${c.at.toISOString()}|${c.cause}|${c.to_level_id}`),
    type: 'tier.changed',
    retailer_id: retailerId,
    user_id: userId,
    created_at: now,
    effective_at: c.at,
    data: {
      tier_system_id: tierSystemId,
      from: name(c.from_level_id),
      to: name(c.to_level_id),
      from_level_id: c.from_level_id,
      to_level_id: c.to_level_id,
      cause: c.cause,
    },
  };
}
