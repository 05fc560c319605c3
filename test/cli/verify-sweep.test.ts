import { readdirSync } from 'node:fs';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPGlite } from '../../src/db/database.js';
import {
  basic,
  call,
  cleanUp,
  ensureBuilt,
  laurel,
  migratedDataDir,
  oneLine,
  type Result,
  schemaPerTest,
  serve,
  type Server,
  tempDir,
} from '../support/cli.js';

/** `laurel verify`, `laurel sweep` and the server's sweeper, as a user runs them. */

const START = '2026-11-02T16:00:00Z';
const VERIFIED =
  /^ledger verified: (\d+) journals, (\d+) postings, (\d+) balances, (\d+) lots in \d+\.\d s \(\d+ journals\/s\)\n$/;

beforeAll(ensureBuilt, 120_000);
afterEach(cleanUp);
afterAll(cleanUp);

interface Shop {
  server: Server;
  key: string;
  secret: string;
  admin: string;
  userId: string;
}

/** `serve --demo --clock simulated` at START, with the seed's member looked up. */
async function openShop(args: string[], env: Record<string, string> = {}): Promise<Shop> {
  const server = await serve(
    ['--demo', '--clock', 'simulated', '--now', START, ...args],
    env,
    /expand_incentives=true'\n/,
  );
  const key = server.field('api_key');
  const secret = server.field('secret');
  const found = await call(
    server.base,
    'GET',
    `/priv/v1/apps/${key}/users/search?external_id=eutest17`,
    basic(key, secret),
  );
  expect(found.status).toBe(200);
  return { server, key, secret, admin: `Bearer ${server.field('admin_token')}`, userId: found.body.user.id };
}

async function buy(shop: Shop, transactionId: string, openTime: string, price: number): Promise<void> {
  const res = await call(
    shop.server.base,
    'POST',
    '/api/2.0/send_transaction',
    basic(shop.key, shop.secret),
    {
      store_id: 'BOSTON-01',
      request_id: `r-${transactionId}`,
      request_payload: {
        transaction_id: transactionId,
        open_time: openTime,
        items: [{ line_id: '1', item_id: 'ITEM', quantity: 1, unit_price: price }],
        payments: [
          { payment_id: 'P1', amount: price, type: 'CASH', user_id: 'eutest17', user_id_type: 'external_id' },
        ],
      },
    },
  );
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.payload.awarded).toBe(true);
}

async function setClock(shop: Shop, now: string): Promise<void> {
  expect((await call(shop.server.base, 'POST', '/admin/v1/clock', shop.admin, { now })).status).toBe(200);
}

/** Available balance per account name, as the API shows it now. */
async function balances(shop: Shop): Promise<Record<string, number>> {
  const res = await call(
    shop.server.base,
    'GET',
    `/priv/v1/apps/${shop.key}/users/${shop.userId}?expand_incentives=true`,
    basic(shop.key, shop.secret),
  );
  expect(res.status).toBe(200);
  const details = res.body.user.tier_details.point_account_balances.details as {
    account_name: string;
    available_balance: number;
  }[];
  return Object.fromEntries(details.map((d) => [d.account_name, d.available_balance]));
}

/** Two purchases 18 days apart, the clock moved past both maturities, the server stopped. */
async function twoPurchases(shop: Shop): Promise<void> {
  await buy(shop, 'T-1', '2026-11-02T10:00:00Z', 120); // matures 2026-12-02T10:00Z
  await setClock(shop, '2026-11-20T12:00:00Z');
  await buy(shop, 'T-2', '2026-11-20T10:00:00Z', 80); // matures 2026-12-20T10:00Z
  await setClock(shop, '2026-12-25T00:00:00Z');
  // As of now both lots have matured, though nothing has written their rollover.
  expect(await balances(shop)).toMatchObject({
    'ACME Spendable Account': 200,
    'ACME Spendable Escrow Account': 0,
  });
  const stopped = await shop.server.stop();
  expect(stopped.code).toBe(0);
}

function verified(r: Result): number[] {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const m = VERIFIED.exec(r.stdout);
  expect(m, r.stdout).not.toBeNull();
  return m!.slice(1).map(Number);
}

function swept(r: Result): string {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

describe('laurel verify and laurel sweep on the embedded database', () => {
  it('sweep rolls the due lots up to --now or the stored simulated clock; verify passes, then names a corrupted balance', async () => {
    const dir = migratedDataDir();
    const shop = await openShop(['--data-dir', dir, '--sweep-interval', '0', '--log-level', 'silent']);
    await twoPurchases(shop);

    expect(verified(await laurel(['verify', '--data-dir', dir]))).toEqual([2, 6, 2, 4]);

    // An earlier --now rolls only what had matured by then.
    expect(swept(await laurel(['sweep', '--data-dir', dir, '--now', '2026-12-10T00:00:00Z']))).toBe(
      'swept 2 lots for 1 members as of 2026-12-10T00:00:00.000Z (--now)\n',
    );
    // Sweeping ahead of the database's clock would settle points before they mature.
    const ahead = await laurel(['sweep', '--data-dir', dir, '--now', '2027-01-01T00:00:00Z']);
    expect(ahead.code).toBe(1);
    expect(ahead.stdout).toBe('');
    expect(oneLine(ahead)).toContain("later than the database's simulated clock (2026-12-25T00:00:00.000Z)");
    // By default: the simulated clock stored in the database.
    expect(swept(await laurel(['sweep', '--data-dir', dir, '--batch-size', '1']))).toBe(
      'swept 2 lots for 1 members as of 2026-12-25T00:00:00.000Z (simulated clock)\n',
    );
    expect(swept(await laurel(['sweep', '--data-dir', dir]))).toBe(
      'swept 0 lots for 0 members as of 2026-12-25T00:00:00.000Z (simulated clock)\n',
    );
    expect(verified(await laurel(['verify', '--data-dir', dir]))).toEqual([4, 14, 4, 4]);

    const db = await openPGlite(dir);
    try {
      const rolled = await db.query<{ matures_at: Date; rolled_over_at: Date; effective_at: Date }>(
        `SELECT l.matures_at, l.rolled_over_at, j.effective_at FROM lots l
         JOIN journals j ON j.purchase_id = l.purchase_id AND j.kind = 'rollover' ORDER BY l.matures_at, l.account`,
      );
      expect(
        rolled.map((r) => [r.matures_at, r.rolled_over_at, r.effective_at].map((d) => d.toISOString())),
      ).toEqual([
        ['2026-12-02T10:00:00.000Z', '2026-12-10T00:00:00.000Z', '2026-12-02T10:00:00.000Z'],
        ['2026-12-02T10:00:00.000Z', '2026-12-10T00:00:00.000Z', '2026-12-02T10:00:00.000Z'],
        ['2026-12-20T10:00:00.000Z', '2026-12-25T00:00:00.000Z', '2026-12-20T10:00:00.000Z'],
        ['2026-12-20T10:00:00.000Z', '2026-12-25T00:00:00.000Z', '2026-12-20T10:00:00.000Z'],
      ]);
      await db.query('UPDATE balances SET balance = balance + 1');
    } finally {
      await db.close();
    }

    const broken = await laurel(['verify', '--data-dir', dir]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe('');
    const lines = broken.stderr.trimEnd().split('\n');
    expect(lines).toContain(
      `laurel verify: balance of spendable for user ${shop.userId} is 201 (lifetime 200) ` +
        'but its postings sum to 200 (credits 200)',
    );
    expect(lines).toContain(
      `laurel verify: spendable_escrow of user ${shop.userId} holds 1 but its unmatured lots hold 0`,
    );
    expect(lines.at(-1)).toBe(`laurel: ledger verification failed: ${lines.length - 1} problem(s)`);
    // A server and seven commands, each opening and migrating the embedded database: more than the
    // default limit, as in test/cli/cli.test.ts.
  }, 180_000);

  it("the server's sweeper (LAUREL_SWEEP_INTERVAL) rolls matured lots by itself and logs what it did", async () => {
    const dir = migratedDataDir();
    const shop = await openShop(['--data-dir', dir], { LAUREL_SWEEP_INTERVAL: '1' });
    await buy(shop, 'T-1', '2026-11-02T10:00:00Z', 120);
    await setClock(shop, '2026-12-03T00:00:00Z');
    const deadline = Date.now() + 10_000;
    while (!shop.server.child.out.stdout.includes('"msg":"swept 2 lots for 1 members"')) {
      expect(Date.now(), `no sweep logged:\n${shop.server.child.out.stdout}`).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 50));
    }
    const line = shop.server.child.out.stdout.split('\n').find((l) => l.includes('"msg":"swept'))!;
    expect(JSON.parse(line)).toMatchObject({
      level: 30,
      job: 'sweeper',
      members: 1,
      lots: 2,
      now: '2026-12-03T00:00:00.000Z',
    });
    // Only sweeps that did something are logged.
    expect(shop.server.child.out.stdout.match(/"job":"sweeper"/g)).toHaveLength(1);
    const stopped = await shop.server.stop();
    expect(stopped).toMatchObject({ code: 0, stderr: '' });

    expect(swept(await laurel(['sweep', '--data-dir', dir]))).toBe(
      'swept 0 lots for 0 members as of 2026-12-03T00:00:00.000Z (simulated clock)\n',
    );
    expect(verified(await laurel(['verify', '--data-dir', dir]))).toEqual([2, 7, 4, 2]);
  });

  it('bad sweep options fail with one line and touch nothing', async () => {
    const dir = tempDir();
    const cases: Array<{ args: string[]; mentions: string; env?: Record<string, string> }> = [
      { args: ['sweep', '--batch-size', '0'], mentions: '--batch-size' },
      { args: ['sweep', '--batch-size', 'all'], mentions: '--batch-size' },
      { args: ['sweep', '--now', 'yesterday'], mentions: '--now' },
      { args: ['serve', '--sweep-interval', '-1'], mentions: '--sweep-interval' },
      { args: ['serve', '--sweep-interval', '90000'], mentions: '--sweep-interval' },
      { args: ['serve'], env: { LAUREL_SWEEP_INTERVAL: 'often' }, mentions: "'LAUREL_SWEEP_INTERVAL'" },
    ];
    const results = await Promise.all(cases.map((c) => laurel([...c.args, '--data-dir', dir], c.env)));
    results.forEach((r, i) => {
      const c = cases[i]!;
      const what = `${JSON.stringify(c.env ?? {})} ${c.args.join(' ')}`;
      expect(r.code, what).toBe(1);
      expect(r.stdout, what).toBe('');
      expect(oneLine(r), what).toContain(c.mentions);
    });
    expect(readdirSync(dir), 'no database was created').toEqual([]);
  });
});

describe.skipIf(!process.env.DATABASE_URL)(
  'laurel verify and laurel sweep on PostgreSQL (DATABASE_URL)',
  () => {
    const env = schemaPerTest(process.env.DATABASE_URL!);

    it('sweep rolls the due lots at the stored simulated clock; verify passes, then names a corrupted balance', async () => {
      // A database that never ran the simulated clock is swept at the real time. (One with no
      // Laurel tables at all is refused, as every reading command refuses it: issue #18.)
      expect(oneLine(await laurel(['sweep'], env))).toContain('holds no Laurel database');
      expect((await laurel(['migrate'], env)).code).toBe(0);
      const before = Date.now();
      const real = /^swept 0 lots for 0 members as of (\S+) \(real clock\)\n$/.exec(
        swept(await laurel(['sweep'], env)),
      );
      expect(real).not.toBeNull();
      expect(Date.parse(real![1]!)).toBeGreaterThanOrEqual(before - 1000);

      const shop = await openShop(['--sweep-interval', '0', '--log-level', 'silent'], env);
      await twoPurchases(shop);
      expect(verified(await laurel(['verify'], env))).toEqual([2, 6, 2, 4]);
      expect(swept(await laurel(['sweep'], env))).toBe(
        'swept 4 lots for 1 members as of 2026-12-25T00:00:00.000Z (simulated clock)\n',
      );
      expect(swept(await laurel(['sweep'], env))).toMatch(/^swept 0 lots for 0 members /);
      expect(verified(await laurel(['verify'], env))).toEqual([4, 14, 4, 4]);

      const client = new pg.Client({ connectionString: env.DATABASE_URL });
      await client.connect();
      try {
        await client.query("UPDATE balances SET balance = balance + 1 WHERE account = 'tier'");
      } finally {
        await client.end();
      }
      const broken = await laurel(['verify'], env);
      expect(broken.code).toBe(1);
      expect(broken.stdout).toBe('');
      expect(broken.stderr).toBe(
        `laurel verify: balance of tier for user ${shop.userId} is 201 (lifetime 200) but its postings sum to 200 (credits 200)\n` +
          'laurel: ledger verification failed: 1 problem(s)\n',
      );
    });
  },
);
