import { envGroupCommit, type GroupCommitConfig } from '../config.js';
import { isConnectionError, type Database, type Tx } from '../db/database.js';
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
   * scratch space, where jobs note what they wrote for the jobs after them.
   */
  apply(tx: Tx, beforeWrite: () => void, shared: Map<string, unknown>): Promise<T>;
  /** The same request in a transaction of its own: what runs when the batch's transaction fails. */
  alone(): Promise<T>;
  /**
   * The job may fail after writing (a request refused whole when one of its lines cannot be
   * applied): it runs inside a savepoint, and its failure rolls back to it and is answered to it
   * alone, whatever it wrote. Two more round trips; none in a batch of one.
   */
  savepoint?: boolean;
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
  ) {}

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
        // of one leaves it to its job, which locks its own member (no extra round trip).
        const members = [...new Set(ordered.flatMap((q) => q.job.members))].sort();
        if (ordered.length > 1 && members.length) await lockLedgerOwners(guarded, members);
        const shared = new Map<string, unknown>();
        const out: Outcome[] = [];
        const single = ordered.length === 1;
        for (const q of ordered) {
          const savepoint = q.job.savepoint === true && !single;
          let writing = false;
          try {
            if (savepoint) await tx.query('SAVEPOINT laurel_job');
            const value = await q.job.apply(guarded, () => (writing = true), shared);
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
