import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Many tills at once for one member (issue #3): concurrent purchases, replays, racing first sends
 * of one transaction and repeated returns end with exact balances and no duplicate award. Proven on
 * server PostgreSQL; on PGlite the same requests run one at a time.
 */

const ESCROW = ['ACME Spendable Escrow Account', 'ACME Tier-Qualifying Escrow Account'];

const body = (requestId: string, transactionId: string, secondLineQty: number) => ({
  store_id: 'S1',
  request_id: requestId,
  request_payload: {
    transaction_id: transactionId,
    open_time: '2026-11-20T12:00:00Z',
    user_id: 'HOT-1',
    user_id_type: 'external_id',
    items: [
      { line_id: '1', item_id: 'A', quantity: 1, unit_price: 60 },
      { line_id: '2', item_id: 'B', quantity: secondLineQty, unit_price: 40 },
    ],
  },
});

describeEachDatabase('Concurrent purchases for one member', (target) => {
  let t: TestApp;
  let userId: string;
  const send = (b: unknown) => t.request('POST', '/api/2.0/send_transaction', { body: b });
  const count = async (sql: string) => (await t.db.query<{ n: number }>(sql))[0]!.n;
  const escrow = async () => {
    const res = await t.request('GET', `${t.core}/users/${userId}?expand_incentives=true`);
    const details = res.body.user.tier_details.point_account_balances.details as {
      account_name: string;
      available_balance: number;
    }[];
    return ESCROW.map((name) => details.find((d) => d.account_name === name)!.available_balance);
  };

  beforeAll(async () => {
    // Enrolled before the purchases of 20 November (DESIGN §4: unenrolled customers earn nothing).
    t = await startTestApp(target, new Date('2026-11-19T12:00:00Z'));
    userId = (await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'HOT-1' } } })).body
      .user.id;
    await t.setNow('2026-11-21T12:00:00Z');
  });
  afterAll(() => t.close());

  it('30 purchases sent twice each, all at once, award each purchase exactly once', async () => {
    const requests = Array.from({ length: 30 }, (_, i) => body(`p-${i}`, `T-${i}`, 1));
    const answers = await Promise.all([...requests, ...requests].map(send));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(await escrow()).toEqual([3000, 3000]);
    expect(await count("SELECT count(*)::int AS n FROM journals WHERE kind = 'purchase'")).toBe(30);
    expect((await verifyLedger(t.db)).problems).toEqual([]);
  });

  it('first sends of one transaction racing under different request ids create one purchase', async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => send(body(`race-${i}`, 'T-RACE', 1))),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    const awarded = answers.filter((a) => a.body.payload.points_awarded.length > 0);
    expect(awarded.length).toBe(1);
    expect(await count("SELECT count(*)::int AS n FROM purchases WHERE transaction_id = 'T-RACE'")).toBe(1);
    expect(await escrow()).toEqual([3100, 3100]);
  });

  it('the same return sent three times each for 15 purchases, all at once, takes back each line once', async () => {
    const returns = Array.from({ length: 15 }, (_, i) =>
      [0, 1, 2].map((k) => body(`r-${i}-${k}`, `T-${i}`, 0)),
    ).flat();
    const answers = await Promise.all(returns.map(send));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(await escrow()).toEqual([3100 - 15 * 40, 3100 - 15 * 40]);
    expect(await count("SELECT count(*)::int AS n FROM journals WHERE kind = 'return'")).toBe(15);
    expect((await verifyLedger(t.db)).problems).toEqual([]);
  });
});
