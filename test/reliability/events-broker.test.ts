import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, ensureBuilt } from '../support/cli.js';
import {
  byMember,
  bodyOf,
  EventShop,
  expectDocumentedData,
  type RecordedEvent,
} from '../support/event-shop.js';
import {
  MACHINE_NATS,
  OwnNats,
  purgeStream,
  readStream,
  removeAllNats,
  withNats,
  type BrokerMessage,
} from '../support/nats.js';
import { eventually, Receiver } from '../support/receiver.js';

/**
 * The events broker against a real NATS JetStream (issue #17, docs/events.md "The broker"), through
 * `laurel serve --events-broker` on server PostgreSQL: changes made through the HTTP API are read
 * back from the stream `LAUREL_EVENTS` with an ordered consumer filtered to the test's retailer
 * (`laurel.events.<retailer_id>.>`). The stream's name is fixed and shared by everything that
 * publishes to a broker, so the test on the machine's NATS reads and purges only its own
 * retailer's subjects and never deletes the stream; the tests that stop the broker, or delete the
 * stream, run a nats-server of their own.
 */

const DATABASE_URL = process.env.DATABASE_URL;
const STREAM = 'LAUREL_EVENTS';
const MATURITY = '2026-10-31T14:00:00.000Z';
/** Retries within a fraction of a second instead of 5 s (the schedule's first step). */
const FAST_RETRY = { LAUREL_EVENTS_FIRST_RETRY_MS: '100' };

beforeAll(ensureBuilt, 120_000);
afterAll(async () => {
  await cleanUp();
  await removeAllNats();
});

const subjectsOf = (shop: EventShop) => `laurel.events.${shop.retailerId}.>`;

/** Waits until every recorded event of the shop is acknowledged by the broker; answers the stream's messages. */
async function published(shop: EventShop, url: string): Promise<BrokerMessage[]> {
  await eventually(
    async () => {
      const pending = (await shop.deliveries(true)).filter((d) => d.status !== 'delivered');
      return pending.length === 0 && (await shop.deliveries(true)).length === (await shop.events()).length;
    },
    300,
    100,
  );
  return readStream(url, STREAM, subjectsOf(shop));
}

/**
 * The stream holds each recorded event once, as recorded: subject, message id, the exact body, and
 * each member's events in the order they happened.
 */
function expectPublishedAsRecorded(
  shop: EventShop,
  messages: BrokerMessage[],
  recorded: RecordedEvent[],
): void {
  expect(messages.map((m) => m.msgId).sort()).toEqual(recorded.map((e) => e.id).sort());
  const byId = new Map(recorded.map((e) => [e.id, e]));
  for (const m of messages) {
    const e = byId.get(m.msgId!)!;
    expect(m.subject).toBe(`laurel.events.${shop.retailerId}.${e.type}`);
    expect(m.body).toBe(bodyOf(e));
  }
  const owner = (id: string) => byId.get(id)!.user_id;
  const streamOrder = byMember(
    [...messages].sort((a, b) => a.seq - b.seq).map((m) => m.msgId!),
    owner,
    (id) => id,
  );
  expect(streamOrder).toEqual(
    byMember(
      recorded.map((e) => e.id),
      owner,
      (id) => id,
    ),
  );
}

describe.skipIf(!DATABASE_URL)('Events broker: NATS JetStream through laurel serve --events-broker', () => {
  const url = DATABASE_URL!;

  it("publishes every change made through the API to the machine's JetStream: subjects, ids, bodies, member order", async () => {
    const shop = await EventShop.open(url, ['--events-broker', MACHINE_NATS]);
    try {
      const a = await shop.member('BRK-A');
      const b = await shop.member('BRK-B');
      const c = await shop.member('BRK-C');
      // A buys enough for SILVER; it is reached when the purchase's escrow matures (DESIGN §5).
      expect((await shop.send('ra1', 'T-BRK-A1', 'BRK-A', 2000)).status).toBe(200);
      // B buys twice and returns part of the first: a re-send with a cheaper basket.
      expect((await shop.send('rb1', 'T-BRK-B1', 'BRK-B', 25)).status).toBe(200);
      expect((await shop.send('rb2', 'T-BRK-B2', 'BRK-B', 15)).status).toBe(200);
      expect((await shop.send('rb3', 'T-BRK-B1', 'BRK-B', 10)).status).toBe(200);
      // B has nothing spendable yet: the spend is refused and rolled back, so it emits nothing.
      const refused = await shop.spend(b, 5, 'brk-b-refused');
      expect(refused.status).toBe(400);
      expect(refused.body.errors.code).toBe('insufficient_points');
      expect((await shop.deposit(c, 50, 'brk-c-d1')).status).toBe(200);
      expect((await shop.spend(c, 20, 'brk-c-s1')).status).toBe(200);
      // A month on, A's next write (a deposit) settles the matured purchase first: the rollover
      // and the crossing, both at the maturation instant, then the deposit.
      await shop.setNow('2026-10-31T14:00:01Z');
      expect((await shop.deposit(a, 5, 'brk-a-d1')).status).toBe(200);

      const messages = await published(shop, MACHINE_NATS);
      const recorded = await shop.events();
      expectPublishedAsRecorded(shop, messages, recorded);

      const types = (userId: string) => recorded.filter((e) => e.user_id === userId).map((e) => e.type);
      expect(types(a)).toEqual([
        'member.created',
        'tier.changed',
        'purchase.posted',
        'points.rolled_over',
        'tier.changed',
        'points.deposited',
      ]);
      expect(types(b)).toEqual([
        'member.created',
        'tier.changed',
        'purchase.posted',
        'purchase.posted',
        'purchase.adjusted',
      ]);
      expect(types(c)).toEqual(['member.created', 'tier.changed', 'points.deposited', 'points.spent']);
      expect(recorded.filter((e) => e.data.idempotency_id === 'brk-b-refused')).toEqual([]);

      // The bodies say what docs/events.md promises.
      const bodies = messages.map((m) => JSON.parse(m.body) as Record<string, unknown>);
      for (const body of bodies) {
        expect(Object.keys(body)).toEqual([
          'id',
          'type',
          'created_at',
          'effective_at',
          'retailer_id',
          'data',
        ]);
        expect(body.retailer_id).toBe(shop.retailerId);
        expectDocumentedData(body as { type: string; data: Record<string, unknown> });
      }
      const ofA = bodies.filter((x) => (x.data as { user_id: string }).user_id === a);
      expect(ofA.find((x) => x.type === 'purchase.posted')).toMatchObject({
        effective_at: '2026-10-01T14:00:00.000Z',
        data: {
          external_id: 'BRK-A',
          transaction_id: 'T-BRK-A1',
          points: { spendable: 2000, tier_qualifying: 2000 },
        },
      });
      expect(ofA.find((x) => x.type === 'points.rolled_over')).toMatchObject({
        effective_at: MATURITY,
        data: { matured_at: MATURITY, points: { spendable: 2000, tier_qualifying: 2000 } },
      });
      expect(ofA.filter((x) => x.type === 'tier.changed')).toMatchObject([
        { effective_at: '2026-10-01T16:00:00.000Z', data: { from: null, to: 'BASE', cause: 'opted_in' } },
        {
          effective_at: MATURITY,
          created_at: '2026-10-31T14:00:01.000Z',
          data: { from: 'BASE', to: 'SILVER', cause: 'qualified' },
        },
      ]);
      const ofC = bodies.filter((x) => (x.data as { user_id: string }).user_id === c);
      expect(ofC.find((x) => x.type === 'points.spent')).toMatchObject({
        data: { amount: 20, idempotency_id: 'brk-c-s1', account_name: 'ACME Spendable Account' },
      });
      await shop.server.stop();
    } finally {
      await cleanUp();
      await purgeStream(MACHINE_NATS, STREAM, subjectsOf(shop)).catch(() => undefined);
      await shop.close();
    }
  }, 60_000);

  it('while the broker is down, publishes are retried and arrive once it is back, in order, once each', async () => {
    const nats = await new OwnNats().start();
    const shop = await EventShop.open(url, ['--events-broker', nats.url], FAST_RETRY);
    try {
      const members = ['BRK-D0', 'BRK-D1', 'BRK-D2', 'BRK-D3'];
      const ids = [];
      for (const m of members) ids.push(await shop.member(m));
      expect((await shop.send('d0', 'T-D0', 'BRK-D0', 10)).status).toBe(200);
      await published(shop, nats.url);

      await nats.stop();
      // Each member's later changes, made while the broker is down.
      for (const [i, m] of members.entries()) {
        expect((await shop.send(`d${i}-1`, `T-D${i}-1`, m, 11 + i)).status).toBe(200);
        expect((await shop.deposit(ids[i]!, 5 + i, `brk-d${i}`)).status).toBe(200);
        expect((await shop.send(`d${i}-2`, `T-D${i}-1`, m, 5)).status).toBe(200);
      }
      const recorded = await shop.events();
      // The broker's attempts fail and are retried on the schedule, none given up. The relay takes
      // every event in (a delivery each) while the first ones are retried: waited for, since on a
      // loaded machine the last may be taken in after the first has been tried three times.
      await eventually(async () => {
        const d = await shop.deliveries(true);
        return (
          d.some((x) => x.attempts >= 3) &&
          d.filter((x) => x.status === 'pending').length >= members.length * 3
        );
      });
      const meanwhile = await shop.deliveries(true);
      expect(meanwhile.filter((d) => d.status === 'failed')).toEqual([]);
      expect(meanwhile.filter((d) => d.status === 'pending').length).toBe(members.length * 3);
      expect(meanwhile.find((d) => d.attempts >= 3)?.last_error).toMatch(/^broker unreachable/);

      // Back with its storage (same directory), it gets every event once, each member's in order.
      await nats.start();
      const messages = await published(shop, nats.url);
      expectPublishedAsRecorded(shop, messages, recorded);
      await shop.server.stop();
    } finally {
      await cleanUp();
      await nats.remove();
      await shop.close();
    }
  }, 60_000);

  it('bug: a broker that was down held back every webhook delivery (each publish waited out its 5 s timeout)', async () => {
    const nats = await new OwnNats().start();
    const receiver = await new Receiver().up();
    const shop = await EventShop.open(url, ['--events-broker', nats.url], FAST_RETRY);
    try {
      await shop.webhook(receiver.url);
      await nats.stop();
      // Eight members, each the head of its own queue to the broker: the relay used to try them
      // one after another, 5 s each, before its next round of webhook deliveries.
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        ids.push(await shop.member(`BRK-W${i}`));
        expect((await shop.deposit(ids.at(-1)!, 5, `brk-w${i}`)).status).toBe(200);
      }
      const theirs = (await shop.events()).filter((e) => ids.includes(e.user_id)).map((e) => e.id);
      expect(theirs).toHaveLength(8 * 3);
      // The webhook hears all of it while the broker is still down, sooner than one publish timeout.
      const heard = () => new Set(receiver.delivered().map((e) => e.id));
      await eventually(() => theirs.every((id) => heard().has(id)), 100, 50);
      const toBroker = (await shop.deliveries(true)).filter((d) => theirs.includes(d.event_id));
      expect(toBroker.filter((d) => d.status === 'delivered')).toEqual([]);
      await nats.start();
      await published(shop, nats.url);
      await shop.server.stop();
    } finally {
      await cleanUp();
      await receiver.down();
      await nats.remove();
      await shop.close();
    }
  }, 60_000);

  it('bug: a stream deleted while the server ran was never created again (publishes failed until a restart)', async () => {
    const nats = await new OwnNats().start();
    const shop = await EventShop.open(url, ['--events-broker', nats.url], FAST_RETRY);
    try {
      const a = await shop.member('BRK-S');
      await withNats(nats.url, async (nc) => {
        const jsm = await nc.jetstreamManager();
        // The server makes its stream as it starts, asynchronously: it must be there to be removed
        // (CI once deleted before it existed: "stream not found").
        await eventually(() =>
          jsm.streams.info(STREAM).then(
            () => true,
            () => false,
          ),
        );
      });
      await published(shop, nats.url);
      // An operator removes the stream (or the broker came back without its storage).
      await withNats(nats.url, async (nc) => {
        const jsm = await nc.jetstreamManager();
        expect(await jsm.streams.delete(STREAM)).toBe(true);
        // Gone once nothing takes its subjects any more (the server tears it down after answering).
        const js = nc.jetstream({ timeout: 1000 });
        await eventually(() =>
          js.publish(`laurel.events.${shop.retailerId}.probe`).then(
            () => false,
            (err: { code?: string }) => err.code === '503',
          ),
        );
      });
      const before = new Set((await shop.events()).map((e) => e.id));
      expect((await shop.deposit(a, 7, 'brk-s-d1')).status).toBe(200);
      expect((await shop.send('s1', 'T-S1', 'BRK-S', 12)).status).toBe(200);
      const messages = await published(shop, nats.url);
      const after = (await shop.events()).filter((e) => !before.has(e.id));
      expect(after.map((e) => e.type)).toEqual(['points.deposited', 'purchase.posted']);
      expectPublishedAsRecorded(shop, messages, after);
      await shop.server.stop();
    } finally {
      await cleanUp();
      await nats.remove();
      await shop.close();
    }
  }, 60_000);
});
