import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Tier maintenance over the HTTP API (issue #20): a program whose GOLD is entered with 10,000 Tier
 * Qualifying points and kept with 8,000, dropping one level at a time. GOLD reached in 2026 is kept
 * through 2028 by 8,250 points in 2027; with 1,000 points in 2027 it lands on SILVER at 00:00 on
 * 1 January 2028 New York time, then on BASE a year later. Reads only, no sweeper.
 */

let seq = 0;
const purchase = (externalId: string, transactionId: string, openTime: string, amount: number) => ({
  store_id: 'S1',
  request_id: `req-${++seq}`,
  request_payload: {
    transaction_id: transactionId,
    open_time: openTime,
    user_id: externalId,
    user_id_type: 'external_id',
    items: [{ line_id: '1', item_id: 'GIFT', quantity: 1, unit_price: amount }],
  },
});

/** 00:00 on 1 January in New York, as the API writes UTC. */
const NY_2028 = '2028-01-01 05:00:00';
const NY_2029 = '2029-01-01 05:00:00';

type Level = { name: string; threshold: number; maintenance_threshold?: number };
type Program = { tier_system: { downgrade?: string; levels: Level[] } } & Record<string, unknown>;

describeEachDatabase('Tier maintenance and soft landings', (target) => {
  let t: TestApp;
  let acme: Program;

  /** The user, with the maintenance fields checked for their types on every read. */
  const member = async (externalId: string) => {
    const res = await t.request('GET', `${t.core}/external/users/${externalId}?expand_incentives=true`);
    expect(res.status).toBe(200);
    const u = res.body.user;
    expect(Number.isInteger(u.maintenance_points), JSON.stringify(u)).toBe(true);
    expect(Number.isInteger(u.maintenance_required_points), JSON.stringify(u)).toBe(true);
    for (const level of u.tier_details.tier_levels) {
      for (const key of ['next_maintenance_eval_date', 'last_maintenance_eval_date']) {
        if (key in level) expect(level[key]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      }
      // BASE never expires: its tier_resets_at is the end of the qualifying period (issue #14 item
      // 11), and it is never evaluated for maintenance, so it has no evaluation date.
      if (u.tier !== 'BASE' && u.tier_resets_at)
        expect(level.next_maintenance_eval_date).toBe(u.tier_resets_at);
      else expect('next_maintenance_eval_date' in level).toBe(false);
    }
    return u;
  };
  const send = async (body: unknown) => {
    const res = await t.request('POST', '/api/2.0/send_transaction', { body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };
  const history = async (userId: string) =>
    (await t.request('GET', `${t.core}/users/${userId}/tier_history`)).body.tier_history as {
      at: string;
      from_tier: string | null;
      to_tier: string | null;
      cause: string;
      reason: string;
    }[];
  const tierAuditRows = async (userId: string) =>
    (
      await t.request('POST', '/incentives/api/1.0/user_points/fetch_point_audit_logs', {
        body: { retailer_id: t.tenant.retailer_id, user_id: userId, take: 100 },
      })
    ).body.payload.results.filter(
      (r: { modification_type: string }) => r.modification_type === 'tier_change',
    );
  const putProgram = (program: unknown) =>
    t.request('PUT', '/admin/v1/program', { auth: 'admin', body: { program } });

  beforeAll(async () => {
    t = await startTestApp(target, new Date('2026-03-01T15:00:00Z'));
    acme = (await t.request('GET', '/admin/v1/program', { auth: 'admin' })).body.program_version.program;
    for (const id of ['KEEP-1', 'LAND-1']) {
      await t.request('POST', `${t.core}/users`, { body: { user: { external_id: id } } });
    }
  });
  afterAll(() => t.close());

  it('refuses a maintenance threshold above the entry threshold and an unknown downgrade, changing nothing', async () => {
    const withGold = (gold: Partial<Level>, downgrade?: string): Program => ({
      ...acme,
      tier_system: {
        ...acme.tier_system,
        ...(downgrade ? { downgrade } : {}),
        levels: acme.tier_system.levels.map((l) => (l.name === 'GOLD' ? { ...l, ...gold } : l)),
      },
    });
    const above = await putProgram(withGold({ maintenance_threshold: 10_001 }));
    expect(above.status).toBe(400);
    expect(above.body.errors).toMatchObject({
      code: 'validation',
      field: 'tier_system.levels[2].maintenance_threshold',
    });
    expect(above.body.errors.message).toContain('above its threshold 10000');
    const unknown = await putProgram(withGold({}, 'two_levels'));
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors.code).toBe('validation');
    const current = (await t.request('GET', '/admin/v1/program', { auth: 'admin' })).body.program_version;
    expect(current.version).toBe(1);

    const put = await putProgram(withGold({ maintenance_threshold: 8000 }, 'one_level'));
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const saved: Program = put.body.program_version.program;
    expect(saved.tier_system.downgrade).toBe('one_level');
    // A level that does not say keeps with its entry threshold, written out in the version.
    expect(saved.tier_system.levels.map((l) => [l.name, l.threshold, l.maintenance_threshold])).toEqual([
      ['BASE', 0, 0],
      ['SILVER', 2000, 2000],
      ['GOLD', 10000, 8000],
    ]);
  });

  it('reaches GOLD in 2026 and needs nothing more that year', async () => {
    await send(purchase('KEEP-1', 'K-2026', '2026-03-01T14:00:00Z', 10_000));
    await send(purchase('LAND-1', 'L-2026', '2026-03-01T14:00:00Z', 10_000));
    await t.setNow('2026-06-01T12:00:00Z');
    for (const id of ['KEEP-1', 'LAND-1']) {
      const u = await member(id);
      expect(u).toMatchObject({
        tier: 'GOLD',
        tier_resets_at: NY_2028,
        maintenance_points: 10_000,
        maintenance_required_points: 0,
      });
      expect(u.tier_details.tier_levels[0].next_maintenance_eval_date).toBe(NY_2028);
      expect('last_maintenance_eval_date' in u.tier_details.tier_levels[0]).toBe(false);
    }
  });

  it('8,250 points in 2027 keep GOLD through 2028; the points still needed fall as points mature', async () => {
    await t.setNow('2027-02-01T15:00:00Z');
    expect(await member('KEEP-1')).toMatchObject({
      tier: 'GOLD',
      tier_points: 0,
      maintenance_points: 0,
      maintenance_required_points: 8000,
    });
    await send(purchase('KEEP-1', 'K-2027-A', '2027-02-01T14:00:00Z', 5000));
    await send(purchase('LAND-1', 'L-2027', '2027-02-01T14:00:00Z', 1000));
    // Escrowed points do not count until they mature (30 days).
    expect((await member('KEEP-1')).maintenance_required_points).toBe(8000);
    await t.setNow('2027-03-03T14:00:00Z');
    expect(await member('KEEP-1')).toMatchObject({
      maintenance_points: 5000,
      maintenance_required_points: 3000,
    });
    expect(await member('LAND-1')).toMatchObject({
      maintenance_points: 1000,
      maintenance_required_points: 7000,
    });

    await t.setNow('2027-05-01T15:00:00Z');
    await send(purchase('KEEP-1', 'K-2027-B', '2027-05-01T14:00:00Z', 3250));
    await t.setNow('2027-05-31T13:59:59Z');
    expect(await member('KEEP-1')).toMatchObject({
      maintenance_required_points: 3000,
      tier_resets_at: NY_2028,
    });
    await t.setNow('2027-05-31T14:00:00Z');
    const kept = await member('KEEP-1');
    expect(kept).toMatchObject({
      tier: 'GOLD',
      tier_entered_at: '2026-03-31 14:00:00',
      tier_resets_at: NY_2029,
      maintenance_points: 8250,
      maintenance_required_points: 0,
    });
    expect(kept.tier_details.tier_levels[0]).toMatchObject({
      next_maintenance_eval_date: NY_2029,
      last_maintenance_eval_date: '2027-05-31 14:00:00',
    });
    const renewal = (await history(kept.id)).at(-1)!;
    expect(renewal).toEqual({
      at: '2027-05-31 14:00:00',
      from_tier: 'GOLD',
      to_tier: 'GOLD',
      cause: 'renewed',
      reason: 'Kept GOLD with 8,250 of 8,000 points in 2027',
    });
    expect((await tierAuditRows(kept.id))[0]).toMatchObject({
      reference_type: 'renewed',
      time_of_occurrence: '2027-05-31T14:00:00.000Z',
      reason: 'GOLD to GOLD: Kept GOLD with 8,250 of 8,000 points in 2027',
    });
  });

  it('1,000 points in 2027 land on SILVER at 00:00 on 1 January 2028 New York time', async () => {
    await t.setNow('2028-01-01T04:59:59Z');
    expect(await member('LAND-1')).toMatchObject({ tier: 'GOLD', maintenance_required_points: 7000 });
    await t.setNow('2028-01-01T05:00:00Z');
    const landed = await member('LAND-1');
    expect(landed).toMatchObject({
      tier: 'SILVER',
      tier_entered_at: NY_2028,
      tier_resets_at: NY_2029,
      tier_points: 0,
      maintenance_points: 0,
      maintenance_required_points: 2000,
    });
    expect(landed.tier_details.tier_levels[0]).toMatchObject({
      next_maintenance_eval_date: NY_2029,
      last_maintenance_eval_date: NY_2028,
    });
    expect((await history(landed.id)).at(-1)).toEqual({
      at: NY_2028,
      from_tier: 'GOLD',
      to_tier: 'SILVER',
      cause: 'soft_landing',
      reason: 'Expired GOLD; landed on SILVER',
    });
    expect((await tierAuditRows(landed.id))[0]).toMatchObject({
      reference_type: 'soft_landing',
      reason: 'GOLD to SILVER: Expired GOLD; landed on SILVER',
    });
    // The kept member is still GOLD.
    expect(await member('KEEP-1')).toMatchObject({ tier: 'GOLD', maintenance_required_points: 8000 });
  });

  it('then BASE a year later without points, and GOLD kept through 2028 lands on SILVER after it', async () => {
    await t.setNow('2028-12-31T12:00:00Z');
    expect(await member('LAND-1')).toMatchObject({ tier: 'SILVER' });
    expect(await member('KEEP-1')).toMatchObject({ tier: 'GOLD', tier_resets_at: NY_2029 });
    await t.setNow('2029-01-01T05:00:00Z');
    const base = await member('LAND-1');
    expect(base).toMatchObject({ tier: 'BASE', tier_entered_at: NY_2029, maintenance_required_points: 0 });
    expect('next_maintenance_eval_date' in base.tier_details.tier_levels[0]).toBe(false);
    expect((await history(base.id)).map((h) => [h.at, h.to_tier, h.cause])).toEqual([
      ['2026-03-01 15:00:00', 'BASE', 'opted_in'],
      ['2026-03-31 14:00:00', 'GOLD', 'qualified'],
      [NY_2028, 'SILVER', 'soft_landing'],
      [NY_2029, 'BASE', 'expired'],
    ]);
    expect(await member('KEEP-1')).toMatchObject({ tier: 'SILVER', tier_entered_at: NY_2029 });
    expect((await verifyLedger(t.db)).problems).toEqual([]);
  });
});
