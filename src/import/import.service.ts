import { closeSync, existsSync, ftruncateSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { extname } from 'node:path';
import type { UserInput } from '../customers/customer.schema.js';
import {
  createUser,
  getUser,
  listIdentifiers,
  newMember,
  searchUsers,
} from '../customers/customer.service.js';
import type { UserRow } from '../customers/customer.repository.js';
import type { GroupCommitConfig } from '../config.js';
import { isConnectionError, type Database } from '../db/database.js';
import { GroupCommit } from '../ledger/group-commit.js';
import { normalizeProfile } from '../domain/profile.js';
import { LaurelError } from '../errors.js';
import type { SendTransactionBody } from '../purchases/purchase.schema.js';
import {
  BeforeOpeningError,
  memberKeyOf,
  SendContextReader,
  sendTransactionBatched,
} from '../purchases/purchase.service.js';
import { findMemberId, type MemberKey } from '../purchases/purchase.repository.js';
import { isOneServer } from '../db/distribution.js';
import {
  emptyCounts,
  fileIdentity,
  loadCheckpoint,
  removeCheckpoint,
  saveCheckpoint,
  type Checkpoint,
  type ImportCounts,
} from './checkpoint.js';
import { createInBatch } from './customer-batch.js';
import { customerDifferences, customerUnits, type CustomerRow } from './customer-rows.js';
import type { ImportFormat, ImportKind, Outcome, RejectEntry, SourceUnit } from './import.types.js';
import { KeySet } from './key-set.js';
import { readLines } from './line-reader.js';
import { transactionUnits } from './transaction-rows.js';
import { balanceUnits, type BalanceRow } from './balance-rows.js';
import {
  importOpening,
  importOpeningBatched,
  MemberTurns,
  type Retry,
  OpeningContextReader,
  type OpeningBatching,
} from '../ledger/opening.service.js';

/**
 * Bulk import (issue #6 item 4): customers through `createUser` and purchases through
 * `sendTransactionBatched`, the API's own rules and group commit, streamed from a file with a bounded number of rows in
 * flight. Every row is idempotent by itself (an existing customer with the same data, a purchase's
 * request id derived from its content), so a re-run or a resume after a crash imports nothing twice;
 * the checkpoint only lets a resume skip the rows already done without asking the database.
 */

export interface ImportOptions {
  kind: ImportKind;
  file: string;
  /** Default: from the extension (.csv, .ndjson, .jsonl). */
  format?: ImportFormat | undefined;
  retailerId: string;
  /** Default `FILE.rejects.ndjson`. */
  rejectsPath?: string | undefined;
  /** Default `FILE.laurel-checkpoint`. */
  checkpointPath?: string | undefined;
  /** Rows in flight: customers and purchases share batches of up to half of them (issue #16). */
  concurrency: number;
  /** Resume from a checkpoint of an interrupted run of the same file (default true). */
  resume?: boolean;
  /** The import's clock: the database's simulated clock if it has one, else the real time. */
  now: () => Date;
  /**
   * Customers: the instant Laurel takes over cash-outs (DESIGN §7); periods ending by it were the old
   * platform's to pay and are never cashed out here. Default and earliest: the import's clock.
   * Balances: the instant the positions are of. Default and latest: the import's clock.
   */
  cutover?: Date | undefined;
  /** Transactions: the old platform's history, recorded for returns, earning nothing again (issue #16). */
  historyOnly?: boolean | undefined;
  onProgress?: (p: ImportProgress) => void;
  progressIntervalMs?: number;
  /** Aborting stops reading; rows in flight finish and the checkpoint is saved. */
  signal?: AbortSignal;
}

export interface ImportProgress {
  kind: ImportKind;
  /** Rows settled in this run, and those a resume passed over. */
  rows: number;
  skipped: number;
  /** Bytes of the file up to the last row settled in order. */
  bytes: number;
  totalBytes: number;
  /** Bytes this run had to read before its first row to apply (a resume's skipped part). */
  skippedBytes: number;
  elapsedMs: number;
  counts: ImportCounts;
}

export interface ImportSummary {
  kind: ImportKind;
  format: ImportFormat;
  file: string;
  /** Whole-file counts, earlier runs of a resumed import included. */
  counts: ImportCounts;
  /** Rows this run settled (`skipped`: those a resume passed over), the time it took and its rate. */
  run: { rows: number; skipped: number; duration_ms: number; rows_per_second: number };
  /** The line a resume started after, or null. */
  resumed_after_line: number | null;
  /** Null when nothing was rejected. */
  rejects_path: string | null;
  /** False when stopped before the end (a signal); the checkpoint then holds the place. */
  completed: boolean;
  /** The line every row up to which is done. */
  line: number;
  checkpoint_path: string;
  /** Why the checkpoint could not be written, if it could not. */
  checkpoint_error: string | null;
  /** Why the planner's statistics of the written tables could not be refreshed, if they could not. */
  statistics_error: string | null;
}

/** The format of `file`: the one given, or its extension's. */
export function formatOf(file: string, given: ImportFormat | undefined): ImportFormat {
  if (given) return given;
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  throw new LaurelError(
    'validation',
    `cannot tell the format of ${file} from its extension: name it .csv, .ndjson or .jsonl, or pass --format csv|ndjson`,
  );
}

const WINDOW_PER_SLOT = 64;
const CHECKPOINT_EVERY_MS = 1000;
const MAX_ATTEMPTS = 6;
// Deadlock, serialization failure, lock not available: worth trying again.
const TRANSIENT_CODES = new Set(['40P01', '40001', '55P03']);

/**
 * How the import's rows are batched: a batch holds up to half the rows in flight, and waits a
 * little for them, as their reads before the batch finish at about the same time.
 */
export const importBatching = (concurrency: number): GroupCommitConfig => ({
  maxSize: Math.max(1, Math.ceil(concurrency / 2)),
  windowMs: 5,
  concurrency: 2,
});

const rejected = (code: string, reason: string): Outcome => ({ status: 'rejected', code, reason });

/**
 * Customers: a new one is created; one that exists with the same data is already imported. With
 * `batches` (one server), new customers are written a batch at a time (issue #16), and a row whose
 * batch cannot have it runs here alone.
 */
async function applyCustomer(
  db: Database,
  retailerId: string,
  row: CustomerRow,
  now: Date,
  cutover: Date | undefined,
  batches?: GroupCommit,
): Promise<Outcome> {
  const input = row.user;
  const past = { enrolled_at: row.enrolled_at, registered_at: row.registered_at, cutover };
  try {
    if (batches) {
      const alone = () => applyCustomer(db, retailerId, row, now, cutover);
      return await createInBatch(batches, newMember(retailerId, input, now, past), alone, (taken) =>
        existingCustomer(db, retailerId, row, now, taken, alone),
      );
    }
    await createUser(db, retailerId, input, now, past);
    return { status: 'imported' };
  } catch (err) {
    if (!(err instanceof LaurelError) || (err.code !== 'email_taken' && err.code !== 'external_id_taken')) {
      throw err;
    }
    return existingCustomer(db, retailerId, row, now, err);
  }
}

async function orNothing(find: () => Promise<UserRow>): Promise<UserRow | undefined> {
  try {
    return await find();
  } catch (err) {
    if (err instanceof LaurelError && err.code === 'user_not_found') return undefined;
    throw err;
  }
}

const who = (u: UserRow) => (u.external_id ? `external_id ${u.external_id}` : `user ${u.id}`);

async function existingCustomer(
  db: Database,
  retailerId: string,
  row: CustomerRow,
  now: Date,
  taken: LaurelError,
  /** When neither key finds a customer any longer (the row's was found taken before the create). */
  orElse?: () => Promise<Outcome>,
): Promise<Outcome> {
  const input: UserInput = row.user;
  const given = normalizeProfile(input, now);
  const external = given.external_id ?? undefined;
  const email = given.email ?? undefined;
  const byExternal = external
    ? await orNothing(() => getUser(db, retailerId, { external_id: external }))
    : undefined;
  const byEmail = email ? await orNothing(() => searchUsers(db, retailerId, { email })) : undefined;
  if (byExternal && byEmail && byExternal.id !== byEmail.id) {
    return rejected('email_taken', `email ${email} belongs to another customer (${who(byEmail)})`);
  }
  const existing = byExternal ?? byEmail;
  // Taken, yet neither key finds a customer: one of the row's identifiers is another's.
  if (!existing) return orElse ? orElse() : rejected(taken.code, taken.message);
  const diffs = customerDifferences(
    given,
    existing,
    given.identifiers !== undefined ? await listIdentifiers(db, existing.id) : [],
    row,
  );
  if (!diffs.length) return { status: 'present' };
  const [code, key] = byExternal
    ? (['external_id_taken', `external_id ${external}`] as const)
    : (['email_taken', `email ${email}`] as const);
  return rejected(code, `${key} already belongs to a customer with other data: ${diffs.join('; ')}`);
}

/** Purchases: sent as the till would; a request already answered is already imported. */
async function applyTransaction(
  db: Database,
  batching: { batches: GroupCommit; contexts: SendContextReader | undefined },
  retailerId: string,
  body: SendTransactionBody,
  now: Date,
  historyOnly: boolean,
): Promise<Outcome> {
  // A request answered before (a re-run, a resume) is present: the send finds its stored answer in
  // its own first read, no read of the import's own (issue #16).
  let present = false;
  // Without --history-only a purchase earns: one from before the member's opening position would
  // earn points that position holds already (docs/import.md, "Opening balances").
  // Through the import's own group commit (issue #16), the till's machinery: the import's concurrent
  // sends of different members share batches, a lock, a read and a write each.
  const r = await sendTransactionBatched(db, retailerId, body, now, {
    batches: batching.batches,
    ...(batching.contexts ? { contexts: batching.contexts } : {}),
    onReplay: () => (present = true),
    historyOnly,
    refuseBeforeOpening: !historyOnly,
  });
  if (present) return { status: 'present' };
  const notAwarded = !r.awarded ? r.reason : historyOnly && r.revision === 1 ? 'history_only' : null;
  return { status: 'imported', notAwarded, edit: r.revision > 1 };
}

/**
 * Opening balances: one position per member; one already posted with the same data is present.
 * Through the import's own group commit when there is one (issue #16), else each row alone, in
 * the members' turns when several run at once.
 */
async function applyBalance(
  db: Database,
  balancing: { openings: OpeningBatching | undefined; turns: MemberTurns | undefined },
  retailerId: string,
  row: BalanceRow,
  cutover: Date,
  now: Date,
  /** How the row is tried again after a transient error, inside its member's turn. */
  retry: Retry,
): Promise<Outcome> {
  return balancing.openings
    ? importOpeningBatched(db, balancing.openings, retailerId, row, cutover, now, retry)
    : importOpening(db, retailerId, row, cutover, now, balancing.turns, retry);
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A database error worth trying the row again for: a lock or serialization conflict, a lost connection. */
function isTransient(err: unknown): boolean {
  return TRANSIENT_CODES.has((err as { code?: string }).code ?? '') || isConnectionError(err);
}

/**
 * Runs a row's work, and again after a transient error, up to MAX_ATTEMPTS in all with a growing
 * pause; other errors, and the last, go through. Retried even while stopping: a row in flight
 * either goes in or stays before the checkpoint.
 */
const retried: Retry = async (work) => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (err instanceof LaurelError || !isTransient(err) || attempt >= MAX_ATTEMPTS) throw err;
      await sleep(50 * 2 ** attempt);
    }
  }
};

/**
 * A cutover applies to customers and may not lie before the import's clock: a quarter that ended
 * between the cutover and the import would be cashed out while the member's history is still being
 * imported, from part of it (docs/import.md, "Cut-over and cash-outs").
 */
function checkCutover(kind: ImportKind, cutover: Date, now: Date): void {
  if (kind === 'balances') {
    // Positions as of an instant to come would show in the balances before it.
    if (cutover > now) {
      throw new LaurelError(
        'validation',
        `--cutover ${cutover.toISOString()} is after the import's clock (${now.toISOString()}): balances are positions the old platform showed at an instant already passed`,
      );
    }
    return;
  }
  if (kind !== 'customers') {
    throw new LaurelError('validation', '--cutover applies to import customers and import balances');
  }
  if (cutover < now) {
    throw new LaurelError(
      'validation',
      `--cutover ${cutover.toISOString()} is before the import's clock (${now.toISOString()}): quarters ` +
        'that ended before the import are left to the old platform; give the import time or a later instant',
    );
  }
}

/** Runs an import to the end of the file (or until stopped) and returns what it did. */
export async function runImport(db: Database, opts: ImportOptions): Promise<ImportSummary> {
  const started = Date.now();
  const { file, kind, retailerId } = opts;
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new LaurelError('not_found', `file ${file} does not exist`);
  }
  const format = formatOf(file, opts.format);
  if (opts.cutover) checkCutover(kind, opts.cutover, opts.now());
  if (opts.historyOnly && kind !== 'transactions') {
    throw new LaurelError('validation', '--history-only applies to import transactions');
  }
  const concurrency = Math.max(1, Math.floor(opts.concurrency));
  const rejectsPath = opts.rejectsPath ?? `${file}.rejects.ndjson`;
  const checkpointPath = opts.checkpointPath ?? `${file}.laurel-checkpoint`;
  const identity = fileIdentity(file);
  const loaded =
    opts.resume === false
      ? undefined
      : loadCheckpoint(checkpointPath, { kind, format, retailer_id: retailerId, file: identity });
  // Balances are of one instant, read once: the cut-over, or the import's clock at the start of the
  // run a resume continues (its checkpoint keeps it), else of this one. A checkpoint of positions
  // at another instant than the one given is not resumed: its rows are of another import.
  const found =
    kind === 'balances' && opts.cutover && loaded?.cutover !== opts.cutover.toISOString()
      ? undefined
      : loaded;
  const cutover =
    opts.cutover ??
    (kind === 'balances' ? (found?.cutover ? new Date(found.cutover) : opts.now()) : undefined);
  // A resume needs the rejects of the rows it skips: their file, as long as the checkpoint saw it.
  const prior =
    found &&
    found.rejects.path === rejectsPath &&
    (found.rejects.bytes === 0 ||
      (existsSync(rejectsPath) && statSync(rejectsPath).size >= found.rejects.bytes))
      ? found
      : undefined;
  const resumeLine = prior?.line ?? 0;
  const counts: ImportCounts = prior ? structuredClone(prior.counts) : emptyCounts();

  // The rejects file of a fresh run starts empty; a resume keeps what the checkpoint covers and
  // drops what rows after it wrote before the interruption (they are read again).
  const rejectsFd = openSync(rejectsPath, prior ? 'a' : 'w');
  const rejectsBase = prior?.rejects.bytes ?? 0;
  if (prior) ftruncateSync(rejectsFd, rejectsBase);
  let rejectsBytes = rejectsBase;

  const keys = new KeySet();
  let runRows = 0;
  let runSkipped = 0;
  let nextSeq = 0;
  let emitSeq = 0;
  let running = 0;
  let done = { line: resumeLine, end: prior?.end ?? 0 };
  let skippedBytes = 0;
  let stopping = false;
  let fatal: unknown;
  let lastSave = Date.now();
  const settled = new Map<number, { unit: SourceUnit<unknown>; entries: RejectEntry[]; outcome?: Outcome }>();
  const chains = new Map<string, Promise<void>>();
  let wake: (() => void) | undefined;
  const window = concurrency * WINDOW_PER_SLOT;
  // Purchases go through the import's own group commit (issue #16): half the rows in flight a
  // batch, two batches at once, so one is read and prepared while the other writes and commits; and
  // the rows prepared together read their contexts in one statement, on one server.
  const batching =
    kind === 'transactions'
      ? {
          batches: new GroupCommit(db, importBatching(concurrency)),
          contexts: (await isOneServer(db)) ? new SendContextReader(db) : undefined,
        }
      : undefined;
  // New customers too, on one server: one statement writes a batch's members (issue #16).
  const customerBatches =
    kind === 'customers' && (await isOneServer(db))
      ? new GroupCommit(db, importBatching(concurrency))
      : undefined;
  // Opening balances are batched the same way on one server (issue #16); on Citus (issue #19), or
  // one row in flight, each row runs alone in its own transaction. With several rows in flight,
  // batched or not, a member's rows keep the file's order whichever key names it.
  const turns = kind === 'balances' && concurrency > 1 ? new MemberTurns() : undefined;
  const openings: OpeningBatching | undefined =
    turns && (await isOneServer(db))
      ? {
          batches: new GroupCommit(db, importBatching(concurrency)),
          contexts: new OpeningContextReader(db),
          turns,
        }
      : undefined;
  const balancing = { openings, turns };

  // The members the file's keys name, by key: rows of one member keep the file's order whichever
  // key each names them by (an email in one row, an external id in the next), since rows in flight
  // share batches and would otherwise run in any order. One lookup per key the file uses.
  const membersByKey = new Map<string, string | null>();
  const memberSerial = async (unit: SourceUnit<unknown>): Promise<string[]> => {
    const serial = unit.serial ?? [];
    let key: MemberKey | undefined;
    try {
      key = memberKeyOf((unit.value as SendTransactionBody).request_payload);
    } catch {
      return serial; // an unknown user_id_type: the send refuses the row
    }
    if (!key) return serial;
    const k = `${key.type}\u0000${key.type === 'email' ? key.id.toLowerCase() : key.id}`;
    let id = membersByKey.get(k);
    if (id === undefined) {
      id = (await findMemberId(db, retailerId, key)) ?? null;
      membersByKey.set(k, id);
    }
    return id ? [...serial.filter((s) => !s.startsWith('m\u0000')), `u\u0000${id}`] : serial;
  };

  const checkpoint = (): Checkpoint => ({
    version: 1,
    kind,
    format,
    retailer_id: retailerId,
    file: identity,
    line: done.line,
    end: done.end,
    counts,
    rejects: { path: rejectsPath, bytes: rejectsBytes },
    ...(kind === 'balances' ? { cutover: cutover!.toISOString() } : {}),
    started_at: prior?.started_at ?? new Date(started).toISOString(),
    saved_at: new Date().toISOString(),
  });
  // Best effort: without a checkpoint a resume only takes longer (a read-only directory, a full disk).
  let checkpointError: string | undefined;
  const save = () => {
    lastSave = Date.now();
    if (checkpointError !== undefined) return;
    try {
      saveCheckpoint(checkpointPath, checkpoint());
    } catch (err) {
      checkpointError = (err as Error).message;
    }
  };

  /** Records a row's result; results are taken in file order, so the checkpoint never passes a row in flight. */
  const settle = (seq: number, unit: SourceUnit<unknown>, entries: RejectEntry[], outcome?: Outcome) => {
    settled.set(seq, { unit, entries, ...(outcome ? { outcome } : {}) });
    let out = '';
    for (let s = settled.get(emitSeq); s; s = settled.get(emitSeq)) {
      settled.delete(emitSeq++);
      if (s.unit.endLine <= resumeLine) runSkipped++;
      else {
        runRows++;
        counts.rows++;
        const o = s.outcome;
        if (o?.status === 'imported') {
          counts.imported++;
          if (o.edit) counts.edits++;
          if (o.notAwarded) counts.not_awarded[o.notAwarded] = (counts.not_awarded[o.notAwarded] ?? 0) + 1;
        } else if (o?.status === 'present') counts.present++;
        const all =
          o?.status === 'rejected' ? [...s.entries, rowReject(s.unit, o.code, o.reason)] : s.entries;
        counts.rejected += all.length;
        for (const e of all) out += `${rejectLine(e)}\n`;
      }
      done = { line: Math.max(done.line, s.unit.endLine), end: Math.max(done.end, s.unit.end) };
    }
    if (out) rejectsBytes += writeSync(rejectsFd, out);
    if (Date.now() - lastSave >= CHECKPOINT_EVERY_MS) save();
    wake?.();
  };

  /** Waits until the row may be read on: few enough rows in flight and unsettled. */
  const room = async (needsSlot: boolean) => {
    while (!stopping && ((needsSlot && running >= concurrency) || nextSeq - emitSeq >= window)) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  };

  const apply = async (value: unknown): Promise<Outcome> => {
    try {
      // A balances row is tried again inside its member's turn (`MemberTurns`): tried again from
      // here, it would queue behind the later rows of its member (bug: the file's first row came
      // back idempotency_conflict after a serialization failure).
      if (kind === 'balances') {
        return await applyBalance(
          db,
          balancing,
          retailerId,
          value as BalanceRow,
          cutover!,
          opts.now(),
          retried,
        );
      }
      return await retried(() =>
        kind === 'customers'
          ? applyCustomer(db, retailerId, value as CustomerRow, opts.now(), opts.cutover, customerBatches)
          : applyTransaction(
              db,
              batching!,
              retailerId,
              value as SendTransactionBody,
              opts.now(),
              opts.historyOnly ?? false,
            ),
      );
    } catch (err) {
      if (err instanceof BeforeOpeningError) return rejected('before_cutover', err.message);
      if (err instanceof LaurelError) return rejected(err.code, err.message);
      if (isConnectionError(err)) throw err;
      return rejected(
        isTransient(err) ? 'service_unavailable' : 'internal_server_error',
        `the database refused the row: ${(err as Error).message}`,
      );
    }
  };

  const progressTimer = opts.onProgress
    ? setInterval(() => opts.onProgress!(progress()), opts.progressIntervalMs ?? 1000)
    : undefined;
  const progress = (): ImportProgress => ({
    kind,
    rows: runRows,
    skipped: runSkipped,
    bytes: done.end,
    totalBytes: identity.size,
    skippedBytes,
    elapsedMs: Date.now() - started,
    counts,
  });
  const onAbort = () => {
    stopping = true;
    wake?.();
  };
  opts.signal?.addEventListener('abort', onAbort);
  if (opts.signal?.aborted) stopping = true;

  try {
    const lines = readLines(file);
    const units: AsyncGenerator<SourceUnit<unknown>> =
      kind === 'customers'
        ? customerUnits(format, lines, opts.now)
        : kind === 'balances'
          ? balanceUnits(format, lines, cutover!)
          : transactionUnits(format, lines);
    let turn = Date.now();
    for await (const unit of units) {
      // PGlite answers without real I/O, so a run of rows could starve timers and signals (progress,
      // Ctrl-C) until the next read from the file: give the event loop a turn now and then.
      if (Date.now() - turn >= 50) {
        await new Promise((resolve) => setImmediate(resolve));
        turn = Date.now();
      }
      await room(false);
      if (stopping) break;
      const seq = nextSeq++;
      const live = unit.endLine > resumeLine;
      if (!live) skippedBytes = unit.end;
      if (unit.rejects?.length) {
        settle(seq, unit, live ? unit.rejects : []);
        continue;
      }
      // A row is a duplicate when one of its keys was on an earlier line; only rows that may go in
      // hold their keys, so a rejected row does not shadow a good one after it.
      const rowKeys = unit.keys ?? [];
      const dup = rowKeys.map((k) => ({ k, first: keys.lineOf(k.key) })).find((d) => d.first !== undefined);
      if (dup) {
        const reason = `duplicate: ${dup.k.label} already appears on line ${dup.first}`;
        settle(seq, unit, live ? [rowReject(unit, 'duplicate_row', reason)] : []);
        continue;
      }
      for (const k of rowKeys) keys.add(k.key, unit.line);
      if (!live) {
        settle(seq, unit, []);
        continue;
      }
      // Rows sharing a customer or a transaction wait for the earlier ones: the file's order holds.
      // Looked up before the row counts as running: a failed lookup stops the import with nothing
      // of the row begun.
      const serial = kind === 'transactions' ? await memberSerial(unit) : (unit.serial ?? []);
      await room(true);
      if (stopping) break;
      running++;
      const before = serial.map((k) => chains.get(k)).filter((p): p is Promise<void> => p !== undefined);
      const task: Promise<void> = (async () => {
        if (before.length) await Promise.all(before);
        return apply(unit.value);
      })()
        .then((outcome) => settle(seq, unit, [], outcome))
        .catch((err: unknown) => {
          fatal ??= err;
          stopping = true;
        });
      const finished = task.finally(() => {
        running--;
        for (const k of serial) if (chains.get(k) === finished) chains.delete(k);
        wake?.();
      });
      for (const k of serial) chains.set(k, finished);
    }
    while (running > 0) await new Promise<void>((resolve) => (wake = resolve));
  } catch (err) {
    fatal ??= err;
    while (running > 0) await new Promise<void>((resolve) => (wake = resolve));
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    opts.signal?.removeEventListener('abort', onAbort);
  }

  const completed = !stopping && fatal === undefined;
  try {
    if (completed) removeCheckpoint(checkpointPath);
    else if (done.line > resumeLine) save();
  } finally {
    closeSync(rejectsFd);
  }
  if (rejectsBytes === 0) rmSync(rejectsPath, { force: true });
  // Even a stopped import wrote rows: the planner should know of them before the API reads.
  const statistics = runRows > 0 ? await refreshStatistics(db, kind) : undefined;
  if (fatal !== undefined) {
    if (fatal instanceof LaurelError && done.line === 0) throw fatal;
    const message = fatal instanceof Error ? fatal.message : String(fatal);
    throw new LaurelError(
      isConnectionError(fatal) ? 'service_unavailable' : 'internal_server_error',
      `import stopped after line ${done.line}: ${message}; run the same command again to resume`,
    );
  }
  const durationMs = Date.now() - started;
  return {
    kind,
    format,
    file,
    counts,
    run: {
      rows: runRows,
      skipped: runSkipped,
      duration_ms: durationMs,
      rows_per_second: durationMs > 0 ? Math.round((runRows * 1000) / durationMs) : runRows,
    },
    resumed_after_line: prior ? resumeLine : null,
    rejects_path: rejectsBytes > 0 ? rejectsPath : null,
    completed,
    line: done.line,
    checkpoint_path: checkpointPath,
    checkpoint_error: checkpointError ?? null,
    statistics_error: statistics ?? null,
  };
}

/**
 * The tables each kind of import writes. A bulk load leaves them without planner statistics until
 * autovacuum's next analyze (never, where it is off), and on a table never analyzed PostgreSQL can
 * tie a member's primary-key lookup with an index on the retailer alone: `lockUserById` then read
 * every member of the retailer (9 ms a call at 20,000 members, growing with them).
 */
const WRITTEN: Record<ImportKind, readonly string[]> = {
  customers: [
    'users',
    'member_emails',
    'member_external_ids',
    'member_phones',
    'member_referrer_codes',
    'user_identifiers',
    'user_phones',
    'enrollment_events',
    'member_standings',
    'events',
  ],
  transactions: [
    'purchases',
    'transaction_keys',
    'pos_requests',
    'lots',
    'journals',
    'postings',
    'balances',
    'tier_moves',
    'member_standings',
    'events',
  ],
  balances: ['journals', 'postings', 'balances', 'tier_moves', 'member_standings', 'events'],
};

/**
 * `ANALYZE`s the tables the import wrote, so the first requests after it are planned on what is
 * there. Answers why it could not, which the summary reports: the rows are imported either way.
 */
async function refreshStatistics(db: Database, kind: ImportKind): Promise<string | undefined> {
  try {
    await db.exec(`ANALYZE ${WRITTEN[kind].join(', ')}`);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function rowReject(unit: SourceUnit<unknown>, code: string, reason: string): RejectEntry {
  const entry: RejectEntry = { line: unit.line, reason, code, row: unit.row };
  if (unit.endLine !== unit.line) entry.end_line = unit.endLine;
  return entry;
}

/** A line of the rejects file, its keys always in one order: line, end_line, reason, code, row. */
function rejectLine(e: RejectEntry): string {
  return JSON.stringify({
    line: e.line,
    ...(e.end_line !== undefined ? { end_line: e.end_line } : {}),
    reason: e.reason,
    code: e.code,
    row: e.row,
  });
}
