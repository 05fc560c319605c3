import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Tiers on the user object as the ledger moves (issue #4, first part): SILVER entered at the
 * maturation instant, the seed's 8,000 / 10,000, no demotion on a return, the year boundary in the
 * program zone, and expiry at the end of the following calendar year. Reads only, no sweeper.
 */

let seq = 0;
const purchase = (
  externalId: string,
  transactionId: string,
  openTime: string,
  amount: number,
  voided = false,
) => ({
  store_id: 'S1',
  request_id: `req-${++seq}`,
  request_payload: {
    transaction_id: transactionId,
    open_time: openTime,
    user_id: externalId,
    user_id_type: 'external_id',
    is_voided: voided,
    items: [{ line_id: '1', item_id: 'GIFT', quantity: 1, unit_price: amount }],
  },
});

describeEachDatabase('Tiers on the user object', (target) => {
  let t: TestApp;
  const member = async (externalId: string, flags = '') =>
    (await t.request('GET', `${t.core}/external/users/${externalId}${flags}`)).body.user;
  const send = async (body: unknown) => {
    const res = await t.request('POST', '/api/2.0/send_transaction', { body });
    expect(res.status).toBe(200);
    return res.body.payload;
  };

  beforeAll(async () => {
    t = await startTestApp(target, new Date('2026-03-05T13:00:00Z'));
    for (const id of ['SEED-1', 'EDGE-1', 'EDGE-2']) {
      await t.request('POST', `${t.core}/users`, { body: { user: { external_id: id } } });
    }
  });
  afterAll(() => t.close());

  it('reaches SILVER at the maturation instant and shows the seed numbers', async () => {
    await send(purchase('SEED-1', 'T-S1', '2026-03-05T12:00:00Z', 2000));
    await t.setNow('2026-04-04T11:59:59Z');
    expect(await member('SEED-1')).toMatchObject({ tier: 'BASE', tier_points: 0, next_tier_points: 2000 });
    await t.setNow('2026-04-04T12:00:00Z');
    const u = await member('SEED-1', '?expand_incentives=true');
    expect(u).toMatchObject({
      tier: 'SILVER',
      tier_system: 'ACME Tier System',
      tier_points: 2000,
      next_tier_points: 8000,
      tier_ends_value: 10000,
      tier_entered_at: '2026-04-04 12:00:00',
      tier_resets_at: '2028-01-01 05:00:00',
      available_points: 2000,
    });
    const level = u.tier_details.tier_levels[0];
    expect(level.join_date).toBe('2026-04-04T12:00:00');
    expect(level.tier_overview).toMatchObject({ name: 'SILVER', rank: 2 });
    expect(level.next_tier_overview).toMatchObject({ name: 'GOLD', rank: 3 });
    expect(level.tier_progress[0].rules[0]).toMatchObject({
      query_result: 2000,
      rule_passed: false,
      rule: { target_balance: 10000 },
    });
  });

  it('a return after maturity takes the points back but does not demote', async () => {
    await t.setNow('2026-05-01T12:00:00Z');
    await send(purchase('SEED-1', 'T-S1', '2026-03-05T12:00:00Z', 2000, true));
    expect(await member('SEED-1')).toMatchObject({
      tier: 'SILVER',
      tier_points: 0,
      next_tier_points: 10000,
      available_points: 0,
      tier_entered_at: '2026-04-04 12:00:00',
    });
  });

  it('holds the level through the following year and loses it on 1 January after, program time', async () => {
    await t.setNow('2027-06-01T12:00:00Z');
    expect(await member('SEED-1')).toMatchObject({ tier: 'SILVER', tier_points: 0 });
    await t.setNow('2028-01-01T04:59:59Z');
    expect((await member('SEED-1')).tier).toBe('SILVER');
    await t.setNow('2028-01-01T05:00:00Z');
    // BASE never expires: it shows the end of the current qualifying year (DESIGN §6, amended).
    expect(await member('SEED-1')).toMatchObject({
      tier: 'BASE',
      tier_resets_at: '2029-01-01 05:00:00',
      next_tier_points: 2000,
    });
  });

  it('counts a rollover at 23:30 on 31 December New York time toward the old year, and one at midnight toward the new', async () => {
    await t.setNow('2028-12-03T00:00:00Z');
    // Matures 2029-01-01T04:30Z = 23:30 on 31 Dec 2028 in New York.
    await send(purchase('EDGE-1', 'T-E1', '2028-12-02T04:30:00Z', 2000));
    // Matures 2029-01-01T05:00Z = 00:00 on 1 Jan 2029 in New York.
    await send(purchase('EDGE-2', 'T-E2', '2028-12-02T05:00:00Z', 2000));
    await t.setNow('2029-01-01T06:00:00Z');
    const old = await member('EDGE-1');
    const fresh = await member('EDGE-2');
    // Both are SILVER; the old-year one has a zero balance in the new year and expires a year earlier.
    expect(old).toMatchObject({ tier: 'SILVER', tier_points: 0, tier_resets_at: '2030-01-01 05:00:00' });
    expect(fresh).toMatchObject({ tier: 'SILVER', tier_points: 2000, tier_resets_at: '2031-01-01 05:00:00' });
  });
  it('lists the tier changes in the point audit log among the ledger rows, newest first', async () => {
    const userId = (await member('SEED-1')).id;
    const res = await t.request('POST', '/incentives/api/2.0/user_points/fetch_point_audit_logs', {
      body: { retailer_id: t.tenant.retailer_id, user_id: userId, take: 500 },
    });
    expect(res.status).toBe(200);
    const rows = res.body.payload.results as {
      modification_type: string;
      audit_type: number;
      reason: string;
      time_of_occurrence: string;
    }[];
    const tiers = rows.filter((r) => r.modification_type === 'tier_change');
    expect(tiers.map((r) => [r.time_of_occurrence, r.audit_type, r.reason])).toEqual([
      ['2028-01-01T05:00:00.000Z', 0, 'SILVER to BASE: SILVER ended with its qualifying period'],
      ['2026-04-04T12:00:00.000Z', 0, 'BASE to SILVER: Reached 2,000 Tier Qualifying points'],
      [
        '2026-03-05T13:00:00.000Z',
        0,
        `UNENROLLED to BASE: Opted in to the program by app:${t.tenant.api_key}`,
      ],
    ]);
    // Newest first across both kinds of rows, and counted in the total.
    const times = rows.map((r) => r.time_of_occurrence);
    expect([...times].sort().reverse()).toEqual(times);
    expect(res.body.payload.total_records).toBe(rows.length);
    const without = await t.request('POST', '/incentives/api/2.0/user_points/fetch_point_audit_logs', {
      body: {
        retailer_id: t.tenant.retailer_id,
        user_id: userId,
        take: 500,
        exclude_specified_modification_types: ['tier_change'],
      },
    });
    expect(without.body.payload.total_records).toBe(rows.length - 3);
  });

  it('records every tier change with its time, cause and reason in the tier history', async () => {
    const res = await t.request('GET', `${t.core}/external/users/SEED-1/tier_history`);
    expect(res.status).toBe(200);
    expect(res.body.tier_history).toEqual([
      {
        at: '2026-03-05 13:00:00',
        from_tier: null,
        to_tier: 'BASE',
        cause: 'opted_in',
        // The app that created the profile (issue #18 item 10).
        reason: `Opted in to the program by app:${t.tenant.api_key}`,
      },
      {
        at: '2026-04-04 12:00:00',
        from_tier: 'BASE',
        to_tier: 'SILVER',
        cause: 'qualified',
        reason: 'Reached 2,000 Tier Qualifying points',
      },
      {
        at: '2028-01-01 05:00:00',
        from_tier: 'SILVER',
        to_tier: 'BASE',
        cause: 'expired',
        reason: 'SILVER ended with its qualifying period',
      },
    ]);
  });
});

describeEachDatabase('Tier climbs over HTTP', (target) => {
  let t: TestApp;
  const member = async (externalId: string) =>
    (await t.request('GET', `${t.core}/external/users/${externalId}`)).body.user;
  const send = async (body: unknown) => {
    const res = await t.request('POST', '/api/2.0/send_transaction', { body });
    expect(res.status).toBe(200);
    return res.body.payload;
  };

  beforeAll(async () => {
    t = await startTestApp(target, new Date('2026-06-01T12:00:00Z'));
    for (const id of ['CLIMB-1', 'DEC-1']) {
      await t.request('POST', `${t.core}/users`, { body: { user: { external_id: id } } });
    }
  });
  afterAll(() => t.close());

  it('reaches GOLD at 10,000 Tier Qualifying points, at the maturation instant of the purchase that crossed it', async () => {
    await send(purchase('CLIMB-1', 'T-C1', '2026-06-01T10:00:00Z', 2500));
    await t.setNow('2026-07-10T12:00:00Z');
    expect(await member('CLIMB-1')).toMatchObject({
      tier: 'SILVER',
      tier_points: 2500,
      next_tier_points: 7500,
    });
    await send(purchase('CLIMB-1', 'T-C2', '2026-07-10T09:00:00Z', 7600));
    await t.setNow('2026-08-09T08:59:59Z');
    expect((await member('CLIMB-1')).tier).toBe('SILVER');
    await t.setNow('2026-08-09T09:00:00Z');
    expect(await member('CLIMB-1')).toMatchObject({
      tier: 'GOLD',
      tier_points: 10100,
      tier_entered_at: '2026-08-09 09:00:00',
      tier_resets_at: '2028-01-01 05:00:00',
    });
    // At the top level there is no next tier: the fields are left out, never null (issue #14).
    expect(await member('CLIMB-1')).not.toHaveProperty('next_tier_points');
  });

  it('counts a purchase of 15 December whose points mature in January toward the new year', async () => {
    await t.setNow('2026-12-15T17:00:00Z');
    await send(purchase('DEC-1', 'T-D1', '2026-12-15T16:00:00Z', 2000));
    await t.setNow('2026-12-31T12:00:00Z');
    expect(await member('DEC-1')).toMatchObject({ tier: 'BASE', tier_points: 0 });
    await t.setNow('2027-01-14T16:00:00Z');
    expect(await member('DEC-1')).toMatchObject({
      tier: 'SILVER',
      tier_points: 2000,
      tier_entered_at: '2027-01-14 16:00:00',
      // Reached in 2027, held to the end of 2028.
      tier_resets_at: '2029-01-01 05:00:00',
    });
  });
  it("a late return in a new year claws tier points back only from that year (bug: it took last year's)", async () => {
    // Now 2027-01-14; T-C1 (2,500 USD) matured in July 2026, so its tier points belong to 2026.
    // The 2026-Q3 cash-out turned 10,000 of the member's 10,100 Spendable points into a gift card,
    // so 100 are left to take back: 2,400 Spendable and 2,500 tier points fall short.
    const res = await send({ ...purchase('CLIMB-1', 'T-C1', '2026-06-01T10:00:00Z', 2500, true) });
    expect(res.points_awarded).toEqual([
      expect.objectContaining({ account_name: 'ACME Spendable Account', amount: -100 }),
    ]);
    expect(res.shortfall).toBe(2400 + 2500);
    expect(await member('CLIMB-1')).toMatchObject({ tier: 'GOLD', tier_points: 0 });
    expect((await verifyLedger(t.db)).problems).toEqual([]);
  });
});

describeEachDatabase('Manual tier moves', (target) => {
  let t: TestApp;
  let userId: string;
  let program: { tier_system: { id: string; levels: { id: string; name: string }[] } };
  const levelId = (name: string) => program.tier_system.levels.find((l) => l.name === name)!.id;
  const move = (body: Record<string, unknown>) =>
    t.request('POST', '/incentives/api/1.0/movement/move_user', {
      body: {
        retailer_id: t.tenant.retailer_id,
        tier_system_id: program.tier_system.id,
        user_id: userId,
        process_intermediate_levels: false,
        evaluate_qualifying_rules: false,
        ...body,
      },
    });
  const moves = async () =>
    (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tier_moves'))[0]!.n;

  beforeAll(async () => {
    t = await startTestApp(target, new Date('2026-05-10T14:00:00Z'));
    userId = (await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'VIP-1' } } })).body
      .user.id;
    program = (await t.request('GET', '/admin/v1/program', { auth: 'admin' })).body.program_version.program;
  });
  afterAll(() => t.close());

  it('moves a member to GOLD, audited with who and why, until the end of the following year', async () => {
    const res = await move({ tier_level_id: levelId('GOLD'), reason: 'store manager goodwill' });
    expect(res.status).toBe(200);
    expect(res.body.payload).toMatchObject({
      user_id: userId,
      tier: 'GOLD',
      effective_at: '2026-05-10T14:00:00.000Z',
      resets_at: '2028-01-01T05:00:00.000Z',
    });
    const user = (await t.request('GET', `${t.core}/users/${userId}`)).body.user;
    expect(user).toMatchObject({
      tier: 'GOLD',
      tier_entered_at: '2026-05-10 14:00:00',
      tier_resets_at: '2028-01-01 05:00:00',
    });
    expect(user).not.toHaveProperty('next_tier_points');
    expect(user).not.toHaveProperty('tier_ends_value');
    const rows = await t.db.query<{ actor: string; reason: string }>('SELECT actor, reason FROM tier_moves');
    expect(rows).toEqual([{ actor: `app:${t.tenant.api_key}`, reason: 'store manager goodwill' }]);
    await t.setNow('2028-01-01T05:00:00Z');
    expect((await t.request('GET', `${t.core}/users/${userId}`)).body.user.tier).toBe('BASE');
  });

  it('a lone surrogate in a move reason answers 400 and records nothing (bug: stored as U+FFFD)', async () => {
    const before = await moves();
    const res = await move({ tier_level_id: levelId('SILVER'), reason: 'goodwill \ud800' });
    expect(res.status).toBe(400);
    expect(res.body.errors).toMatchObject({ code: 'validation', field: 'reason' });
    expect(await moves()).toBe(before);
  });

  it('refuses a move for another retailer, an unknown level or user, or an unenrolled member, and records nothing', async () => {
    const before = await moves();
    const other = await t.newTenant();
    const cases: [Record<string, unknown>, number, string][] = [
      [{ tier_level_id: levelId('GOLD'), retailer_id: other.retailer_id }, 403, 'access_denied'],
      [{ tier_level_id: '00000000-0000-4000-8000-000000000000' }, 400, 'validation'],
      [
        { tier_level_id: levelId('GOLD'), tier_system_id: '00000000-0000-4000-8000-000000000000' },
        400,
        'validation',
      ],
      [
        { tier_level_id: levelId('GOLD'), user_id: '00000000-0000-4000-8000-000000000000' },
        404,
        'user_not_found',
      ],
      [{ tier_level_id: levelId('GOLD'), user_id: 'not-a-uuid' }, 404, 'user_not_found'],
    ];
    for (const [body, status, code] of cases) {
      const res = await move(body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.errors.code).toBe(code);
    }
    await t.setNow('2028-02-01T00:00:00Z');
    await t.request('PUT', `${t.core}/users/${userId}`, { body: { user: { opted_in: false } } });
    const out = await move({ tier_level_id: levelId('SILVER') });
    expect(out.status).toBe(400);
    expect(await moves()).toBe(before);
  });
  it('shows the manual move, its expiry and the opt-out in the tier history', async () => {
    const res = await t.request('GET', `${t.core}/users/${userId}/tier_history`);
    expect(
      res.body.tier_history.map((h: { to_tier: string | null; cause: string }) => [h.to_tier, h.cause]),
    ).toEqual([
      ['BASE', 'opted_in'],
      ['GOLD', 'manual_move'],
      ['BASE', 'expired'],
      [null, 'opted_out'],
    ]);
    expect(res.body.tier_history[1].reason).toBe(`Moved by app:${t.tenant.api_key}: store manager goodwill`);
  });
});

describeEachDatabase('A manual move at the instant a tier expires (issue #13 item 6)', (target) => {
  let t: TestApp;
  afterAll(() => t.close());

  it('a manual move at the instant a tier expires rewrites history: the expiry stays, the move follows', async () => {
    t = await startTestApp(target, new Date('2026-05-10T14:00:00Z'));
    const program = (await t.request('GET', '/admin/v1/program', { auth: 'admin' })).body.program_version
      .program as { tier_system: { id: string; levels: { id: string; name: string }[] } };
    const userId = (await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'EXP-1' } } }))
      .body.user.id;
    const silver = program.tier_system.levels.find((l) => l.name === 'SILVER')!.id;
    const move = () =>
      t.request('POST', '/incentives/api/1.0/movement/move_user', {
        body: {
          retailer_id: t.tenant.retailer_id,
          tier_system_id: program.tier_system.id,
          user_id: userId,
          tier_level_id: silver,
          reason: 'kept by the store',
        },
      });
    expect((await move()).status).toBe(200); // SILVER until the end of 2027
    const expiry = '2028-01-01T05:00:00.000Z';
    await t.setNow(expiry);
    expect((await move()).status).toBe(200);
    const user = await t.request('GET', `${t.core}/users/${userId}`);
    expect(user.body.user).toMatchObject({ tier: 'SILVER', tier_entered_at: '2028-01-01 05:00:00' });
    const history = await t.request('GET', `${t.core}/users/${userId}/tier_history`);
    expect(
      history.body.tier_history.map((h: { to_tier: string | null; cause: string }) => [h.to_tier, h.cause]),
    ).toEqual([
      ['BASE', 'opted_in'],
      ['SILVER', 'manual_move'],
      ['BASE', 'expired'],
      ['SILVER', 'manual_move'],
    ]);
  });
});
