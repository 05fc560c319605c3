import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Issue #14 items 3, 4 and 5: what field clients of the points API send by default.
 * - A C# POS burn service fills every `spend_details[]` field, `point_source_id: ""` when it has
 *   none; it reads `status`, `payload.details[].amount_spent` and `payload.summary.remaining_balance`.
 * - A Python data generator deposits `{point_source_id, amount, point_account_id, rank}` lines with
 *   neither idempotency_id nor reference_id; it reads `status` and `payload.user_id`.
 * - A TypeScript member app asks for the audit log with `exclude_specified_modification_types: false`
 *   (or true); it reads `payload.results[].modification` and `modification_type`.
 */
const SPEND = 'ACME Spendable Account';
const V1 = '/incentives/api/1.0';
const V2 = '/incentives/api/2.0';

describeEachDatabase('Compat: points clients and their defaults', (target) => {
  let t: TestApp;
  let userId: string;
  let spendable: string;
  const post = (path: string, body: Record<string, unknown>) =>
    t.request('POST', path, { body: { retailer_id: t.tenant.retailer_id, culture: 'en-US', ...body } });
  const spendableBalance = async () => {
    const res = await post(`${V1}/user_points/all_balances`, { user_id: userId });
    expect(res.status).toBe(200);
    return (res.body.payload.details as { account_name: string; available_balance: number }[]).find(
      (d) => d.account_name === SPEND,
    )!.available_balance;
  };

  beforeAll(async () => {
    t = await startTestApp(target);
    const res = await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'GEN-1' } } });
    userId = res.body.user.id;
    const all = await post(`${V1}/user_points/all_balances`, { user_id: userId });
    spendable = (all.body.payload.details as { account_name: string; point_account_id: string }[]).find(
      (d) => d.account_name === SPEND,
    )!.point_account_id;
  });
  afterAll(() => t.close());

  it('a deposit line without idempotency_id or reference_id is applied, and applied again when re-sent', async () => {
    const body = {
      user_id: userId,
      deposit_details: [
        {
          point_source_id: 'd3b1e6a2-5c1f-4c0a-9a55-2f6f4b9e0c11',
          amount: 250,
          point_account_id: spendable,
          rank: 1,
        },
      ],
      allow_partial_success: false,
      disable_event_publishing: false,
    };
    const first = await post(`${V2}/user_points/deposit`, body);
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('ok');
    expect(first.body.payload.user_id).toBe(userId);
    expect(first.body.payload.details[0]).toMatchObject({ applied: true, idempotency_id: null });
    expect(await spendableBalance()).toBe(250);
    // Not idempotent, as in SessionM: the same line again is a second deposit.
    const again = await post(`${V2}/user_points/deposit`, body);
    expect(again.status).toBe(200);
    expect(await spendableBalance()).toBe(500);
    expect((await verifyLedger(t.db)).problems).toEqual([]);
  });

  it('spend_details[].point_source_id "" means no point source', async () => {
    const res = await post(`${V1}/user_points/spend_multiple`, {
      user_id: userId,
      spend_details: [
        {
          id: '',
          amount: 100,
          point_account_ids: [spendable],
          reference_id: 'ORDER-55',
          reference_type: 'POS',
          transaction_id: 'ORDER-55',
          force_spend: false,
          rank: 0,
          is_return: false,
          idempotency_id: 'burn-55',
          point_source_id: '',
        },
      ],
      allow_partial_success: false,
      disable_event_publishing: false,
      parallel_mode: false,
    });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.payload.details[0].amount_spent).toBe(100);
    expect(res.body.payload.summary.remaining_balance).toBe(400);
    const log = await post(`${V2}/user_points/fetch_point_audit_logs`, { user_id: userId, take: 50 });
    const spend = (log.body.payload.results as { modification_type: string }[]).find(
      (r) => r.modification_type === 'spend',
    );
    expect(spend).toMatchObject({ modification: -100, point_source_id: null });
  });

  it('exclude_specified_modification_types as a boolean means no exclusion list', async () => {
    const all = await post(`${V2}/user_points/fetch_point_audit_logs`, {
      user_id: userId,
      skip: 0,
      take: 10,
    });
    expect(all.status).toBe(200);
    const kinds = (all.body.payload.results as { modification_type: string }[]).map(
      (r) => r.modification_type,
    );
    expect(kinds).toEqual(expect.arrayContaining(['spend', 'deposit']));
    for (const flag of [true, false]) {
      const res = await post(`${V2}/user_points/fetch_point_audit_logs`, {
        user_id: userId,
        exclude_specified_modification_types: flag,
        skip: 0,
        take: 10,
      });
      expect(res.status, String(flag)).toBe(200);
      expect(
        (res.body.payload.results as { modification: number; modification_type: string }[]).map((r) => [
          r.modification,
          r.modification_type,
        ]),
      ).toEqual(
        (all.body.payload.results as { modification: number; modification_type: string }[]).map((r) => [
          r.modification,
          r.modification_type,
        ]),
      );
    }
  });
});
