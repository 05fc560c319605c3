import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { verifySignature } from '../../src/domain/events.js';
import { EventRelay } from '../../src/events/relay.js';
import { sweepOnce } from '../../src/jobs/sweeper.js';
import { describeEachDatabase } from '../support/databases.js';
import { eventually, Receiver } from '../support/receiver.js';
import { startTestApp, TEST_GIFT_CARD_KEY, type TestApp } from '../support/test-app.js';

/**
 * Events (issue #17): the outbox written with each change, the webhooks admin API, and delivery
 * to a real HTTP receiver on loopback, on every database. The relay runs in this process, driven
 * tick by tick; its retries wait milliseconds instead of seconds.
 */

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const FAST = { firstRetryMs: 10, maxRetryMs: 40, windowMs: 60_000 };

const item = (line: string, price: number) => ({
  line_id: line,
  item_id: `SKU-${line}`,
  quantity: 1,
  unit_price: price,
});

describeEachDatabase('Events and webhooks', (target) => {
  let t: TestApp;
  let relay: EventRelay;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    t = await startTestApp(target, new Date('2026-10-01T16:00:00Z'));
    relay = new EventRelay(t.db, { serverKey: TEST_GIFT_CARD_KEY, log: silent, retry: FAST });
  });
  afterAll(async () => {
    for (const r of receivers) await r.down();
    await t.close();
  });
  afterEach(async () => {
    // Webhooks of one test do not hear the next one's events.
    const hooks = await t.request('GET', '/admin/v1/webhooks', { auth: 'admin' });
    for (const w of hooks.body.webhooks)
      await t.request('DELETE', `/admin/v1/webhooks/${w.id}`, { auth: 'admin' });
    await relay.drain();
  });

  const receiver = async () => {
    const r = await new Receiver().up();
    receivers.push(r);
    return r;
  };
  const member = async (externalId: string): Promise<string> => {
    const res = await t.request('POST', `${t.core}/users`, { body: { user: { external_id: externalId } } });
    expect(res.status).toBe(200);
    return res.body.user.id;
  };
  const send = (
    requestId: string,
    transactionId: string,
    externalId: string,
    items: unknown[],
    openTime: string,
  ) =>
    t.request('POST', '/api/2.0/send_transaction', {
      body: {
        store_id: 'BOSTON-01',
        request_id: requestId,
        request_payload: {
          transaction_id: transactionId,
          open_time: openTime,
          items,
          user_id: externalId,
          user_id_type: 'external_id',
        },
      },
    });
  const events = async (userId: string) =>
    t.db.query<{ id: string; type: string; effective_at: Date; data: Record<string, unknown> }>(
      'SELECT id, type, effective_at, data FROM events WHERE user_id = $1 ORDER BY seq',
      [userId],
    );
  const hook = async (url: string, events: string[] = ['*']) => {
    const res = await t.request('POST', '/admin/v1/webhooks', {
      auth: 'admin',
      body: { webhook: { url, events } },
    });
    expect(res.status).toBe(200);
    return res.body.webhook as { id: string; secret: string; url: string; events: string[] };
  };
  /** Ticks the relay until `cond` holds: retries wait a few milliseconds of wall time. */
  const deliverUntil = (cond: () => boolean | Promise<boolean>) =>
    eventually(async () => {
      await relay.drain();
      return cond();
    });

  it('writes each change with its event: member, purchase, deposit, spend, campaign', async () => {
    const userId = await member('EV-1');
    expect((await send('r1', 'T-EV-1', 'EV-1', [item('1', 120)], '2026-10-01T10:00:00')).status).toBe(200);
    const accounts = await t.request('POST', '/incentives/api/1.0/user_points/all_balances', {
      body: { retailer_id: t.tenant.retailer_id, user_id: userId },
    });
    const spendable = accounts.body.payload.details.find(
      (d: { account_name: string }) => d.account_name === 'ACME Spendable Account',
    );
    const deposit = await t.request('POST', '/incentives/api/1.0/user_points/deposit', {
      body: {
        retailer_id: t.tenant.retailer_id,
        user_id: userId,
        deposit_details: [{ point_account_id: spendable.point_account_id, amount: 50, idempotency_id: 'd1' }],
      },
    });
    expect(deposit.status).toBe(200);
    const spend = await t.request('POST', '/incentives/api/1.0/user_points/spend_multiple', {
      body: {
        retailer_id: t.tenant.retailer_id,
        user_id: userId,
        spend_details: [{ amount: 20, idempotency_id: 's1' }],
      },
    });
    expect(spend.status).toBe(200);
    // A return: the same transaction re-sent with a cheaper basket.
    expect((await send('r2', 'T-EV-1', 'EV-1', [item('1', 60)], '2026-10-01T10:00:00')).status).toBe(200);
    const update = await t.request('PUT', `${t.core}/users/${userId}`, {
      body: { user: { first_name: 'Ada' } },
    });
    expect(update.status).toBe(200);

    const rows = await events(userId);
    expect(rows.map((r) => r.type)).toEqual([
      'member.created',
      'tier.changed',
      'purchase.posted',
      'points.deposited',
      'points.spent',
      'purchase.adjusted',
      'member.updated',
    ]);
    for (const r of rows) expect(r.data).toMatchObject({ user_id: userId, external_id: 'EV-1' });
    expect(rows[1]!.data).toMatchObject({ from: null, to: 'BASE', cause: 'opted_in' });
    expect(rows[2]!.data).toMatchObject({
      transaction_id: 'T-EV-1',
      points: { spendable: 120, tier_qualifying: 120 },
    });
    expect(new Date(rows[2]!.effective_at).toISOString()).toBe('2026-10-01T14:00:00.000Z');
    expect(rows[3]!.data).toMatchObject({ amount: 50, idempotency_id: 'd1' });
    expect(rows[4]!.data).toMatchObject({ amount: 20, idempotency_id: 's1' });
    expect(rows[5]!.data).toMatchObject({ revision: 2, points: { spendable: 60 } });
    expect(rows[6]!.data).toMatchObject({ changed: ['first_name'] });
    // A re-send of the same request changes nothing and emits nothing.
    expect((await send('r2', 'T-EV-1', 'EV-1', [item('1', 60)], '2026-10-01T10:00:00')).status).toBe(200);
    expect(await events(userId)).toHaveLength(rows.length);
  });

  it('a change that rolled back emits nothing: a spend refused, a purchase refused', async () => {
    const userId = await member('EV-RB');
    const before = await events(userId);
    const spend = await t.request('POST', '/incentives/api/1.0/user_points/spend_multiple', {
      body: {
        retailer_id: t.tenant.retailer_id,
        user_id: userId,
        spend_details: [{ amount: 20, idempotency_id: 's1' }],
      },
    });
    expect(spend.status).toBe(400);
    expect(spend.body.errors.code).toBe('insufficient_points');
    const future = await send('rb1', 'T-RB-1', 'EV-RB', [item('1', 10)], '2027-10-01T10:00:00');
    expect(future.status).toBe(400);
    expect(await events(userId)).toEqual(before);
    const all = await t.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM events WHERE type IN ('points.spent', 'purchase.posted') AND data->>'user_id' = $1",
      [userId],
    );
    expect(all[0]!.n).toBe(0);
  });

  it('webhooks: create shows the secret once, http(s) only, per retailer, delete', async () => {
    const created = await hook('https://example.test/hooks', ['tier.changed', 'member.created']);
    expect(created.secret).toMatch(/^whsec_/);
    const one = await t.request('GET', `/admin/v1/webhooks/${created.id}`, { auth: 'admin' });
    expect(one.status).toBe(200);
    expect(one.body.webhook).toEqual({
      id: created.id,
      url: 'https://example.test/hooks',
      events: ['tier.changed', 'member.created'],
      created_at: expect.any(String),
    });
    const stored = await t.db.query<{ secret_sealed: string }>(
      'SELECT secret_sealed FROM webhooks WHERE id = $1',
      [created.id],
    );
    expect(stored[0]!.secret_sealed).not.toContain(created.secret);
    for (const url of ['ftp://example.test/x', 'javascript:alert(1)', 'file:///etc/passwd', 'not a url']) {
      const bad = await t.request('POST', '/admin/v1/webhooks', {
        auth: 'admin',
        body: { webhook: { url, events: ['*'] } },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.errors.code).toBe('validation');
    }
    const badType = await t.request('POST', '/admin/v1/webhooks', {
      auth: 'admin',
      body: { webhook: { url: 'https://example.test', events: ['tier.exploded'] } },
    });
    expect(badType.status).toBe(400);
    const other = await t.newTenant();
    const foreign = await t.request('GET', `/admin/v1/webhooks/${created.id}`, {
      auth: { bearer: other.admin_token },
    });
    expect(foreign.status).toBe(404);
    expect(foreign.body.errors.code).toBe('webhook_not_found');
    expect((await t.request('GET', '/admin/v1/webhooks', { auth: 'none' })).status).toBe(401);
    expect((await t.request('DELETE', `/admin/v1/webhooks/${created.id}`, { auth: 'admin' })).status).toBe(
      200,
    );
    expect((await t.request('GET', `/admin/v1/webhooks/${created.id}`, { auth: 'admin' })).status).toBe(404);
  });

  it('delivers signed events; a receiver answering 500 three times gets the event on the fourth attempt, same id', async () => {
    const r = await receiver();
    r.answer = (_body, n) => (n < 3 ? 500 : 200);
    const w = await hook(r.url, ['member.created']);
    const userId = await member('EV-SIG');
    await deliverUntil(() => r.delivered().length === 1);
    expect(r.got.map((g) => g.status)).toEqual([500, 500, 500, 200]);
    const ids = new Set(r.got.map((g) => g.headers['laurel-event-id']));
    expect(ids.size).toBe(1);
    expect(new Set(r.got.map((g) => g.body)).size).toBe(1);
    for (const g of r.got) {
      expect(g.headers['content-type']).toBe('application/json');
      expect(g.headers['laurel-event-type']).toBe('member.created');
      expect(verifySignature(w.secret, g.body, String(g.headers['laurel-signature']), new Date())).toBe(true);
      expect(verifySignature('whsec_wrong', g.body, String(g.headers['laurel-signature']), new Date())).toBe(
        false,
      );
    }
    const event = JSON.parse(r.got[3]!.body);
    expect(event).toMatchObject({
      id: r.got[0]!.headers['laurel-event-id'],
      type: 'member.created',
      retailer_id: t.tenant.retailer_id,
      data: { user_id: userId, external_id: 'EV-SIG' },
    });
    const deliveries = await t.request('GET', `/admin/v1/webhooks/${w.id}/deliveries?status=delivered`, {
      auth: 'admin',
    });
    expect(deliveries.body.deliveries).toEqual([
      expect.objectContaining({
        event_id: event.id,
        attempts: 4,
        last_status_code: 200,
        status: 'delivered',
      }),
    ]);
  });

  it("a receiver down for a while gets everything once back, in each member's order", async () => {
    const r = await receiver();
    const url = r.url;
    await r.down();
    await hook(url);
    const a = await member('EV-ORD-A');
    const b = await member('EV-ORD-B');
    for (let i = 0; i < 3; i++) {
      expect(
        (await send(`oa${i}`, `T-ORD-A-${i}`, 'EV-ORD-A', [item('1', 10 + i)], '2026-10-01T10:00:00')).status,
      ).toBe(200);
      expect(
        (await send(`ob${i}`, `T-ORD-B-${i}`, 'EV-ORD-B', [item('1', 20 + i)], '2026-10-01T10:00:00')).status,
      ).toBe(200);
    }
    await relay.drain();
    const pending = await t.db.query<{ n: number; tried: number }>(
      "SELECT count(*)::int AS n, count(*) FILTER (WHERE attempts > 0)::int AS tried FROM event_deliveries WHERE status = 'pending'",
    );
    expect(pending[0]!.tried).toBeGreaterThan(0);
    await r.up();
    const want = [...(await events(a)), ...(await events(b))];
    await deliverUntil(() => new Set(r.delivered().map((e) => e.id)).size >= want.length);
    for (const userId of [a, b]) {
      const order = (await events(userId)).map((e) => e.id);
      const got = r
        .delivered()
        .filter((e) => e.data.user_id === userId)
        .map((e) => e.id);
      expect([...new Set(got)]).toEqual(order);
    }
  });

  it('replay sends again every event since an instant; deliveries lists failures', async () => {
    const r = await receiver();
    const w = await hook(r.url, ['member.created']);
    await t.setNow('2026-10-02T00:00:00Z');
    const since = (await t.clock.now()).toISOString();
    await member('EV-RP-1');
    await deliverUntil(() => r.delivered().length === 1);
    const replay = await t.request('POST', `/admin/v1/webhooks/${w.id}/replay`, {
      auth: 'admin',
      body: { since },
    });
    expect(replay.status).toBe(200);
    expect(replay.body.queued).toBe(1);
    await deliverUntil(() => r.delivered().length === 2);
    expect(r.delivered()[1]!.id).toBe(r.delivered()[0]!.id);
    const bad = await t.request('POST', `/admin/v1/webhooks/${w.id}/replay`, {
      auth: 'admin',
      body: { since: 'yesterday' },
    });
    expect(bad.status).toBe(400);

    // A receiver that never answers 2xx: the delivery fails once the retry window is over.
    const dead = await receiver();
    dead.answer = () => 503;
    const d = await hook(dead.url, ['member.created']);
    const short = new EventRelay(t.db, {
      serverKey: TEST_GIFT_CARD_KEY,
      log: silent,
      retry: { firstRetryMs: 5, maxRetryMs: 10, windowMs: 100 },
    });
    await member('EV-RP-2');
    await eventually(async () => {
      await short.drain();
      const f = await t.request('GET', `/admin/v1/webhooks/${d.id}/deliveries?status=failed`, {
        auth: 'admin',
      });
      return f.body.deliveries.length === 1;
    });
    const failed = await t.request('GET', `/admin/v1/webhooks/${d.id}/deliveries?status=failed`, {
      auth: 'admin',
    });
    expect(failed.body.deliveries[0]).toMatchObject({
      last_status_code: 503,
      last_error: 'HTTP 503',
      status: 'failed',
    });
    expect(failed.body.deliveries[0].attempts).toBeGreaterThanOrEqual(1);
    expect(failed.body.deliveries[0].next_attempt_at).toBeUndefined();
  });

  it('a tier crossing at a maturation instant carries that instant, swept at once, on write, or a month later', async () => {
    const users = [await member('EV-TIER-A'), await member('EV-TIER-B')];
    for (const [i, x] of ['A', 'B'].entries()) {
      expect(
        (await send(`t${x}`, `T-TIER-${x}`, `EV-TIER-${x}`, [item('1', 2000)], '2026-10-01T10:00:00')).status,
      ).toBe(200);
      expect(users[i]).toBeDefined();
    }
    const maturity = '2026-10-31T14:00:00.000Z';
    // B: settled by its next write (a deposit) one second after maturity.
    await t.setNow('2026-10-31T14:00:01Z');
    const accounts = await t.request('POST', '/incentives/api/1.0/user_points/all_balances', {
      body: { retailer_id: t.tenant.retailer_id, user_id: users[1] },
    });
    const spendable = accounts.body.payload.details.find(
      (d: { account_name: string }) => d.account_name === 'ACME Spendable Account',
    );
    await t.request('POST', '/incentives/api/1.0/user_points/deposit', {
      body: {
        retailer_id: t.tenant.retailer_id,
        user_id: users[1],
        deposit_details: [{ point_account_id: spendable.point_account_id, amount: 1, idempotency_id: 'x' }],
      },
    });
    // A: nobody touches it until the sweeper runs a month later.
    await t.setNow('2026-11-30T14:00:00Z');
    await sweepOnce(t.db, t.clock);
    for (const userId of users) {
      const rows = (await events(userId)).filter(
        (e) => e.type === 'tier.changed' && e.data.cause === 'qualified',
      );
      expect(rows.map((e) => [new Date(e.effective_at).toISOString(), e.data.from, e.data.to])).toEqual([
        [maturity, 'BASE', 'SILVER'],
      ]);
      const rolled = (await events(userId)).filter((e) => e.type === 'points.rolled_over');
      expect(rolled).toHaveLength(1);
      expect(new Date(rolled[0]!.effective_at).toISOString()).toBe(maturity);
      expect(rolled[0]!.data).toMatchObject({ points: { spendable: 2000, tier_qualifying: 2000 } });
    }
    // Sweeping again finds nothing new.
    await sweepOnce(t.db, t.clock);
    expect((await events(users[0]!)).filter((e) => e.type === 'tier.changed')).toHaveLength(2);
  });
});
