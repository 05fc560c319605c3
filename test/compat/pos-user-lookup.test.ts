import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Issue #14 item 7: a C# POS earn/burn service asks `POST /api/2.0/lookup` for the member at the
 * till, naming them by email, phone, user id, loyalty card (external_customer_id) or the
 * transaction rung up. It reads `status`, `payload.user.{id, external_id, first_name, last_name,
 * tier, available_points}` and `payload.point_account_balances.{summary.total_points, details[]}`.
 */
const SPEND = 'ACME Spendable Account';
const SPEND_ESCROW = 'ACME Spendable Escrow Account';

describeEachDatabase('Compat: the POS user lookup', (target) => {
  let t: TestApp;
  let userId: string;
  const lookup = (request_payload: Record<string, unknown>) =>
    t.request('POST', '/api/2.0/lookup', {
      body: { store_id: '1001', client_id: 'till-04', request_id: 'lk-1', culture: 'en-US', request_payload },
    });
  const balanceOf = (
    payload: { point_account_balances: { details: { account_name: string; available_balance: number }[] } },
    name: string,
  ) => payload.point_account_balances.details.find((d) => d.account_name === name)!.available_balance;

  beforeAll(async () => {
    // Enrolled before the purchase of 24 November it makes (DESIGN §4).
    t = await startTestApp(target, new Date('2026-11-20T12:00:00Z'));
    const res = await t.request('POST', `${t.core}/users`, {
      body: {
        user: {
          external_id: 'CARD-5001',
          email: 'Ada@Example.com',
          first_name: 'Ada',
          last_name: 'Byron',
          phone_numbers: [{ phone_number: '+1 (617) 555-0100', phone_type: 'mobile' }],
        },
      },
    });
    expect(res.status).toBe(200);
    userId = res.body.user.id;
    await t.setNow('2026-11-25T12:00:00Z');
    const sale = await t.request('POST', '/api/2.0/send_transaction', {
      body: {
        store_id: '1001',
        request_id: '1',
        request_payload: {
          transaction_id: 'LK-100',
          open_time: '2026-11-24 10:00:00',
          items: [{ line_id: '1', item_id: 'TV', quantity: 1, unit_price: 120 }],
          payments: [{ amount: 120, type: 'CASH', user_id: 'CARD-5001', user_id_type: 'external_id' }],
        },
      },
    });
    expect(sale.status).toBe(200);
  });
  afterAll(() => t.close());

  it('finds the member by each key, with the profile and balances the till reads', async () => {
    for (const key of [
      { email: 'ada@example.com' },
      { phone: '6175550100' },
      { user_id: userId },
      { external_customer_id: 'CARD-5001' },
      { transaction: { transaction_id: 'LK-100', items: [] } },
      // Clients send "" for the keys they do not use.
      { email: '', phone: '', user_id: '', external_customer_id: 'CARD-5001' },
    ]) {
      const res = await lookup(key);
      expect(res.status, JSON.stringify(key)).toBe(200);
      expect(res.body.status).toBe('OK');
      const p = res.body.payload;
      expect(p.user).toMatchObject({
        id: userId,
        external_id: 'CARD-5001',
        first_name: 'Ada',
        last_name: 'Byron',
        tier: 'BASE',
        available_points: 0,
      });
      expect(p.point_account_balances.summary.total_points).toBe(240);
      expect(balanceOf(p, SPEND_ESCROW)).toBe(120);
      expect(balanceOf(p, SPEND)).toBe(0);
      expect(p.offers).toEqual([]);
    }
  });

  it('an unknown member is user_not_found; no key is missing_data; two keys or a shared phone are refused', async () => {
    const unknown = await lookup({ email: 'nobody@example.com' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.errors.code).toBe('user_not_found');
    const unsold = await lookup({ transaction: { transaction_id: 'NEVER-SENT' } });
    expect(unsold.status).toBe(404);
    expect(unsold.body.errors.code).toBe('user_not_found');
    const none = await lookup({});
    expect(none.status).toBe(400);
    expect(none.body.errors.code).toBe('missing_data');
    const two = await lookup({ email: 'ada@example.com', user_id: userId });
    expect(two.status).toBe(400);
    expect(two.body.errors.code).toBe('validation');
    const twin = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'twin@example.com', phone_numbers: [{ phone_number: '617-555-0100' }] } },
    });
    expect(twin.status).toBe(200);
    const shared = await lookup({ phone: '6175550100' });
    expect(shared.status).toBe(400);
    expect(shared.body.errors).toMatchObject({ code: 'validation', field: 'request_payload.phone' });
  });

  it('needs the app credentials', async () => {
    const res = await t.request('POST', '/api/2.0/lookup', {
      body: { request_payload: { user_id: userId } },
      auth: 'none',
    });
    expect(res.status).toBe(401);
  });
});
