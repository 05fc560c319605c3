import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase, TEST_DATABASES, type TestDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The Incentives points API (issue #3 item 6, reference §4): balances, deposits, spends and the
 * point audit log, driven over HTTP on every database. Times only move forward inside a suite.
 */

const SPEND = 'ACME Spendable Account';
const SPEND_ESCROW = 'ACME Spendable Escrow Account';
const TIER = 'ACME Tier Qualifying Account';
const TIER_ESCROW = 'ACME Tier-Qualifying Escrow Account';
const V1 = '/incentives/api/1.0';
const V2 = '/incentives/api/2.0';

interface Detail {
  account_name: string;
  user_point_account_id: string;
  point_account_id: string;
  available_balance: number;
  life_time_value: number;
}

/** A test app with helpers for one retailer's points. */
function pointsHarness(target: TestDatabase, start: string) {
  const h = {
    t: undefined as unknown as TestApp,
    /** Point account id by account name. */
    accounts: {} as Record<string, string>,
    post: (path: string, body: Record<string, unknown>, prefix = V1) =>
      h.t.request('POST', `${prefix}/${path}`, { body: { retailer_id: h.t.tenant.retailer_id, ...body } }),
    async member(externalId: string): Promise<string> {
      const res = await h.t.request('POST', `${h.t.core}/users`, {
        body: { user: { external_id: externalId } },
      });
      expect(res.status).toBe(200);
      return res.body.user.id;
    },
    async balances(userId: string): Promise<Record<string, number>> {
      const res = await h.post('user_points/all_balances', { user_id: userId });
      expect(res.status).toBe(200);
      return Object.fromEntries(
        (res.body.payload.details as Detail[]).map((d) => [d.account_name, d.available_balance]),
      );
    },
    deposit: (userId: string, amount: number, id: string, account = SPEND) =>
      h.post('user_points/deposit', {
        user_id: userId,
        deposit_details: [{ point_account_id: h.accounts[account], amount, idempotency_id: id }],
      }),
    spend: (userId: string, lines: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
      h.post('user_points/spend_multiple', { user_id: userId, spend_details: lines, ...extra }),
    journals: async () =>
      (await h.t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM journals'))[0]!.n,
    /** A till's send_transaction for the member with this external id; open_time is New York time. */
    sendTransaction: (
      requestId: string,
      transactionId: string,
      externalId: string,
      items: unknown[],
      extra: Record<string, unknown> & { open_time: string },
    ) =>
      h.t.request('POST', '/api/2.0/send_transaction', {
        body: {
          store_id: 'BOSTON-01',
          request_id: requestId,
          request_payload: {
            transaction_id: transactionId,
            items,
            user_id: externalId,
            user_id_type: 'external_id',
            ...extra,
          },
        },
      }),
  };
  beforeAll(async () => {
    h.t = await startTestApp(target, new Date(start));
    const probe = await h.member('PROBE-1');
    const res = await h.post('user_points/all_balances', { user_id: probe });
    h.accounts = Object.fromEntries(
      (res.body.payload.details as Detail[]).map((d) => [d.account_name, d.point_account_id]),
    );
  });
  afterAll(() => h.t.close());
  afterEach(async () => expect((await verifyLedger(h.t.db)).problems).toEqual([]));
  return h;
}

const item = (line: string, price: number, quantity = 1) => ({
  line_id: line,
  item_id: `SKU-${line}`,
  quantity,
  unit_price: price,
});

describeEachDatabase('Incentives points API', (target) => {
  const h = pointsHarness(target, '2026-10-01T16:00:00Z');
  // Enrolled at the start, before the Double Points Days purchase it makes (DESIGN §4).
  let campaignMember: string;
  beforeAll(async () => {
    campaignMember = await h.member('CAMP-1');
  });

  it('all_balances answers the rows of the user object; balance filters them by account', async () => {
    const userId = await h.member('BAL-1');
    const all = await h.post('user_points/all_balances', { user_id: userId, culture: 'en-US' });
    expect(all.status).toBe(200);
    expect(all.body.status).toBe('ok');
    const user = await h.t.request('GET', `${h.t.core}/users/${userId}?expand_incentives=true`);
    expect(all.body.payload).toEqual(user.body.user.tier_details.point_account_balances);
    expect(all.body.payload).toMatchObject({
      retailer_id: h.t.tenant.retailer_id,
      user_id: userId,
      summary: { total_points: 0, life_time_points: 0 },
    });
    expect((all.body.payload.details as Detail[]).map((d) => d.account_name)).toEqual([
      SPEND,
      SPEND_ESCROW,
      TIER,
      TIER_ESCROW,
    ]);

    const one = await h.post(
      'user_points/balance',
      { user_id: userId, point_account_ids: [h.accounts[TIER]] },
      V2,
    );
    expect(one.status).toBe(200);
    expect(one.body.payload).toEqual({
      retailer_id: h.t.tenant.retailer_id,
      user_id: userId,
      details: [all.body.payload.details[2]],
    });
    const unknown = await h.post('user_points/balance', {
      user_id: userId,
      point_account_ids: [randomUUID()],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toMatchObject({ code: 'validation', field: 'point_account_ids.0' });
  });

  it('deposits credit the named settled account exactly; a repeat applies nothing', async () => {
    const userId = await h.member('DEP-1');
    const body = {
      user_id: userId,
      deposit_details: [
        {
          point_source_id: 'SRC-1',
          point_account_id: h.accounts[SPEND],
          amount: 500,
          idempotency_id: 'dep-1',
          reference_type: 'Goodwill',
          reference_id: 'CS-1',
        },
        { point_account_id: h.accounts[TIER], amount: 300, reference_id: 'CS-2', rank: 1 },
      ],
    };
    const res = await h.post('user_points/deposit', body, V2);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: 'ok',
      payload: {
        user_id: userId,
        details: [
          { point_account_id: h.accounts[SPEND], amount: 500, idempotency_id: 'dep-1', applied: true },
          { point_account_id: h.accounts[TIER], amount: 300, idempotency_id: 'CS-2', applied: true },
        ],
      },
    });
    expect(await h.balances(userId)).toEqual({
      [SPEND]: 500,
      [SPEND_ESCROW]: 0,
      [TIER]: 300,
      [TIER_ESCROW]: 0,
    });
    const user = await h.t.request('GET', `${h.t.core}/users/${userId}`);
    expect(user.body.user).toMatchObject({ available_points: 500, tier_points: 300 });

    const before = await h.journals();
    const again = await h.post('user_points/deposit', body);
    expect(again.status).toBe(200);
    expect(again.body.payload.details.map((d: { applied: boolean }) => d.applied)).toEqual([false, false]);
    // The same id twice in one request applies once.
    const twice = await h.post('user_points/deposit', {
      user_id: userId,
      deposit_details: [
        { point_account_id: h.accounts[SPEND], amount: 70, idempotency_id: 'dep-2' },
        { point_account_id: h.accounts[SPEND], amount: 70, idempotency_id: 'dep-2' },
      ],
    });
    expect(twice.body.payload.details.map((d: { applied: boolean }) => d.applied)).toEqual([true, false]);
    expect(await h.journals()).toBe(before + 1);
    const all = await h.post('user_points/all_balances', { user_id: userId });
    expect(all.body.payload.summary).toEqual({ total_points: 870, life_time_points: 870 });
    expect(all.body.payload.details[0]).toMatchObject({ available_balance: 570, life_time_value: 570 });
    expect(all.body.payload.details[0].user_point_account_id).not.toBe('');
  });

  it('refuses bad deposits, a wrong retailer and unknown members, and changes nothing', async () => {
    const userId = await h.member('DEP-BAD');
    const other = await h.t.newTenant();
    const stranger = await h.t.request('POST', `/priv/v1/apps/${other.api_key}/users`, {
      body: { user: { external_id: 'STRANGER' } },
      auth: { key: other.api_key, secret: other.secret },
    });
    expect(stranger.status).toBe(200);
    const before = await h.journals();
    const line = (l: Record<string, unknown>) => ({
      user_id: userId,
      deposit_details: [{ point_account_id: h.accounts[SPEND], amount: 10, idempotency_id: 'x', ...l }],
    });
    const cases: [Record<string, unknown>, number, string][] = [
      [line({ amount: 0 }), 400, 'validation'],
      [line({ amount: -5 }), 400, 'validation'],
      [line({ amount: 1.5 }), 400, 'validation'],
      [line({ amount: 10_000_001 }), 400, 'validation'],
      [line({ amount: '10' }), 400, 'validation'],
      [line({ point_account_id: h.accounts[SPEND_ESCROW] }), 400, 'validation'],
      [line({ point_account_id: h.accounts[TIER_ESCROW] }), 400, 'validation'],
      [line({ point_account_id: randomUUID() }), 400, 'validation'],
      [{ user_id: userId, deposit_details: [] }, 400, 'validation'],
      [{ ...line({}), retailer_id: other.retailer_id }, 403, 'access_denied'],
      [{ ...line({}), retailer_id: randomUUID() }, 403, 'access_denied'],
      [{ ...line({}), user_id: randomUUID() }, 404, 'user_not_found'],
      [{ ...line({}), user_id: 'not-a-user' }, 404, 'user_not_found'],
      [{ ...line({}), user_id: stranger.body.user.id }, 404, 'user_not_found'],
    ];
    for (const [body, status, code] of cases) {
      const res = await h.post('user_points/deposit', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.errors.code, JSON.stringify(body)).toBe(code);
    }
    const noAuth = await h.t.request('POST', `${V1}/user_points/deposit`, {
      body: { retailer_id: h.t.tenant.retailer_id, ...line({}) },
      auth: 'none',
    });
    expect(noAuth.status).toBe(401);
    const wrongRetailerRead = await h.post('user_points/all_balances', {
      user_id: userId,
      retailer_id: other.retailer_id,
    });
    expect(wrongRetailerRead.status).toBe(403);
    expect(await h.journals()).toBe(before);
    expect(await h.balances(userId)).toEqual({ [SPEND]: 0, [SPEND_ESCROW]: 0, [TIER]: 0, [TIER_ESCROW]: 0 });
  });

  it('spends debit Spendable against its balance; a repeat returns the first result and spends nothing', async () => {
    const userId = await h.member('SPEND-1');
    expect((await h.deposit(userId, 1000, 'seed')).status).toBe(200);
    const res = await h.spend(userId, [
      { amount: 300, idempotency_id: 's-1', reference_id: 'ORDER-1', reference_type: 'REWARD_STORE' },
      { amount: 200, idempotency_id: 's-2', point_account_ids: [h.accounts[SPEND]], transaction_id: 'T-9' },
    ]);
    expect(res.status).toBe(200);
    const now = (await h.t.clock.now()).toISOString();
    const first = {
      account_name: SPEND,
      user_point_account_id: expect.any(String),
      point_account_id: h.accounts[SPEND],
      amount_spent: 300,
      remaining_balance: 700,
      reference_id: 'ORDER-1',
      reference_type: 'REWARD_STORE',
      idempotency_id: 's-1',
      idempotency_summary: 'new',
      tracking_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      error_status: 0,
      error_response: null,
      message: null,
    };
    expect(res.body.payload).toEqual({
      retailer_id: h.t.tenant.retailer_id,
      user_id: userId,
      details: [
        first,
        {
          ...first,
          amount_spent: 200,
          remaining_balance: 500,
          reference_id: null,
          reference_type: null,
          idempotency_id: 's-2',
        },
      ],
      summary: { amount_spent: 500, remaining_balance: 500 },
      audits: [
        expect.objectContaining({ modification: -300, modification_type: 'spend', amount_spent: 300 }),
        expect.objectContaining({ modification: -200, modification_type: 'spend', transaction_id: 'T-9' }),
      ],
      time_of_occurrence: now,
    });
    expect(await h.balances(userId)).toMatchObject({ [SPEND]: 500 });

    const before = await h.journals();
    const replay = await h.spend(userId, [
      { amount: 300, idempotency_id: 's-1', reference_id: 'ORDER-1', reference_type: 'REWARD_STORE' },
    ]);
    expect(replay.status).toBe(200);
    expect(replay.body.payload.details).toEqual([
      { ...first, tracking_id: res.body.payload.details[0].tracking_id, idempotency_summary: 'duplicate' },
    ]);
    expect(replay.body.payload.summary).toEqual({ amount_spent: 0, remaining_balance: 500 });
    expect(replay.body.payload.audits).toEqual([]);
    // The same id twice in one request spends once.
    const twice = await h.spend(userId, [
      { amount: 50, idempotency_id: 's-3' },
      { amount: 50, idempotency_id: 's-3' },
    ]);
    expect(
      twice.body.payload.details.map((d: { idempotency_summary: string }) => d.idempotency_summary),
    ).toEqual(['new', 'duplicate']);
    expect(await h.journals()).toBe(before + 1);
    expect(await h.balances(userId)).toMatchObject({ [SPEND]: 450 });

    // Tier Qualifying points can be spent when named; escrow cannot.
    expect((await h.deposit(userId, 100, 'tier-seed', TIER)).status).toBe(200);
    const tier = await h.spend(userId, [
      { amount: 40, idempotency_id: 's-tier', point_account_ids: [h.accounts[TIER]] },
    ]);
    expect(tier.body.payload.details[0]).toMatchObject({ account_name: TIER, remaining_balance: 60 });
    expect(tier.body.payload.summary).toEqual({ amount_spent: 40, remaining_balance: 450 });
    const escrow = await h.spend(userId, [
      { amount: 1, idempotency_id: 's-esc', point_account_ids: [h.accounts[SPEND_ESCROW]] },
    ]);
    expect(escrow.status).toBe(400);
    expect(escrow.body.errors.code).toBe('validation');
    const noId = await h.spend(userId, [{ amount: 1 }]);
    expect(noId.status).toBe(400);
    expect(noId.body.errors.code).toBe('missing_data');
    for (const amount of [0, -1, 2.5, 10_000_001]) {
      const bad = await h.spend(userId, [{ amount, idempotency_id: `bad-${amount}` }]);
      expect(bad.status, String(amount)).toBe(400);
      expect(bad.body.errors.code).toBe('validation');
    }
    expect(await h.balances(userId)).toMatchObject({ [SPEND]: 450, [TIER]: 60 });
  });

  it('a line the balance cannot cover spends nothing; without partial success the whole request spends nothing', async () => {
    const userId = await h.member('SPEND-2');
    await h.deposit(userId, 500, 'seed');
    const lines = [
      { amount: 300, idempotency_id: 'p-1' },
      { amount: 400, idempotency_id: 'p-2' },
      { amount: 150, idempotency_id: 'p-3' },
    ];
    const before = await h.journals();
    const whole = await h.spend(userId, lines);
    expect(whole.status).toBe(400);
    expect(whole.body).toEqual({
      status: 'error',
      errors: {
        code: 'insufficient_points',
        message: `spend_details.1: 400 points needed, 200 available in ${SPEND}; nothing was spent`,
      },
    });
    expect(await h.journals()).toBe(before);
    expect(await h.balances(userId)).toMatchObject({ [SPEND]: 500 });

    const partial = await h.spend(userId, lines, { allow_partial_success: true });
    expect(partial.status).toBe(200);
    expect(
      partial.body.payload.details.map((d: Record<string, unknown>) => [
        d.amount_spent,
        d.remaining_balance,
        d.error_status,
      ]),
    ).toEqual([
      [300, 200, 0],
      [0, 200, 1],
      [150, 50, 0],
    ]);
    expect(partial.body.payload.details[1].error_response).toEqual({ error: 'insufficient_points' });
    expect(partial.body.payload.details[1].message).toBe(`400 points needed, 200 available in ${SPEND}`);
    expect(partial.body.payload.summary).toEqual({ amount_spent: 450, remaining_balance: 50 });
    expect(await h.journals()).toBe(before + 2);
    expect(await h.balances(userId)).toMatchObject({ [SPEND]: 50 });
    // The failed line was not recorded: once the points are there, the same id spends.
    await h.deposit(userId, 400, 'top-up');
    const retry = await h.spend(userId, [lines[1]!]);
    expect(retry.body.payload.details[0]).toMatchObject({ idempotency_summary: 'new', amount_spent: 400 });
    expect(await h.balances(userId)).toMatchObject({ [SPEND]: 50 });
  });

  it('a spend naming another retailer answers 403 and changes nothing', async () => {
    const userId = await h.member('SPEND-3');
    await h.deposit(userId, 100, 'seed');
    const other = await h.t.newTenant();
    const before = await h.journals();
    const res = await h.spend(userId, [{ amount: 10, idempotency_id: 'w-1' }], {
      retailer_id: other.retailer_id,
    });
    expect(res.status).toBe(403);
    expect(res.body.errors.code).toBe('access_denied');
    const theirs = await h.t.request('POST', `${V1}/user_points/spend_multiple`, {
      body: {
        retailer_id: other.retailer_id,
        user_id: userId,
        spend_details: [{ amount: 10, idempotency_id: 'w-2' }],
      },
      auth: { key: other.api_key, secret: other.secret },
    });
    expect(theirs.status).toBe(404);
    expect(theirs.body.errors.code).toBe('user_not_found');
    expect(await h.journals()).toBe(before);
    expect(await h.balances(userId)).toMatchObject({ [SPEND]: 100 });
  });

  it('a NUL in a deposit reference_id, reference_type or point_source_id answers 400 and changes nothing (bug: 500)', async () => {
    const userId = await h.member('NUL-1');
    const before = await h.journals();
    for (const [key, value] of [
      ['reference_id', 'a\u0000b'],
      ['reference_type', '\u0000'],
      ['point_source_id', 'a\u0000b'],
    ] as const) {
      const res = await h.post('user_points/deposit', {
        user_id: userId,
        deposit_details: [
          { point_account_id: h.accounts[SPEND], amount: 5, idempotency_id: 'nul-1', [key]: value },
        ],
      });
      expect(res.status, key).toBe(400);
      expect(res.body.errors).toMatchObject({ code: 'validation', field: `deposit_details.0.${key}` });
    }
    expect(await h.journals()).toBe(before);
    expect(await h.balances(userId)).toMatchObject({ [SPEND]: 0 });
  });

  it('a lone surrogate in a spend idempotency_id or reference_id answers 400 and spends nothing (bug: 500)', async () => {
    const userId = await h.member('SURROGATE-1');
    await h.deposit(userId, 100, 'seed');
    const before = await h.journals();
    for (const line of [
      { amount: 10, idempotency_id: '\ud800' },
      { amount: 10, idempotency_id: 's-1', reference_id: 'a\udfffb' },
    ]) {
      const res = await h.spend(userId, [line]);
      expect(res.status, JSON.stringify(line)).toBe(400);
      expect(res.body.errors.code).toBe('validation');
      expect(res.body.errors.field).toMatch(/^spend_details\.0\.(idempotency_id|reference_id)$/);
    }
    expect(await h.journals()).toBe(before);
    expect(await h.balances(userId)).toMatchObject({ [SPEND]: 100 });
  });

  it('an audit log skip of 1e308 answers 400 (bug: 500)', async () => {
    const userId = await h.member('SKIP-1');
    const body = JSON.stringify({ retailer_id: h.t.tenant.retailer_id, user_id: userId });
    const fetch = (skip: string) =>
      h.t.request('POST', `${V1}/user_points/fetch_point_audit_logs`, {
        payload: body.replace(/}$/, `,"skip":${skip}}`),
      });
    for (const skip of ['1e308', '1e21', '1000001']) {
      const res = await fetch(skip);
      expect(res.status, skip).toBe(400);
      expect(res.body.errors).toMatchObject({ code: 'validation', field: 'skip' });
    }
    const last = await fetch('1000000');
    expect(last.status).toBe(200);
    expect(last.body.payload.results).toEqual([]);
  });

  it('the audit log lists purchase, return, rollover, deposit and spend rows, newest first, in pages', async () => {
    const userId = await h.member('AUDIT-1');
    // The ledger's rows only: tier changes join the log too, and are tested in tiers.test.ts.
    const fetch = (body: Record<string, unknown> = {}, path = `${V1}/user_points/fetch_point_audit_logs`) =>
      h.t.request('POST', path, {
        body: {
          retailer_id: h.t.tenant.retailer_id,
          user_id: userId,
          exclude_specified_modification_types: ['tier_change'],
          ...body,
        },
      });

    expect((await fetch()).body).toEqual({ status: 'ok', payload: { total_records: 0, results: [] } });
    // 2026-10-01 12:00 New York: 1,000 points into each escrow account, maturing 2026-10-31 16:00Z.
    const bought = await h.sendTransaction('a-1', 'T-A', 'AUDIT-1', [item('1', 900), item('2', 100)], {
      open_time: '2026-10-01T12:00:00',
    });
    expect(bought.status).toBe(200);
    await h.t.setNow('2026-10-05T16:00:00Z');
    const returned = await h.sendTransaction('a-2', 'T-A', 'AUDIT-1', [item('1', 900), item('2', 100, 0)], {
      open_time: '2026-10-01T12:00:00',
    });
    expect(returned.body.payload.points_awarded).toHaveLength(2);

    // Past maturity with no sweep and no other request: the rollover rows are there.
    await h.t.setNow('2026-11-01T16:00:00Z');
    const matured = await fetch();
    expect(matured.body.payload.total_records).toBe(8);
    expect(
      matured.body.payload.results.slice(0, 4).map((r: { modification_type: string }) => r.modification_type),
    ).toEqual(['rollover', 'rollover', 'rollover', 'rollover']);

    await h.t.setNow('2026-11-02T16:00:00Z');
    await h.post('user_points/deposit', {
      user_id: userId,
      deposit_details: [
        {
          point_account_id: h.accounts[SPEND],
          amount: 250,
          reference_type: 'Goodwill',
          reference_id: 'CS-7',
          point_source_id: 'AGENT',
        },
      ],
    });
    await h.t.setNow('2026-11-03T16:00:00Z');
    await h.spend(userId, [
      { amount: 150, idempotency_id: 'sp-1', reference_id: 'ORDER-9', transaction_id: 'W-1' },
    ]);

    const all = await fetch({ take: 500 });
    expect(all.status).toBe(200);
    const rows = all.body.payload.results as Record<string, unknown>[];
    expect(all.body.payload.total_records).toBe(10);
    expect(rows).toHaveLength(10);
    const brief = (r: Record<string, unknown>) => [
      r.modification_type,
      r.account_name,
      r.modification,
      r.audit_type,
      r.reason,
    ];
    expect(rows.slice(0, 2).map(brief)).toEqual([
      ['spend', SPEND, -150, 2, 'Spent: ORDER-9'],
      ['deposit', SPEND, 250, 16, 'Adjustment: Goodwill/CS-7'],
    ]);
    // One rollover journal for the purchase's two lots (issue #16), its lines in posting order.
    expect(rows.slice(2, 6).map(brief)).toEqual([
      ['rollover', SPEND_ESCROW, -900, 2, 'Escrow period ended for purchase T-A: rolled over'],
      ['rollover', SPEND, 900, 1, 'Escrow period ended for purchase T-A: rolled over'],
      ['rollover', TIER_ESCROW, -900, 2, 'Escrow period ended for purchase T-A: rolled over'],
      ['rollover', TIER, 900, 1, 'Escrow period ended for purchase T-A: rolled over'],
    ]);
    expect(rows.slice(6).map(brief)).toEqual([
      ['return', SPEND_ESCROW, -100, 2, 'Return on T-A'],
      ['return', TIER_ESCROW, -100, 2, 'Return on T-A'],
      ['purchase', SPEND_ESCROW, 1000, 1, 'Purchase T-A earned 1000 points'],
      ['purchase', TIER_ESCROW, 1000, 1, 'Purchase T-A earned 1000 points'],
    ]);
    const purchaseId = (
      await h.t.db.query<{ id: string }>("SELECT id FROM purchases WHERE transaction_id = 'T-A'")
    )[0]!.id;
    expect(rows[9]).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}:2$/),
      retailer_id: h.t.tenant.retailer_id,
      user_id: userId,
      account_name: TIER_ESCROW,
      point_account_id: h.accounts[TIER_ESCROW],
      user_point_account_id: expect.any(String),
      modification: 1000,
      amount_spent: 0,
      amount_expired: 0,
      spend_weight: 0,
      audit_type: 1,
      modification_type: 'purchase',
      modification_entity_id: purchaseId,
      point_source_id: null,
      point_source_name: 'Purchase',
      reference_id: 'T-A',
      reference_type: 'POS Transaction',
      time_of_occurrence: '2026-10-01T16:00:00.000Z',
      create_date: '2026-10-01T16:00:00.000Z',
      request_id: 'a-1',
      idempotency_id: null,
      transaction_id: 'T-A',
      reason: 'Purchase T-A earned 1000 points',
    });
    expect(rows[2]).toMatchObject({
      time_of_occurrence: '2026-10-31T16:00:00.000Z',
      create_date: '2026-11-01T16:00:00.000Z',
      modification_entity_id: purchaseId,
      transaction_id: 'T-A',
    });
    expect(rows[1]).toMatchObject({
      point_source_id: 'AGENT',
      idempotency_id: 'CS-7',
      modification_entity_id: null,
      time_of_occurrence: '2026-11-02T16:00:00.000Z',
    });
    expect(rows[0]).toMatchObject({ idempotency_id: 'sp-1', transaction_id: 'W-1', reference_id: 'ORDER-9' });

    // Pages of three add up to the whole log; a page past the end is empty but still counts.
    const pages = [];
    for (let skip = 0; skip < 10; skip += 3) {
      const page = await fetch({ skip, take: 3 });
      expect(page.body.payload.total_records).toBe(10);
      pages.push(...page.body.payload.results);
    }
    expect(pages).toEqual(rows);
    expect((await fetch({ skip: 20 })).body.payload).toEqual({ total_records: 10, results: [] });
    const noRollovers = await fetch({
      exclude_specified_modification_types: ['rollover', 'purchase', 'tier_change'],
    });
    expect(noRollovers.body.payload.total_records).toBe(4);
    expect(noRollovers.body.payload.results.map(brief)).toEqual([0, 1, 6, 7].map((i) => brief(rows[i]!)));
    // Both versions and the point_audit_logs path answer the same.
    for (const path of [
      `${V2}/user_points/fetch_point_audit_logs`,
      `${V1}/point_audit_logs/fetch_point_audit_logs`,
      `${V2}/point_audit_logs/fetch_point_audit_logs`,
    ]) {
      expect((await fetch({ take: 500 }, path)).body).toEqual(all.body);
    }
    for (const [body, code] of [
      [{ take: 501 }, 'validation'],
      [{ take: 0 }, 'validation'],
      [{ skip: -1 }, 'validation'],
    ] as const) {
      expect((await fetch(body)).body.errors.code).toBe(code);
    }
    expect((await fetch({ retailer_id: randomUUID() })).status).toBe(403);
    expect((await fetch({ user_id: randomUUID() })).status).toBe(404);
  });

  it('a void after maturity, once most points are spent, claws back to zero and records the shortfall', async () => {
    const userId = await h.member('LATE-1');
    const items = [item('1', 1500), item('2', 500)];
    const bought = await h.sendTransaction('l-1', 'T-L', 'LATE-1', items, {
      open_time: '2026-11-03T10:00:00',
    });
    expect(bought.status).toBe(200);
    await h.t.setNow('2026-12-05T16:00:00Z');
    expect(await h.balances(userId)).toEqual({
      [SPEND]: 2000,
      [SPEND_ESCROW]: 0,
      [TIER]: 2000,
      [TIER_ESCROW]: 0,
    });
    const spent = await h.spend(userId, [{ amount: 1800, idempotency_id: 'late-spend' }]);
    expect(spent.body.payload.summary).toEqual({ amount_spent: 1800, remaining_balance: 200 });

    const voided = await h.sendTransaction('l-2', 'T-L', 'LATE-1', items, {
      open_time: '2026-11-03T10:00:00',
      is_voided: true,
    });
    expect(voided.status).toBe(200);
    expect(voided.body.payload.shortfall).toBe(1800);
    expect(
      Object.fromEntries(
        (voided.body.payload.points_awarded as { account_name: string; amount: number }[]).map((p) => [
          p.account_name,
          p.amount,
        ]),
      ),
    ).toEqual({ [SPEND]: -200, [TIER]: -2000 });
    expect(await h.balances(userId)).toEqual({ [SPEND]: 0, [SPEND_ESCROW]: 0, [TIER]: 0, [TIER_ESCROW]: 0 });
    const log = await h.post('user_points/fetch_point_audit_logs', { user_id: userId });
    const returns = (log.body.payload.results as Record<string, unknown>[]).filter(
      (r) => r.modification_type === 'return',
    );
    expect(returns.map((r) => [r.account_name, r.modification, r.audit_type, r.reason])).toEqual([
      [SPEND, -200, 2, 'Return on T-L; 1800 points could not be taken back'],
      [TIER, -2000, 2, 'Return on T-L'],
    ]);
    const refused = await h.spend(userId, [{ amount: 1, idempotency_id: 'after-void' }]);
    expect(refused.status).toBe(400);
    expect(refused.body.errors.code).toBe('insufficient_points');
  });

  it('names the campaigns of a purchase on the rows they added points to', async () => {
    const userId = campaignMember;
    const res = await h.sendTransaction('c-1', 'T-DPD', 'CAMP-1', [item('1', 120)], {
      open_time: '2026-11-28T12:00:00',
    });
    expect(res.status).toBe(200);
    const log = await h.post('user_points/fetch_point_audit_logs', {
      user_id: userId,
      exclude_specified_modification_types: ['tier_change'],
    });
    const rows = log.body.payload.results as Record<string, unknown>[];
    expect(rows.map((r) => [r.account_name, r.modification, r.campaigns])).toEqual([
      [SPEND_ESCROW, 240, ['Double Points Days']],
      [TIER_ESCROW, 120, undefined],
    ]);
  });
});

// Double-spend safety can only be proven with real concurrency: server PostgreSQL (CONVENTIONS).
for (const target of TEST_DATABASES.filter((d) => d.name === 'postgres')) {
  describe(`Concurrent spends for one member [${target.name}]`, () => {
    const h = pointsHarness(target, '2026-10-01T16:00:00Z');

    it('40 spends of 200 at once against 5,000 points: exactly 25 succeed and the balance ends at 0', async () => {
      const userId = await h.member('HOT-1');
      expect((await h.deposit(userId, 5000, 'seed')).status).toBe(200);
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => h.spend(userId, [{ amount: 200, idempotency_id: `hot-${i}` }])),
      );
      const ok = answers.filter((a) => a.status === 200);
      expect(ok).toHaveLength(25);
      expect(
        answers.filter((a) => a.status === 400).every((a) => a.body.errors.code === 'insufficient_points'),
      ).toBe(true);
      expect(answers.filter((a) => a.status === 400)).toHaveLength(15);
      expect(ok.map((a) => a.body.payload.summary.remaining_balance).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 25 }, (_, i) => i * 200),
      );
      expect(await h.balances(userId)).toMatchObject({ [SPEND]: 0 });
      const spends = await h.t.db.query<{ n: number; total: number }>(
        "SELECT count(*)::int AS n, coalesce(sum(p.amount), 0)::int AS total FROM journals j JOIN postings p ON p.journal_id = j.id WHERE j.kind = 'spend' AND p.account = 'spendable' AND j.user_id = $1",
        [userId],
      );
      expect(spends[0]).toEqual({ n: 25, total: -5000 });
      const negative = await h.t.db.query('SELECT 1 FROM balances WHERE balance < 0');
      expect(negative).toEqual([]);
    });

    it('20 replays of one idempotency id at once spend once', async () => {
      const userId = await h.member('HOT-2');
      await h.deposit(userId, 1000, 'seed');
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => h.spend(userId, [{ amount: 300, idempotency_id: 'same' }])),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      const summaries = answers.map((a) => a.body.payload.details[0].idempotency_summary as string);
      expect(summaries.filter((s) => s === 'new')).toHaveLength(1);
      expect(summaries.filter((s) => s === 'duplicate')).toHaveLength(19);
      for (const a of answers)
        expect(a.body.payload.details[0]).toMatchObject({ amount_spent: 300, remaining_balance: 700 });
      expect(await h.balances(userId)).toMatchObject({ [SPEND]: 700 });
    });
  });
}
