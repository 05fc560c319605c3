import type { ProgramDocument } from '../domain/program.js';
import { majorOf } from '../domain/precision.js';
import { isConnectionError, type Database, type Queryable } from '../db/database.js';
import { giftCardCode, giftCardId, maskedCode, periodAt, periodNamed } from '../domain/cashout.js';
import { isUuid, newId } from '../domain/ids.js';
import { insertMemberAction } from '../customers/member-action.repository.js';
import { LaurelError, validationError } from '../errors.js';
import { findUserById } from '../customers/customer.repository.js';
import { balancesAsOf } from '../ledger/ledger.service.js';
import { lockLedgerOwner } from '../ledger/ledger.repository.js';
import { settleMember } from '../ledger/ledger.service.js';
import { getProgramAt } from '../program/program.service.js';
import {
  advanceRun,
  findCashOutCandidates,
  findRun,
  listGiftCards,
  listRuns,
  periodTotals,
  startRun,
  type CashOutRunRow,
} from './cashout.repository.js';

/** A gift card as the APIs show it (DESIGN §7). */
export interface GiftCardView {
  id: string;
  code: string;
  value: number;
  currency: string;
  period: string;
  status: 'active' | 'redeemed' | 'void';
  points: number;
  points_left: number;
  /** The cash-out instant: the end of the period, in the program's zone. */
  issued_at: Date;
}

/**
 * A member's gift cards as of `now`, newest first: the ones written, and those of periods that
 * have ended but that no writer has settled yet (DESIGN §5), with the ids and codes they will keep.
 * The code is shown whole to the member (`reveal`) and masked to everyone else.
 */
export async function giftCardsOf(
  db: Database,
  retailerId: string,
  userId: string,
  now: Date,
  key: Buffer,
  reveal: boolean,
): Promise<GiftCardView[]> {
  const user = isUuid(userId) ? await findUserById(db, retailerId, userId.toLowerCase()) : undefined;
  if (!user) throw new LaurelError('user_not_found');
  const program = await getProgramAt(db, retailerId, now);
  const [written, standing] = await Promise.all([
    listGiftCards(db, retailerId, user.id),
    balancesAsOf(db, user, program, now),
  ]);
  const code = (id: string) => (reveal ? giftCardCode(key, id) : maskedCode(giftCardCode(key, id)));
  // Minor units in the ledger and the gift card rows, points in answers (issue #14 item 3).
  const major = (minor: number) => majorOf(program, 'spendable', minor);
  const pending: GiftCardView[] = standing.pending_cash_outs.map((c) => {
    const id = giftCardId(user.id, c.period.period);
    return {
      id,
      code: code(id),
      value: c.value_cents / 100,
      currency: c.currency,
      period: c.period.period,
      status: 'active',
      points: major(c.points),
      points_left: major(c.left),
      issued_at: c.period.ends_at,
    };
  });
  const stored: GiftCardView[] = written.map((g) => ({
    id: g.id,
    code: code(g.id),
    value: g.value_cents / 100,
    currency: g.currency,
    period: g.period,
    status: g.status,
    points: major(g.points),
    points_left: major(g.points_left),
    issued_at: g.issued_at,
  }));
  return [...pending.reverse(), ...stored];
}

/**
 * Sends a member's gift card again (issue #18 item 12): recorded in the member's history with who
 * asked, so the retailer's delivery (the events of issue #17, or whoever reads the history) can
 * act on it. Only a card the member holds as of `now` can be resent; another member's or an
 * unknown id is `validation`. Answers the card.
 */
export async function resendGiftCard(
  db: Database,
  retailerId: string,
  userId: string,
  giftCardId: string,
  actor: string,
  now: Date,
  key: Buffer,
): Promise<GiftCardView> {
  const cards = await giftCardsOf(db, retailerId, userId, now, key, false);
  const card = cards.find((c) => c.id === giftCardId.toLowerCase());
  if (!card) throw validationError(`gift card ${giftCardId} is not one of this member's`, 'gift_card_id');
  if (card.status !== 'active') {
    throw validationError(
      `gift card ${card.period} is ${card.status}; only an active card is resent`,
      'gift_card_id',
    );
  }
  await db.transaction((tx) =>
    insertMemberAction(tx, {
      user_id: userId.toLowerCase(),
      id: newId(now.getTime()),
      retailer_id: retailerId,
      at: now,
      actor,
      kind: 'gift_card_resent',
      details: { gift_card_id: card.id, period: card.period },
    }),
  );
  return card;
}

export interface CashOutReport {
  period: string;
  period_end: Date;
  currency: string;
  /** Members who received a gift card for the period. */
  members: number;
  points_converted: number;
  gift_card_value: number;
  /** What those members kept in their Spendable Account. */
  points_left: number;
  run: {
    started_at: Date;
    completed_at: Date | null;
    members_visited: number;
    failures: number;
    last_error: string | null;
  } | null;
}

function reportOf(
  program: ProgramDocument,
  period: string,
  periodEnd: Date,
  currency: string,
  totals: { members: number; points_converted: number; value_cents: number; points_left: number } | undefined,
  run: CashOutRunRow | undefined,
): CashOutReport {
  return {
    period,
    period_end: periodEnd,
    currency,
    members: totals?.members ?? 0,
    // Summed in minor units, answered in points (issue #14 item 3).
    points_converted: majorOf(program, 'spendable', totals?.points_converted ?? 0),
    gift_card_value: (totals?.value_cents ?? 0) / 100,
    points_left: majorOf(program, 'spendable', totals?.points_left ?? 0),
    run: run
      ? {
          started_at: run.started_at,
          completed_at: run.completed_at,
          members_visited: run.members,
          failures: run.failures,
          last_error: run.last_error,
        }
      : null,
  };
}

/** The cash-out report of one period (`2026-Q4`): what was written, and how far its run got. */
export async function cashOutReport(
  db: Queryable,
  retailerId: string,
  period: string,
  now: Date,
): Promise<CashOutReport> {
  const program = await getProgramAt(db, retailerId, now);
  const p = periodNamed(period, program.time_zone);
  if (!p) throw validationError(`period ${period} is not a quarter like 2026-Q4`, 'period');
  if (p.ends_at > now) throw validationError(`period ${period} has not ended yet`, 'period');
  const [totals, run] = await Promise.all([
    periodTotals(db, retailerId, p.period),
    findRun(db, retailerId, p.period),
  ]);
  return reportOf(program, p.period, p.ends_at, totals[0]?.currency ?? program.currency, totals[0], run);
}

/** Every period with a run or a gift card, newest first. */
export async function cashOutReports(db: Queryable, retailerId: string, now: Date): Promise<CashOutReport[]> {
  const program = await getProgramAt(db, retailerId, now);
  const [totals, runs] = await Promise.all([periodTotals(db, retailerId), listRuns(db, retailerId)]);
  const periods = new Map<string, Date>();
  for (const r of runs) periods.set(r.period, r.period_end);
  for (const t of totals) periods.set(t.period, t.period_end);
  return [...periods.entries()]
    .sort((a, b) => b[1].getTime() - a[1].getTime())
    .map(([period, end]) => {
      const t = totals.find((x) => x.period === period);
      return reportOf(
        program,
        period,
        end,
        t?.currency ?? program.currency,
        t,
        runs.find((r) => r.period === period),
      );
    });
}

export interface CashOutRunOptions {
  /** Members settled per batch. */
  batchSize: number;
  /** Only this retailer (the admin API); every retailer when absent (the sweeper). */
  retailerId?: string;
  signal?: AbortSignal | undefined;
}

export interface CashOutRunResult {
  /** Runs this call worked on, by retailer and period. */
  runs: Array<{ retailer_id: string; period: string; members: number; completed: boolean }>;
  failures: Array<{ user_id: string; error: unknown }>;
}

/**
 * Settles, for each retailer, every member who may have something to cash out at the end of the
 * last period that has ended by `now` (DESIGN §5: the sweeper materialises due events for members
 * nobody reads, so cash-outs happen). Members are visited in id order and the run records the
 * last one, so a run interrupted by a restart resumes where it stopped; settling is idempotent, so
 * a member visited twice changes nothing. The caller holds the sweeper lock: one run at a time.
 */
export async function runDueCashOuts(
  db: Database,
  now: Date,
  opts: CashOutRunOptions,
): Promise<CashOutRunResult> {
  const result: CashOutRunResult = { runs: [], failures: [] };
  const retailers = opts.retailerId
    ? [opts.retailerId]
    : (await db.query<{ id: string }>('SELECT id FROM retailers ORDER BY id')).map((r) => r.id);
  for (const retailerId of retailers) {
    if (opts.signal?.aborted) break;
    const program = await getProgramAt(db, retailerId, now);
    // The last period that has ended: the one before the period `now` is in.
    const current = periodAt(now, program.time_zone);
    const last = periodAt(new Date(current.starts_at.getTime() - 1), program.time_zone);
    let run = await findRun(db, retailerId, last.period);
    if (run?.completed_at) continue;
    if (!run) {
      await startRun(db, retailerId, last.period, last.ends_at, now);
      run = (await findRun(db, retailerId, last.period))!;
    }
    let after = run.last_user_id;
    let visited = 0;
    let completed = false;
    let failed = false;
    let batchFailures = 0;
    let lastError: string | null = null;
    const skip = new Set(result.failures.map((f) => f.user_id));
    while (!opts.signal?.aborted) {
      const members = await findCashOutCandidates(db, retailerId, last.ends_at, after, opts.batchSize);
      let settled = 0;
      for (const userId of members) {
        if (opts.signal?.aborted) break;
        after = userId;
        settled += 1;
        if (skip.has(userId)) continue;
        try {
          await db.transaction(async (tx) => {
            const owner = await lockLedgerOwner(tx, userId);
            if (owner) await settleMember(tx, owner.retailer_id, userId, now);
          });
        } catch (error) {
          if (isConnectionError(error)) throw error;
          failed = true;
          batchFailures += 1;
          // The report says why the run cannot complete (issue #13 item 2); the caller logs each.
          lastError = `member ${userId}: ${error instanceof Error ? error.message : String(error)}`.slice(
            0,
            500,
          );
          result.failures.push({ user_id: userId, error });
        }
      }
      visited += settled;
      const done = members.length < opts.batchSize && settled === members.length;
      // A member that failed (a bug, not an outage) keeps the run open: the next sweep passes over
      // the retailer again from the start, where settled members no longer qualify.
      completed = done && !failed;
      await advanceRun(db, retailerId, last.period, done ? null : after, settled, completed ? now : null, {
        count: batchFailures,
        lastError,
      });
      batchFailures = 0;
      if (done || !members.length) break;
    }
    result.runs.push({ retailer_id: retailerId, period: last.period, members: visited, completed });
  }
  return result;
}
