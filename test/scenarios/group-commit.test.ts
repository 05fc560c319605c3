import { afterEach, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { configureGroupCommit, type BatchJob } from '../../src/ledger/group-commit.js';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { waitingIs } from '../support/group-commit.js';
import { PARTITIONED } from '../support/partitioned.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Group commit of the till's writes (issue #15, docs/decisions/0007-group-commit.md). Each batch
 * here is made of exactly N requests: a window far longer than any test and a size of N, so the
 * batch starts when the N-th request joins it, whatever the machine's speed.
 */

/** Counts the transactions the app runs (a batch is one), and the statements sent inside them. */
function countingTransactions(db: Database): { db: Database; count: () => number; statements: () => number } {
  let n = 0;
  let statements = 0;
  const wrapped: Database = {
    kind: db.kind,
    query: (sql, params) => db.query(sql, params),
    transaction: (fn) => {
      n++;
      return db.transaction((tx) =>
        fn({
          inTransaction: true,
          query: (sql, params) => {
            statements++;
            return tx.query(sql, params);
          },
          exec: (sql) => {
            statements++;
            return tx.exec(sql);
          },
        } as typeof tx),
      );
    },
    exec: (sql) => db.exec(sql),
    close: () => db.close(),
  };
  return { db: wrapped, count: () => n, statements: () => statements };
}

const LONG = 60_000;
const V1 = '/incentives/api/1.0';

const purchase = (requestId: string, transactionId: string, member: string, lines: number[]) => ({
  store_id: 'S-1',
  request_id: requestId,
  request_payload: {
    transaction_id: transactionId,
    open_time: '2026-11-25T11:00:00Z',
    user_id: member,
    user_id_type: 'external_id',
    items: lines.map((quantity, k) => ({ line_id: k + 1, item_id: `SKU-${k}`, quantity, unit_price: 20 })),
  },
});

describeEachDatabase('Group commit of the till', (target) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const start = async () => {
    const counter = { current: undefined as ReturnType<typeof countingTransactions> | undefined };
    t = await startTestApp(target, undefined, (db) => (counter.current = countingTransactions(db)).db);
    const ids: Record<string, string> = {};
    for (const m of ['GC-1', 'GC-2', 'GC-3', 'GC-4']) {
      const r = await t.request('POST', `${t.core}/users`, { body: { user: { external_id: m } } });
      expect(r.status).toBe(200);
      ids[m] = r.body.user.id;
    }
    return { app: t, transactions: counter.current!.count, statements: counter.current!.statements, ids };
  };
  const send = (app: TestApp, body: unknown) => app.request('POST', '/api/2.0/send_transaction', { body });
  const points = (answer: { body: { payload: { points_awarded: { amount: number }[] } } }) =>
    answer.body.payload.points_awarded.map((p) => p.amount);

  it('one invalid request in a batch does not fail its neighbours, and the batch commits once', async () => {
    const { app, transactions } = await start();
    configureGroupCommit(app.db, { maxSize: 4, windowMs: LONG, concurrency: 1 });
    const before = transactions();
    // GC-2's request R-2 comes twice with two bodies. Both pass the checks before the batch (neither
    // is stored yet); in the batch, the second finds the first's answer and is refused with 409
    // (DESIGN §4), alone, after the batch has read and planned it. (A transaction id of another
    // member is refused before the batch, at its claim: it never joins one.)
    const answers = await Promise.all([
      send(app, purchase('R-1', 'T-1', 'GC-1', [1])),
      send(app, purchase('R-2', 'T-2', 'GC-2', [2])),
      send(app, purchase('R-3', 'T-3', 'GC-3', [3])),
      send(app, purchase('R-2', 'T-2', 'GC-2', [4])),
    ]);
    expect(transactions() - before).toBe(1);
    const refused = answers.filter((a) => a.status !== 200);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.status).toBe(409);
    expect(refused[0]!.body.errors.message).toMatch(/request_id R-2 was already used for transaction T-2/);
    const kept = answers[1]!.status === 200 ? answers[1]! : answers[3]!;
    expect(answers[0]!.status).toBe(200);
    expect(answers[2]!.status).toBe(200);
    expect(points(answers[0]!)).toEqual([20, 20]);
    expect(points(answers[2]!)).toEqual([60, 60]);
    expect([
      [40, 40],
      [80, 80],
    ]).toContainEqual(points(kept));
    const rows = await app.db.query<{ transaction_id: string; n: number }>(
      `SELECT transaction_id, count(*)::int AS n FROM purchases GROUP BY transaction_id ORDER BY transaction_id`,
    );
    expect(rows).toEqual([
      { transaction_id: 'T-1', n: 1 },
      { transaction_id: 'T-2', n: 1 },
      { transaction_id: 'T-3', n: 1 },
    ]);
    // The other member's transaction id is refused at its claim, before any batch.
    const stolen = await send(app, purchase('R-5', 'T-1', 'GC-4', [1]));
    expect(stolen.status).toBe(400);
    expect(stolen.body.errors.message).toMatch(/transaction T-1 belongs to another member/);
    expect((await verifyLedger(app.db)).problems).toEqual([]);
  });

  it('a batch of four members locks them in one statement, reads their purchases in one and writes them in one', async () => {
    const { app, transactions, statements } = await start();
    configureGroupCommit(app.db, { maxSize: 4, windowMs: LONG, concurrency: 1 });
    const members = ['GC-1', 'GC-2', 'GC-3', 'GC-4'];
    // New purchases, then their returns (a re-send with its first line at 0): each batch's statements
    // are the members' lock, the purchases' lock with their lots and what is due, and one write
    // (issue #15), whatever the batch's size: 3, where each send took 3 of its own before. The
    // returns read besides, once, the program version their purchases were priced by: the process
    // holds it from then on.
    for (const [round, lines] of [
      [1, (k: number) => [k + 1, 1]],
      [2, (_k: number) => [0, 1]],
    ] as const) {
      const [t0, s0] = [transactions(), statements()];
      const answers = await Promise.all(
        members.map((m, k) => send(app, purchase(`R-${round}-${k}`, `T-${k}`, m, lines(k)))),
      );
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      expect(transactions() - t0).toBe(1);
      // Laid out as Citus distributes the members, each member is locked, and each send locked and
      // written, by statements of its own (issue #19): 4 + 4 × 3.
      const sent = PARTITIONED ? 16 : 3;
      expect(statements() - s0).toBe(round === 1 ? sent : sent + 1);
      if (round === 1)
        expect(answers.map(points)).toEqual(members.map((_m, k) => [20 * (k + 2), 20 * (k + 2)]));
      else expect(answers.map(points)).toEqual(members.map((_m, k) => [-20 * (k + 1), -20 * (k + 1)]));
    }
    // What the batches wrote reads back as the till's path writes it, one member at a time.
    const balances = await app.db.query<{ external_id: string; account: string; balance: number }>(
      `SELECT u.external_id, b.account, b.balance::int AS balance FROM balances b JOIN users u ON u.id = b.user_id
       WHERE b.account LIKE '%escrow%' ORDER BY 1, 2`,
    );
    expect(balances.map((b) => [b.external_id, b.balance])).toEqual(
      members.flatMap((m) => [
        [m, 20],
        [m, 20],
      ]),
    );
    const requests = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pos_requests');
    expect(requests[0]!.n).toBe(8);
    expect((await verifyLedger(app.db)).problems).toEqual([]);
  });

  it('sends of one member in one batch are applied in arrival order, each over what the one before left', async () => {
    const { app, transactions } = await start();
    configureGroupCommit(app.db, { maxSize: 4, windowMs: LONG, concurrency: 1 });
    const before = transactions();
    // One after another into the batch: a purchase, its return, the same return re-sent under
    // its request id, and a neighbour's purchase, which starts the batch.
    const first = send(app, purchase('A-1', 'T-A', 'GC-1', [1, 1]));
    await waitingIs(app.db, 1);
    const ret = send(app, purchase('A-2', 'T-A', 'GC-1', [1, 0]));
    await waitingIs(app.db, 2);
    const again = send(app, purchase('A-2', 'T-A', 'GC-1', [1, 0]));
    await waitingIs(app.db, 3);
    const other = send(app, purchase('B-1', 'T-B', 'GC-2', [1]));
    const answers = await Promise.all([first, ret, again, other]);
    expect(transactions() - before).toBe(1);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    const [p, r, a] = answers.map((x) => x.body.payload as { revision: number });
    // In arrival order: the purchase first (revision 1, both lines), then its return (revision 2,
    // one line back); the re-sent return answers what the return answered.
    expect(p!.revision).toBe(1);
    expect(points(answers[0]!)).toEqual([40, 40]);
    expect(r!.revision).toBe(2);
    expect(points(answers[1]!)).toEqual([-20, -20]);
    expect(a).toEqual(r);
    const journals = await app.db.query<{ kind: string; n: number }>(
      `SELECT kind, count(*)::int AS n FROM journals WHERE reference_id = 'T-A' GROUP BY kind ORDER BY kind`,
    );
    expect(journals).toEqual([
      { kind: 'purchase', n: 1 },
      { kind: 'return', n: 1 },
    ]);
    expect((await verifyLedger(app.db)).problems).toEqual([]);
  }, 180_000);

  it('deposits and spends share a batch with purchases; a spend refused whole fails only itself', async () => {
    const { app, transactions, ids } = await start();
    const points = async (userId: string) => {
      const r = await app.request('POST', `${V1}/user_points/all_balances`, {
        body: { retailer_id: app.tenant.retailer_id, user_id: userId },
      });
      const details = r.body.payload.details as {
        account_name: string;
        point_account_id: string;
        available_balance: number;
      }[];
      return details;
    };
    const spendable = (await points(ids['GC-1']!)).find((d) => d.account_name === 'ACME Spendable Account')!;
    configureGroupCommit(app.db, { maxSize: 4, windowMs: LONG, concurrency: 1 });
    const before = transactions();
    const post = (path: string, body: Record<string, unknown>) =>
      app.request('POST', `${V1}/${path}`, { body: { retailer_id: app.tenant.retailer_id, ...body } });
    const answers = await Promise.all([
      post('user_points/deposit', {
        user_id: ids['GC-1'],
        deposit_details: [
          { point_account_id: spendable.point_account_id, amount: 100, idempotency_id: 'D-1' },
        ],
      }),
      // GC-2 has nothing to spend: refused whole, inside the batch, after its member's lock.
      post('user_points/spend_multiple', {
        user_id: ids['GC-2'],
        spend_details: [{ amount: 50, idempotency_id: 'S-1' }],
      }),
      send(app, purchase('R-9', 'T-9', 'GC-3', [1])),
      send(app, purchase('R-10', 'T-10', 'GC-4', [2])),
    ]);
    expect(transactions() - before).toBe(1);
    expect(answers.map((a) => a.status)).toEqual([200, 400, 200, 200]);
    expect(answers[1]!.body.errors.code).toBe('insufficient_points');
    const after = (await points(ids['GC-1']!)).find((d) => d.account_name === 'ACME Spendable Account')!;
    expect(after.available_balance).toBe(100);
    const spends = await app.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM journals WHERE kind = 'spend'",
    );
    expect(spends[0]!.n).toBe(0);
    expect((await verifyLedger(app.db)).problems).toEqual([]);
  }, 180_000);

  it('a batch whose statement fails runs each request again alone, and each gets its own answer', async () => {
    const { app, transactions } = await start();
    await app.db.exec('CREATE TABLE gc_probe (id int PRIMARY KEY, via text NOT NULL)');
    const gc = configureGroupCommit(app.db, { maxSize: 3, windowMs: LONG, concurrency: 1 });
    const job = (id: number, fail: 'no' | 'rule' | 'statement'): BatchJob<string> => ({
      members: [],
      key: String(id),
      apply: async (tx, beforeWrite) => {
        if (fail === 'rule') throw new Error(`rule ${id}`);
        beforeWrite();
        // A statement that fails on the database aborts the batch's transaction.
        await tx.query(fail === 'statement' ? 'SELECT 1 / 0' : 'INSERT INTO gc_probe VALUES ($1, $2)', [
          ...(fail === 'statement' ? [] : [id, 'batch']),
        ]);
        return 'batch';
      },
      alone: async () => {
        if (fail !== 'no') throw new Error(`alone ${id}`);
        await app.db.query('INSERT INTO gc_probe VALUES ($1, $2)', [id, 'alone']);
        return 'alone';
      },
    });
    const settled = (p: Promise<string>) =>
      p.then(
        (v) => v,
        (e: Error) => e.message,
      );
    // A failure of its own before writing: answered to that request; the batch commits the rest.
    let before = transactions();
    expect(
      await Promise.all([
        gc.submit(job(1, 'no')),
        settled(gc.submit(job(2, 'rule'))),
        gc.submit(job(3, 'no')),
      ]),
    ).toEqual(['batch', 'rule 2', 'batch']);
    expect(transactions() - before).toBe(1);
    // A statement that failed: the batch rolls back and each request runs alone.
    before = transactions();
    expect(
      await Promise.all([
        gc.submit(job(4, 'no')),
        settled(gc.submit(job(5, 'statement'))),
        gc.submit(job(6, 'no')),
      ]),
    ).toEqual(['alone', 'alone 5', 'alone']);
    expect(transactions() - before).toBe(1);
    expect(await app.db.query('SELECT id, via FROM gc_probe ORDER BY id')).toEqual([
      { id: 1, via: 'batch' },
      { id: 3, via: 'batch' },
      { id: 4, via: 'alone' },
      { id: 6, via: 'alone' },
    ]);
  }, 180_000);
});
