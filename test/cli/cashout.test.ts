import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  basic,
  call,
  cleanUp,
  ensureBuilt,
  laurel,
  migratedDataDir,
  oneLine,
  serve,
  type Server,
  tempDir,
} from '../support/cli.js';

/** `laurel cashout report` and the gift-card key file, as an operator meets them (issue #5). */

beforeAll(ensureBuilt, 120_000);
afterEach(cleanUp);
afterAll(cleanUp);

/** The quick-start server on `dir/data` with no gift-card key configured: it keeps one in `dir`. */
async function openShop(dir: string, demo: boolean): Promise<Server> {
  return serve(
    [
      ...(demo ? ['--demo', '--now', '2026-12-20T15:00:00Z'] : []),
      '--clock',
      'simulated',
      '--data-dir',
      join(dir, 'data'),
      '--sweep-interval',
      '0',
    ],
    { LAUREL_GIFT_CARD_KEY: '' },
    demo ? /expand_incentives=true'\n/ : /openapi\.json\n/,
  );
}

const json = (r: { stdout: string }) =>
  r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('laurel cashout report', () => {
  it('reports a period once the cash-out is written; the key file keeps codes across restarts', async () => {
    const dir = migratedDataDir();
    const server = await openShop(dir, true);
    const shop = { server, key: server.field('api_key'), admin: `Bearer ${server.field('admin_token')}` };
    const auth = basic(shop.key, server.field('secret'));
    const core = `/priv/v1/apps/${shop.key}`;

    // A key file beside the data directory, readable by its owner only, and never in the log.
    const keyFile = join(dir, 'gift-card.key');
    expect(existsSync(keyFile)).toBe(true);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const key = readFileSync(keyFile, 'utf8').trim();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(shop.server.child.out.stdout).toContain('created a new gift-card key');
    expect(shop.server.child.out.stdout + shop.server.child.out.stderr).not.toContain(key);

    const found = await call(shop.server.base, 'GET', `${core}/users/search?external_id=eutest17`, auth);
    const userId = found.body.user.id as string;
    const balances = await call(
      shop.server.base,
      'POST',
      '/incentives/api/1.0/user_points/all_balances',
      auth,
      {
        retailer_id: shop.server.field('retailer_id'),
        user_id: userId,
      },
    );
    const spendable = balances.body.payload.details.find(
      (d: { grouping_label: string }) => d.grouping_label === 'Spend',
    ).point_account_id;
    const deposit = await call(shop.server.base, 'POST', '/incentives/api/1.0/user_points/deposit', auth, {
      retailer_id: shop.server.field('retailer_id'),
      user_id: userId,
      deposit_details: [{ point_account_id: spendable, amount: 2370, idempotency_id: 'cli-cash' }],
    });
    expect(deposit.status).toBe(200);
    const clock = await call(shop.server.base, 'POST', '/admin/v1/clock', shop.admin, {
      now: '2027-01-02T12:00:00Z',
    });
    expect(clock.status).toBe(200);
    const before = await call(shop.server.base, 'GET', `${core}/users/${userId}/gift_cards`, auth);
    expect(before.body.gift_cards).toHaveLength(1);
    const code = before.body.gift_cards[0].code as string;
    expect((await shop.server.stop()).code).toBe(0);

    const data = ['--data-dir', join(dir, 'data')];
    const empty = await laurel(['cashout', 'report', ...data]);
    expect(empty.stderr).toBe('');
    expect(empty.stdout).toBe('no cash-outs yet\n');

    const sweep = await laurel(['sweep', ...data]);
    expect(sweep.code).toBe(0);
    expect(sweep.stdout).toMatch(
      /^cash-out 2026-Q4 of retailer [0-9a-f-]{36}: settled 1 members; run complete$/m,
    );

    const table = await laurel(['cashout', 'report', ...data]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')).toEqual([
      'period   cash-out at               members  points converted  gift-card value  points left  run',
      '2026-Q4  2027-01-01T05:00:00.000Z  1        2000              20.00 USD        370          complete',
      '',
    ]);
    const one = await laurel(['cashout', 'report', '--period', '2026-Q4', '--json', ...data]);
    expect(json(one)).toEqual([
      expect.objectContaining({
        period: '2026-Q4',
        members: 1,
        points_converted: 2000,
        gift_card_value: 20,
        points_left: 370,
      }),
    ]);

    const bad = await laurel(['cashout', 'report', '--period', '2026-Q9', ...data]);
    expect(bad.code).not.toBe(0);
    expect(oneLine(bad)).toContain('2026-Q9 is not a quarter');
    const unknown = await laurel([
      'cashout',
      'report',
      '--retailer',
      '00000000-0000-4000-8000-000000000000',
      ...data,
    ]);
    expect(unknown.code).not.toBe(0);
    expect(oneLine(unknown)).toContain('does not exist');

    // Restarted on the same directory, the server reads the same key: the same code.
    const again = await openShop(dir, false);
    const after = await call(again.base, 'GET', `${core}/users/${userId}/gift_cards`, auth);
    expect(after.body.gift_cards.map((c: { code: string }) => c.code)).toEqual([code]);
    expect(again.child.out.stdout).not.toContain('created a new gift-card key');
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(key);
    // Two servers and seven commands, each opening the embedded database: minutes on a busy machine.
  }, 240_000);

  it('refuses a malformed LAUREL_GIFT_CARD_KEY with one clear line', async () => {
    const r = await laurel(['serve', '--port', '0', '--data-dir', join(tempDir(), 'data')], {
      LAUREL_GIFT_CARD_KEY: 'not-hex',
    });
    expect(r.code).not.toBe(0);
    expect(oneLine(r)).toContain('LAUREL_GIFT_CARD_KEY must hold at least 64 hexadecimal digits');
  });
});
