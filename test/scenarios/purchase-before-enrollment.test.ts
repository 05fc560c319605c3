import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * A purchase dated before the member enrolled earned points (issue #16): DESIGN §4 says unenrolled
 * customers earn nothing, and §6 counts the current enrollment only. A purchase of a day before the
 * member's current enrollment is recorded as not awarded (`member_not_enrolled`); one of the day of
 * the enrollment earns (a customer who joins at the register). The bulk import is the same path
 * (src/import/history.test.ts).
 */

describeEachDatabase('A purchase dated before the member enrolled', (target) => {
  let t: TestApp;
  let userId: string;
  // 2026-11-10 09:00 in New York.
  const ENROLLED = '2026-11-10T14:00:00Z';

  const send = (transactionId: string, openTime: string, unitPrice = 100) =>
    t.request('POST', '/api/2.0/send_transaction', {
      body: {
        store_id: 'BOS-01',
        request_id: `r-${transactionId}`,
        request_payload: {
          transaction_id: transactionId,
          open_time: openTime,
          user_id: 'E-1',
          user_id_type: 'external_id',
          items: [{ line_id: 1, item_id: 'SKU-1', quantity: 1, unit_price: unitPrice }],
        },
      },
    });
  const lots = async (transactionId: string) =>
    (
      await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM lots l JOIN purchases p ON p.id = l.purchase_id
         WHERE p.transaction_id = $1`,
        [transactionId],
      )
    )[0]!.n;
  const escrow = async () => {
    const res = await t.request('GET', `${t.core}/users/${userId}?expand_incentives=true`);
    expect(res.status).toBe(200);
    const details = res.body.user.tier_details.point_account_balances.details as {
      account_name: string;
      available_balance: number;
    }[];
    return details.find((d) => d.account_name === 'ACME Spendable Escrow Account')!.available_balance;
  };

  beforeAll(async () => {
    t = await startTestApp(target, new Date(ENROLLED));
    const res = await t.request('POST', `${t.core}/users`, {
      body: { user: { external_id: 'E-1', email: 'e1@example.com' } },
    });
    expect(res.status).toBe(200);
    userId = res.body.user.id;
    await t.setNow('2026-11-12T15:00:00Z');
  });
  afterAll(() => t.close());

  it('a purchase of the day before the enrollment is recorded and earns nothing', async () => {
    const res = await send('T-EARLY', '2026-11-09T18:00:00-05:00');
    expect(res.status).toBe(200);
    expect(res.body.payload).toMatchObject({
      awarded: false,
      reason: 'member_not_enrolled',
      eligible_spend: 100,
      points_awarded: [],
    });
    expect(await lots('T-EARLY')).toBe(0);
    expect(await escrow()).toBe(0);
    // A return of it moves nothing either.
    const back = await t.request('POST', '/api/2.0/send_transaction', {
      body: {
        store_id: 'BOS-01',
        request_id: 'r-T-EARLY-void',
        request_payload: {
          transaction_id: 'T-EARLY',
          open_time: '2026-11-09T18:00:00-05:00',
          user_id: 'E-1',
          user_id_type: 'external_id',
          is_voided: true,
          items: [{ line_id: 1, item_id: 'SKU-1', quantity: 1, unit_price: 100 }],
        },
      },
    });
    expect(back.status).toBe(200);
    expect(back.body.payload).toMatchObject({ awarded: false, points_awarded: [] });
  });

  it('a purchase of the enrollment day, opened before the member joined at the register, earns', async () => {
    const res = await send('T-REGISTER', '2026-11-10T08:40:00-05:00', 50);
    expect(res.status).toBe(200);
    expect(res.body.payload).toMatchObject({ awarded: true, reason: null, base_points: 50 });
    expect(await escrow()).toBe(50);
  });

  it('after an opt-out and a new enrollment, a purchase of the earlier enrollment earns nothing', async () => {
    const out = await t.request('PUT', `${t.core}/users/${userId}`, { body: { user: { opted_in: false } } });
    expect(out.status).toBe(200);
    await t.setNow('2026-11-14T15:00:00Z');
    const back = await t.request('PUT', `${t.core}/users/${userId}`, { body: { user: { opted_in: true } } });
    expect(back.status).toBe(200);
    const res = await send('T-FIRST-EPISODE', '2026-11-11T12:00:00-05:00', 70);
    expect(res.body.payload).toMatchObject({ awarded: false, reason: 'member_not_enrolled' });
    const now = await send('T-NOW', '2026-11-14T09:00:00-05:00', 30);
    expect(now.body.payload).toMatchObject({ awarded: true, base_points: 30 });
    expect(await escrow()).toBe(80);
    expect((await verifyLedger(t.db)).problems).toEqual([]);
  });
});
