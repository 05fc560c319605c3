import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** The seed's story (issue #3): escrow, a return, rollover with no sweep, a void after maturity. */

const SPEND = 'ACME Spendable Account';
const SPEND_ESCROW = 'ACME Spendable Escrow Account';
const TIER = 'ACME Tier Qualifying Account';
const TIER_ESCROW = 'ACME Tier-Qualifying Escrow Account';

type Line = { line_id: string; item_id: string; quantity: number; unit_price: number; subtotal?: number };
const basket: Line[] = [
  { line_id: '1', item_id: 'TV-55', quantity: 1, unit_price: 1500 },
  { line_id: '2', item_id: 'SOUNDBAR', quantity: 2, unit_price: 200 },
  { line_id: '3', item_id: 'HDMI', quantity: 4, unit_price: 25 },
];

function tx(requestId: string, items: Line[], extra: Record<string, unknown> = {}, user = 'ACME-1001') {
  return {
    store_id: 'BOSTON-01',
    client_id: 'pos-7',
    request_id: requestId,
    request_payload: {
      transaction_id: 'T-2000',
      open_time: '2026-11-02T10:00:00',
      items,
      payments: [
        { payment_id: 'P1', amount: 2000, type: 'CASH', user_id: user, user_id_type: 'external_id' },
      ],
      ...extra,
    },
  };
}

const byName = (rows: { account_name: string; amount: number }[]) =>
  Object.fromEntries(rows.map((r) => [r.account_name, r.amount]));

describeEachDatabase('Purchases, returns, escrow and rollover', (target) => {
  let t: TestApp;
  let userId: string;

  const send = (body: unknown) => t.request('POST', '/api/2.0/send_transaction', { body });
  const balances = async () => {
    const res = await t.request('GET', `${t.core}/users/${userId}?expand_incentives=true`);
    expect(res.status).toBe(200);
    const details = res.body.user.tier_details.point_account_balances.details as {
      account_name: string;
      available_balance: number;
      life_time_value: number;
    }[];
    return {
      user: res.body.user,
      ...Object.fromEntries(details.map((d) => [d.account_name, d.available_balance])),
    } as Record<string, number> & { user: Record<string, unknown> };
  };
  const journals = async () =>
    (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM journals'))[0]!.n;
  const verified = async () => expect((await verifyLedger(t.db)).problems).toEqual([]);

  beforeAll(async () => {
    // The member enrolled before the purchases dated in September and October (DESIGN §4).
    t = await startTestApp(target, new Date('2026-09-01T16:00:00Z'));
    const res = await t.request('POST', `${t.core}/users`, {
      body: { user: { external_id: 'ACME-1001', email: 'buyer@example.com' } },
    });
    userId = res.body.user.id;
    await t.setNow('2026-11-02T16:00:00Z');
  });
  afterAll(() => t.close());

  it('a 2,000 USD purchase puts 2,000 points in each escrow account, maturing 30 days later', async () => {
    const res = await send(tx('r-1', basket));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('OK');
    const p = res.body.payload;
    expect(p).toMatchObject({
      transaction_id: 'T-2000',
      user_id: userId,
      awarded: true,
      reason: null,
      // open_time without an offset is read in America/New_York.
      purchase_time: '2026-11-02T15:00:00.000Z',
      matures_at: '2026-12-02T15:00:00.000Z',
      eligible_spend: 2000,
      base_points: 2000,
      shortfall: 0,
      revision: 1,
    });
    expect(byName(p.points_awarded)).toEqual({ [SPEND_ESCROW]: 2000, [TIER_ESCROW]: 2000 });
    const b = await balances();
    expect(b).toMatchObject({ [SPEND]: 0, [SPEND_ESCROW]: 2000, [TIER]: 0, [TIER_ESCROW]: 2000 });
    expect(b.user).toMatchObject({ available_points: 0, tier_points: 0 });
    await verified();
  });

  it('a replayed request answers the same and changes nothing; a reused request id with another body is refused', async () => {
    const before = await journals();
    const first = await send(tx('r-1', basket));
    expect(first.status).toBe(200);
    expect(byName(first.body.payload.points_awarded)).toEqual({ [SPEND_ESCROW]: 2000, [TIER_ESCROW]: 2000 });
    const reused = await send(tx('r-1', basket.slice(0, 1)));
    expect(reused.status).toBe(409);
    expect(reused.body.errors.code).toBe('idempotency_conflict');
    const unchanged = await send(tx('r-2', basket));
    expect(unchanged.status).toBe(200);
    expect(unchanged.body.payload.points_awarded).toEqual([]);
    expect(unchanged.body.payload.revision).toBe(1);
    expect(await journals()).toBe(before);
    expect(await balances()).toMatchObject({ [SPEND_ESCROW]: 2000, [TIER_ESCROW]: 2000 });
  });

  it('a return of one line on day 10 takes back exactly that line from the purchase escrow', async () => {
    await t.setNow('2026-11-12T15:00:00Z');
    const returned = basket.map((l) => (l.line_id === '3' ? { ...l, quantity: 0 } : l));
    const res = await send(tx('r-3', returned));
    expect(res.status).toBe(200);
    expect(byName(res.body.payload.points_awarded)).toEqual({ [SPEND_ESCROW]: -100, [TIER_ESCROW]: -100 });
    expect(res.body.payload).toMatchObject({ revision: 2, eligible_spend: 1900, shortfall: 0 });
    expect(await balances()).toMatchObject({
      [SPEND]: 0,
      [SPEND_ESCROW]: 1900,
      [TIER]: 0,
      [TIER_ESCROW]: 1900,
    });
    await verified();
  });

  it('day 31 shows the points rolled over, with no sweep run and nothing written by the read', async () => {
    await t.setNow('2026-12-03T15:00:00Z');
    const before = await journals();
    const b = await balances();
    expect(b).toMatchObject({ [SPEND]: 1900, [SPEND_ESCROW]: 0, [TIER]: 1900, [TIER_ESCROW]: 0 });
    expect(b.user).toMatchObject({ available_points: 1900, tier_points: 1900 });
    expect(await journals()).toBe(before);
    const open = await t.db.query('SELECT id FROM lots WHERE rolled_over_at IS NULL');
    expect(open.length).toBe(2);
  });

  it('a void after maturity claws back by the policy, after writing the rollover at its maturation instant', async () => {
    const res = await send(tx('r-4', basket.slice(0, 2), { is_voided: true }));
    expect(res.status).toBe(200);
    expect(byName(res.body.payload.points_awarded)).toEqual({ [SPEND]: -1900, [TIER]: -1900 });
    expect(res.body.payload).toMatchObject({ eligible_spend: 0, shortfall: 0, revision: 3 });
    expect(await balances()).toMatchObject({ [SPEND]: 0, [SPEND_ESCROW]: 0, [TIER]: 0, [TIER_ESCROW]: 0 });
    const rollovers = await t.db.query<{ effective_at: Date }>(
      "SELECT effective_at FROM journals WHERE kind = 'rollover'",
    );
    // One rollover journal for the purchase's two lots (issue #16).
    expect(rollovers.map((r) => r.effective_at.toISOString())).toEqual(['2026-12-02T15:00:00.000Z']);
    // Replaying the void changes nothing.
    const before = await journals();
    expect(
      (await send(tx('r-5', basket.slice(0, 2), { is_voided: true }))).body.payload.points_awarded,
    ).toEqual([]);
    expect(await journals()).toBe(before);
    await verified();
  });

  it('doubles spendable points on Double Points Days but not tier points', async () => {
    const res = await send({
      ...tx('r-dpd', [{ line_id: '1', item_id: 'SHOES', quantity: 1, unit_price: 120.5 }]),
      request_payload: {
        ...tx('r-dpd', []).request_payload,
        transaction_id: 'T-DPD',
        open_time: '2026-11-28T12:00:00-05:00',
        items: [{ line_id: '1', item_id: 'SHOES', quantity: 1, unit_price: 120.5 }],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.payload.campaigns).toEqual([
      expect.objectContaining({ name: 'Double Points Days', points: 120, tier_qualifying: false }),
    ]);
    expect(byName(res.body.payload.points_awarded)).toEqual({ [SPEND_ESCROW]: 240, [TIER_ESCROW]: 120 });
    await verified();
  });

  it('keeps the transaction of an unknown or unenrolled member and awards nothing, saying why', async () => {
    const unknown = await send({
      ...tx('r-u1', basket, {}, 'NOBODY-1'),
      request_payload: { ...tx('r-u1', basket, {}, 'NOBODY-1').request_payload, transaction_id: 'T-UNKNOWN' },
    });
    expect(unknown.body.payload).toMatchObject({ awarded: false, reason: 'member_not_found', user_id: null });
    expect(unknown.body.payload.points_awarded).toEqual([]);
    const created = await t.request('POST', `${t.core}/users`, {
      body: { user: { external_id: 'ACME-OUT', opted_in: false } },
    });
    expect(created.status).toBe(200);
    const out = await send({
      ...tx('r-u2', basket, {}, 'ACME-OUT'),
      request_payload: { ...tx('r-u2', basket, {}, 'ACME-OUT').request_payload, transaction_id: 'T-OUT' },
    });
    expect(out.body.payload).toMatchObject({ awarded: false, reason: 'member_not_enrolled' });
    const kept = await t.db.query('SELECT transaction_id FROM purchases WHERE transaction_id IN ($1, $2)', [
      'T-UNKNOWN',
      'T-OUT',
    ]);
    expect(kept.length).toBe(2);
    await verified();
  });

  it('refuses bad transactions with a clear error and writes nothing', async () => {
    const before = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM purchases');
    const cases: [unknown, number, string][] = [
      [tx('b-1', basket, { open_time: '2026-12-25T10:00:00Z' }), 400, 'validation'],
      [tx('b-2', basket, { open_time: 'last tuesday' }), 400, 'validation'],
      [tx('b-3', [{ line_id: '1', item_id: 'X', quantity: 1, unit_price: -5 }]), 400, 'validation'],
      [tx('b-4', [{ line_id: '1', item_id: 'X', quantity: 1, unit_price: 1.005 }]), 400, 'validation'],
      [
        tx('b-5', [{ line_id: '1', item_id: 'X', quantity: 1, unit_price: '10' as unknown as number }]),
        400,
        'validation',
      ],
      [
        tx('b-6', [
          { line_id: '1', item_id: 'X', quantity: 1, unit_price: 1 },
          { line_id: '1', item_id: 'Y', quantity: 1, unit_price: 1 },
        ]),
        400,
        'validation',
      ],
      [{ store_id: 'S', request_id: 'b-7' }, 400, 'missing_data'],
      [tx('b-8', basket, {}, 'nobody'), 200, ''],
    ];
    for (const [body, status, code] of cases.slice(0, -1)) {
      const res = await send(body);
      expect(res.status, JSON.stringify(body).slice(0, 120)).toBe(status);
      expect(res.body.errors.code).toBe(code);
    }
    const noAuth = await t.request('POST', '/api/2.0/send_transaction', {
      body: tx('b-9', basket),
      auth: 'none',
    });
    expect(noAuth.status).toBe(401);
    const after = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM purchases');
    expect(after[0]!.n).toBe(before[0]!.n);
  });
  it('a purchase sent after its escrow period rolls over at once, effective at its maturation instant', async () => {
    const before = await balances();
    const res = await send({
      ...tx('r-old', []),
      request_payload: {
        ...tx('r-old', []).request_payload,
        transaction_id: 'T-OLD',
        open_time: '2026-10-01T12:00:00Z',
        items: [{ line_id: '1', item_id: 'COAT', quantity: 1, unit_price: 80 }],
      },
    });
    expect(res.body.payload.matures_at).toBe('2026-10-31T12:00:00.000Z');
    const after = await balances();
    expect(after[SPEND]! - before[SPEND]!).toBe(80);
    expect(after[SPEND_ESCROW]).toBe(before[SPEND_ESCROW]);
    const rolled = await t.db.query<{ effective_at: Date }>(
      `SELECT j.effective_at FROM journals j JOIN purchases p ON p.id = j.purchase_id
       WHERE p.transaction_id = 'T-OLD' AND j.kind = 'rollover'`,
    );
    expect(rolled.map((r) => r.effective_at.toISOString())).toEqual(['2026-10-31T12:00:00.000Z']);
    await verified();
  });
  it('a return after the member was deleted still posts to the ledger (bug: the purchase changed, the ledger did not)', async () => {
    const created = await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'DEL-1' } } });
    const id = created.body.user.id;
    const body = (requestId: string, qty: number) => ({
      ...tx(requestId, [], {}, 'DEL-1'),
      request_payload: {
        ...tx(requestId, [], {}, 'DEL-1').request_payload,
        transaction_id: 'T-DEL',
        open_time: '2026-12-03T10:00:00Z',
        items: [{ line_id: '1', item_id: 'LAMP', quantity: qty, unit_price: 300 }],
      },
    });
    expect((await send(body('del-1', 2))).body.payload.base_points).toBe(600);
    expect((await t.request('DELETE', `${t.core}/users/${id}`)).status).toBe(200);
    const ret = await send(body('del-2', 1));
    expect(ret.status).toBe(200);
    expect(byName(ret.body.payload.points_awarded)).toEqual({ [SPEND_ESCROW]: -300, [TIER_ESCROW]: -300 });
    const [lot] = await t.db.query<{ remaining: number }>(
      `SELECT l.remaining FROM lots l JOIN purchases p ON p.id = l.purchase_id
       WHERE p.transaction_id = 'T-DEL' AND l.account = 'spendable_escrow'`,
    );
    // 300 base points plus the Big Basket Bonus (December, eligible spend still >= 250 USD).
    expect(lot!.remaining).toBe(800);
    await verified();
  });

  it('a NUL or a lone surrogate in a till’s ids answers 400 and writes nothing (bug: 500)', async () => {
    const count = async () =>
      (
        await t.db.query<{ n: number }>(
          'SELECT (SELECT count(*) FROM purchases) + (SELECT count(*) FROM pos_requests) AS n',
        )
      )[0]!.n;
    const before = await count();
    const cases: [unknown, string][] = [
      [{ ...tx('nul-1', basket), request_id: 'nul-\u0000' }, 'request_id'],
      [
        tx('nul-2', [{ line_id: '1', item_id: 'a\u0000b', quantity: 1, unit_price: 1 }]),
        'request_payload.items.0.item_id',
      ],
      [tx('sur-1', basket, { transaction_id: 'T-\ud800' }), 'request_payload.transaction_id'],
      [
        tx('sur-2', [{ line_id: '\udfff', item_id: 'X', quantity: 1, unit_price: 1 }]),
        'request_payload.items.0.line_id',
      ],
    ];
    for (const [body, field] of cases) {
      const res = await send(body);
      expect(res.status, field).toBe(400);
      expect(res.body.errors).toMatchObject({ code: 'validation', field });
    }
    expect(await count()).toBe(before);
  });

  it('a payment nested 10,000 deep answers 400 and writes nothing (bug: 500)', async () => {
    const before = await journals();
    const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const payload = JSON.stringify(tx('deep-1', basket)).replace(
      '"type":"CASH"',
      `"type":"CASH","note":${deep}`,
    );
    const res = await t.request('POST', '/api/2.0/send_transaction', { payload });
    expect(res.status).toBe(400);
    expect(res.body.errors.code).toBe('validation');
    expect(await journals()).toBe(before);
  });
});
