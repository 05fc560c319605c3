import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  basic,
  call,
  cleanUp,
  ensureBuilt,
  laurel,
  migratedDataDir,
  schemaPerTest,
  serve,
  type Server,
} from '../support/cli.js';

/**
 * `laurel serve --workers N` (issue #15, docs/decisions/0005-process-model.md): N processes on one
 * port sharing nothing but the database, the sweeper in one of them, a dead worker replaced,
 * revocations heard by each; the embedded database keeps one process.
 */

const url = process.env.DATABASE_URL;
const START = '2026-11-02T16:00:00Z';
/** A loaded two-core machine starts a primary and then its workers slowly: wait for it, not on it. */
const START_MS = 150_000;

beforeAll(ensureBuilt, 120_000);
afterEach(cleanUp);
afterAll(cleanUp);

/** One request on a connection of its own, so node:cluster hands each to the next worker. */
function fresh(
  base: string,
  path: string,
  authorization?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = http.request(
      `${base.replace('localhost', '127.0.0.1')}${path}`,
      { agent: false, headers: authorization ? { authorization } : {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (s: string) => (body += s));
        res.on('end', () => done({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', fail);
    req.end();
  });
}

/** Live child processes of `pid` (the workers of a primary), from /proc. */
function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(join('/proc', entry, 'stat'), 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid && state !== 'Z') kids.push(Number(entry));
    } catch {
      // The process ended while we read.
    }
  }
  return kids.sort((a, b) => a - b);
}

/** Requests answered per worker, from `laurel_worker_requests_total` of GET /metrics: pid by slot. */
async function workerRequests(base: string): Promise<Map<string, { pid: number; requests: number }[]>> {
  const r = await fresh(base, '/metrics');
  expect(r.status).toBe(200);
  const bySlot = new Map<string, { pid: number; requests: number }[]>();
  for (const m of r.body.matchAll(/^laurel_worker_requests_total\{worker="(\d+)",pid="(\d+)"\} (\d+)$/gm)) {
    bySlot.set(m[1]!, [...(bySlot.get(m[1]!) ?? []), { pid: Number(m[2]), requests: Number(m[3]) }]);
  }
  return bySlot;
}

/** Waits (polling, no timing asserted) until `check` holds; fails with `what` after `seconds`. */
async function until(what: string, check: () => boolean | Promise<boolean>, seconds = 60): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sweeperLines = (s: Server) =>
  s.child.out.stdout
    .split('\n')
    .filter((l) => l.includes('this worker runs the sweeper'))
    .map((l) => JSON.parse(l) as { pid: number; worker: number });

describe.skipIf(!url)('serve --workers 2 [postgres]', () => {
  const env = schemaPerTest(url!);

  it('two processes answer on one port; one sweeps, and its replacement after a kill; a revocation reaches both', async () => {
    const s = await serve(
      [
        '--workers',
        '2',
        '--demo',
        '--clock',
        'simulated',
        '--now',
        START,
        '--sweep-interval',
        '1',
        '--log-level',
        'info',
      ],
      env,
      /expand_incentives=true'\n/,
      START_MS,
    );
    expect(s.field('workers')).toBe('2');
    const key = s.field('api_key');
    const auth = basic(key, s.field('secret'));
    const admin = `Bearer ${s.field('admin_token')}`;
    const search = `/priv/v1/apps/${key}/users/search?external_id=eutest17`;
    const workers = childrenOf(s.child.pid!);
    expect(workers).toHaveLength(2);

    // One port, two processes: requests on fresh connections are answered by both workers, and by
    // nobody else (the primary serves no request).
    for (let i = 0; i < 8; i++) expect((await fresh(s.base, search, auth)).status).toBe(200);
    const served = await workerRequests(s.base);
    expect([...served.keys()].sort()).toEqual(['1', '2']);
    expect([...served.values()].map((w) => w[0]!.pid).sort((a, b) => a - b)).toEqual(workers);
    for (const w of served.values()) expect(w[0]!.requests).toBeGreaterThan(0);

    // The sweeper runs in exactly one worker: one rollover of the purchase's two lots, logged by it.
    const sweeper = sweeperLines(s);
    expect(sweeper).toHaveLength(1);
    expect(sweeper[0]).toMatchObject({ worker: 1 });
    expect(workers).toContain(sweeper[0]!.pid);
    const bought = await call(s.base, 'POST', '/api/2.0/send_transaction', auth, {
      store_id: 'BOSTON-01',
      request_id: 'r-T-1',
      request_payload: {
        transaction_id: 'T-1',
        open_time: '2026-11-02T10:00:00Z',
        items: [{ line_id: '1', item_id: 'ITEM', quantity: 1, unit_price: 120 }],
        payments: [
          { payment_id: 'P1', amount: 120, type: 'CASH', user_id: 'eutest17', user_id_type: 'external_id' },
        ],
      },
    });
    expect(bought.status, JSON.stringify(bought.body)).toBe(200);
    expect(
      (await call(s.base, 'POST', '/admin/v1/clock', admin, { now: '2026-12-03T00:00:00Z' })).status,
    ).toBe(200);
    await until('the sweep', () => s.child.out.stdout.includes('"msg":"swept 2 lots for 1 members"'));
    const swept = s.child.out.stdout.split('\n').filter((l) => l.includes('"msg":"swept'));
    expect(swept.map((l) => (JSON.parse(l) as { pid: number }).pid)).toEqual([sweeper[0]!.pid]);

    // The sweeping worker killed: the primary starts another in its slot, which sweeps in its stead.
    process.kill(sweeper[0]!.pid, 'SIGKILL');
    await until('the replacement', () => sweeperLines(s).length === 2, 90);
    const replacement = sweeperLines(s)[1]!;
    expect(replacement.worker).toBe(1);
    expect(replacement.pid).not.toBe(sweeper[0]!.pid);
    expect(s.child.out.stderr).toContain(
      `laurel: worker 1 (pid ${sweeper[0]!.pid}) exited (SIGKILL); starting another`,
    );
    expect(childrenOf(s.child.pid!)).toEqual(
      [...workers.filter((p) => p !== sweeper[0]!.pid), replacement.pid].sort((a, b) => a - b),
    );
    // Both answer again, the replacement included.
    await until('the replacement to answer', async () => {
      expect((await fresh(s.base, search, auth)).status).toBe(200);
      return (await workerRequests(s.base)).get('1')?.some((w) => w.pid === replacement.pid) ?? false;
    });

    // Each worker remembered the app's credentials; a revocation must reach both through
    // LISTEN/NOTIFY, well before their 60-second cache would forget it (issue #18: within 2 s; the
    // wait here is longer only because the machine may be loaded).
    expect((await laurel(['apps', 'revoke', key], env)).stdout).toContain(`revoked app ${key}`);
    await until(
      'both workers to refuse the revoked app',
      async () => {
        const answers = await Promise.all(Array.from({ length: 4 }, () => fresh(s.base, search, auth)));
        return answers.every((a) => a.status === 401);
      },
      20,
    );
    for (let i = 0; i < 6; i++) expect((await fresh(s.base, search, auth)).status).toBe(401);

    // Rolled once, and the ledger holds.
    const client = new pg.Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    try {
      const rows = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM journals WHERE kind = 'rollover'`,
      );
      // One journal for the purchase's two lots (issue #16).
      expect(rows.rows[0]!.n).toBe(1);
    } finally {
      await client.end();
    }
    expect((await laurel(['verify'], env)).stdout).toMatch(/^ledger verified: /);

    const stopped = await s.stop();
    expect(stopped.code).toBe(0);
    expect(stopped.stdout.endsWith('Laurel stopped cleanly (SIGTERM)\n')).toBe(true);
    expect(stopped.stdout.match(/stopped cleanly/g)).toHaveLength(1);
    expect(childrenOf(s.child.pid!)).toEqual([]);
  }, 300_000);
});

describe('serve --workers on the embedded database', () => {
  it('serves with one process, saying why in one line, and still runs operator commands through it', async () => {
    const dir = migratedDataDir();
    const s = await serve(
      ['--workers', '2', '--data-dir', dir, '--log-level', 'silent'],
      {},
      undefined,
      START_MS,
    );
    expect(s.child.out.stderr).toBe(
      'laurel: --workers 2 needs PostgreSQL (DATABASE_URL): the embedded database is held by one process, so 1 worker serves\n',
    );
    expect(s.field('workers')).toBe('1');
    expect(childrenOf(s.child.pid!)).toEqual([]);
    expect((await fresh(s.base, '/healthz')).status).toBe(200);
    // The operator endpoint (issue #18 item 3) answers the CLI while the server holds the directory.
    const verified = await laurel(['verify', '--data-dir', dir]);
    expect(verified.stdout, verified.stderr).toMatch(/^ledger verified: /);
    expect((await s.stop()).code).toBe(0);
  }, 120_000);
});
