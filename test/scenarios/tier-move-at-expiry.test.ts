import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Issue #13 item 6: at the exact instant SILVER expired, `move_user` to GOLD made `tier_entered_at`
 * an old date and removed the expiry from `tier_history`. History is append-only: the expiry
 * stays, the move follows it, and `tier_entered_at` is the move's instant.
 */

describeEachDatabase('A manual move at the instant a tier expires does not rewrite history', (target) => {
  let t: TestApp;
  let userId: string;
  let program: { tier_system: { id: string; levels: { id: string; name: string }[] } };
  const levelId = (name: string) => program.tier_system.levels.find((l) => l.name === name)!.id;
  const history = async () =>
    (await t.request('GET', `${t.core}/users/${userId}/tier_history`)).body.tier_history as {
      at: string;
      from_tier: string | null;
      to_tier: string | null;
      cause: string;
    }[];

  beforeAll(async () => {
    t = await startTestApp(target, new Date('2026-03-05T13:00:00Z'));
    userId = (await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'EXP-1' } } })).body
      .user.id;
    program = (await t.request('GET', '/admin/v1/program', { auth: 'admin' })).body.program_version.program;
    const res = await t.request('POST', '/api/2.0/send_transaction', {
      body: {
        store_id: 'S1',
        request_id: 'r-1',
        request_payload: {
          transaction_id: 'T-1',
          open_time: '2026-03-05T12:00:00Z',
          user_id: 'EXP-1',
          user_id_type: 'external_id',
          items: [{ line_id: '1', item_id: 'GIFT', quantity: 1, unit_price: 2000 }],
        },
      },
    });
    expect(res.status).toBe(200);
  });
  afterAll(() => t.close());

  it('keeps the expiry, records the move after it, and enters GOLD at the move', async () => {
    // SILVER, reached when the purchase matured on 4 April 2026, expires at 00:00 on 1 January 2028 New York time.
    await t.setNow('2028-01-01T05:00:00Z');
    const before = await history();
    expect(before.at(-1)).toMatchObject({ at: '2028-01-01 05:00:00', from_tier: 'SILVER', cause: 'expired' });

    const moved = await t.request('POST', '/incentives/api/1.0/movement/move_user', {
      body: {
        retailer_id: t.tenant.retailer_id,
        tier_system_id: program.tier_system.id,
        tier_level_id: levelId('GOLD'),
        user_id: userId,
        reason: 'goodwill at renewal',
      },
    });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);

    const after = await history();
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.map((h) => [h.at, h.from_tier, h.to_tier, h.cause])).toEqual([
      ['2026-03-05 13:00:00', null, 'BASE', 'opted_in'],
      ['2026-04-04 12:00:00', 'BASE', 'SILVER', 'qualified'],
      ['2028-01-01 05:00:00', 'SILVER', 'BASE', 'expired'],
      ['2028-01-01 05:00:00', 'BASE', 'GOLD', 'manual_move'],
    ]);
    const user = (await t.request('GET', `${t.core}/users/${userId}`)).body.user;
    expect(user).toMatchObject({
      tier: 'GOLD',
      tier_entered_at: '2028-01-01 05:00:00',
      tier_resets_at: '2030-01-01 05:00:00',
    });
    const audit = await t.request('POST', '/incentives/api/1.0/user_points/fetch_point_audit_logs', {
      body: { retailer_id: t.tenant.retailer_id, user_id: userId, take: 10 },
    });
    const tierRows = audit.body.payload.results.filter(
      (r: { modification_type: string }) => r.modification_type === 'tier_change',
    );
    expect(tierRows.slice(0, 2).map((r: { reference_type: string }) => r.reference_type)).toEqual([
      'manual_move',
      'expired',
    ]);
  });
});
