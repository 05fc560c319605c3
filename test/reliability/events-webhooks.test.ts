import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp, ensureBuilt } from '../support/cli.js';
import { EventShop } from '../support/event-shop.js';
import { eventually, Receiver } from '../support/receiver.js';

/**
 * Webhooks of `laurel serve` with a slow receiver (issue #17, docs/events.md "Delivery"), on
 * server PostgreSQL, with a real HTTP receiver in the test: a receiver that never answers holds
 * back only its own member's events.
 */

const DATABASE_URL = process.env.DATABASE_URL;
/** Retries within a fraction of a second instead of 5 s (the schedule's first step). */
const FAST_RETRY = { LAUREL_EVENTS_FIRST_RETRY_MS: '100' };

beforeAll(ensureBuilt, 120_000);
afterAll(cleanUp);

/** The member (external id) an event's body is about. */
const memberIn = (body: string): string | undefined =>
  (JSON.parse(body) as { data: { external_id?: string } }).data.external_id;

describe.skipIf(!DATABASE_URL)('Webhooks of laurel serve with a slow receiver', () => {
  const url = DATABASE_URL!;

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
