import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, ensureBuilt, exited, type ApiResponse } from '../support/cli.js';
import { bodyOf, byMember, EventShop, firstSeen, verifyAsDocumented } from '../support/event-shop.js';
import { eventually, Receiver } from '../support/receiver.js';

/**
 * Webhooks of `laurel serve` with a slow or failing receiver (issue #17, docs/events.md
 * "Delivery"), on server PostgreSQL, with a real HTTP receiver in the test. A SIGKILL between
 * commit and delivery: the changes are made through the HTTP API while the receiver holds some
 * members' requests unanswered and answers 503 to the rest, the server is killed, and a server
 * started again delivers every committed change's event exactly as recorded, signed, at least
 * once, each member's in order; a change that was refused emitted nothing. And a receiver that
 * never answers holds back only its own member's events.
 */

const DATABASE_URL = process.env.DATABASE_URL;
/** Retries within a fraction of a second instead of 5 s (the schedule's first step). */
const FAST_RETRY = { LAUREL_EVENTS_FIRST_RETRY_MS: '100' };
/** A lease just past an attempt's 10 s timeout, instead of 30 s: the takeover after the kill comes sooner. */
const SHORT_LEASE = { ...FAST_RETRY, LAUREL_EVENTS_LEASE_MS: '12000' };

beforeAll(ensureBuilt, 120_000);
afterAll(cleanUp);

/** The member (external id) an event's body is about. */
const memberIn = (body: string): string | undefined =>
  (JSON.parse(body) as { data: { external_id?: string } }).data.external_id;

describe.skipIf(!DATABASE_URL)('Webhooks of laurel serve with a slow or failing receiver', () => {
  const url = DATABASE_URL!;

  it('a server killed between commit and delivery loses nothing: delivered after a restart, as recorded, signed, in member order; a refused change emits nothing', async () => {
    const receiver = await new Receiver().up();
    const shop = await EventShop.open(url, [], SHORT_LEASE);
    try {
      const hook = await shop.webhook(receiver.url);
      // Slow for K0 and K1 (their requests are held, in flight when the server dies), down (503)
      // for everyone else.
      receiver.answer = (body) => (['K0', 'K1'].includes(memberIn(body)!) ? 'hold' : 503);
      const members = ['K0', 'K1', 'K2', 'K3'];
      const ids: string[] = [];
      for (const m of members) ids.push(await shop.member(m));
      const acknowledged = { purchases: [] as string[], deposits: [] as string[], spends: [] as string[] };
      for (const [i, m] of members.entries()) {
        expect((await shop.send(`k${i}`, `T-K${i}`, m, 20 + i)).status).toBe(200);
        acknowledged.purchases.push(`T-K${i}`);
        expect((await shop.deposit(ids[i]!, 30, `k-d${i}`)).status).toBe(200);
        acknowledged.deposits.push(`k-d${i}`);
        expect((await shop.spend(ids[i]!, 10, `k-s${i}`)).status).toBe(200);
        acknowledged.spends.push(`k-s${i}`);
      }
      // Refused, so rolled back: a spend of more than the member holds, a purchase in the future.
      const spend = await shop.spend(ids[2]!, 1000, 'k-refused');
      expect(spend.status).toBe(400);
      expect(spend.body.errors.code).toBe('insufficient_points');
      const future = await shop.call('POST', '/api/2.0/send_transaction', shop.auth, {
        store_id: 'S-1',
        request_id: 'k-future',
        request_payload: {
          transaction_id: 'T-K-FUTURE',
          open_time: '2027-10-01T10:00:00',
          user_id: 'K3',
          user_id_type: 'external_id',
          items: [{ line_id: 1, item_id: 'SKU', quantity: 1, unit_price: 10 }],
        },
      });
      expect(future.status).toBe(400);

      // K0's and K1's first events are in flight; the others have been tried and refused.
      await eventually(
        () => receiver.holding === 2 && receiver.got.filter((g) => g.status === 503).length >= 4,
      );
      // Deposits in flight as the server dies: some commit and are answered, some commit unanswered,
      // some never commit.
      const inFlight = ids.map((id, i) =>
        shop.deposit(id, 1, `k-last${i}`).then(
          (r): ApiResponse | undefined => r,
          () => undefined,
        ),
      );
      await Promise.race(inFlight);
      shop.server.child.kill('SIGKILL');
      await exited(shop.server.child);
      const last = await Promise.all(inFlight);
      last.forEach((r, i) => {
        if (r?.status === 200) acknowledged.deposits.push(`k-last${i}`);
      });
      expect(acknowledged.deposits.length).toBeGreaterThan(members.length);

      // Nothing was delivered before the kill; every committed change has its event.
      const recorded = (await shop.events()).filter((e) => ids.includes(e.user_id));
      expect((await shop.deliveries(false)).filter((d) => d.status !== 'pending')).toEqual([]);
      const data = recorded.map((e) => e.data);
      for (const tx of acknowledged.purchases)
        expect(data.filter((d) => d.transaction_id === tx)).toHaveLength(1);
      for (const id of [...acknowledged.deposits, ...acknowledged.spends])
        expect(data.filter((d) => d.idempotency_id === id)).toHaveLength(1);
      expect(
        data.filter((d) => d.idempotency_id === 'k-refused' || d.transaction_id === 'T-K-FUTURE'),
      ).toEqual([]);

      // The receiver is well again; a server started again delivers everything. K0's and K1's first
      // events wait until the dead server's lease on their attempt runs out (12 s here).
      receiver.answer = () => 200;
      await shop.serveAgain([], SHORT_LEASE);
      const delivered = () => new Set(receiver.delivered().map((e) => e.id));
      await eventually(() => recorded.every((e) => delivered().has(e.id)), 900, 50);

      // Exactly as recorded, every attempt the same bytes, signed as docs/events.md says; nothing
      // the outbox does not hold (the demo member's events may come too).
      const byId = new Map((await shop.events()).map((e) => [e.id, e]));
      for (const g of receiver.got) {
        const e = byId.get(JSON.parse(g.body).id);
        expect(e, g.body).toBeDefined();
        if (!e) continue;
        expect(g.body).toBe(bodyOf(e));
        expect(g.headers['content-type']).toBe('application/json');
        expect(g.headers['laurel-event-id']).toBe(e.id);
        expect(g.headers['laurel-event-type']).toBe(e.type);
        expect(verifyAsDocumented(hook.secret, g.body, String(g.headers['laurel-signature']))).toBe(true);
        expect(verifyAsDocumented('whsec_other', g.body, String(g.headers['laurel-signature']))).toBe(false);
      }
      // At least once: the attempts the dead server had in flight were made again.
      const held = receiver.got.filter((g) => g.status === 0);
      expect(new Set(held.map((g) => memberIn(g.body)))).toEqual(new Set(['K0', 'K1']));
      for (const h of held) expect(delivered().has(JSON.parse(h.body).id)).toBe(true);
      // Each member's events in the order they happened, none delivered before an earlier one.
      const owner = (id: string) => byId.get(id)!.user_id;
      const ours = new Set(recorded.map((e) => e.id));
      const arrived = firstSeen(receiver.delivered().map((e) => e.id)).filter((id) => ours.has(id));
      expect(byMember(arrived, owner, (id) => id)).toEqual(
        byMember(
          recorded.map((e) => e.id),
          owner,
          (id) => id,
        ),
      );
      // The deliveries list says so too.
      const listed = await shop.call(
        'GET',
        `/admin/v1/webhooks/${hook.id}/deliveries?status=pending&limit=100`,
        shop.admin,
      );
      expect(listed.status).toBe(200);
      expect(listed.body.deliveries).toEqual([]);
      await shop.server.stop();
    } finally {
      await cleanUp();
      await receiver.down();
      await shop.close();
    }
  }, 90_000);

  it("bug: a receiver that held a request unanswered held back every other member's delivery until its timeout", async () => {
    const receiver = await new Receiver().up();
    const shop = await EventShop.open(url, [], FAST_RETRY);
    try {
      await shop.webhook(receiver.url);
      receiver.answer = (body) => (memberIn(body) === 'SLOW' ? 'hold' : 200);
      await shop.member('SLOW');
      await eventually(() => receiver.holding === 1);
      const others: string[] = [];
      for (let i = 0; i < 4; i++) others.push(await shop.member(`QUICK-${i}`));
      const theirs = (await shop.events()).filter((e) => others.includes(e.user_id)).map((e) => e.id);
      expect(theirs).toHaveLength(4 * 2);
      // Everyone else's events arrive while SLOW's first is still held (the relay used to wait for
      // every attempt of a round, up to the 10 s timeout, before the next).
      await eventually(() => theirs.every((id) => receiver.delivered().some((e) => e.id === id)));
      expect(receiver.holding).toBe(1);
      expect(receiver.got.filter((g) => g.status === 0)).toEqual([]);
      await receiver.down();
      await shop.server.stop();
    } finally {
      await cleanUp();
      await receiver.down();
      await shop.close();
    }
  }, 60_000);
});
