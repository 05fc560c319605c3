import type { Database, Queryable } from '../db/database.js';
import type { MemberStanding } from '../domain/loyalty-view.js';
import { maintenanceThreshold, type ProgramDocument, type TierLevel } from '../domain/program.js';
import { isUuid, newId } from '../domain/ids.js';
import { LaurelError, validationError } from '../errors.js';
import { lockUserById } from '../customers/customer.repository.js';
import { getProgramAt } from '../program/program.service.js';
import {
  levelExpiry,
  memberTierWithMaintenance,
  tierAt,
  type ManualMove,
  type TierChange,
  type TierInputs,
  type TierStanding,
} from '../domain/tiers.js';
import { balancesAsOf, type MemberBalances } from '../ledger/ledger.service.js';
import { tierChangeEvents } from '../events/event.service.js';
import { insertEvents } from '../events/outbox.repository.js';
import { insertTierMove, readMemberLedger, type MemberLedger, type TierMoveRow } from './tier.repository.js';

/** What the tier of a member depends on besides the ledger. */
export interface MemberEnrollment {
  retailer_id: string;
  id: string;
  opted_in: boolean;
  /** Start of the current enrollment episode (DESIGN §6: opting in makes the member BASE then). */
  opted_in_at: Date | null;
}

/**
 * A member's standing as of `at`: balances with matured lots rolled over, and the tier the engine
 * derives from the Tier Qualifying history. The Tier Qualifying Account shows the current
 * qualifying year's balance: it resets to 0 on 1 January in the program's zone (DESIGN §6).
 */
export async function memberStandingAt(
  db: Queryable,
  program: ProgramDocument,
  member: MemberEnrollment,
  at: Date,
  /** The member's ledger as already read at `at`, to save the round trip. */
  read?: MemberLedger,
): Promise<MemberStanding> {
  const { balances, tier } = await tierStandingAt(db, program, member, at, read);
  return standingOf(member, balances, tier);
}

/** The standing the user object shows, from the ledger's balances and the engine's tier. */
export function standingOf(
  member: MemberEnrollment,
  balances: MemberBalances,
  tier: TierStanding,
): MemberStanding {
  const lifetime = balances.balances.tier?.life_time_value ?? 0;
  return {
    retailer_id: member.retailer_id,
    user_id: member.id,
    opted_in: member.opted_in,
    balances: { ...balances.balances, tier: { balance: tier.tq_balance, life_time_value: lifetime } },
    used: balances.used,
    tier: member.opted_in ? memberTierWithMaintenance(tier) : null,
  };
}

/** The engine's full answer for a member at `at`, with the ledger balances it was read beside. */
export async function tierStandingAt(
  db: Queryable,
  program: ProgramDocument,
  member: MemberEnrollment,
  at: Date,
  read?: MemberLedger,
): Promise<{
  balances: MemberBalances;
  tier: TierStanding;
  moves: TierMoveRow[];
  inputs: TierInputs;
  enrollment: MemberLedger['enrollment'];
}> {
  const ledger = read ?? (await readMemberLedger(db, member.id, at));
  const balances = await balancesAsOf(db, member, program, at, ledger);
  const inputs = tierInputsOf(program, member, ledger, at);
  return {
    balances,
    tier: tierAt(program, inputs, at),
    moves: ledger.moves,
    inputs,
    enrollment: ledger.enrollment,
  };
}

/** What the tier engine decides a member's tier at `at` from, given the member's ledger read at `at`: pure. */
export function tierInputsOf(
  program: ProgramDocument,
  member: MemberEnrollment,
  ledger: Pick<MemberLedger, 'tqChanges' | 'moves' | 'enrollment'>,
  at: Date,
): TierInputs {
  // Enrollment changes are stamped by the writer's clock. One stamped after `at` can only come from
  // a clock that lags behind the data (laurel demo on the real clock, then a server at an earlier
  // --now): the profile exists as it is, so read the change as having happened by `at`.
  let enrollment = ledger.enrollment.map((e) => ({ at: e.at > at ? at : e.at, opted_in: e.opted_in }));
  if (!enrollment.length && member.opted_in && member.opted_in_at) {
    enrollment = [{ at: member.opted_in_at > at ? at : member.opted_in_at, opted_in: true }];
  }
  return { tq_changes: ledger.tqChanges, enrollment, manual_moves: manualMoves(program, ledger.moves) };
}

/**
 * Moves of the program's own tier system; a move to a level a later program version dropped is
 * left out rather than failing every read of the member.
 */
function manualMoves(program: ProgramDocument, moves: TierMoveRow[]): ManualMove[] {
  const levels = new Set(program.tier_system.levels.map((l) => l.id));
  return moves
    .filter((m) => m.tier_system_id === program.tier_system.id && levels.has(m.tier_level_id))
    .map((m) => ({ at: m.effective_at, level_id: m.tier_level_id, until: m.holds_until ?? null }));
}

export interface MoveRequest {
  retailerId: string;
  userId: string;
  tierSystemId: string;
  tierLevelId: string;
  actor: string;
  reason: string;
}

export interface MoveResult {
  move: TierMoveRow;
  level: TierLevel;
  resets_at: Date | null;
}

/**
 * A manual tier move (issue #4, reference §5 `movement/move_user`): from `now` the member holds the
 * level until that level's own expiry; recorded with who and why, under the member's lock.
 */
export async function moveUser(db: Database, r: MoveRequest, now: Date): Promise<MoveResult> {
  const program = await getProgramAt(db, r.retailerId, now);
  if (r.tierSystemId.toLowerCase() !== program.tier_system.id) {
    throw validationError(
      `tier_system_id ${r.tierSystemId} is not this program's tier system`,
      'tier_system_id',
    );
  }
  const level = program.tier_system.levels.find((l) => l.id === r.tierLevelId.toLowerCase());
  if (!level)
    throw validationError(
      `tier_level_id ${r.tierLevelId} is not a level of ${program.tier_system.name}`,
      'tier_level_id',
    );
  return db.transaction(async (tx) => {
    const user = isUuid(r.userId) ? await lockUserById(tx, r.retailerId, r.userId.toLowerCase()) : undefined;
    if (!user) throw new LaurelError('user_not_found');
    if (!user.opted_in)
      throw validationError('the member is not enrolled; opt them in before moving their tier', 'user_id');
    const move: TierMoveRow = {
      id: newId(now.getTime()),
      retailer_id: r.retailerId,
      user_id: user.id,
      tier_system_id: program.tier_system.id,
      tier_level_id: level.id,
      effective_at: now,
      recorded_at: now,
      actor: r.actor,
      reason: r.reason,
    };
    await insertTierMove(tx, move);
    await insertEvents(tx, await tierChangeEvents(tx, r.retailerId, user.id, [now], now));
    return { move, level, resets_at: levelExpiry(program, level, now) };
  });
}

export interface TierHistoryEntry {
  at: Date;
  from_tier: string | null;
  to_tier: string | null;
  cause: TierChange['cause'];
  reason: string;
}

/**
 * Every tier change of a member up to `at`, oldest first, each with its effective instant, cause and
 * a plain-language reason (issue #4). Derived by the engine, so it is as-of correct like the tier.
 */
export async function tierHistoryAt(
  db: Queryable,
  program: ProgramDocument,
  member: MemberEnrollment,
  at: Date,
): Promise<TierHistoryEntry[]> {
  const { tier, moves, enrollment } = await tierStandingAt(db, program, member, at);
  // Who opted the member in or out, when the change says (issue #18 item 10).
  const by = (at: Date, optedIn: boolean): string => {
    const e = enrollment.find((x) => x.opted_in === optedIn && x.at.getTime() === at.getTime());
    return e?.actor ? ` by ${e.actor}` : '';
  };
  const levels = new Map(program.tier_system.levels.map((l) => [l.id, l]));
  const name = (id: string | null) => (id === null ? null : (levels.get(id)?.name ?? id));
  return tier.history.map((c) => {
    const to = c.to_level_id ? levels.get(c.to_level_id) : undefined;
    let reason: string;
    switch (c.cause) {
      case 'qualified':
        reason = `Reached ${to?.threshold.toLocaleString('en-US')} Tier Qualifying points`;
        break;
      case 'expired':
        reason = `${name(c.from_level_id)} ended with its qualifying period`;
        break;
      case 'renewed': {
        const kept = to ? maintenanceThreshold(to) : 0;
        reason = `Kept ${name(c.to_level_id)} with ${(c.points ?? 0).toLocaleString('en-US')} of ${kept.toLocaleString('en-US')} points in ${c.period}`;
        break;
      }
      case 'soft_landing':
        reason = `Expired ${name(c.from_level_id)}; landed on ${name(c.to_level_id)}`;
        break;
      case 'manual_move': {
        const move = moves.find((m) => m.effective_at.getTime() === c.at.getTime());
        reason = move ? `Moved by ${move.actor}: ${move.reason}` : 'Moved manually';
        break;
      }
      case 'opted_in':
        reason = `Opted in to the program${by(c.at, true)}`;
        break;
      case 'opted_out':
        reason = `Opted out of the program${by(c.at, false)}`;
        break;
    }
    return {
      at: c.at,
      from_tier: name(c.from_level_id),
      to_tier: name(c.to_level_id),
      cause: c.cause,
      reason,
    };
  });
}
