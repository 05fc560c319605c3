import { envGroupCommit, type GroupCommitConfig } from '../config.js';
import { isConnectionError, type Database, type Tx } from '../db/database.js';
import { isOneServer } from '../db/distribution.js';
import { lockMembersAtOnce, type LockedMember } from '../customers/customer.repository.js';
import { lockLedgerOwners } from './ledger.repository.js';

/**
 * Group commit of the till's writes (issue #15, docs/decisions/0007-group-commit.md): concurrent
 * requests are gathered for a short window and run in one transaction with one commit, so one WAL
 * flush serves them all. Each request is answered only after its batch's COMMIT has returned:
 * nothing is acknowledged that is not durable, and a crash mid-batch leaves nothing of it.
 */

/** One request's work in a batch. */
export interface BatchJob<T> {
  /** The members whose row locks the job takes; a batch locks them all first, in id order. */
  members: readonly string[];
  /**
   * Orders the jobs of a batch, stably: jobs of one member share a key, so they run in arrival
   * order, each over the state the one before left.
   */
  key: string;
  /**
   * The job inside the batch's transaction, under its members' locks. It calls `beforeWrite` just
   * before its first statement that writes what it answers about; until then a failure of its own
   * (a validation, a rule) is answered to it alone and the batch goes on. `shared` is the batch's
   * scratch space, where jobs note what they wrote for the jobs after them. `batch` carries what
   * the batch read for the job and takes the writes it leaves to the batch.
   */
  apply(tx: Tx, beforeWrite: () => void, shared: Map<string, unknown>, batch: BatchContext): Promise<T>;
  /** The same request in a transaction of its own: what runs when the batch's transaction fails. */
  alone(): Promise<T>;
  /**
   * The job may fail after writing (a request refused whole when one of its lines cannot be
   * applied): it runs inside a savepoint, and its failure rolls back to it and is answered to it
   * alone, whatever it wrote. Two more round trips; none in a batch of one.
   */
  savepoint?: boolean;
  /**
   * What the job reads under its locks, read for the whole batch in one statement after the
   * members' locks (issue #15): `read` is called once with the `item` of every job of the batch
   * that is the first of its key, and answers one result per item, in order.
   */
  prefetch?: { read: BatchReader; item: unknown };
}

/** Reads, in one statement, what several jobs of a batch need; one answer per item, in order. */
export type BatchReader = (tx: Tx, items: unknown[]) => Promise<unknown[]>;

/** Writes, in one statement, what several jobs of a batch left to it. */
export type BatchWriter = (tx: Tx, items: unknown[]) => Promise<void>;

/** What a job's `apply` gets from its batch besides the transaction (issue #15). */
export interface BatchContext {
  /**
   * The members the batch locked, each with its row, by id: in a batch of more than one request
   * on one PostgreSQL server, where one statement locks them all. Undefined otherwise: the job
   * locks its own.
   */
  owners: ReadonlyMap<string, LockedMember> | undefined;
  /** What the job's `prefetch` read; undefined when nothing was read for it (it reads its own). */
  prefetched: unknown;
  /**
   * Leaves a write to the batch: written with every other item of the same writer in one
   * statement, before the next job of the same key runs and before COMMIT. The job must have
   * called `beforeWrite`: a failure of that statement fails the whole batch. On Citus the item is
   * written at once, alone: one statement stays on one member's shard (issue #19).
   */
  defer(writer: BatchWriter, item: unknown): Promise<void>;
  /**
   * Writes now what the batch's jobs deferred so far, whatever their key: a job about to read
   * what a job of another key left (the claim of a transaction id both name) sees it.
   */
  flush(): Promise<void>;
}

interface Queued {
  job: BatchJob<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** The batch could not commit as a whole: its requests run again, each alone. */
class BatchFailed extends Error {
  constructor(override readonly cause: unknown) {
    super('batch failed');
  }
}

/** The one job of a batch of one failed: its error is its answer, and nothing of it is committed. */
class JobFailed extends Error {
  constructor(override readonly cause: unknown) {
    super('job failed');
  }
}

export class GroupCommit {
  private queue: Queued[] = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** The window of the oldest waiting request has passed: flush as soon as a batch slot is free. */
  private due = false;
  private running = 0;

  constructor(
    private readonly db: Database,
    private readonly opts: GroupCommitConfig,
  ) {
    // Asked once, ahead of the first batch, outside its transaction.
    this.oneServer().catch(() => undefined);
  }

  /**
   * Whether the database is one server, where one statement may lock, read and write many
   * members (issue #15), and not Citus, where a statement stays on one member's shard (issue #19).
   */
  oneServer(): Promise<boolean> {
    return isOneServer(this.db);
  }

  /** Requests waiting for their batch to start. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Runs the job in the next batch; settles after that batch's COMMIT (or the job's own failure). */
  submit<T>(job: BatchJob<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ job, resolve: resolve as (v: unknown) => void, reject });
      if (!this.timer && !this.due) this.startWindow();
      this.kick();
    });
  }

  private startWindow(): void {
    const fire = () => {
      this.timer = undefined;
      this.due = true;
      this.kick();
    };
    this.timer = this.opts.windowMs > 0 ? setTimeout(fire, this.opts.windowMs) : setImmediate(fire);
  }

  private kick(): void {
    while (
      this.running < this.opts.concurrency &&
      this.queue.length > 0 &&
      (this.due || this.queue.length >= this.opts.maxSize)
    ) {
      const batch = this.queue.splice(0, this.opts.maxSize);
      if (!this.queue.length) {
        this.due = false;
        if (this.timer) {
          clearTimeout(this.timer as NodeJS.Timeout);
          clearImmediate(this.timer as NodeJS.Immediate);
          this.timer = undefined;
        }
      }
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        this.kick();
      });
    }
  }

  private async run(batch: Queued[]): Promise<void> {
    // Stable: jobs of one key keep their arrival order.
    const ordered = [...batch].sort((a, b) => (a.job.key < b.job.key ? -1 : a.job.key > b.job.key ? 1 : 0));
    let outcomes: Outcome[];
    try {
      outcomes = await this.db.transaction(async (tx) => {
        let failed = false;
        // A statement that failed aborts the transaction: every job of the batch must run again.
        const guarded: Tx = {
          inTransaction: true,
          query: (sql, params) =>
            tx.query(sql, params).catch((err: unknown) => {
              failed = true;
              throw err;
            }),
          exec: (sql) =>
            tx.exec(sql).catch((err: unknown) => {
              failed = true;
              throw err;
            }),
        } as Tx;
        // Every member of the batch locked first, in id order (DESIGN §9): two batches, on one
        // server or two, lock overlapping members in the same order and so never deadlock. A batch
        // of one leaves it to its job, which locks its own member (no extra round trip). On one
        // PostgreSQL server one statement locks them all and reads their rows, and one statement per
        // reader reads what the jobs need under those locks (issue #15); on Citus a lock never spans
        // two members' shards (issue #19), and each job reads its own.
        const members = [...new Set(ordered.flatMap((q) => q.job.members))].sort();
        const spread = ordered.length > 1 && (await this.oneServer());
        let owners: Map<string, LockedMember> | undefined;
        if (spread) owners = members.length ? await lockMembersAtOnce(guarded, members) : new Map();
        else if (ordered.length > 1 && members.length) await lockLedgerOwners(guarded, members);
        const prefetched = spread ? await prefetch(guarded, ordered) : new Map<Queued, unknown>();
        const pending = new Map<BatchWriter, unknown[]>();
        const pendingKeys = new Set<string>();
        const flush = async () => {
          for (const [write, items] of pending) await write(guarded, items);
          pending.clear();
          pendingKeys.clear();
        };
        const shared = new Map<string, unknown>();
        const out: Outcome[] = [];
        const single = ordered.length === 1;
        for (const q of ordered) {
          const savepoint = q.job.savepoint === true && !single;
          let writing = false;
          // A job reads what an earlier job of its key left: that is written first.
          if (pendingKeys.has(q.job.key)) await flush();
          const context: BatchContext = {
            owners,
            prefetched: prefetched.get(q),
            defer: async (write, item) => {
              if (!spread) return write(guarded, [item]);
              const items = pending.get(write);
              if (items) items.push(item);
              else pending.set(write, [item]);
              pendingKeys.add(q.job.key);
            },
            flush,
          };
          try {
            if (savepoint) await tx.query('SAVEPOINT laurel_job');
            const value = await q.job.apply(guarded, () => (writing = true), shared, context);
            if (savepoint) await tx.query('RELEASE SAVEPOINT laurel_job');
            out.push({ ok: true, value });
          } catch (error) {
            if (savepoint && !isConnectionError(error)) {
              // Back to before the job, whatever it wrote or whichever statement failed.
              await tx.query('ROLLBACK TO SAVEPOINT laurel_job');
              failed = false;
              out.push({ ok: false, error });
              continue;
            }
            if (single && q.job.savepoint) throw new JobFailed(error);
            if (failed || writing) throw new BatchFailed(error);
            out.push({ ok: false, error });
          }
        }
        await flush();
        return out;
      });
    } catch (err) {
      if (err instanceof JobFailed) {
        batch[0]!.reject(err.cause);
        return;
      }
      const cause = err instanceof BatchFailed ? err.cause : err;
      if (isConnectionError(cause)) {
        // The database cannot be reached (or the COMMIT's fate is unknown): each request answers
        // 503, and a retry finds its stored answer if the batch did commit (DESIGN §4).
        for (const q of batch) q.reject(cause);
        return;
      }
      await Promise.all(batch.map((q) => q.job.alone().then(q.resolve, q.reject)));
      return;
    }
    ordered.forEach((q, i) => {
      const o = outcomes[i]!;
      if (o.ok) q.resolve(o.value);
      else q.reject(o.error);
    });
  }
}

/**
 * The first job of each key with a prefetch, read per reader in one statement: a later job of the
 * same key reads its own, after the earlier one's writes.
 */
async function prefetch(tx: Tx, ordered: readonly Queued[]): Promise<Map<Queued, unknown>> {
  const byReader = new Map<BatchReader, Queued[]>();
  const seen = new Set<string>();
  for (const q of ordered) {
    const first = !seen.has(q.job.key);
    seen.add(q.job.key);
    if (!first || !q.job.prefetch) continue;
    const list = byReader.get(q.job.prefetch.read);
    if (list) list.push(q);
    else byReader.set(q.job.prefetch.read, [q]);
  }
  const out = new Map<Queued, unknown>();
  for (const [read, jobs] of byReader) {
    const results = await read(
      tx,
      jobs.map((q) => q.job.prefetch!.item),
    );
    jobs.forEach((q, i) => out.set(q, results[i]));
  }
  return out;
}

const batchers = new WeakMap<Database, GroupCommit>();

/**
 * The group commit of a database handle, made on first use with the environment's settings. The
 * embedded database has one connection, so its batches run one after another.
 */
export function groupCommitOf(db: Database): GroupCommit {
  return batchers.get(db) ?? configureGroupCommit(db, envGroupCommit());
}

/**
 * Gives a database handle a group commit with these settings (its first use, or a test that needs
 * a batch of exactly N requests: a long window, size N). Requests already waiting keep the old one.
 */
export function configureGroupCommit(db: Database, cfg: GroupCommitConfig): GroupCommit {
  const g = new GroupCommit(db, db.kind === 'pglite' ? { ...cfg, concurrency: 1 } : cfg);
  batchers.set(db, g);
  return g;
}
