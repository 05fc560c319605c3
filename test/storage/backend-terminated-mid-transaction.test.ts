import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConnectionError, isStaleConnection, openPostgres, type Database } from '../../src/db/database.js';
import { createTestSchema, dropTestSchema } from '../support/databases.js';

/**
 * Regression (issue #7, found by the reliability suite, test/reliability/conservation.test.ts): a
 * PostgreSQL backend terminated while its `pg` client was handed out of the pool (a transaction
 * waiting between two statements, as the sweeper's advisory-lock holder waits for a whole sweep, or
 * a new connection on its way to its first statement) made the client emit an 'error' event nobody
 * listened to, and the whole server process died. The transaction must fail with a connection
 * error (503 at the HTTP edge) and the pool must go on.
 */

const url = process.env.DATABASE_URL;

describe.skipIf(!url)('A backend terminated in the middle of a transaction [postgres]', () => {
  let schema: string;
  let db: Database;
  let admin: pg.Client;
  /** What would have crashed a server: errors thrown where nobody catches them. */
  const uncaught: unknown[] = [];
  const hear = (err: unknown) => uncaught.push(err);

  beforeAll(async () => {
    process.on('uncaughtException', hear);
    schema = await createTestSchema(url!);
    db = await openPostgres({ url: url!, schema, max: 2 });
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  });
  afterAll(async () => {
    process.off('uncaughtException', hear);
    await db.close();
    await admin.end();
    await dropTestSchema(url!, schema);
  });

  /** Terminates `pid` and waits until its backend is gone and the client has had time to hear it. */
  async function terminate(pid: number): Promise<void> {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    for (let i = 0; i < 100; i++) {
      const { rows } = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
      if (!rows.length) break;
      await new Promise((done) => setTimeout(done, 20));
    }
    await new Promise((done) => setTimeout(done, 100));
  }

  it('fails the transaction with a connection error instead of crashing the process (bug: unhandled error event of the pg client)', async () => {
    const failure = await db
      .transaction(async (tx) => {
        const [row] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // Between two statements, as the sweeper's lock holder waits while the sweep runs.
        await terminate(row!.pid);
        await tx.query('SELECT 1');
      })
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(uncaught).toEqual([]);
    expect(failure).toBeInstanceOf(Error);
    expect(isConnectionError(failure)).toBe(true);
    // The dead connection left the pool: every statement after it runs.
    const rows = await Promise.all(
      Array.from({ length: 4 }, () => db.query<{ one: number }>('SELECT 1 AS one')),
    );
    expect(rows.map((r) => r[0]!.one)).toEqual([1, 1, 1, 1]);
  });

  it('fails a transaction whose backend died after its last statement, at its commit', async () => {
    const failure = await db
      .transaction(async (tx) => {
        const [row] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await terminate(row!.pid);
      })
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(uncaught).toEqual([]);
    expect(isConnectionError(failure)).toBe(true);
    expect(await db.transaction((tx) => tx.query<{ one: number }>('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
  });

  /**
   * Terminates the backends of `pids` and waits for them to exit without yielding to the event
   * loop (psql, synchronously): the pool's idle connections then hold their backend's goodbye
   * unread, as a server's pool does when a failover or an administrator ends its backends just
   * before a request arrives.
   */
  function terminateUnheard(pids: number[]): void {
    const done = spawnSync(
      'psql',
      [
        url!,
        '-Atc',
        `SELECT bool_and(pg_terminate_backend(pid, 5000)) FROM unnest('{${pids.join(',')}}'::int[]) pid`,
      ],
      { encoding: 'utf8' },
    );
    if (done.status !== 0 || done.stdout.trim() !== 't') {
      throw new Error(`could not terminate ${pids.join(', ')}: ${done.stderr || done.stdout}`);
    }
  }

  /** Both connections of a pool of two busy at once, so both are in the pool afterwards. */
  async function pidsOf(pool: Database): Promise<number[]> {
    const both = await pool.transaction(async (tx) => {
      const [inner] = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const [outer] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      return [inner!.pid, outer!.pid];
    });
    expect(new Set(both).size).toBe(2);
    return both;
  }

  it('runs a statement on a live connection when the pooled ones were terminated while idle (conservation seed 2064591632: 503 after the faults)', async () => {
    const pool = await openPostgres({ url: url!, schema, max: 2 });
    try {
      const before = await pidsOf(pool);
      terminateUnheard(before);
      const [row] = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      expect(before).not.toContain(row!.pid);
      expect(uncaught).toEqual([]);
    } finally {
      await pool.close();
    }
  });

  it('begins a transaction on a live connection when the pooled ones were terminated while idle', async () => {
    const pool = await openPostgres({ url: url!, schema, max: 2 });
    try {
      const before = await pidsOf(pool);
      terminateUnheard(before);
      const pid = await pool.transaction(async (tx) => {
        const [row] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        return row!.pid;
      });
      expect(before).not.toContain(pid);
      expect(uncaught).toEqual([]);
    } finally {
      await pool.close();
    }
  });

  it('does not send a statement again once it failed on a connection lost while it ran', () => {
    // A connection lost mid-statement (not a termination its backend answers) leaves it unknown
    // whether the statement ran: the failure is the answer.
    const lost = new Error('Connection terminated unexpectedly');
    expect(isConnectionError(lost)).toBe(true);
    expect(isStaleConnection(lost)).toBe(false);
    const terminated = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });
    expect(isStaleConnection(terminated)).toBe(true);
  });
});
