import type { Queryable } from '../db/database.js';
import type { MemberStanding } from '../domain/loyalty-view.js';
import type { ProgramDocument } from '../domain/program.js';
import { standingFromStored, standingValidUntil, storedStanding } from '../domain/standing.js';
import { programOfRead } from '../program/program.service.js';
import { memberLedgerOf } from './tier.repository.js';
import { standingOf, tierStandingAt, type MemberEnrollment } from './tier.service.js';
import { storeStanding, type StandingReadJson } from './standing.repository.js';

/**
 * A member's standing at `at` from what `standingRead` read beside the member (issue #15): the
 * stored row when it answers, otherwise computed from the ledger read with it, exactly as
 * `memberStandingAt` computes it, and stored for the next read until its `valid_until`. Answers the
 * program version in force at `at` too.
 */
export async function standingFromRead(
  db: Queryable,
  member: MemberEnrollment,
  at: Date,
  read: StandingReadJson,
  /** Checks the request against the program in force before anything is stored: a refusal writes nothing. */
  check?: (program: ProgramDocument) => void,
): Promise<{ program: ProgramDocument; standing: MemberStanding }> {
  const program = await programOfRead(db, member.retailer_id, read.program_at);
  check?.(program);
  if (read.standing) return { program, standing: standingFromStored(member, read.standing) };
  if (!read.ledger) throw new Error(`member ${member.id}: no stored standing and no ledger read`);
  const ledger = memberLedgerOf(read.ledger);
  const { balances, tier, inputs } = await tierStandingAt(db, program, member, at, ledger);
  const standing = standingOf(member, balances, tier);
  // An enrollment change stamped after `at` is read as happening at `at` (tierStandingAt), so
  // the standing then depends on the instant itself; so does a fallback opt-in instant after it.
  const enrollmentAfter = ledger.enrollment.length
    ? ledger.enrollment.some((e) => e.at > at)
    : member.opted_in && member.opted_in_at !== null && member.opted_in_at > at;
  const validUntil = standingValidUntil(
    program,
    inputs,
    {
      next_input_at: read.next_input_ms === null ? null : new Date(Number(read.next_input_ms)),
      cash_out: ledger.cashOut,
      enrollment_after: enrollmentAfter,
    },
    at,
  );
  if (read.program_latest !== null) {
    await storeStanding(db, {
      user_id: member.id,
      retailer_id: member.retailer_id,
      seen_version: Number(read.standing_version),
      body: storedStanding(standing),
      computed_at: at,
      valid_until: validUntil,
      program_version: read.program_latest,
    });
  }
  return { program, standing };
}
