import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** The program through the admin API (issue #3): versions, validation, pricing by purchase time. */

const purchase = (requestId: string, transactionId: string, openTime: string, qty = 1) => ({
  store_id: 'S1',
  request_id: requestId,
  request_payload: {
    transaction_id: transactionId,
    open_time: openTime,
    user_id: 'P-1',
    user_id_type: 'external_id',
    items: [
      { line_id: '1', item_id: 'A', quantity: 1, unit_price: 100 },
      { line_id: '2', item_id: 'B', quantity: qty, unit_price: 50 },
    ],
  },
});

describeEachDatabase('Program admin API', (target) => {
  let t: TestApp;
  let program: Record<string, unknown> & { earning: { points_per_currency_unit: number } };

  beforeAll(async () => {
    t = await startTestApp(target, new Date('2026-11-03T12:00:00Z'));
    await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'P-1' } } });
  });
  afterAll(() => t.close());

  it('reads the ACME program as version 1, in force for all earlier times', async () => {
    const res = await t.request('GET', '/admin/v1/program', { auth: 'admin' });
    expect(res.status).toBe(200);
    expect(res.body.program_version).toMatchObject({ version: 1, effective_from: null });
    program = res.body.program_version.program;
    expect(program).toMatchObject({ name: 'ACME', time_zone: 'America/New_York', escrow_days: 30 });
    expect((program.point_accounts as { name: string }[]).map((a) => a.name)).toEqual([
      'ACME Spendable Account',
      'ACME Spendable Escrow Account',
      'ACME Tier Qualifying Account',
      'ACME Tier-Qualifying Escrow Account',
    ]);
  });

  it('replaces the program with a new version from now; purchases are priced by their own time', async () => {
    const before = await t.request('POST', '/api/2.0/send_transaction', {
      body: purchase('a', 'T-BEFORE', '2026-11-03T11:00:00Z'),
    });
    expect(before.body.payload.base_points).toBe(150);

    await t.setNow('2026-11-04T12:00:00Z');
    const doubled = { ...program, earning: { points_per_currency_unit: 2 } };
    const put = await t.request('PUT', '/admin/v1/program', { auth: 'admin', body: { program: doubled } });
    expect(put.status).toBe(200);
    expect(put.body.program_version).toMatchObject({
      version: 2,
      effective_from: '2026-11-04T12:00:00.000Z',
    });
    // Ids are stable across versions.
    expect(put.body.program_version.program.point_accounts).toEqual(program.point_accounts);

    const after = await t.request('POST', '/api/2.0/send_transaction', {
      body: purchase('b', 'T-AFTER', '2026-11-04T12:00:00Z'),
    });
    expect(after.body.payload.base_points).toBe(300);
    // A purchase from before the change, arriving late, is priced with version 1.
    const late = await t.request('POST', '/api/2.0/send_transaction', {
      body: purchase('c', 'T-LATE', '2026-11-04T11:59:00Z'),
    });
    expect(late.body.payload.base_points).toBe(150);
    // A return of the older purchase is recomputed with its own version.
    const ret = await t.request('POST', '/api/2.0/send_transaction', {
      body: purchase('d', 'T-BEFORE', '2026-11-03T11:00:00Z', 0),
    });
    expect(ret.body.payload.base_points).toBe(100);

    const versions = await t.request('GET', '/admin/v1/program/versions', { auth: 'admin' });
    expect(versions.body.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
  });

  it('refuses a meaningless program with a clear error and keeps the versions as they were', async () => {
    const bad: [string, Record<string, unknown>][] = [
      ['time zone', { ...program, time_zone: 'Mars/Olympus' }],
      [
        'account role twice',
        {
          ...program,
          point_accounts: [
            ...(program.point_accounts as object[]).slice(0, 3),
            (program.point_accounts as object[])[0],
          ],
        },
      ],
      [
        'thresholds not rising',
        {
          ...program,
          tier_system: {
            ...(program.tier_system as object),
            levels: [
              { name: 'BASE', rank: 1, threshold: 0, expiry: 'never' },
              { name: 'SILVER', rank: 2, threshold: 5000, expiry: 'never' },
              { name: 'GOLD', rank: 3, threshold: 4000, expiry: 'never' },
            ],
          },
        },
      ],
      [
        'changed account id',
        {
          ...program,
          point_accounts: (program.point_accounts as { id: string }[]).map((a, i) =>
            i === 0 ? { ...a, id: '00000000-0000-4000-8000-000000000000' } : a,
          ),
        },
      ],
      ['unknown field', { ...program, surprise: true }],
      [
        'cash-out denomination in fractions of a cent',
        { ...program, cash_out: { ...(program.cash_out as object), denomination: 5.001 } },
      ],
      [
        'cash-out denomination worth a fraction of a point',
        { ...program, cash_out: { frequency: 'quarterly', points_per_currency_unit: 1, denomination: 2.5 } },
      ],
      [
        'campaign dates',
        {
          ...program,
          campaigns: [
            {
              name: 'X',
              starts_on: '2026-12-31',
              ends_on: '2026-12-01',
              award: { type: 'multiplier', factor: 2 },
              tier_qualifying: false,
            },
          ],
        },
      ],
      [
        'campaign targeting a tier the program lacks',
        {
          ...program,
          campaigns: [
            {
              name: 'Y',
              starts_on: '2026-12-01',
              ends_on: '2026-12-31',
              award: { type: 'multiplier', factor: 2 },
              targeting: { tiers: ['PLATINUM'] },
              tier_qualifying: false,
            },
          ],
        },
      ],
      [
        'item_points campaign listing nothing',
        {
          ...program,
          campaigns: [
            {
              name: 'Z',
              starts_on: '2026-12-01',
              ends_on: '2026-12-31',
              award: { type: 'item_points', points_per_unit: 5 },
              tier_qualifying: false,
            },
          ],
        },
      ],
      [
        'campaign ended_at not an instant',
        {
          ...program,
          campaigns: [
            {
              name: 'E',
              starts_on: '2026-12-01',
              ends_on: '2026-12-31',
              ended_at: 'yesterday',
              award: { type: 'multiplier', factor: 2 },
              tier_qualifying: false,
            },
          ],
        },
      ],
    ];
    for (const [what, doc] of bad) {
      const res = await t.request('PUT', '/admin/v1/program', { auth: 'admin', body: { program: doc } });
      expect(res.status, what).toBe(400);
      expect(res.body.errors.code, what).toBe('validation');
    }
    const versions = await t.request('GET', '/admin/v1/program/versions', { auth: 'admin' });
    expect(versions.body.versions.length).toBe(2);
  });

  it('a NUL or a lone surrogate in a program name or account label answers 400 and keeps the versions (bug: 500)', async () => {
    const versions = async () =>
      (await t.request('GET', '/admin/v1/program/versions', { auth: 'admin' })).body.versions;
    const before = await versions();
    const accounts = program.point_accounts as Record<string, unknown>[];
    const bad: [Record<string, unknown>, string][] = [
      [
        {
          ...program,
          point_accounts: [{ ...accounts[0], grouping_label: 'a\u0000b' }, ...accounts.slice(1)],
        },
        'program.point_accounts.0.grouping_label',
      ],
      [{ ...program, name: 'ACME \ud83d' }, 'program.name'],
    ];
    for (const [doc, field] of bad) {
      const res = await t.request('PUT', '/admin/v1/program', { auth: 'admin', body: { program: doc } });
      expect(res.status, field).toBe(400);
      expect(res.body.errors).toMatchObject({ code: 'validation', field });
    }
    expect(await versions()).toEqual(before);
  });

  it('keeps campaign ids by name across versions and stores the new campaign fields as given', async () => {
    const current = (await t.request('GET', '/admin/v1/program', { auth: 'admin' })).body.program_version;
    const campaigns = current.program.campaigns as { id: string; name: string }[];
    const added = {
      name: 'Gold Coffee',
      starts_on: '2026-12-01',
      ends_on: '2026-12-31',
      ended_at: '2026-12-15T12:00:00-05:00',
      award: { type: 'item_points', points_per_unit: 2.5, categories: ['coffee'] },
      targeting: { tiers: ['GOLD', 'SILVER'], store_ids: ['S1'], channels: ['web'] },
      max_awards_per_member: 3,
      tier_qualifying: true,
    };
    // Ids left out: the existing campaigns keep theirs by name.
    const withoutIds = campaigns.map(({ id: _id, ...c }) => c);
    const res = await t.request('PUT', '/admin/v1/program', {
      auth: 'admin',
      body: { program: { ...current.program, campaigns: [...withoutIds, added] } },
    });
    expect(res.status).toBe(200);
    const stored = res.body.program_version.program.campaigns;
    expect(stored.slice(0, campaigns.length)).toEqual(campaigns);
    expect(stored[campaigns.length]).toEqual({
      ...added,
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      ended_at: '2026-12-15T17:00:00.000Z',
    });
  });

  it('needs an admin token of the retailer, and shows each retailer its own program', async () => {
    expect((await t.request('GET', '/admin/v1/program', { auth: 'none' })).status).toBe(401);
    expect((await t.request('GET', '/admin/v1/program', { auth: 'app' })).status).toBe(401);
    const other = await t.newTenant();
    const res = await t.request('GET', '/admin/v1/program', { auth: { bearer: other.admin_token } });
    expect(res.body.program_version.version).toBe(1);
    expect(res.body.program_version.program.point_accounts[0].id).not.toBe(
      (program.point_accounts as { id: string }[])[0]!.id,
    );
  });
});
