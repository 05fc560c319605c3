import type { Queryable, Tx } from '../db/database.js';
import type { EscrowRole } from '../domain/escrow.js';
import type { EnrollmentChange, TqChange } from '../domain/tiers.js';
import { standingInvalidation } from './standing-invalidation.js';
import { cashOutColumn, cashOutOf, type CashOutJson, type LedgerRead } from '../ledger/ledger.repository.js';

/**
 * Everything a member's standing as of `at` is computed from, in one round trip (issue #8: a
 * lookup paid one per read): the materialised balances, the escrow of lots matured by `at` and
 * not yet rolled over, where the member's cash-outs stand, the Tier Qualifying history (every
 * posting to the Tier Qualifying Account at its journal's effective instant, plus the tier escrow of
 * lots matured by `at` and not yet rolled over, at their maturation instant: DESIGN §5, reads do not
 * wait for the sweeper), manual tier moves and enrollment changes. Instants travel as epoch
 * milliseconds, exact whatever the session's time zone.
 */
export async function readMemberLedger(db: Queryable, userId: string, at: Date): Promise<MemberLedger> {
  const rows = await db.query<{ ledger: MemberLedgerJson }>(
    `SELECT ${memberLedgerColumn('$1', '$2')} AS ledger`,
    [userId, at],
  );
  return memberLedgerOf(rows[0]!.ledger);
}

/** The value of `memberLedgerColumn`, as it arrives. */
export type MemberLedgerJson = {
  balances: { account: string; balance: number; life_time_value: number }[];
  due: { account: EscrowRole; at_ms: number; due: number }[];
  cash_out: CashOutJson;
  tq: { at_ms: number; points: number }[];
  moves: (Omit<TierMoveRow, 'effective_at' | 'recorded_at' | 'holds_until'> & {
    effective_ms: number;
    recorded_ms: number;
    until_ms: number | null;
  })[];
  enrollment: { at_ms: number; opted_in: boolean; actor: string | null }[];
};

/**
 * A member's ledger read as one JSON value, for the member whose id the SQL expression `userId`
 * gives, as of the SQL expression `at` (so a search can read the member it finds in the same
 * statement).
 */
export function memberLedgerColumn(userId: string, at: string): string {
  return `json_build_object(
       'balances', (SELECT coalesce(json_agg(json_build_object('account', account, 'balance', balance,
                 'life_time_value', life_time_value)), '[]') FROM balances WHERE user_id = ${userId}),
       'due', (SELECT coalesce(json_agg(json_build_object('account', account, 'due', due, 'at_ms', at_ms)), '[]')
        FROM (SELECT account, sum(remaining)::bigint AS due,
                     (extract(epoch FROM matures_at) * 1000)::bigint AS at_ms FROM lots
              WHERE user_id = ${userId} AND rolled_over_at IS NULL AND matures_at <= ${at} AND remaining > 0
              GROUP BY account, matures_at) d),
       'cash_out', ${cashOutColumn(userId)},
       'tq', (SELECT coalesce(json_agg(json_build_object('at_ms', at_ms, 'points', points)), '[]')
        FROM (SELECT (extract(epoch FROM j.effective_at) * 1000)::bigint AS at_ms, p.amount AS points
              FROM postings p JOIN journals j ON j.user_id = p.user_id AND j.id = p.journal_id
              WHERE p.user_id = ${userId} AND j.user_id = ${userId} AND p.account = 'tier' AND j.effective_at <= ${at}
              UNION ALL
              SELECT (extract(epoch FROM matures_at) * 1000)::bigint, remaining FROM lots
              WHERE user_id = ${userId} AND account = 'tier_escrow' AND rolled_over_at IS NULL
                AND matures_at <= ${at} AND remaining > 0) t),
       'moves', (SELECT coalesce(json_agg(json_build_object('id', id, 'retailer_id', retailer_id, 'user_id', user_id,
                 'tier_system_id', tier_system_id, 'tier_level_id', tier_level_id,
                 'effective_ms', (extract(epoch FROM effective_at) * 1000)::bigint,
                 'recorded_ms', (extract(epoch FROM recorded_at) * 1000)::bigint,
                 'until_ms', (extract(epoch FROM holds_until) * 1000)::bigint,
                 'actor', actor, 'reason', reason) ORDER BY effective_at, id), '[]')
        FROM tier_moves WHERE user_id = ${userId} AND effective_at <= ${at}),
       'enrollment', (SELECT coalesce(json_agg(json_build_object('at_ms', (extract(epoch FROM at) * 1000)::bigint,
                 'opted_in', opted_in, 'actor', actor) ORDER BY at, id), '[]')
        FROM enrollment_events WHERE user_id = ${userId}))`;
}

export function memberLedgerOf(r: MemberLedgerJson): MemberLedger {
  return {
    balances: r.balances,
    due: r.due.map((d) => ({ account: d.account, matures_at: new Date(Number(d.at_ms)), due: d.due })),
    cashOut: cashOutOf(r.cash_out),
    tqChanges: r.tq.map((c) => ({ at: new Date(Number(c.at_ms)), points: c.points })),
    moves: r.moves.map(({ effective_ms, recorded_ms, until_ms, ...m }) => ({
      ...m,
      effective_at: new Date(Number(effective_ms)),
      recorded_at: new Date(Number(recorded_ms)),
      holds_until: until_ms === null ? null : new Date(Number(until_ms)),
    })),
    enrollment: r.enrollment.map((e) => ({
      at: new Date(Number(e.at_ms)),
      opted_in: e.opted_in,
      actor: e.actor ?? null,
    })),
  };
}

export interface MemberLedger extends LedgerRead {
  tqChanges: TqChange[];
  moves: TierMoveRow[];
  /** Opt-ins and opt-outs, oldest first, with who made them (issue #18 item 10; null before then). */
  enrollment: (EnrollmentChange & { actor: string | null })[];
}

export interface TierMoveRow {
  id: string;
  retailer_id: string;
  user_id: string;
  tier_system_id: string;
  tier_level_id: string;
  effective_at: Date;
  recorded_at: Date;
  actor: string;
  reason: string;
  /** An opening tier's end as the old platform gave it (issue #16); null: the level's own expiry. */
  holds_until?: Date | null;
}

/** Records a manual move; the member's stored standing is stale from it on (issue #15). */
export async function insertTierMove(tx: Tx, m: TierMoveRow): Promise<void> {
  await tx.query(
    `WITH m AS (
       INSERT INTO tier_moves (id, retailer_id, user_id, tier_system_id, tier_level_id, effective_at, recorded_at, actor,
         reason, holds_until)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING user_id, retailer_id
     ), s AS (${standingInvalidation('SELECT user_id, retailer_id FROM m')})
     SELECT 1`,
    [
      m.id,
      m.retailer_id,
      m.user_id,
      m.tier_system_id,
      m.tier_level_id,
      m.effective_at,
      m.recorded_at,
      m.actor,
      m.reason,
      m.holds_until ?? null,
    ],
  );
}
