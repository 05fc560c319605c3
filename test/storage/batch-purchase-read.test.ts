import { afterEach, expect, it } from 'vitest';
import type { Tx } from '../../src/db/database.js';
import { isOneServer } from '../../src/db/distribution.js';
import { lockMembersAtOnce } from '../../src/customers/customer.repository.js';
import {
  lockPurchasesWithDue,
  lockPurchaseWithDue,
  type PurchaseToLock,
} from '../../src/purchases/purchase.repository.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, TEST_START, type TestApp } from '../support/test-app.js';

/**
 * A batch's read of its purchases (issue #15's one read per batch) reaches each purchase by its
 * key. It used to filter the owners' purchases with `user_id = ANY(owners)`, which PostgreSQL
 * answered by reading every purchase of every owner: an import of members with hundreds of
 * purchases each slowed down as their histories grew (issue #16, 5 December 2026: the batch's read
 * went from 1.5 to 9.4 ms over an import of 200 purchases a member).
 */
describeEachDatabase('A batch reads its purchases', (target) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const send = async (transactionId: string, member: string, openTime: string) => {
    const r = await t!.request('POST', '/api/2.0/send_transaction', {
      body: {
        store_id: 'S-1',
        request_id: `R-${transactionId}`,
        request_payload: {
          transaction_id: transactionId,
          open_time: openTime,
          user_id: member,
          user_id_type: 'external_id',
          items: [{ line_id: 1, item_id: 'A', quantity: 1, unit_price: 10 }],
        },
      },
    });
    expect(r.status).toBe(200);
  };

  it('by their keys, whatever the length of the owners’ histories (bug: every purchase of every owner read)', async () => {
    t = await startTestApp(target, TEST_START);
    if (!(await isOneServer(t.db))) return; // one statement over many members: one server only
    const retailer = t.tenant.retailer_id;
    for (const id of ['DEEP', 'OTHER', 'NEW']) {
      const r = await t.request('POST', `${t.core}/users`, {
        body: { user: { external_id: id, opted_in: true } },
      });
      expect(r.status).toBe(200);
    }
    const history = 12;
    // Bought an hour before: nothing of it is due yet, so the read has no lot to roll over.
    const bought = new Date(TEST_START.getTime() - 3_600_000).toISOString();
    for (let i = 0; i < history; i++) await send(`H-${i}`, 'DEEP', bought);
    await send('O-1', 'OTHER', bought);
    const ids = await t.db.query<{ id: string; external_id: string }>(
      'SELECT id, external_id FROM users WHERE retailer_id = $1',
      [retailer],
    );
    const idOf = (x: string) => ids.find((u) => u.external_id === x)!.id;
    const at = new Date(TEST_START.getTime() + 60_000);
    // Two purchases that exist, so that each lookup of the plan finds exactly one row.
    const sends: PurchaseToLock[] = [
      { retailerId: retailer, transactionId: 'H-7', ownerId: idOf('DEEP'), at },
      { retailerId: retailer, transactionId: 'O-1', ownerId: idOf('OTHER'), at },
    ];
    const fresh: PurchaseToLock = { retailerId: retailer, transactionId: 'FRESH', ownerId: idOf('NEW'), at };

    let statement: { sql: string; params: readonly unknown[] } | undefined;
    const { together, alone, plan } = await t.db.transaction(async (tx) => {
      await lockMembersAtOnce(tx, [idOf('DEEP'), idOf('OTHER'), idOf('NEW')]);
      const recording: Tx = {
        inTransaction: true,
        query: (sql, params = []) => {
          statement ??= { sql, params };
          return tx.query(sql, params);
        },
        exec: (sql) => tx.exec(sql),
      };
      await lockPurchasesWithDue(recording, sends);
      const together = await lockPurchasesWithDue(tx, [...sends, fresh]);
      const alone = [];
      for (const s of [...sends, fresh]) {
        alone.push(await lockPurchaseWithDue(tx, s.retailerId, s.transactionId, s.ownerId, s.at));
      }
      // The plan as it would be on tables too large to scan or hash whole (these hold a few dozen
      // rows): every scan that can use an index does, and rows are joined by index lookups.
      for (const off of ['enable_seqscan', 'enable_hashjoin', 'enable_mergejoin']) {
        await tx.query(`SET LOCAL ${off} = off`);
      }
      const [row] = await tx.query<{ 'QUERY PLAN': unknown }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${statement!.sql}`,
        statement!.params,
      );
      return { together, alone, plan: row!['QUERY PLAN'] };
    });

    // The same answers as each send's own read: the purchases with their lots, none for a new one.
    expect(together).toEqual(alone);
    expect(together.map((r) => r.purchase?.transaction_id)).toEqual(['H-7', 'O-1', undefined]);
    expect(together[0]!.lots.length).toBeGreaterThan(0);

    // Rows of `purchases` the statement read: the batch's, not the deep member's whole history.
    let read = 0;
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      const table = String(n['Relation Name'] ?? '').replace(/_p\d+$/, '');
      if (/Scan$/.test(String(n['Node Type'])) && table === 'purchases') {
        read += Number(n['Actual Rows'] ?? 0) * Number(n['Actual Loops'] ?? 1);
      }
      Object.values(n).forEach(walk);
    };
    walk(plan);
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThanOrEqual(sends.length);
  });
});
