import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { settleMembersInBulk } from '../../src/ledger/ledger.service.js';
import { verifyLedger } from '../../src/ledger/verify.js';
import type { DemoCredentials } from '../../src/demo/demo.service.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Issue #14 item 3, second half: a C# POS burn service sends its basket subtotal as a double
 * (`amount: 12.5`), and a Python generator deposits cents the same way. On an account whose program
 * declares `precision: 2` the amounts are points with cents, kept exactly as integer hundredths;
 * on ACME (whole points) the same requests answer 400 as before. Every test ends with the ledger
 * verified (`laurel verify`'s checks) on the database both retailers share.
 */
const V1 = '/incentives/api/1.0';
const V2 = '/incentives/api/2.0';
const SPEND = 'ACME Spendable Account';
const SPEND_ESCROW = 'ACME Spendable Escrow Account';

interface BalanceRow {
  account_name: string;
  point_account_id: string;
  available_balance: number;
  life_time_value: number;
}

describeEachDatabase('Compat: points with cents on an account of precision 2', (target) => {
  let t: TestApp;
  let acme: DemoCredentials;
  let program: Record<string, unknown>;
  let userId: string;
  let acmeUserId: string;
  let spendable: string;
  let acmeSpendable: string;

  const post = (path: string, body: Record<string, unknown>) =>
    t.request('POST', path, { body: { retailer_id: t.tenant.retailer_id, culture: 'en-US', ...body } });
  const acmePost = (path: string, body: Record<string, unknown>) =>
    t.request('POST', path, {
      body: { retailer_id: acme.retailer_id, culture: 'en-US', ...body },
      auth: { key: acme.api_key, secret: acme.secret },
    });
  const balances = async (send = post, user = userId) => {
    const res = await send(`${V1}/user_points/all_balances`, { user_id: user });
    expect(res.status).toBe(200);
    return res.body.payload as {
      summary: { total_points: number; life_time_points: number };
      details: BalanceRow[];
    };
  };
  const balanceOf = async (name: string, send = post, user = userId) =>
    (await balances(send, user)).details.find((d) => d.account_name === name)!;
  /** A burn as the C# POS service sends it: every field filled, the amount a double. */
  const burn = (send: typeof post, user: string, account: string, amount: number, id: string) =>
    send(`${V1}/user_points/spend_multiple`, {
      user_id: user,
      spend_details: [
        {
          id: '',
          amount,
          point_account_ids: [account],
          reference_id: id,
          reference_type: 'POS',
          transaction_id: id,
          force_spend: false,
          rank: 0,
          is_return: false,
          idempotency_id: id,
          point_source_id: '',
        },
      ],
      allow_partial_success: false,
      disable_event_publishing: false,
      parallel_mode: false,
    });
  /** A deposit line as the Python generator sends it: no idempotency_id nor reference_id. */
  const deposit = (send: typeof post, user: string, account: string, amount: number) =>
    send(`${V2}/user_points/deposit`, {
      user_id: user,
      deposit_details: [{ point_source_id: 'generator', amount, point_account_id: account, rank: 1 }],
      allow_partial_success: false,
    });
  const stored = async (user: string, account: string) =>
    (
      await t.db.query<{ balance: number | string }>(
        'SELECT balance FROM balances WHERE user_id = $1 AND account = $2',
        [user, account],
      )
    )[0]?.balance;

  beforeAll(async () => {
    t = await startTestApp(target);
    acme = await t.newTenant();
    const res = await t.request('GET', '/admin/v1/program', { auth: 'admin' });
    program = res.body.program_version.program;
    const created = await t.request('POST', `${t.core}/users`, {
      body: { user: { external_id: 'CENTS-1', opted_in: 'true' } },
    });
    userId = created.body.user.id;
    const other = await t.request('POST', `/priv/v1/apps/${acme.api_key}/users`, {
      body: { user: { external_id: 'WHOLE-1', opted_in: 'true' } },
      auth: { key: acme.api_key, secret: acme.secret },
    });
    acmeUserId = other.body.user.id;
    spendable = (await balanceOf(SPEND)).point_account_id;
    acmeSpendable = (await balanceOf(SPEND, acmePost, acmeUserId)).point_account_id;
  });
  afterAll(() => t.close());
  afterEach(async () => expect((await verifyLedger(t.db)).problems).toEqual([]));

  const withPrecision = (of: (role: string) => number | undefined, extra: Record<string, unknown> = {}) => ({
    ...program,
    ...extra,
    point_accounts: (program.point_accounts as { role: string }[]).map((a) => {
      const precision = of(a.role);
      return precision === undefined ? a : { ...a, precision };
    }),
  });
  const putProgram = (doc: unknown) =>
    t.request('PUT', '/admin/v1/program', { auth: 'admin', body: { program: doc } });

  it('refuses a precision other than 0 or 2, on a tier account, or differing from its escrow', async () => {
    const cases: [unknown, string][] = [
      [withPrecision((r) => (r.startsWith('spendable') ? 1 : undefined)), 'point_accounts[0].precision'],
      [withPrecision((r) => (r.startsWith('tier') ? 2 : undefined)), 'point_accounts[2].precision'],
      [withPrecision((r) => (r === 'spendable' ? 2 : undefined)), 'point_accounts[1].precision'],
    ];
    for (const [doc, field] of cases) {
      const res = await putProgram(doc);
      expect(res.status, field).toBe(400);
      expect(res.body.errors).toMatchObject({ code: 'validation', field });
    }
    const schema = await putProgram(withPrecision((r) => (r === 'spendable' ? 3 : undefined)));
    expect(schema.status).toBe(400);
    expect(schema.body.errors.message).toMatch(/precision/);
    const versions = await t.request('GET', '/admin/v1/program/versions', { auth: 'admin' });
    expect(versions.body.versions).toHaveLength(1);
  });

  it('declares precision 2 on the Spendable pair, with a behaviour awarding points', async () => {
    const res = await putProgram(
      withPrecision((r) => (r.startsWith('spendable') ? 2 : undefined), {
        behaviours: [
          { event: 'APP_REVIEW', outcomes: [{ type: 'award_points', points: 50, account: 'spendable' }] },
        ],
      }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const accounts = res.body.program_version.program.point_accounts as {
      role: string;
      precision?: number;
    }[];
    expect(accounts.map((a) => [a.role, a.precision])).toEqual([
      ['spendable', 2],
      ['spendable_escrow', 2],
      ['tier', undefined],
      ['tier_escrow', undefined],
    ]);
  });

  it('deposits 100.25 and spends 12.5, stored exactly as hundredths, answered as points', async () => {
    const dep = await deposit(post, userId, spendable, 100.25);
    expect(dep.status, JSON.stringify(dep.body)).toBe(200);
    expect(dep.body.payload.details[0]).toMatchObject({ amount: 100.25, applied: true });
    const res = await burn(post, userId, spendable, 12.5, 'BURN-1250');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.payload.details[0]).toMatchObject({
      amount_spent: 12.5,
      remaining_balance: 87.75,
      error_status: 0,
      error_response: null,
    });
    expect(res.body.payload.summary).toEqual({ amount_spent: 12.5, remaining_balance: 87.75 });
    expect(res.body.payload.audits[0]).toMatchObject({ modification: -12.5, amount_spent: 12.5 });
    // A repeat answers the first result and spends nothing.
    const again = await burn(post, userId, spendable, 12.5, 'BURN-1250');
    expect(again.body.payload.details[0]).toMatchObject({
      idempotency_summary: 'duplicate',
      amount_spent: 12.5,
      remaining_balance: 87.75,
    });
    expect(await balanceOf(SPEND)).toMatchObject({ available_balance: 87.75, life_time_value: 100.25 });
    expect(Number(await stored(userId, 'spendable'))).toBe(8775);
    const log = await post(`${V2}/user_points/fetch_point_audit_logs`, {
      user_id: userId,
      take: 10,
      exclude_specified_modification_types: ['tier_change'],
    });
    expect(
      (log.body.payload.results as { modification_type: string; modification: number }[]).map((r) => [
        r.modification_type,
        r.modification,
      ]),
    ).toEqual(
      // Both at one instant of the simulated clock: in either order.
      expect.arrayContaining([
        ['spend', -12.5],
        ['deposit', 100.25],
      ]),
    );
    expect(log.body.payload.total_records).toBe(2);
    const user = await t.request('GET', `${t.core}/users/${userId}`);
    expect(user.body.user.available_points).toBe(87.75);
  });

  it('refuses 12.345 and 0.001 with 400 validation naming the field, changing nothing', async () => {
    for (const amount of [12.345, 0.001]) {
      const spend = await burn(post, userId, spendable, amount, `BURN-${amount}`);
      expect(spend.status, String(amount)).toBe(400);
      expect(spend.body.errors).toMatchObject({ code: 'validation', field: 'spend_details.0.amount' });
      const dep = await deposit(post, userId, spendable, amount);
      expect(dep.status, String(amount)).toBe(400);
      expect(dep.body.errors).toMatchObject({ code: 'validation', field: 'deposit_details.0.amount' });
    }
    expect((await balanceOf(SPEND)).available_balance).toBe(87.75);
  });

  it('keeps the Tier Qualifying account in whole points: 12.5 on it is refused', async () => {
    const tier = (await balances()).details.find((d) => d.account_name === 'ACME Tier Qualifying Account')!;
    const res = await deposit(post, userId, tier.point_account_id, 12.5);
    expect(res.status).toBe(400);
    expect(res.body.errors).toMatchObject({ code: 'validation', field: 'deposit_details.0.amount' });
  });

  it('earns purchase points in hundredths: escrow, rollover, a return and a behaviour', async () => {
    const sale = (requestId: string, items: { line_id: string; quantity: number }[]) =>
      t.request('POST', '/api/2.0/send_transaction', {
        body: {
          store_id: '1001',
          request_id: requestId,
          request_payload: {
            transaction_id: 'CENTS-SALE-1',
            open_time: '2026-11-25 06:00:00',
            user_id: userId,
            items: items.map((i) => ({ ...i, item_id: `SKU-${i.line_id}`, unit_price: 60 })),
            payments: [{ amount: 120, type: 'CASH' }],
          },
        },
      });
    const first = await sale('1', [
      { line_id: '1', quantity: 1 },
      { line_id: '2', quantity: 1 },
    ]);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.payload.base_points).toBe(120);
    expect(first.body.payload.points_awarded).toEqual([
      { account_name: SPEND_ESCROW, point_account_id: expect.any(String), amount: 120 },
      {
        account_name: 'ACME Tier-Qualifying Escrow Account',
        point_account_id: expect.any(String),
        amount: 120,
      },
    ]);
    expect((await balanceOf(SPEND_ESCROW)).available_balance).toBe(120);
    expect(Number(await stored(userId, 'spendable_escrow'))).toBe(12_000);
    // A return of one line before maturity takes 60 points back from the lot.
    const ret = await sale('2', [
      { line_id: '1', quantity: 1 },
      { line_id: '2', quantity: 0 },
    ]);
    expect(ret.status, JSON.stringify(ret.body)).toBe(200);
    expect(ret.body.payload.points_awarded[0]).toMatchObject({ account_name: SPEND_ESCROW, amount: -60 });
    const event = await t.request('POST', `${V1}/user_events/trigger_user_event`, {
      body: { retailer_id: t.tenant.retailer_id, user_id: userId, event_lookup: 'APP_REVIEW' },
    });
    expect(event.status, JSON.stringify(event.body)).toBe(200);
    expect((await balanceOf(SPEND)).available_balance).toBe(137.75);
    // Thirty days on, the lot rolls over: 137.75 + 60. The sweep's set-based statement writes it.
    await t.setNow('2026-12-26T12:00:00Z');
    const swept = await t.db.transaction((tx) =>
      settleMembersInBulk(tx, [userId], new Date('2026-12-26T12:00:00Z')),
    );
    expect(swept.lots).toBe(2);
    const after = await balances();
    expect(after.details.find((d) => d.account_name === SPEND)).toMatchObject({
      available_balance: 197.75,
      life_time_value: 210.25, // 100.25 deposited, 50 for the review, 60 rolled over
    });
    expect(after.details.find((d) => d.account_name === SPEND_ESCROW)!.available_balance).toBe(0);
    // total_points sums every account exactly: 197.75 spendable and 60 tier-qualifying.
    expect(after.summary.total_points).toBe(257.75);
    const lookup = await t.request('POST', '/api/2.0/lookup', {
      body: { store_id: '1001', request_id: 'l-1', request_payload: { user_id: userId } },
    });
    expect(lookup.status).toBe(200);
    expect(lookup.body.payload.user.available_points).toBe(197.75);
  });

  it('events carry points as the API answers them', async () => {
    const events = await t.db.query<{ type: string; data: Record<string, unknown> }>(
      `SELECT type, data FROM events WHERE user_id = $1 AND type LIKE 'points.%' ORDER BY seq`,
      [userId],
    );
    const of = (type: string) => events.filter((e) => e.type === type).map((e) => e.data);
    expect(of('points.deposited').map((d) => d.amount)).toEqual([100.25, 50]);
    expect(of('points.spent').map((d) => d.amount)).toEqual([12.5]);
    expect(of('points.rolled_over').map((d) => d.points)).toEqual([{ spendable: 60, tier_qualifying: 60 }]);
  });

  it('cashes out by the rate in points: 100 points a dollar, the cents stay', async () => {
    await deposit(post, userId, spendable, 1000);
    // 1197.75 points at the quarter's end: two 5-dollar cards (1000 points), 197.75 left.
    await t.setNow('2027-01-02T12:00:00Z');
    const cards = await t.request('GET', `${t.core}/users/${userId}/gift_cards`);
    expect(cards.status).toBe(200);
    expect(cards.body.gift_cards[0]).toMatchObject({ value: 10, points: 1000, points_left: 197.75 });
    expect((await balanceOf(SPEND)).available_balance).toBe(197.75);
  });

  it("a member's own settlement rolls a lot over in hundredths, its event in points", async () => {
    const sale = await t.request('POST', '/api/2.0/send_transaction', {
      body: {
        store_id: '1001',
        request_id: '3',
        request_payload: {
          transaction_id: 'CENTS-SALE-2',
          open_time: '2027-01-02 06:00:00',
          user_id: userId,
          items: [{ line_id: '1', item_id: 'SKU-3', quantity: 1, unit_price: 30 }],
          payments: [{ amount: 30, type: 'CASH' }],
        },
      },
    });
    expect(sale.status, JSON.stringify(sale.body)).toBe(200);
    await t.setNow('2027-02-02T12:00:00Z');
    // The deposit settles the member first: the rollover is written by settleMember, not the sweep.
    expect((await deposit(post, userId, spendable, 0.25)).status).toBe(200);
    expect((await balanceOf(SPEND)).available_balance).toBe(228);
    expect(Number(await stored(userId, 'spendable'))).toBe(22_800);
    const rolled = await t.db.query<{ data: { points: unknown } }>(
      `SELECT data FROM events WHERE user_id = $1 AND type = 'points.rolled_over' ORDER BY seq`,
      [userId],
    );
    expect(rolled.map((e) => e.data.points)).toEqual([
      { spendable: 60, tier_qualifying: 60 },
      { spendable: 30, tier_qualifying: 30 },
    ]);
  });

  it('refuses to change the precision once the accounts hold points', async () => {
    const res = await putProgram(withPrecision(() => undefined));
    expect(res.status).toBe(400);
    expect(res.body.errors).toMatchObject({ code: 'validation', field: 'point_accounts[0].precision' });
    expect(res.body.errors.message).toMatch(/already holds points in precision 2/);
  });

  it('on ACME (whole points) 12.5 still answers 400 and changes nothing; whole points work as before', async () => {
    expect((await deposit(acmePost, acmeUserId, acmeSpendable, 250)).status).toBe(200);
    for (const res of [
      await burn(acmePost, acmeUserId, acmeSpendable, 12.5, 'ACME-1250'),
      await deposit(acmePost, acmeUserId, acmeSpendable, 12.5),
    ]) {
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ status: 'error', errors: { code: 'validation' } });
      expect(res.body.errors.message).toMatch(/(spend|deposit)_details\.0\.amount/);
    }
    const spent = await burn(acmePost, acmeUserId, acmeSpendable, 12, 'ACME-12');
    expect(spent.body.payload.summary).toEqual({ amount_spent: 12, remaining_balance: 238 });
    expect(await balanceOf(SPEND, acmePost, acmeUserId)).toMatchObject({
      available_balance: 238,
      life_time_value: 250,
    });
    expect(Number(await stored(acmeUserId, 'spendable'))).toBe(238);
  });
});
