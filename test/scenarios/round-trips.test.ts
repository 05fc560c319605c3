import { afterEach, expect, it } from 'vitest';
import type { Database, Tx } from '../../src/db/database.js';
import { describeEachDatabase } from '../support/databases.js';
import { PARTITIONED } from '../support/partitioned.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Round trips to the database per request on the hot paths (issue #8): on this machine each one
 * costs about 100 µs of the server's CPU in the socket write alone, so their number bounds the
 * throughput. Counted, not timed: a change that adds one fails here, whatever the machine.
 */

/** Counts every statement sent: queries, and BEGIN and COMMIT of each transaction. */
function counting(db: Database): { db: Database; count: () => number; reset: () => void } {
  let n = 0;
  const wrapTx = (tx: Tx): Tx => ({
    inTransaction: true,
    query: (sql, params) => {
      n++;
      return tx.query(sql, params);
    },
    exec: (sql) => {
      n++;
      return tx.exec(sql);
    },
  });
  const wrapped: Database = {
    kind: db.kind,
    query: (sql, params) => {
      n++;
      return db.query(sql, params);
    },
    transaction: (fn) => {
      n += 2;
      return db.transaction((tx) => fn(wrapTx(tx)));
    },
    exec: (sql) => {
      n++;
      return db.exec(sql);
    },
    close: () => db.close(),
  };
  return { db: wrapped, count: () => n, reset: () => (n = 0) };
}

describeEachDatabase('Round trips per request', (target) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('a member lookup, a new purchase, a re-sent one and a return each take a bounded number of round trips', async () => {
    const counter = { current: undefined as ReturnType<typeof counting> | undefined };
    t = await startTestApp(target, undefined, (db) => {
      counter.current = counting(db);
      return counter.current.db;
    });
    const c = counter.current!;
    const created = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'rt@example.com', external_id: 'RT-1' } },
    });
    expect(created.status).toBe(200);
    const body = (items: number, request: string) => ({
      store_id: 'S-1',
      request_id: request,
      request_payload: {
        transaction_id: 'T-RT',
        open_time: '2026-11-25T11:00:00Z',
        user_id: 'RT-1',
        user_id_type: 'external_id',
        items: Array.from({ length: items }, (_, k) => ({
          line_id: k + 1,
          item_id: 'SKU',
          quantity: 1,
          unit_price: 20,
        })),
      },
    });
    const counted = async (what: string, call: () => Promise<{ status: number }>) => {
      c.reset();
      const res = await call();
      expect(res.status, what).toBe(200);
      return c.count();
    };
    const lookup = () =>
      counted('lookup', () =>
        t!.request('GET', `${t!.core}/users/search?email=rt@example.com&expand_incentives=true`),
      );
    const create = await counted('create', () =>
      t!.request('POST', `${t!.core}/users`, {
        body: {
          user: {
            email: 'rt2@example.com',
            external_id: 'RT-2',
            phone_numbers: [{ phone_number: '5085550102', phone_type: 'mobile' }],
          },
        },
      }),
    );
    const cold = await lookup();
    const warm = await lookup();
    const purchase = await counted('purchase', () =>
      t!.request('POST', '/api/2.0/send_transaction', { body: body(2, 'R-1') }),
    );
    const replay = await counted('replay', () =>
      t!.request('POST', '/api/2.0/send_transaction', { body: body(2, 'R-1') }),
    );
    const ret = await counted('return', () =>
      t!.request('POST', '/api/2.0/send_transaction', { body: body(1, 'R-2') }),
    );
    const afterPurchase = await lookup();
    const points = (path: string, extra: Record<string, unknown>) =>
      t!.request('POST', `/incentives/api/1.0/user_points/${path}`, {
        body: { retailer_id: t!.tenant.retailer_id, user_id: created.body.user.id, ...extra },
      });
    let balances = { status: 0, body: {} as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const allBalances = await counted(
      'all_balances',
      async () => (balances = await points('all_balances', {})),
    );
    const account = (
      balances.body.payload.details as { account_name: string; point_account_id: string }[]
    ).find((d) => d.account_name === 'ACME Spendable Account')!.point_account_id;
    const line = (id: string) => ({ point_account_id: account, amount: 40, idempotency_id: id });
    const deposit = await counted('deposit', () => points('deposit', { deposit_details: [line('D-1')] }));
    const spend = await counted('spend', () => points('spend_multiple', { spend_details: [line('S-1')] }));
    // After the spend's write, the first balance read computes the standing and stores it.
    const balanceCold = await counted('balance', () => points('balance', {}));
    const balanceWarm = await counted('balance', () => points('balance', {}));
    // Each counts the simulated clock's read (a real clock costs none). The lookup: one statement
    // reads the member the email's lookup table names, with the program in force and the stored
    // standing (issue #15), or the member's ledger when the standing is stale (on Citus the lookup
    // table is read first, on its own shard: issue #19); one more stores the standing computed from
    // it: the first read, and the first after a write. A purchase: the send's context (program, member by
    // lookup table, the transaction id's claim), BEGIN, the member's lock, the purchase's lock with
    // what is due, one write with the new claim, COMMIT (16 before issue #8; 8 while the claim had
    // a statement and a commit of its own, which it keeps on Citus: issue #19). A replay: the
    // context, then the stored answer on the owner's shard. A return covered by its lots: the
    // context, the stored-answer check and a purchase's transaction (20 before issue #8); the
    // program version it was priced by costs one more unless this process holds it, as it does
    // here since the lookups read it. A deposit: BEGIN, the member's lock with the program in
    // force (its document only when this process does not hold it; 8 when the program was a read
    // of its own before the transaction), what is due, the idempotency read, one write of the
    // journals with their events (issue #17; 9 when the events had a statement of their own),
    // COMMIT. A spend reads the balances and the tier year's points besides (11, then 10, before).
    // A create: the program in force, one statement writing the member with its lookup rows,
    // enrollment and events (issue #16: a transaction of 15 before; on Citus it keeps one statement
    // per part, each on one shard, and reads the identifiers the answer always shows). The balance
    // calls read as a lookup does (issue #15; 4 before, the standing recomputed from the ledger
    // every time). Its standing
    // is computed from the ledger a new member has, its identifiers answered by the write (issue
    // #15; read back as a lookup's before: 6).
    expect({
      create,
      cold,
      warm,
      afterPurchase,
      purchase,
      replay,
      ret,
      deposit,
      spend,
      allBalances,
      balanceCold,
      balanceWarm,
    }).toEqual({
      create: PARTITIONED ? 16 : 3,
      // The layout partitioned as Citus distributes keeps Citus's statements (issue #19).
      cold: PARTITIONED ? 4 : 3,
      warm: PARTITIONED ? 3 : 2,
      afterPurchase: PARTITIONED ? 4 : 3,
      purchase: PARTITIONED ? 8 : 7,
      replay: 3,
      ret: 8,
      deposit: 7,
      spend: 9,
      // By id: no lookup table to read first, partitioned or not.
      allBalances: 2,
      balanceCold: 3,
      balanceWarm: 2,
    });
  });
});
