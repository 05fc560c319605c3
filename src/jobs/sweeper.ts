import type { Clock } from '../clock.js';
import { isConnectionError, type Database } from '../db/database.js';
import { findDueMembers, lockLedgerOwner } from '../ledger/ledger.repository.js';
import { settleMember, settleMembersInBulk } from '../ledger/ledger.service.js';
import { runDueCashOuts, type CashOutRunResult } from '../cashout/cashout.service.js';
import { isOneServer } from '../db/distribution.js';
import { refreshStaleStatistics } from '../db/statistics.js';

/**
 * The rollover sweeper (DESIGN §5, issue #3): writes the rollover of matured lots for members
 * nobody reads or changes, so that what follows a rollover (notifications, cash-out) happens.
 * Reads never depend on it: every journal it writes is effective at its lot's maturation instant,
 * so sweeping every minute, once a day or never gives the same state at any time T.
 */

export const DEFAULT_SWEEP_BATCH = 100;

/** Batches a PostgreSQL sweep settles at once, each on its own connection, over disjoint members. */
export const SWEEP_LANES = 4;

/**
 * Advisory lock class of the sweeper ("LAUR"). The object id is the schema's hash: a Laurel
 * database is a schema (tests run many in one PostgreSQL database), and one sweeper runs per schema.
 */
export const SWEEPER_LOCK_CLASS = 0x4c415552;

export interface SweepOptions {
  /** Members settled per batch; each batch holds the sweeper lock once. */
  batchSize?: number;
  /** Wait for another sweeper of the database instead of leaving the work to it (the CLI). */
  wait?: boolean;
  /** Stops between members (server shutdown); what was swept stays swept. */
  signal?: AbortSignal;
}

export interface SweepFailure {
  user_id: string;
  error: unknown;
}

export interface SweepResult {
  /** The instant swept up to: every lot matured by it is rolled over, unless `busy` or failed. */
  now: Date;
  /** Members whose lots this sweep rolled over. */
  members: number;
  /** Lots this sweep rolled over. */
  lots: number;
  batches: number;
  /** Another sweeper held the database, so this one left the rest to it. */
  busy: boolean;
  /** Members whose rollover or cash-out failed (a bug, not an outage); the next sweep tries them again. */
  failures: SweepFailure[];
  /** Cash-out runs this sweep worked on (DESIGN §7), by retailer and period. */
  cash_outs: CashOutRunResult['runs'];
}

/**
 * Rolls over every lot matured by the clock's now, in batches of members, one transaction per
 * batch under every member's row lock (the lock every purchase takes first), so a lot is rolled
 * exactly once however sweeps and purchases interleave; a batch that fails is retried one
 * transaction per member, so one member's failure holds back nobody else. At most one sweeper runs per database; a
 * sweep that finds another one running returns `busy` (or waits, with `wait`). Connection errors
 * are thrown; the caller retries later.
 */
export async function sweepOnce(
  db: Database,
  clock: Pick<Clock, 'now'>,
  opts: SweepOptions = {},
): Promise<SweepResult> {
  const batchSize = opts.batchSize ?? DEFAULT_SWEEP_BATCH;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw new Error('batchSize must be a positive integer');
  const now = await clock.now();
  const result: SweepResult = {
    now,
    members: 0,
    lots: 0,
    batches: 0,
    busy: false,
    failures: [],
    cash_outs: [],
  };
  // Members not to pick again in this sweep: failed ones, and (in theory) lots without a user row.
  const skip: string[] = [];

  /** One batch of one lane: the members of lane `lane` due now, settled together. */
  const batch = async (lane: number, lanes: number): Promise<number> => {
    const members = await findDueMembers(db, now, batchSize, skip, { lane, lanes });
    if (!members.length) return 0;
    result.batches += 1;
    // The batch together first (issue #8); when it fails, one member at a time finds who fails.
    const bulk = await db
      .transaction((tx) => settleMembersInBulk(tx, members, now, { oneServer }))
      .catch((error: unknown) => {
        if (isConnectionError(error)) throw error;
        return null;
      });
    if (bulk) {
      result.members += bulk.members;
      result.lots += bulk.lots;
      skip.push(...bulk.missing);
      return members.length;
    }
    for (const userId of members) {
      if (opts.signal?.aborted) break;
      try {
        const lots = await settleOwner(db, userId, now);
        if (lots === null) skip.push(userId);
        else if (lots > 0) {
          result.members += 1;
          result.lots += lots;
        }
      } catch (error) {
        if (isConnectionError(error)) throw error;
        skip.push(userId);
        result.failures.push({ user_id: userId, error });
      }
    }
    return members.length;
  };
  // On PostgreSQL four lanes of disjoint members run side by side, one backend each (issues #8,
  // #16: both cores stay busy while a batch waits for its commit); PGlite has one connection, where
  // a second lane would only wait.
  const lanes = db.kind === 'postgres' ? SWEEP_LANES : 1;
  // Citus refuses a row lock across shards: there, and on the layout partitioned as Citus
  // distributes the members, a batch locks member by member (issue #19), as the group commit does,
  // and its statement names the batch wherever it reaches a member table.
  const oneServer = await isOneServer(db);

  while (!opts.signal?.aborted) {
    const found = await underSweeperLock(db, opts.wait ?? false, async () => {
      const counts = await Promise.all(Array.from({ length: lanes }, (_, lane) => batch(lane, lanes)));
      return counts.reduce((n, c) => n + c, 0);
    });
    if (found === null) {
      result.busy = true;
      break;
    }
    if (found === 0) break;
  }
  // Then the cash-outs of the last period that ended (DESIGN §7): after the rollovers, though each
  // member's settlement orders its own rollovers and cash-outs by their effective times anyway.
  if (!result.busy && !opts.signal?.aborted) {
    const ran = await underSweeperLock(db, opts.wait ?? false, () =>
      runDueCashOuts(db, now, { batchSize, signal: opts.signal }),
    );
    if (ran === null) result.busy = true;
    else {
      result.cash_outs = ran.runs;
      result.failures.push(...ran.failures);
    }
  }
  return result;
}

/**
 * Runs the due cash-outs of one retailer now (the admin API's cash-out run), waiting for a sweeper
 * that holds the database: the same work the sweeper does, never two at once.
 */
export async function runCashOutsNow(
  db: Database,
  now: Date,
  retailerId: string,
  batchSize = DEFAULT_SWEEP_BATCH,
): Promise<CashOutRunResult> {
  const ran = await underSweeperLock(db, true, () => runDueCashOuts(db, now, { batchSize, retailerId }));
  return ran!;
}

/**
 * One member's due lots, in one transaction under the member's lock; a deleted member's too.
 * Null when the user row is missing (the foreign key of `lots` rules it out; never loop on it).
 */
async function settleOwner(db: Database, userId: string, now: Date): Promise<number | null> {
  return db.transaction(async (tx) => {
    const owner = await lockLedgerOwner(tx, userId);
    if (!owner) return null;
    return (await settleMember(tx, owner.retailer_id, userId, now)).lots;
  });
}

/** Sweeps running in this process, by database (PGlite: one process owns a data directory). */
const inProcess = new WeakMap<Database, Promise<unknown>>();

/**
 * Runs `fn` holding the database's sweeper lock, or answers null when another sweeper holds it
 * (unless `wait`). On PostgreSQL the lock is a transaction-level advisory lock held by a
 * transaction that stays open around `fn` (which works on other pool connections, so the pool needs
 * two), and a sweeper that dies releases it with its connection. PGlite has one connection shared by the whole process,
 * where an advisory lock excludes nobody, and the data-directory lock already keeps other processes
 * out: an in-process guard is the whole story there.
 */
async function underSweeperLock<T>(db: Database, wait: boolean, fn: () => Promise<T>): Promise<T | null> {
  if (db.kind === 'pglite') {
    for (let running = inProcess.get(db); running; running = inProcess.get(db)) {
      if (!wait) return null;
      await running.catch(() => undefined);
    }
    const work = fn();
    inProcess.set(db, work);
    try {
      return await work;
    } finally {
      if (inProcess.get(db) === work) inProcess.delete(db);
    }
  }
  return db.transaction(async (holder) => {
    const [row] = await holder.query<{ held: boolean }>(
      wait
        ? 'SELECT true AS held FROM pg_advisory_xact_lock($1, hashtext(current_schema()))'
        : 'SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema())) AS held',
      [SWEEPER_LOCK_CLASS],
    );
    return row?.held ? fn() : null;
  });
}

/** The simulated clock stored in the database, or undefined when it has never run one. */
export async function findStoredClock(db: Database): Promise<Date | undefined> {
  const rows = await db.query<{ now_at: Date }>('SELECT now_at FROM simulated_clock');
  return rows[0]?.now_at;
}

/** What the sweeper writes in the log (pino's shape, so Fastify's logger fits). */
export interface SweeperLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SweeperOptions {
  /** Pause between the end of one sweep and the start of the next; 0 disables the sweeper. */
  intervalMs: number;
  batchSize?: number;
  log: SweeperLog;
}

/**
 * Runs `sweepOnce` every interval for a server (`--sweep-interval`). Sweeps never overlap: the
 * next one is scheduled when the last one ends. A failed sweep (a database outage) is logged and
 * retried at the next tick; it never reaches the server. `stop()` ends the running sweep between
 * members and waits for it.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(
    private readonly db: Database,
    private readonly clock: Pick<Clock, 'now'>,
    private readonly opts: SweeperOptions,
  ) {}

  /** Schedules the first sweep; the first one runs after `delayMs` (default: at once). */
  start(delayMs = 0): void {
    if (this.opts.intervalMs <= 0 || this.abort.signal.aborted || this.timer || this.running) return;
    this.schedule(delayMs);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick().finally(() => {
        this.running = undefined;
        if (!this.abort.signal.aborted) this.schedule(this.opts.intervalMs);
      });
    }, delayMs);
    // The server's socket keeps the process alive, not the sweeper.
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const { log } = this.opts;
    try {
      const r = await sweepOnce(this.db, this.clock, {
        batchSize: this.opts.batchSize,
        signal: this.abort.signal,
      });
      for (const f of r.failures) {
        log.error({ err: f.error, user_id: f.user_id }, 'sweeper: could not settle a member');
      }
      if (r.lots > 0) {
        log.info(
          { members: r.members, lots: r.lots, batches: r.batches, now: r.now.toISOString() },
          `swept ${r.lots} lots for ${r.members} members`,
        );
      }
      for (const run of r.cash_outs.filter((c) => c.members > 0)) {
        log.info(
          {
            retailer_id: run.retailer_id,
            period: run.period,
            members: run.members,
            completed: run.completed,
          },
          `cash-out ${run.period}: settled ${run.members} members${run.completed ? '; run complete' : ''}`,
        );
      }
    } catch (err) {
      if (this.abort.signal.aborted) return;
      log.error({ err }, 'sweeper: sweep failed; retrying at the next tick');
    }
    if (this.abort.signal.aborted) return;
    // The planner's statistics of tables that grew since last analyzed (src/db/statistics.ts).
    try {
      const analyzed = await refreshStaleStatistics(this.db);
      if (analyzed.length) log.info({ tables: analyzed }, `analyzed ${analyzed.length} grown tables`);
    } catch (err) {
      // A cut connection is the outage the sweep itself reports; only another failure is an error.
      if (isConnectionError(err))
        log.info({ err }, 'sweeper: could not analyze grown tables: database unreachable');
      else log.error({ err }, 'sweeper: could not analyze grown tables; retrying at the next tick');
    }
  }
}
