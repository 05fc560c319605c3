import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { SimulatedClock } from '../../src/clock.js';
import { giftCardCode, giftCardId } from '../../src/domain/cashout.js';
import { runDueCashOuts } from '../../src/cashout/cashout.service.js';
import { sweepOnce } from '../../src/jobs/sweeper.js';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase, type TestDatabase } from '../support/databases.js';
import { startTestApp, TEST_GIFT_CARD_KEY, type TestApp } from '../support/test-app.js';

/**
 * Cash-out to gift cards (issue #5, DESIGN §7) over HTTP with the simulated clock: at each quarter
 * end the Spendable balance becomes a gift card in multiples of 5 USD (500 points), the rest stays,
 * escrow never cashes out, once per member and period however often the run goes, and every read
 * after the period end shows it with no sweep run (DESIGN §5).
 */

const SPEND = 'ACME Spendable Account';
const SPEND_ESCROW = 'ACME Spendable Escrow Account';
const V1 = '/incentives/api/1.0';
/** 2026-Q4 ends at midnight starting 1 January 2027 in New York: 05:00 UTC. */
const Q4_END = '2027-01-01T05:00:00.000Z';

interface Detail {
  account_name: string;
  point_account_id: string;
  available_balance: number;
}

function harness(target: TestDatabase) {
  const h = {
    t: undefined as unknown as TestApp,
    accounts: {} as Record<string, string>,
    post: (path: string, body: Record<string, unknown>) =>
      h.t.request('POST', `${V1}/${path}`, { body: { retailer_id: h.t.tenant.retailer_id, ...body } }),
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
    async deposit(userId: string, amount: number, id: string) {
      const res = await h.post('user_points/deposit', {
        user_id: userId,
        deposit_details: [{ point_account_id: h.accounts[SPEND], amount, idempotency_id: id }],
      });
      expect(res.status).toBe(200);
    },
    async purchase(externalId: string, transactionId: string, amount: number, openTime: string) {
      const res = await h.t.request('POST', '/api/2.0/send_transaction', {
        body: {
          store_id: 'BOSTON-01',
          request_id: `req-${transactionId}`,
          request_payload: {
            transaction_id: transactionId,
            open_time: openTime,
            user_id: externalId,
            user_id_type: 'external_id',
            items: [{ line_id: '1', item_id: 'SKU-1', quantity: 1, unit_price: amount }],
          },
        },
      });
      expect(res.status).toBe(200);
      return res.body;
    },
    async cards(userId: string) {
      const res = await h.t.request('GET', `${h.t.core}/users/${userId}/gift_cards`);
      expect(res.status).toBe(200);
      return res.body.gift_cards as Array<Record<string, unknown>>;
    },
    async run() {
      const res = await h.t.request('POST', '/admin/v1/cash_outs/run', { auth: 'admin' });
      expect(res.status).toBe(200);
      return res.body;
    },
    giftCardRows: async () =>
      (await h.t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM gift_cards'))[0]!.n,
  };
  beforeAll(async () => {
    h.t = await startTestApp(target, new Date('2026-12-01T15:00:00Z'));
    const probe = await h.member('PROBE');
    const res = await h.post('user_points/all_balances', { user_id: probe });
    h.accounts = Object.fromEntries(
      (res.body.payload.details as Detail[]).map((d) => [d.account_name, d.point_account_id]),
    );
  });
  afterAll(() => h.t.close());
  afterEach(async () => expect((await verifyLedger(h.t.db)).problems).toEqual([]));
  return h;
}

describeEachDatabase('Cash-out to gift cards', (target) => {
  const h = harness(target);
  const ids = { main: '', small: '', swept: '', edge: '' };

  it('before the quarter ends nothing cashes out', async () => {
    ids.main = await h.member('CASH-1');
    ids.small = await h.member('CASH-SMALL');
    ids.swept = await h.member('CASH-SWEPT');
    ids.edge = await h.member('CASH-EDGE');
    await h.deposit(ids.main, 2370, 'd-main');
    await h.deposit(ids.small, 499, 'd-small');
    await h.deposit(ids.swept, 2370, 'd-swept');
    // Matures exactly at the period end (2 December 00:00 New York + 30 days): it counts.
    await h.t.setNow('2026-12-02T06:00:00Z');
    await h.purchase('CASH-EDGE', 'T-EDGE', 600, '2026-12-02T00:00:00');
    // Bought 20 December: still in escrow on 1 January, so it never cashes out.
    await h.t.setNow('2026-12-20T17:00:00Z');
    await h.purchase('CASH-1', 'T-ESCROW', 120, '2026-12-20T11:00:00');
    await h.t.setNow('2027-01-01T04:59:59Z');
    expect(await h.balances(ids.main)).toMatchObject({ [SPEND]: 2370, [SPEND_ESCROW]: 120 });
    expect(await h.cards(ids.main)).toEqual([]);
  });

  it('at the period end 2,370 points become a 20 USD gift card and 370 stay, with no sweep run', async () => {
    await h.t.setNow(Q4_END);
    expect(await h.balances(ids.main)).toMatchObject({ [SPEND]: 370, [SPEND_ESCROW]: 120 });
    const user = await h.t.request('GET', `${h.t.core}/users/${ids.main}`);
    expect(user.body.user.available_points).toBe(370);
    const cards = await h.cards(ids.main);
    const id = giftCardId(ids.main, '2026-Q4');
    expect(cards).toEqual([
      {
        id,
        code: giftCardCode(TEST_GIFT_CARD_KEY, id),
        value: 20,
        currency: 'USD',
        period: '2026-Q4',
        status: 'active',
        points: 2000,
        points_left: 370,
        issued_at: '2027-01-01 05:00:00',
      },
    ]);
    expect(cards[0]!.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    // Nothing written yet: the reads planned it.
    expect(await h.giftCardRows()).toBe(0);
    // A lot maturing exactly at the period end rolls over first and counts: 600 points and the Big
    // Basket Bonus's 500 give 1,100, a 10 USD card and 100 left.
    expect(await h.balances(ids.edge)).toMatchObject({ [SPEND]: 100, [SPEND_ESCROW]: 0 });
    // Under one denomination: nothing to convert.
    expect(await h.balances(ids.small)).toMatchObject({ [SPEND]: 499 });
    expect(await h.cards(ids.small)).toEqual([]);
  });

  it('the admin API masks the code but for its last group', async () => {
    const res = await h.t.request('GET', `/admin/v1/users/${ids.main}/gift_cards`, { auth: 'admin' });
    expect(res.status).toBe(200);
    const code = giftCardCode(TEST_GIFT_CARD_KEY, giftCardId(ids.main, '2026-Q4'));
    expect(res.body.gift_cards[0]).toMatchObject({
      code: `••••-••••-••••-${code.slice(-4)}`,
      value: 20,
      issued_at: Q4_END,
    });
  });

  it('the run writes each cash-out once; a second run and a restart write nothing more', async () => {
    const first = await h.run();
    expect(first.runs).toEqual([{ period: '2026-Q4', members: 4, completed: true }]);
    expect(first.failures).toBe(0);
    // main, swept and edge convert; small has too little.
    expect(await h.giftCardRows()).toBe(3);
    const journals = async () =>
      (
        await h.t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM journals WHERE kind = 'cash_out'")
      )[0]!.n;
    expect(await journals()).toBe(3);

    const second = await h.run();
    expect(second.runs).toEqual([]);
    await sweepOnce(h.t.db, { now: async () => new Date(Q4_END) }, { wait: true });
    // A restart: another server over the same database, with the same key.
    const clock = new SimulatedClock(h.t.db);
    await clock.init(undefined);
    const restarted = await buildApp({ db: h.t.db, clock, giftCardKey: TEST_GIFT_CARD_KEY });
    const again = await restarted.inject({
      method: 'POST',
      url: '/admin/v1/cash_outs/run',
      headers: { authorization: `Bearer ${h.t.tenant.admin_token}` },
    });
    expect(again.statusCode).toBe(200);
    const cards = await restarted.inject({
      method: 'GET',
      url: `${h.t.core}/users/${ids.main}/gift_cards`,
      headers: {
        authorization: `Basic ${Buffer.from(`${h.t.tenant.api_key}:${h.t.tenant.secret}`).toString('base64')}`,
      },
    });
    expect(cards.json().gift_cards.map((c: { code: string }) => c.code)).toEqual([
      giftCardCode(TEST_GIFT_CARD_KEY, giftCardId(ids.main, '2026-Q4')),
    ]);
    await restarted.close();
    expect(await h.giftCardRows()).toBe(3);
    expect(await journals()).toBe(3);
    expect(await h.balances(ids.main)).toMatchObject({ [SPEND]: 370, [SPEND_ESCROW]: 120 });
    expect(await h.balances(ids.swept)).toMatchObject({ [SPEND]: 370 });
  });

  it('the cash-out appears in the audit history with audit_type 2', async () => {
    const res = await h.post('user_points/fetch_point_audit_logs', { user_id: ids.main });
    expect(res.status).toBe(200);
    const row = (res.body.payload.results as Array<Record<string, unknown>>).find(
      (r) => r.modification_type === 'cash_out',
    );
    expect(row).toMatchObject({
      account_name: SPEND,
      modification: -2000,
      audit_type: 2,
      time_of_occurrence: Q4_END,
      reason: 'Cash-out 2026-Q4: 2000 points became a 20.00 USD gift card',
    });
  });

  it('the report of the period: members, points converted, gift-card value, points left', async () => {
    const res = await h.t.request('GET', '/admin/v1/cash_outs/2026-Q4', { auth: 'admin' });
    expect(res.status).toBe(200);
    expect(res.body.cash_out).toMatchObject({
      period: '2026-Q4',
      period_end: Q4_END,
      currency: 'USD',
      members: 3,
      points_converted: 2000 + 2000 + 1000,
      gift_card_value: 50,
      points_left: 370 + 370 + 100,
      run: { members_visited: 4 },
    });
    const all = await h.t.request('GET', '/admin/v1/cash_outs', { auth: 'admin' });
    expect(all.body.cash_outs).toEqual([res.body.cash_out]);
    for (const [period, why] of [
      ['2026-Q5', 'is not a quarter'],
      ['2027-Q1', 'has not ended yet'],
    ]) {
      const bad = await h.t.request('GET', `/admin/v1/cash_outs/${period}`, { auth: 'admin' });
      expect(bad.status).toBe(400);
      expect(bad.body.errors.code).toBe('validation');
      expect(bad.body.errors.message).toContain(why);
    }
  });

  it('points earned after the period end wait for the next one', async () => {
    await h.t.setNow('2027-01-02T15:00:00Z');
    await h.deposit(ids.small, 1, 'd-small-2');
    expect(await h.balances(ids.small)).toMatchObject({ [SPEND]: 500 });
    expect(await h.cards(ids.small)).toEqual([]);
    // The escrowed purchase of 20 December matures on 19 January and cashes out at the end of Q1.
    await h.t.setNow('2027-04-01T04:00:00Z');
    expect(await h.balances(ids.main)).toMatchObject({ [SPEND]: 490, [SPEND_ESCROW]: 0 });
    const cards = await h.cards(ids.main);
    // 370 + 120 = 490: under one denomination at the end of Q1, so no second card.
    expect(cards.map((c) => [c.period, c.value, c.points_left])).toEqual([['2026-Q4', 20, 370]]);
    expect((await h.cards(ids.small)).map((c) => [c.period, c.value, c.points_left])).toEqual([
      ['2027-Q1', 5, 0],
    ]);
    expect(await h.balances(ids.small)).toMatchObject({ [SPEND]: 0 });
  });

  it('errors: an unknown member, another retailer, no credentials', async () => {
    const missing = await h.t.request(
      'GET',
      `${h.t.core}/users/00000000-0000-4000-8000-000000000000/gift_cards`,
    );
    expect(missing.status).toBe(404);
    expect(missing.body.errors.code).toBe('user_not_found');
    const other = await h.t.newTenant();
    const cross = await h.t.request('GET', `/priv/v1/apps/${other.api_key}/users/${ids.main}/gift_cards`, {
      auth: { key: other.api_key, secret: other.secret },
    });
    expect(cross.status).toBe(404);
    const admin = await h.t.request('GET', `/admin/v1/users/${ids.main}/gift_cards`, {
      auth: { bearer: other.admin_token },
    });
    expect(admin.status).toBe(404);
    const none = await h.t.request('POST', '/admin/v1/cash_outs/run', { auth: 'none' });
    expect(none.status).toBe(401);
  });
});

describeEachDatabase('Cash-out under concurrency', (target) => {
  const h = harness(target);

  it('runs, sweeps, deposits and reads racing at the period end give each member one card', async () => {
    const members: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = await h.member(`RACE-${i}`);
      await h.deposit(id, 2370, `race-${i}`);
      members.push(id);
    }
    await h.t.setNow('2027-01-01T06:00:00Z');
    const clock = { now: async () => new Date('2027-01-01T06:00:00Z') };
    const work: Promise<unknown>[] = [
      h.run(),
      h.run(),
      sweepOnce(h.t.db, clock, { wait: true, batchSize: 5 }),
      sweepOnce(h.t.db, clock, { wait: true, batchSize: 3 }),
    ];
    members.forEach((id, i) => {
      work.push(h.deposit(id, 1, `race-late-${i}`));
      work.push(h.cards(id));
      work.push(h.post('user_points/fetch_point_audit_logs', { user_id: id }));
    });
    await Promise.all(work);
    for (const id of members) {
      expect(await h.balances(id)).toMatchObject({ [SPEND]: 371 });
      expect((await h.cards(id)).map((c) => [c.period, c.value])).toEqual([['2026-Q4', 20]]);
    }
    const rows = await h.t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM gift_cards WHERE user_id = ANY($1::uuid[])',
      [members],
    );
    expect(rows[0]!.n).toBe(members.length);
  });
});

describeEachDatabase('Cash-out runs', (target) => {
  const h = harness(target);

  it('a run stopped part-way resumes after the last member it settled', async () => {
    const members: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = await h.member(`RUN-${i}`);
      await h.deposit(id, 600, `run-${i}`);
      members.push(id);
    }
    const now = new Date('2027-01-01T06:00:00Z');
    await h.t.setNow(now.toISOString());
    // Stops the run after its second member, as a shutdown between members does.
    const stop = new AbortController();
    let settled = 0;
    const db = new Proxy(h.t.db, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== 'transaction') return typeof value === 'function' ? value.bind(target) : value;
        return async (fn: (tx: unknown) => Promise<unknown>) => {
          const out = await target.transaction(fn as never);
          if (++settled === 2) stop.abort();
          return out;
        };
      },
    });
    const first = await runDueCashOuts(db, now, { batchSize: 2, signal: stop.signal });
    expect(first.runs).toEqual([
      expect.objectContaining({ period: '2026-Q4', members: 2, completed: false }),
    ]);
    const report = await h.t.request('GET', '/admin/v1/cash_outs/2026-Q4', { auth: 'admin' });
    expect(report.body.cash_out).toMatchObject({
      members: 2,
      run: { completed_at: null, members_visited: 2 },
    });

    const rest = await h.run();
    expect(rest.runs).toEqual([{ period: '2026-Q4', members: 3, completed: true }]);
    const done = await h.t.request('GET', '/admin/v1/cash_outs/2026-Q4', { auth: 'admin' });
    expect(done.body.cash_out).toMatchObject({
      members: 5,
      points_converted: 2500,
      gift_card_value: 25,
      points_left: 500,
      run: { members_visited: 5 },
    });
    expect(done.body.cash_out.run.completed_at).toBe(now.toISOString());
  });

  it('a cash-out that cannot complete says why in the report, and completes once the cause is gone (issue #13)', async () => {
    await h.t.setNow('2027-01-15T15:00:00Z');
    const ok = await h.member('FAIL-OK');
    const bad = await h.member('FAIL-BAD');
    await h.deposit(ok, 600, 'fail-ok');
    await h.deposit(bad, 600, 'fail-bad');
    await h.t.setNow('2027-04-01T06:00:00Z'); // 2027-Q1 has ended
    // The database refuses the one member's gift card, as a broken write would.
    await h.t.db.exec(`ALTER TABLE gift_cards ADD CONSTRAINT test_refuse_card CHECK (user_id <> '${bad}')`);
    const first = await h.run();
    expect(first.failures).toBe(1);
    const report = await h.t.request('GET', '/admin/v1/cash_outs/2027-Q1', { auth: 'admin' });
    expect(report.body.cash_out.run).toMatchObject({ completed_at: null, failures: 1 });
    expect(report.body.cash_out.run.last_error).toContain(bad);
    expect(report.body.cash_out.run.last_error).toContain('test_refuse_card');
    await h.t.db.exec('ALTER TABLE gift_cards DROP CONSTRAINT test_refuse_card');
    const second = await h.run();
    expect(second.failures).toBe(0);
    const done = await h.t.request('GET', '/admin/v1/cash_outs/2027-Q1', { auth: 'admin' });
    expect(done.body.cash_out.run.completed_at).not.toBeNull();
    expect(done.body.cash_out.members).toBe(2);
    expect((await h.cards(bad)).map((c) => c.period)).toContain('2027-Q1');
  });
});
