import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { basic, call, cleanUp, ensureBuilt, laurel, serve, type Server } from '../support/cli.js';
import { createTestSchema, dropTestSchema, urlWithSchema } from '../support/databases.js';
import { prng } from '../support/prng.js';

/**
 * Group commit under a crash and beside another server (issue #15, docs/decisions/0007-group-commit.md),
 * through real `laurel serve` processes on server PostgreSQL: batches of purchases are answered only
 * after their COMMIT, so a SIGKILL in the middle of a batch loses nothing acknowledged and leaves
 * nothing half-written; and two servers batching purchases of the same members never deadlock and
 * never lose a point.
 */

const DATABASE_URL = process.env.DATABASE_URL;
const START = '2026-11-25T12:00:00Z';
const VERIFIED = /^ledger verified: /;
const ONE_PROCESS = ['--sweep-interval', '0', '--workers', '1'];

beforeAll(ensureBuilt, 120_000);
afterAll(cleanUp);

interface Shop {
  env: Record<string, string>;
  auth: string;
  core: string;
  schema: string;
  first: Server;
}

/** A demo retailer on a fresh schema, its server batching with a 2 ms window, and `members` members. */
async function openShop(url: string, members: number): Promise<Shop> {
  const schema = await createTestSchema(url);
  const env = { DATABASE_URL: urlWithSchema(url, schema), LAUREL_GROUP_COMMIT_WINDOW_MS: '2' };
  const first = await serve(
    // One process each: the process SIGKILLed is the one whose batches are in flight.
    ['--demo', '--demo-customers', '1', '--clock', 'simulated', '--now', START, ...ONE_PROCESS],
    env,
    /expand_incentives=true'\n/,
  );
  const auth = basic(first.field('api_key'), first.field('secret'));
  const core = `/priv/v1/apps/${first.field('api_key')}`;
  for (let m = 0; m < members; m++) {
    const r = await call(first.base, 'POST', `${core}/users`, auth, { user: { external_id: `GC-${m}` } });
    expect(r.status).toBe(200);
  }
  return { env, auth, core, schema, first };
}

const purchase = (requestId: string, transactionId: string, member: number, quantity: number) => ({
  store_id: 'S-1',
  request_id: requestId,
  request_payload: {
    transaction_id: transactionId,
    open_time: '2026-11-25T11:00:00Z',
    user_id: `GC-${member}`,
    user_id_type: 'external_id',
    items: [{ line_id: 1, item_id: 'SKU', quantity, unit_price: 10 }],
  },
});

type Sent = { body: ReturnType<typeof purchase>; member: number; points: number };

/** What the ledger holds of each sent transaction: its purchase, stored answer, journal and lots. */
async function stored(client: pg.Client, transactionIds: string[]) {
  const rows = await client.query<{ transaction_id: string; parts: string[]; response: unknown }>(
    `SELECT t AS transaction_id,
       array_remove(ARRAY[
         CASE WHEN EXISTS (SELECT 1 FROM purchases p WHERE p.transaction_id = t) THEN 'purchase' END,
         CASE WHEN EXISTS (SELECT 1 FROM pos_requests r WHERE r.transaction_id = t) THEN 'answer' END,
         CASE WHEN EXISTS (SELECT 1 FROM journals j WHERE j.reference_id = t AND j.kind = 'purchase') THEN 'journal' END,
         CASE WHEN (SELECT count(*) FROM lots l JOIN purchases p ON p.id = l.purchase_id AND p.user_id = l.user_id
                    WHERE p.transaction_id = t) = 2 THEN 'lots' END
       ], NULL) AS parts,
       (SELECT response FROM pos_requests r WHERE r.transaction_id = t) AS response
     FROM unnest($1::text[]) AS t`,
    [transactionIds],
  );
  return new Map(rows.rows.map((r) => [r.transaction_id, r]));
}

describe.skipIf(!DATABASE_URL)('Group commit on server PostgreSQL through laurel serve', () => {
  const url = DATABASE_URL!;

  it('a SIGKILL in the middle of batches loses no acknowledged purchase and leaves no unacknowledged one half-written', async () => {
    const shop = await openShop(url, 24);
    const client = new pg.Client({ connectionString: shop.env.DATABASE_URL });
    await client.connect();
    try {
      const server = shop.first;
      const acknowledged = new Map<string, { sent: Sent; answer: unknown }>();
      const unanswered = new Map<string, Sent>();
      const random = prng(15);
      let next = 0;
      let killed = false;
      // 16 tills, each sending purchases one after another to random members until the server dies.
      const till = async () => {
        while (!killed) {
          const i = next++;
          const quantity = 1 + Math.floor(random() * 5);
          const sent: Sent = {
            body: purchase(`R-${i}`, `T-${i}`, Math.floor(random() * 24), quantity),
            member: 0,
            points: quantity * 10,
          };
          sent.member = Number(sent.body.request_payload.user_id.slice(3));
          unanswered.set(`T-${i}`, sent);
          try {
            const r = await call(server.base, 'POST', '/api/2.0/send_transaction', shop.auth, sent.body);
            if (r.status !== 200) throw new Error(`${r.status} ${JSON.stringify(r.body)}`);
            unanswered.delete(`T-${i}`);
            acknowledged.set(`T-${i}`, { sent, answer: r.body.payload });
            // Enough answered that batches are surely in flight: kill the server mid-stream.
            if (acknowledged.size === 150 && !killed) {
              killed = true;
              server.child.kill('SIGKILL');
            }
          } catch (err) {
            // Only the kill may fail a request: the connection is cut.
            if (!killed) throw err;
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, till));
      expect(acknowledged.size).toBeGreaterThanOrEqual(150);

      // Every acknowledged purchase is there, whole, and holds exactly the answer given.
      const acked = await stored(client, [...acknowledged.keys()]);
      for (const [tx, a] of acknowledged) {
        expect(acked.get(tx)?.parts, tx).toEqual(['purchase', 'answer', 'journal', 'lots']);
        expect(acked.get(tx)?.response, tx).toEqual(a.answer);
      }
      // Every unanswered one is either wholly there (its batch committed as the kill came) or absent.
      const pending = await stored(client, [...unanswered.keys()]);
      for (const tx of unanswered.keys()) {
        expect([[], ['purchase', 'answer', 'journal', 'lots']], tx).toContainEqual(pending.get(tx)?.parts);
      }
      const check = await laurel(['verify'], shop.env);
      expect(check.code, check.stderr).toBe(0);
      expect(check.stdout).toMatch(VERIFIED);

      // Restarted, the tills send again what went unanswered: each is written once, and every
      // member's escrow holds exactly the points of its purchases.
      const again = await serve(['--clock', 'simulated', ...ONE_PROCESS], shop.env);
      for (const sent of unanswered.values()) {
        const r = await call(again.base, 'POST', '/api/2.0/send_transaction', shop.auth, sent.body);
        expect(r.status).toBe(200);
      }
      const all = [...[...acknowledged.values()].map((a) => a.sent), ...unanswered.values()];
      const expected = new Map<string, number>();
      for (const s of all) expected.set(`GC-${s.member}`, (expected.get(`GC-${s.member}`) ?? 0) + s.points);
      const balances = await client.query<{ external_id: string; balance: number }>(
        `SELECT i.external_id, b.balance::int AS balance FROM balances b
           JOIN user_identifiers i ON i.user_id = b.user_id
           WHERE b.account = 'spendable_escrow' AND i.external_id LIKE 'GC-%' ORDER BY i.external_id`,
      );
      expect(new Map(balances.rows.map((b) => [b.external_id, b.balance]))).toEqual(expected);
      const purchases = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM purchases WHERE transaction_id LIKE 'T-%'`,
      );
      expect(purchases.rows[0]!.n).toBe(all.length);
      const after = await laurel(['verify'], shop.env);
      expect(after.code, after.stderr).toBe(0);
      await again.stop();
    } finally {
      await client.end();
      await cleanUp();
      await dropTestSchema(url, shop.schema);
    }
  }, 300_000);

  it('two servers batching purchases of the same members at once award every purchase exactly once', async () => {
    const shop = await openShop(url, 6);
    const second = await serve(['--clock', 'simulated', ...ONE_PROCESS], shop.env);
    const client = new pg.Client({ connectionString: shop.env.DATABASE_URL });
    await client.connect();
    try {
      const servers = [shop.first, second];
      const random = prng(19);
      // 240 purchases of 6 members, every one sent to both servers at once (a till that retried
      // on the other), plus their returns re-sent the same way: batches of the two servers
      // overlap on every member and on every transaction.
      const sends = Array.from({ length: 240 }, (_, i) => purchase(`P-${i}`, `T-${i}`, i % 6, 1 + (i % 3)));
      const order = sends.map((_, i) => i).sort(() => random() - 0.5);
      const answers = await Promise.all(
        order.flatMap((i) =>
          servers.map((s) => call(s.base, 'POST', '/api/2.0/send_transaction', shop.auth, sends[i])),
        ),
      );
      expect(answers.filter((a) => a.status !== 200)).toEqual([]);
      const returns = sends.map((s, i) => ({
        ...s,
        request_id: `RET-${i}`,
        request_payload: { ...s.request_payload, items: [{ ...s.request_payload.items[0]!, quantity: 1 }] },
      }));
      const returned = await Promise.all(
        order.flatMap((i) =>
          servers.map((s) => call(s.base, 'POST', '/api/2.0/send_transaction', shop.auth, returns[i])),
        ),
      );
      expect(returned.filter((a) => a.status !== 200)).toEqual([]);
      // Each member's escrow: 10 points per unit left after its returns (every purchase down to one unit).
      const expected = new Map<string, number>();
      sends.forEach((s) => {
        const m = s.request_payload.user_id;
        expected.set(m, (expected.get(m) ?? 0) + 10);
      });
      const balances = await client.query<{ external_id: string; balance: number }>(
        `SELECT i.external_id, b.balance::int AS balance FROM balances b
           JOIN user_identifiers i ON i.user_id = b.user_id
           WHERE b.account = 'spendable_escrow' AND i.external_id LIKE 'GC-%' ORDER BY i.external_id`,
      );
      expect(new Map(balances.rows.map((b) => [b.external_id, b.balance]))).toEqual(expected);
      const journals = await client.query<{ kind: string; n: number }>(
        `SELECT kind, count(*)::int AS n FROM journals WHERE reference_id LIKE 'T-%' GROUP BY kind ORDER BY kind`,
      );
      // A purchase of one unit returns nothing: its return is a re-send that changes no points.
      expect(journals.rows).toEqual([
        { kind: 'purchase', n: 240 },
        { kind: 'return', n: 160 },
      ]);
      const check = await laurel(['verify'], shop.env);
      expect(check.code, check.stderr).toBe(0);
      expect(check.stdout).toMatch(VERIFIED);
    } finally {
      await client.end();
      await cleanUp();
      await dropTestSchema(url, shop.schema);
    }
  }, 300_000);
});
