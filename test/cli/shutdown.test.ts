import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { basic, call, cleanUp, ensureBuilt, exited, laurel, migratedDataDir, serve } from '../support/cli.js';

/**
 * Graceful shutdown (issue #7 item 6): SIGTERM stops accepting, lets the requests in flight finish,
 * and closes the embedded database cleanly, so its directory reopens at once and nothing that was
 * acknowledged is lost; a request that got no answer is safe to retry, and applies once.
 */

beforeAll(ensureBuilt, 120_000);
afterEach(cleanUp);
afterAll(cleanUp);

const PURCHASES = 24;

describe('graceful shutdown', () => {
  it('SIGTERM in the middle of a burst of purchases: every answer is whole, every acknowledged purchase stays', async () => {
    const dir = migratedDataDir();
    const args = [
      '--data-dir',
      dir,
      '--clock',
      'simulated',
      '--sweep-interval',
      '0',
      '--log-level',
      'silent',
    ];
    const s = await serve(
      [...args, '--demo', '--now', '2026-11-20T15:00:00Z'],
      {},
      /expand_incentives=true'\n/,
    );
    const auth = basic(s.field('api_key'), s.field('secret'));
    const body = (i: number) => ({
      store_id: 'BOSTON-01',
      request_id: `burst-${i}`,
      request_payload: {
        transaction_id: `BURST-${i}`,
        open_time: '2026-11-20T09:00:00',
        user_id: 'eutest17',
        user_id_type: 'external_id',
        items: [{ line_id: '1', item_id: 'SKU', quantity: 1, unit_price: 10 + i }],
      },
    });
    const send = (base: string, i: number) =>
      fetch(`${base}/api/2.0/send_transaction`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify(body(i)),
      }).then(
        async (res) => ({
          status: res.status,
          body: (await res.json()) as { payload?: { transaction_id: string } },
        }),
        (err: Error) => ({
          status: 0,
          body: { error: err.message } as { payload?: { transaction_id: string } },
        }),
      );

    let answered = 0;
    const burst = Array.from({ length: PURCHASES }, (_, i) =>
      send(s.base, i).then((r) => {
        answered += 1;
        return r;
      }),
    );
    // Stop once some answers are back and others are still in flight.
    while (answered < 3) await new Promise((r) => setTimeout(r, 2));
    s.child.kill('SIGTERM');
    const results = await Promise.all(burst);
    const stopped = await exited(s.child);
    expect({ code: stopped.code, signal: stopped.signal }).toEqual({ code: 0, signal: null });
    expect(existsSync(join(dir, 'laurel.lock'))).toBe(false);

    // An answer is a whole 200, a 503 in the envelope for a request that arrived while the server
    // closed, or no answer at all (the connection was refused or closed): never a 500, never a cut
    // body.
    const acknowledged = results.flatMap((r, i) => (r.status === 200 ? [i] : []));
    for (const r of results) {
      expect([0, 200, 503]).toContain(r.status);
      if (r.status === 503) {
        expect(r.body).toMatchObject({ status: 'error', errors: { code: 'service_unavailable' } });
      }
    }
    expect(acknowledged.length).toBeGreaterThanOrEqual(3);

    // The directory reopens at once; the ledger holds every acknowledged purchase.
    expect((await laurel(['verify', '--data-dir', dir])).code).toBe(0);
    const again = await serve(args);
    for (const i of acknowledged) {
      const replay = await send(again.base, i);
      expect(replay.status).toBe(200);
      expect(replay.body.payload?.transaction_id).toBe(`BURST-${i}`);
    }
    // Retrying the rest applies each once: the member holds every purchase exactly once.
    for (let i = 0; i < PURCHASES; i++) expect((await send(again.base, i)).status).toBe(200);
    const key = s.field('api_key');
    const found = await call(
      again.base,
      'GET',
      `/priv/v1/apps/${key}/users/search?external_id=eutest17&expand_incentives=true`,
      auth,
    );
    const escrow = found.body.user.tier_details.point_account_balances.details.find(
      (d: { account_name: string }) => d.account_name === 'ACME Spendable Escrow Account',
    );
    const expected = Array.from({ length: PURCHASES }, (_, i) => 10 + i).reduce((n, v) => n + v, 0);
    expect(escrow.available_balance).toBe(expected);
    expect((await again.stop()).code).toBe(0);
    expect((await laurel(['verify', '--data-dir', dir])).code).toBe(0);
  }, 180_000);
});
