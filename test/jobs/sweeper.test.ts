import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { openPGlite, openPostgres, type Database } from '../../src/db/database.js';
import { SWEEPER_LOCK_CLASS, sweepOnce, Sweeper, type SweeperLog } from '../../src/jobs/sweeper.js';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase, type OpenTestDatabase } from '../support/databases.js';
import { PARTITIONED } from '../support/partitioned.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** The rollover sweeper (issue #3 item 5, DESIGN §5) on every database. */

// Members enrol on 1 November, the day of the first purchases (DESIGN §4: a purchase of a day
// before the enrollment earns nothing).
const START = new Date('2026-11-01T20:00:00Z');
/** Past the 30-day escrow of every purchase made on 1–2 November, before that of 20 November. */
const AFTER_MATURITY = '2026-12-10T00:00:00Z';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describeEachDatabase('Rollover sweeper', (target) => {
  let t: TestApp | undefined;
  const extra: Database[] = [];
  afterEach(async () => {
    for (const db of extra.splice(0)) await db.close().catch(() => undefined);
    await t?.close();
    t = undefined;
  });

  const app = () => t!;

  async function member(externalId: string): Promise<string> {
    const res = await app().request('POST', `${app().core}/users`, {
      body: { user: { external_id: externalId, email: `${externalId.toLowerCase()}@example.com` } },
    });
    expect(res.status).toBe(200);
    return res.body.user.id;
  }

  async function buy(
    requestId: string,
    transactionId: string,
    externalId: string,
    openTime: string,
    price = 100,
    voided = false,
  ) {
    const res = await app().request('POST', '/api/2.0/send_transaction', {
      body: {
        store_id: 'BOSTON-01',
        client_id: 'pos-7',
        request_id: requestId,
        request_payload: {
          transaction_id: transactionId,
          open_time: openTime,
          items: [{ line_id: '1', item_id: 'ITEM', quantity: 1, unit_price: price }],
          payments: [
            {
              payment_id: 'P1',
              amount: price,
              type: 'CASH',
              user_id: externalId,
              user_id_type: 'external_id',
            },
          ],
          is_voided: voided,
        },
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.payload;
  }

  /** The member's point account balances as the API shows them now. */
  async function balances(userId: string) {
    const res = await app().request('GET', `${app().core}/users/${userId}?expand_incentives=true`);
    expect(res.status).toBe(200);
    return res.body.user.tier_details.point_account_balances;
  }

  const count = async (sql: string, params: unknown[] = []) =>
    (await app().db.query<{ n: number }>(sql, params))[0]!.n;
  const rollovers = () => count("SELECT count(*)::int AS n FROM journals WHERE kind = 'rollover'");
  const openLots = () => count('SELECT count(*)::int AS n FROM lots WHERE rolled_over_at IS NULL');
  /** Purchases rolled over more than once (one journal per purchase, issue #16): must stay empty. */
  const rolledTwice = () =>
    app().db.query(
      "SELECT purchase_id, count(*)::int AS n FROM journals WHERE kind = 'rollover' GROUP BY purchase_id HAVING count(*) > 1",
    );
  const verified = async () => expect((await verifyLedger(app().db)).problems).toEqual([]);

  it('rolls over every due lot at its maturation instant; reads are the same before and after; a second sweep does nothing', async () => {
    t = await startTestApp(target, START);
    const a = await member('SW-A');
    const b = await member('SW-B');
    const c = await member('SW-C');
    const d = await member('SW-D');
    await app().setNow('2026-11-02T16:00:00Z');
    await buy('a1', 'T-A1', 'SW-A', '2026-11-02T10:00:00Z', 120);
    await buy('a2', 'T-A2', 'SW-A', '2026-11-02T14:00:00Z', 80);
    await buy('b1', 'T-B1', 'SW-B', '2026-11-01T12:00:00Z', 300);
    await buy('c1', 'T-C1', 'SW-C', '2026-11-02T15:00:00Z', 50);
    await buy('d1', 'T-D1', 'SW-D', '2026-11-02T11:00:00Z', 70);
    await buy('x1', 'T-X1', 'NOBODY', '2026-11-02T11:00:00Z', 70);
    // A return leaves part of B's lots; a void leaves C's lots empty (rolled, but no journal).
    await app().setNow('2026-11-10T12:00:00Z');
    await buy('b2', 'T-B1', 'SW-B', '2026-11-01T12:00:00Z', 200);
    await buy('c2', 'T-C1', 'SW-C', '2026-11-02T15:00:00Z', 50, true);
    // A deleted profile keeps its ledger, and its lots still roll over.
    expect((await app().request('DELETE', `${app().core}/users/${d}`)).status).toBe(200);
    // A purchase whose lots are not due yet at the sweep.
    await app().setNow('2026-11-20T12:00:00Z');
    await buy('a3', 'T-A3', 'SW-A', '2026-11-20T11:00:00Z', 40);
    expect(await openLots()).toBe(12);

    await app().setNow(AFTER_MATURITY);
    const before = { a: await balances(a), b: await balances(b), c: await balances(c) };
    expect(before.a.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ account_name: 'ACME Spendable Account', available_balance: 200 }),
        expect.objectContaining({ account_name: 'ACME Spendable Escrow Account', available_balance: 40 }),
      ]),
    );
    await verified();

    const swept = await sweepOnce(app().db, app().clock, { batchSize: 100 });
    expect(swept).toMatchObject({ members: 4, lots: 10, busy: false, failures: [] });
    expect(swept.now.toISOString()).toBe('2026-12-10T00:00:00.000Z');

    const lots = await app().db.query<{
      user_id: string;
      matures_at: Date;
      rolled_over_at: Date | null;
      remaining: number;
      journals: number;
      effective_at: Date | null;
      moved: number | null;
    }>(
      `SELECT l.user_id, l.matures_at, l.rolled_over_at, l.remaining, count(j.id)::int AS journals,
              min(j.effective_at) AS effective_at, max(p.amount)::int AS moved
       FROM lots l
       LEFT JOIN journals j ON j.user_id = l.user_id AND j.purchase_id = l.purchase_id AND j.kind = 'rollover'
       LEFT JOIN postings p ON p.user_id = j.user_id AND p.journal_id = j.id AND p.account = l.account
       GROUP BY l.user_id, l.id ORDER BY l.matures_at, l.account`,
    );
    const due = lots.filter((l) => l.matures_at <= new Date(AFTER_MATURITY));
    expect(due).toHaveLength(10);
    for (const l of due) {
      expect(l.rolled_over_at?.toISOString()).toBe('2026-12-10T00:00:00.000Z');
      expect(l.remaining).toBe(0);
      if (l.user_id === c) {
        expect(l.journals, 'an emptied lot rolls over without a journal').toBe(0);
      } else {
        expect(l.journals).toBe(1);
        expect(l.effective_at!.toISOString(), 'effective at the maturation instant').toBe(
          l.matures_at.toISOString(),
        );
      }
    }
    // B's lots moved what the return left in them, out of escrow.
    expect(due.filter((l) => l.user_id === b).map((l) => l.moved)).toEqual([-200, -200]);
    expect(due.some((l) => l.user_id === d)).toBe(true);
    const waiting = lots.filter((l) => l.matures_at > new Date(AFTER_MATURITY));
    expect(waiting.map((l) => [l.user_id, l.rolled_over_at, l.journals])).toEqual([
      [a, null, 0],
      [a, null, 0],
    ]);

    // As-of correctness: the sweep changed what is stored, not what anyone reads.
    expect({ a: await balances(a), b: await balances(b), c: await balances(c) }).toEqual(before);
    await verified();

    const journals = await count('SELECT count(*)::int AS n FROM journals');
    const again = await sweepOnce(app().db, app().clock, { batchSize: 100 });
    expect(again).toMatchObject({ members: 0, lots: 0, batches: 0, busy: false, failures: [] });
    expect(await count('SELECT count(*)::int AS n FROM journals')).toBe(journals);
    // One journal per purchase, its two lots together (issue #16).
    expect(await rollovers()).toBe(4);

    // A member touched after the sweep starts from the swept state; the later lots roll at their time.
    await app().setNow('2026-12-21T00:00:00Z');
    expect(await sweepOnce(app().db, app().clock)).toMatchObject({ members: 1, lots: 2 });
    expect(await openLots()).toBe(0);
    await verified();
  });

  it('sweeps in batches of members; with a batch of one, one member per batch', async () => {
    t = await startTestApp(target, START);
    for (const m of ['B-1', 'B-2', 'B-3']) await member(m);
    await buy('r1', 'T-1', 'B-1', '2026-11-01T09:00:00Z');
    await buy('r2', 'T-2', 'B-2', '2026-11-01T10:00:00Z');
    await buy('r3', 'T-3', 'B-1', '2026-11-01T11:00:00Z');
    await buy('r4', 'T-4', 'B-3', '2026-11-01T12:00:00Z');
    await app().setNow(AFTER_MATURITY);

    const one = await sweepOnce(app().db, app().clock, { batchSize: 1 });
    expect(one).toMatchObject({ members: 3, lots: 8, batches: 3, busy: false });
    expect(await openLots()).toBe(0);
    expect(await rollovers()).toBe(4);
    expect(await sweepOnce(app().db, app().clock, { batchSize: 1 })).toMatchObject({ lots: 0, batches: 0 });
    await verified();
    await expect(sweepOnce(app().db, app().clock, { batchSize: 0 })).rejects.toThrow(/batchSize/);
  });

  it('a batch that fails is settled one member at a time: the others roll over, the failing member is named', async () => {
    t = await startTestApp(target, START);
    const ids: string[] = [];
    for (const m of ['F-1', 'F-2', 'F-3']) ids.push(await member(m));
    await buy('f1', 'TF-1', 'F-1', '2026-11-01T09:00:00Z');
    await buy('f2', 'TF-2', 'F-2', '2026-11-01T10:00:00Z');
    await buy('f3', 'TF-3', 'F-3', '2026-11-01T11:00:00Z');
    await app().setNow(AFTER_MATURITY);
    // A corrupted escrow balance: rolling F-2's lot over would take it below zero, which the
    // balance's CHECK refuses, so the batch holding F-2 fails as a whole.
    await app().db.query(
      "UPDATE balances SET balance = 0 WHERE user_id = $1 AND account = 'spendable_escrow'",
      [ids[1]],
    );

    const swept = await sweepOnce(app().db, app().clock, { batchSize: 100 });
    expect(swept).toMatchObject({ members: 2, lots: 4, busy: false });
    expect(swept.failures.map((f) => f.user_id)).toEqual([ids[1]]);
    const open = await app().db.query<{ user_id: string }>(
      'SELECT DISTINCT user_id FROM lots WHERE rolled_over_at IS NULL',
    );
    expect(open.map((r) => r.user_id)).toEqual([ids[1]]);
    // The next sweep tries the failing member again, and only it.
    const again = await sweepOnce(app().db, app().clock, { batchSize: 100 });
    expect(again).toMatchObject({ members: 0, lots: 0 });
    expect(again.failures.map((f) => f.user_id)).toEqual([ids[1]]);
  });

  it('concurrent sweeps and purchases roll each lot exactly once', async () => {
    t = await startTestApp(target, START);
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      ids.push(await member(`C-${i}`));
      await buy(
        `c-${i}`,
        `T-C-${i}`,
        `C-${i}`,
        `2026-11-01T${String(10 + (i % 10)).padStart(2, '0')}:00:00Z`,
      );
    }
    await app().setNow(AFTER_MATURITY);
    // Another handle on the same database: a second server process.
    const other = target.name === 'postgres' ? await openPostgres({ url: app().url!, max: 4 }) : app().db;
    if (other !== app().db) extra.push(other);

    const results = await Promise.all([
      sweepOnce(app().db, app().clock, { batchSize: 3 }),
      sweepOnce(app().db, app().clock, { batchSize: 3 }),
      sweepOnce(other, app().clock, { batchSize: 3 }),
      // Purchases settle their member under the same lock as the sweeper.
      buy('late-0', 'T-L-0', 'C-0', '2026-12-09T10:00:00Z'),
      buy('late-1', 'T-L-1', 'C-23', '2026-12-09T10:00:00Z'),
    ]);
    const sweeps = results.slice(0, 3) as Awaited<ReturnType<typeof sweepOnce>>[];
    expect(sweeps.every((r) => r.failures.length === 0)).toBe(true);
    expect(await rolledTwice()).toEqual([]);
    expect(await rollovers()).toBe(24);
    // What the sweeps did not roll, the two purchases did (each settled its member first).
    expect(sweeps.reduce((n, r) => n + r.lots, 0)).toBeGreaterThanOrEqual(44);
    expect(await openLots()).toBe(4);
    await verified();

    // A sweep that waits runs after the one holding the lock, and never twice over a lot.
    await app().setNow('2027-01-10T00:00:00Z');
    const waited = await Promise.all([
      sweepOnce(app().db, app().clock, { wait: true }),
      sweepOnce(other, app().clock, { wait: true, batchSize: 1 }),
    ]);
    expect(waited.map((r) => r.busy)).toEqual([false, false]);
    expect(waited[0]!.lots + waited[1]!.lots).toBe(4);
    expect(await rolledTwice()).toEqual([]);
    expect(await rollovers()).toBe(26);
    await verified();
  });

  it('one sweeper at a time per database: another one finds it busy, or waits for it', async () => {
    t = await startTestApp(target, START);
    for (let i = 0; i < 12; i++) {
      await member(`O-${i}`);
      await buy(`o-${i}`, `T-O-${i}`, `O-${i}`, '2026-11-01T09:00:00Z');
    }
    await app().setNow(AFTER_MATURITY);

    if (target.name === 'pglite') {
      // One process owns a PGlite directory, so the guard is in-process; PGlite runs one query at a
      // time, first come first served, so the first sweep takes the guard before the second asks.
      const [first, second] = await Promise.all([
        sweepOnce(app().db, app().clock, { batchSize: 1 }),
        sweepOnce(app().db, app().clock, { batchSize: 1 }),
      ]);
      expect(first).toMatchObject({ busy: false, members: 12, lots: 24, batches: 12 });
      expect(second).toMatchObject({ busy: true, members: 0, lots: 0 });
    } else {
      // Another process holds the lock of this database (schema); another schema is not held up.
      const holder = new pg.Client({ connectionString: app().url });
      await holder.connect();
      let neighbour: OpenTestDatabase | undefined;
      try {
        await holder.query('SELECT pg_advisory_lock($1, hashtext(current_schema()))', [SWEEPER_LOCK_CLASS]);
        expect(await sweepOnce(app().db, app().clock)).toMatchObject({ busy: true, members: 0, lots: 0 });
        neighbour = await target.open();
        expect(await sweepOnce(neighbour.db, app().clock)).toMatchObject({ busy: false, lots: 0 });

        const waiting = sweepOnce(app().db, app().clock, { wait: true });
        await sleep(200);
        expect(await rollovers(), 'the waiting sweep has not started').toBe(0);
        await holder.query('SELECT pg_advisory_unlock($1, hashtext(current_schema()))', [SWEEPER_LOCK_CLASS]);
        expect(await waiting).toMatchObject({ busy: false, members: 12, lots: 24 });
      } finally {
        await holder.end();
        await neighbour?.close();
      }
    }
    expect(await rollovers()).toBe(12);
    await verified();
  });

  it('the Sweeper runs every interval without overlapping itself, logs only work and errors, and stops cleanly', async () => {
    t = await startTestApp(target, START);
    await member('S-1');
    await buy('s1', 'T-S1', 'S-1', '2026-11-01T09:00:00Z');
    const logs: { level: 'info' | 'error'; obj: Record<string, unknown>; msg: string }[] = [];
    const log: SweeperLog = {
      info: (obj, msg) => logs.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
      error: (obj, msg) => logs.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
    };
    // A slow clock makes each sweep last longer than the interval.
    let active = 0;
    let most = 0;
    let calls = 0;
    const clock: Pick<Clock, 'now'> = {
      now: async () => {
        calls += 1;
        active += 1;
        most = Math.max(most, active);
        await sleep(20);
        active -= 1;
        return app().clock.now();
      },
    };
    const sweeper = new Sweeper(app().db, clock, { intervalMs: 1, log });
    sweeper.start();
    await until('idle ticks', () => calls >= 3);
    expect(logs, 'nothing due: nothing logged').toEqual([]);

    await app().setNow(AFTER_MATURITY);
    await until('the sweep', () => logs.length > 0);
    await until('more ticks', () => calls >= 8);
    expect(logs).toEqual([
      {
        level: 'info',
        obj: expect.objectContaining({ members: 1, lots: 2, now: '2026-12-10T00:00:00.000Z' }),
        msg: 'swept 2 lots for 1 members',
      },
    ]);
    expect(most, 'sweeps never overlap').toBe(1);
    await sweeper.stop();
    const stoppedAt = calls;
    await sleep(50);
    expect(calls, 'no tick after stop()').toBe(stoppedAt);
    await verified();

    // A database that cannot be used: every tick logs an error and the next one tries again.
    const dead = target.name === 'postgres' ? await openPostgres({ url: app().url! }) : await openPGlite();
    await dead.close();
    const failing = new Sweeper(dead, app().clock, { intervalMs: 5, log });
    logs.length = 0;
    failing.start();
    await until('two failed ticks', () => logs.length >= 2);
    await failing.stop();
    expect(logs.every((l) => l.level === 'error' && l.msg.includes('retrying at the next tick'))).toBe(true);
    expect(logs[0]!.obj.err).toBeInstanceOf(Error);

    // Interval 0: no sweeper at all.
    const off = new Sweeper(app().db, clock, { intervalMs: 0, log });
    const before = calls;
    off.start();
    await sleep(20);
    await off.stop();
    expect(calls).toBe(before);
  });

  it('a batch locks its members in one statement, not one per member (issue #16)', async () => {
    t = await startTestApp(target, START);
    for (let i = 0; i < 6; i++) {
      await member(`L-${i}`);
      await buy(`l-${i}`, `T-L-${i}`, `L-${i}`, '2026-11-01T09:00:00Z');
    }
    await app().setNow(AFTER_MATURITY);
    const locks: string[] = [];
    const db = app().db;
    const record = (sql: string) => {
      if (/FROM users (u )?WHERE (u\.)?id .* FOR UPDATE/s.test(sql)) locks.push(sql);
    };
    const counted: Database = {
      kind: db.kind,
      query: (sql, params = []) => (record(sql), db.query(sql, params)),
      transaction: (fn) =>
        db.transaction((tx) =>
          fn({
            inTransaction: true,
            query: (sql, params = []) => (record(sql), tx.query(sql, params)),
            exec: (sql) => tx.exec(sql),
          }),
        ),
      exec: (sql) => db.exec(sql),
      close: () => db.close(),
    };
    const r = await sweepOnce(counted, app().clock, { batchSize: 100 });
    expect(r).toMatchObject({ members: 6, lots: 12, failures: [] });
    // Laid out as Citus distributes the members, one lock statement per member (issue #19).
    expect(locks).toHaveLength(PARTITIONED ? r.members : r.batches);
    await verified();
  });

  it('on one server the batch statement reaches balances through their key, not a scan filtered on the batch (issue #16)', async () => {
    t = await startTestApp(target, START);
    for (let i = 0; i < 4; i++) {
      await member(`K-${i}`);
      await buy(`k-${i}`, `T-K-${i}`, `K-${i}`, '2026-11-01T09:00:00Z');
    }
    await app().setNow(AFTER_MATURITY);
    const rollovers: { sql: string; params: readonly unknown[] }[] = [];
    const db = app().db;
    const recorded: Database = {
      kind: db.kind,
      query: (sql, params = []) => db.query(sql, params),
      transaction: (fn) =>
        db.transaction((tx) =>
          fn({
            inTransaction: true,
            query: (sql, params = []) => {
              if (/^\s*WITH due AS/.test(sql)) rollovers.push({ sql, params });
              return tx.query(sql, params);
            },
            exec: (sql) => tx.exec(sql),
          }),
        ),
      exec: (sql) => db.exec(sql),
      close: () => db.close(),
    };
    expect(await sweepOnce(recorded, app().clock, { batchSize: 100 })).toMatchObject({ members: 4, lots: 8 });
    expect(rollovers.length).toBeGreaterThan(0);
    // The plan as it would be on tables too large to scan: every scan that can use an index does.
    const plan = await db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      const [row] = await tx.query<{ 'QUERY PLAN': unknown }>(
        `EXPLAIN (FORMAT JSON) ${rollovers[0]!.sql}`,
        rollovers[0]!.params,
      );
      return row!['QUERY PLAN'];
    });
    /** Each scan of a member table but `lots` (whose scan the batch restricts), with its conditions. */
    const scans: { table: string; conds: string }[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      const table = String(n['Relation Name'] ?? '').replace(/_p\d+$/, '');
      if (
        /Scan$/.test(String(n['Node Type'])) &&
        ['balances', 'purchases', 'users', 'tier_moves'].includes(table)
      )
        scans.push({
          table,
          conds: [n['Index Cond'], n['Recheck Cond'], n['Filter']].filter(Boolean).join(' AND '),
        });
      Object.values(n).forEach(walk);
    };
    walk(plan);
    expect(scans.map((x) => x.table)).toEqual(expect.arrayContaining(['balances', 'purchases', 'users']));
    if (PARTITIONED) {
      // Laid out as Citus distributes the members, every member table is reached with the batch
      // named, so the statement stays on the batch's shards (issue #19).
      for (const x of scans) expect(x.conds, x.table).toContain('= ANY');
    } else {
      // On one server, through the keys of the batch's own rows: an index descent per row, where
      // `= ANY(batch)` beside them cost one per batch member and made `balances` a whole-table scan.
      for (const x of scans) expect(x.conds, x.table).not.toContain('= ANY');
      const balances = scans.find((x) => x.table === 'balances')!;
      expect(balances.conds).toMatch(/user_id = \w+\.user_id\) AND \(\w*\.?account = \w+\.account/);
    }
    await verified();
  });
});
