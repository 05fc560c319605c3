import { afterAll, beforeAll, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import { insertJournal } from '../../src/ledger/ledger.repository.js';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Ledger integrity (issue #13): sequences of calls an attacker or a careless till sends, each of
 * which once created points from nothing or broke the ledger, driven over the real API.
 */

const SPEND = 'ACME Spendable Account';
const V1 = '/incentives/api/1.0';

describeEachDatabase('Ledger integrity (issue #13)', (target) => {
  let t: TestApp;
  let accounts: Record<string, string>;

  const post = (path: string, body: Record<string, unknown>) =>
    t.request('POST', `${V1}/${path}`, { body: { retailer_id: t.tenant.retailer_id, ...body } });
  const enrolled = new Map<string, string>();
  const enroll = async (externalId: string): Promise<string> => {
    const res = await t.request('POST', `${t.core}/users`, { body: { user: { external_id: externalId } } });
    expect(res.status).toBe(200);
    return res.body.user.id;
  };
  /** A member enrolled at the start, before every purchase of the tests (DESIGN §4). */
  const member = async (externalId: string): Promise<string> =>
    enrolled.get(externalId) ?? enroll(externalId);
  const balances = async (userId: string): Promise<Record<string, number>> => {
    const res = await post('user_points/all_balances', { user_id: userId });
    expect(res.status).toBe(200);
    return Object.fromEntries(
      (res.body.payload.details as { account_name: string; available_balance: number }[]).map((d) => [
        d.account_name,
        d.available_balance,
      ]),
    );
  };
  const sale = (
    requestId: string,
    transactionId: string,
    externalId: string,
    items: unknown[],
    extra: Record<string, unknown> = {},
  ) =>
    t.request('POST', '/api/2.0/send_transaction', {
      body: {
        store_id: 'BOSTON-01',
        request_id: requestId,
        request_payload: {
          transaction_id: transactionId,
          open_time: '2026-12-01T10:00:00',
          items,
          user_id: externalId,
          user_id_type: 'external_id',
          ...extra,
        },
      },
    });
  const verified = async () => expect((await verifyLedger(t.db)).problems).toEqual([]);

  beforeAll(async () => {
    t = await startTestApp(target, new Date('2026-12-01T14:00:00Z'));
    for (const id of ['MINT-1', 'MINT-2', 'BIG-1', 'DUP-1', 'DUP-2', 'LIFE-1', 'RACE-1', 'FORGE-1']) {
      enrolled.set(id, await enroll(id));
    }
    await t.setNow('2026-12-01T16:00:00Z');
    const probe = await member('PROBE-1');
    const res = await post('user_points/all_balances', { user_id: probe });
    accounts = Object.fromEntries(
      (res.body.payload.details as { account_name: string; point_account_id: string }[]).map((d) => [
        d.account_name,
        d.point_account_id,
      ]),
    );
  });
  afterAll(() => t.close());

  it('void and re-ring mints points: a re-ring first repays what the void could not take back', async () => {
    const userId = await member('MINT-1');
    const items = [{ line_id: '1', item_id: 'COAT', quantity: 1, unit_price: 100 }];
    expect((await sale('m-0', 'T-MINT', 'MINT-1', items)).status).toBe(200);
    await t.setNow('2027-01-02T16:00:00Z'); // matured on 31 December
    let spent = 0;
    for (let cycle = 0; cycle < 5; cycle++) {
      const spend = await post('user_points/spend_multiple', {
        user_id: userId,
        spend_details: [{ amount: 100, idempotency_id: `spend-${cycle}` }],
      });
      if (spend.status === 200) spent += 100;
      else expect(spend.body.errors.code).toBe('insufficient_points');
      const voided = await sale(`m-v${cycle}`, 'T-MINT', 'MINT-1', items, { is_voided: true });
      expect(voided.status).toBe(200);
      // Nothing left to take: the void owes the whole award, of Spendable and of the 2027 Tier
      // Qualifying year (the purchase counted toward 2026).
      expect(voided.body.payload).toMatchObject({ shortfall: 200, points_awarded: [] });
      const rerung = await sale(`m-r${cycle}`, 'T-MINT', 'MINT-1', items, { is_voided: false });
      expect(rerung.status).toBe(200);
      // The re-ring repays the shortfall; it credits nothing again.
      expect(rerung.body.payload).toMatchObject({ shortfall_repaid: 200, points_awarded: [] });
    }
    expect(spent).toBe(100);
    expect((await balances(userId))[SPEND]).toBe(0);
    const [row] = await t.db.query<{ shortfall: Record<string, number> }>(
      'SELECT shortfall FROM purchases WHERE transaction_id = $1',
      ['T-MINT'],
    );
    expect(row!.shortfall).toEqual({});
    await verified();
  });

  it('an edit upwards past the shortfall credits only the rest', async () => {
    const userId = await member('MINT-2');
    await t.setNow('2027-01-02T16:00:00Z');
    const one = [{ line_id: '1', item_id: 'COAT', quantity: 1, unit_price: 100 }];
    expect((await sale('e-0', 'T-EDIT', 'MINT-2', one, { open_time: '2026-12-01T10:00:00' })).status).toBe(
      200,
    );
    await t.setNow('2027-01-03T16:00:00Z');
    await post('user_points/spend_multiple', {
      user_id: userId,
      spend_details: [{ amount: 60, idempotency_id: 'e-spend' }],
    });
    const voided = await sale('e-v', 'T-EDIT', 'MINT-2', one, { is_voided: true });
    expect(voided.body.payload.shortfall).toBe(60 + 100); // 60 spent; the 2027 TQ year holds none
    expect(voided.body.payload.points_awarded).toEqual([
      expect.objectContaining({ account_name: SPEND, amount: -40 }),
    ]);
    expect((await balances(userId))[SPEND]).toBe(0);
    const two = [{ line_id: '1', item_id: 'COAT', quantity: 2, unit_price: 100 }];
    const edited = await sale('e-2', 'T-EDIT', 'MINT-2', two, { is_voided: false });
    expect(edited.status).toBe(200);
    expect(edited.body.payload.shortfall_repaid).toBe(160);
    // 200 points of award, 60 owed: 140 credited, and the 60 spent came from this purchase.
    expect((await balances(userId))[SPEND]).toBe(140);
    await verified();
  });

  it('baskets have no bound: amounts the ledger cannot hold exactly are refused whole, naming the field', async () => {
    const userId = await member('BIG-1');
    const counts = async () =>
      (
        await t.db.query<{ p: number; j: number }>(
          'SELECT (SELECT count(*) FROM purchases)::int AS p, (SELECT count(*) FROM journals)::int AS j',
        )
      )[0];
    const before = await counts();
    const line = (i: number, quantity: number, unit_price: number) => ({
      line_id: String(i),
      item_id: 'GOLD-BAR',
      quantity,
      unit_price,
    });
    const cases: [unknown[], Record<string, unknown>, string][] = [
      [[line(1, 1_000_000, 999_999_999.99)], {}, 'request_payload.items[0].unit_price'],
      [[line(1, 1_000_000, 999_999.99)], {}, 'request_payload.items[0].quantity'],
      [[1, 2, 3, 4, 5].map((i) => line(i, 1, 9_999_999.99)), {}, 'request_payload.items'],
      [[line(1, 1.0001, 10)], {}, 'request_payload.items[0].quantity'],
      [[{ ...line(1, 1, 10), subtotal: 10_000_000.01 }], {}, 'request_payload.items[0].subtotal'],
      [
        [line(1, 1, 10)],
        { discounts: [{ amount: 6_000_000 }, { amount: 6_000_000 }] },
        'request_payload.discounts',
      ],
    ];
    for (const [items, extra, field] of cases) {
      const res = await sale(`big-${field}-${items.length}`, 'T-BIG', 'BIG-1', items, extra);
      expect(res.status, field).toBe(400);
      expect(res.body.errors, field).toMatchObject({ code: 'validation', field });
    }
    expect(await counts()).toEqual(before);
    // The largest basket the bounds allow is awarded exactly: $10,000,000.00 in 1,000 lines of cents.
    const most = Array.from({ length: 4 }, (_, i) => line(i, 1000, 2_500));
    const res = await sale('big-ok', 'T-BIG', 'BIG-1', most, {
      discounts: [{ amount: 0.01 }],
    });
    expect(res.status).toBe(200);
    expect(res.body.payload).toMatchObject({ eligible_spend: 9_999_999.99, base_points: 9_999_999 });
    expect(res.body.payload.purchase_points).toEqual([
      // With December's Big Basket Bonus.
      expect.objectContaining({ account_name: 'ACME Spendable Escrow Account', amount: 10_000_499 }),
      expect.objectContaining({ account_name: 'ACME Tier-Qualifying Escrow Account', amount: 9_999_999 }),
    ]);
    // Matured on 31 December (the member joined in 2027: no 2026-Q4 cash-out).
    expect((await balances(userId))[SPEND]).toBe(10_000_499);
    await verified();
  });

  it('idempotency ids do not bind their body: a reused id with another line answers 409 and changes nothing', async () => {
    const userId = await member('DUP-1');
    const journals = async () =>
      (
        await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM journals WHERE user_id = $1', [
          userId,
        ])
      )[0]!.n;
    const deposit = (amount: number, extra: Record<string, unknown> = {}) =>
      post('user_points/deposit', {
        user_id: userId,
        deposit_details: [{ point_account_id: accounts[SPEND], amount, idempotency_id: 'dup-1', ...extra }],
      });
    expect((await deposit(50)).body.payload.details[0]).toMatchObject({ amount: 50, applied: true });
    // The same line again is a repeat, as before.
    expect((await deposit(50)).body.payload.details[0]).toMatchObject({ amount: 50, applied: false });
    const before = await journals();
    for (const other of [deposit(5000), deposit(50, { reference_id: 'another' })]) {
      const res = await other;
      expect(res.status).toBe(409);
      expect(res.body.errors).toMatchObject({
        code: 'idempotency_conflict',
        field: 'deposit_details.0.idempotency_id',
      });
    }
    expect((await balances(userId))[SPEND]).toBe(50);

    const spend = (amount: number) =>
      post('user_points/spend_multiple', {
        user_id: userId,
        spend_details: [{ amount, idempotency_id: 'dup-2' }],
      });
    expect((await spend(10)).status).toBe(200);
    expect((await spend(10)).body.payload.details[0]).toMatchObject({ idempotency_summary: 'duplicate' });
    const bigger = await spend(40);
    expect(bigger.status).toBe(409);
    expect(bigger.body.errors).toMatchObject({
      code: 'idempotency_conflict',
      field: 'spend_details.0.idempotency_id',
    });
    // Two lines with one id and different amounts in one request: refused whole.
    const mixed = await post('user_points/spend_multiple', {
      user_id: userId,
      spend_details: [
        { amount: 5, idempotency_id: 'dup-3' },
        { amount: 6, idempotency_id: 'dup-3' },
      ],
    });
    expect(mixed.status).toBe(409);
    expect(await journals()).toBe(before + 1);
    expect((await balances(userId))[SPEND]).toBe(40);
    await verified();
  });

  it('two lines with one id are refused whole even when the first spent nothing (bug: the second spent, and a retry answered 409)', async () => {
    const userId = await member('DUP-2');
    expect(
      (
        await post('user_points/deposit', {
          user_id: userId,
          deposit_details: [{ point_account_id: accounts[SPEND], amount: 50, idempotency_id: 'dup2-d' }],
        })
      ).status,
    ).toBe(200);
    // The first line cannot be covered; the second, with the same id and another amount, could.
    const body = {
      user_id: userId,
      allow_partial_success: true,
      spend_details: [
        { amount: 1000, idempotency_id: 'dup2-x' },
        { amount: 10, idempotency_id: 'dup2-x' },
      ],
    };
    const first = await post('user_points/spend_multiple', body);
    expect(first.status).toBe(409);
    expect(first.body.errors).toMatchObject({
      code: 'idempotency_conflict',
      field: 'spend_details.1.idempotency_id',
    });
    expect((await post('user_points/spend_multiple', body)).status).toBe(409);
    expect((await balances(userId))[SPEND]).toBe(50);
    await verified();
  });

  it("lifetime figures differ from the seed: a matured 2,000-point purchase reads 4,000, escrow rows 0 and ''", async () => {
    const userId = await member('LIFE-1');
    await t.setNow('2027-01-05T16:00:00Z');
    const items = [{ line_id: '1', item_id: 'TV', quantity: 1, unit_price: 2000 }];
    const res = await sale('life-1', 'T-LIFE', 'LIFE-1', items, { open_time: '2027-01-05T09:00:00' });
    expect(res.status).toBe(200);
    await t.setNow('2027-02-05T16:00:00Z');
    const user = await t.request('GET', `${t.core}/users/${userId}?expand_incentives=true`);
    const balancesOf = user.body.user.tier_details.point_account_balances;
    expect(balancesOf.summary).toEqual({ total_points: 4000, life_time_points: 4000 });
    const rows = Object.fromEntries(
      (balancesOf.details as { account_name: string }[]).map((d) => [d.account_name, d]),
    );
    expect(rows[SPEND]).toMatchObject({ available_balance: 2000, life_time_value: 2000 });
    expect(rows['ACME Tier Qualifying Account']).toMatchObject({
      available_balance: 2000,
      life_time_value: 2000,
    });
    for (const escrow of ['ACME Spendable Escrow Account', 'ACME Tier-Qualifying Escrow Account']) {
      expect(rows[escrow]).toMatchObject({
        available_balance: 0,
        life_time_value: 0,
        user_point_account_id: '',
      });
    }
    const all = await post('user_points/all_balances', { user_id: userId });
    expect(all.body.payload.summary).toEqual({ total_points: 4000, life_time_points: 4000 });
  });

  it('voids, re-rings and spends racing from many tills never credit a spent purchase twice', async () => {
    const userId = await member('RACE-1');
    const items = [{ line_id: '1', item_id: 'COAT', quantity: 1, unit_price: 300 }];
    expect((await sale('r-0', 'T-RACE', 'RACE-1', items, { open_time: '2027-01-01T10:00:00' })).status).toBe(
      200,
    );
    // Matured (30 days from 1 January) by now; spend it all, then race.
    expect((await balances(userId))[SPEND]).toBe(300);
    await post('user_points/spend_multiple', {
      user_id: userId,
      spend_details: [{ amount: 300, idempotency_id: 'r-all' }],
    });
    let spent = 0;
    const requests = Array.from({ length: 30 }, (_, i) => {
      if (i % 3 === 2) {
        return post('user_points/spend_multiple', {
          user_id: userId,
          spend_details: [{ amount: 100, idempotency_id: `r-s${i}` }],
        }).then((r) => {
          if (r.status === 200) spent += 100;
          else expect(r.body.errors.code).toBe('insufficient_points');
        });
      }
      return sale(`rr-${i}`, 'T-RACE', 'RACE-1', items, { is_voided: i % 3 === 0 }).then((r) =>
        expect(r.status).toBe(200),
      );
    });
    await Promise.all(requests);
    // Whatever the order, the purchase gave 300 points once: after the first spend took them all,
    // no re-ring may fund another spend.
    expect(spent).toBe(0);
    const [p] = await t.db.query<{ award: { spendable: number }; shortfall: Record<string, number> }>(
      "SELECT award, shortfall FROM purchases WHERE transaction_id = 'T-RACE'",
    );
    // Voided last: nothing awarded, 300 owed; re-rung last: 300 awarded, nothing owed.
    expect(p!.award.spendable + (p!.shortfall.spendable ?? 0)).toBe(300);
    expect((await balances(userId))[SPEND]).toBe(0);
    await verified();
  });

  // Last: it leaves a forged ledger behind on purpose.
  it('verify would notice a re-ring credited in full while its purchase owed (the old rule)', async () => {
    const userId = await member('FORGE-1');
    const items = [{ line_id: '1', item_id: 'COAT', quantity: 1, unit_price: 100 }];
    expect(
      (await sale('f-0', 'T-FORGE', 'FORGE-1', items, { open_time: '2027-01-01T10:00:00' })).status,
    ).toBe(200);
    await post('user_points/spend_multiple', {
      user_id: userId,
      spend_details: [{ amount: 100, idempotency_id: 'f-s' }],
    });
    const voided = await sale('f-v', 'T-FORGE', 'FORGE-1', items, { is_voided: true });
    expect(voided.body.payload.shortfall).toBe(100);
    await verified();
    // What the old rule wrote for the re-ring: the whole award credited again, nothing repaid.
    const [p] = await t.db.query<{ id: string; award: unknown }>(
      "SELECT id, award FROM purchases WHERE transaction_id = 'T-FORGE'",
    );
    const now = new Date('2027-02-05T16:00:00Z');
    await t.db.transaction(async (tx) => {
      await insertJournal(tx, {
        id: newId(now.getTime()),
        retailer_id: t.tenant.retailer_id,
        user_id: userId,
        kind: 'purchase',
        effective_at: now,
        recorded_at: now,
        purchase_id: p!.id,
        details: { transaction_id: 'T-FORGE', revision: 3 },
        postings: [
          { account: 'spendable', amount: 100 },
          { account: 'tier', amount: 100 },
          { account: 'program:issued', amount: -200 },
        ],
      });
      await tx.query(
        'UPDATE purchases SET award = $2::jsonb, basket = basket || \'{"voided": false}\'::jsonb, revision = 3 WHERE id = $1',
        [
          p!.id,
          JSON.stringify({
            eligible_cents: 10000,
            base: 100,
            campaigns: [],
            spendable: 100,
            tier_qualifying: 100,
          }),
        ],
      );
    });
    const { problems } = await verifyLedger(t.db);
    expect(problems).toContain(
      `purchase ${p!.id} revision 3 credited spendable points while it owed 100 from an earlier return ` +
        '(a re-ring must repay its shortfall first)',
    );
  });
});
