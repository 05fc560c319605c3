import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { demoProfile } from '../../src/demo/demo.service.js';
import { MIGRATIONS } from '../../src/db/migrate.js';
import {
  basic,
  call,
  cleanUp,
  ensureBuilt,
  exited,
  laurel,
  migratedDataDir,
  oneLine,
  type Result,
  schemaPerTest,
  serve,
  tempDir,
} from '../support/cli.js';

/**
 * The `laurel` command as a user runs it: the built CLI in real child processes, on a fresh
 * embedded data directory per test (and on a fresh PostgreSQL schema when DATABASE_URL is set).
 */

const LOCK_FILE = 'laurel.lock';
const HEX40 = /^[0-9a-f]{40}$/;
const ADMIN_TOKEN = /^lat_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SEED_SEARCHES = ['email=test@example.com', 'external_id=eutest17', 'mobile_number=5089959991'];

function json(r: Result): Record<string, unknown> {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const lines = r.stdout.split('\n');
  expect(lines, `stdout is one JSON line: ${r.stdout}`).toHaveLength(2);
  expect(lines[1]).toBe('');
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

const search = (base: string, key: string, secret: string, query: string) =>
  call(base, 'GET', `/priv/v1/apps/${key}/users/search?${query}&expand_incentives=true`, basic(key, secret));

/** A TCP port nothing listens on. */
const closedPort = () =>
  new Promise<number>((done) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => done(p));
    });
  });

beforeAll(ensureBuilt, 120_000);
afterEach(cleanUp);
afterAll(cleanUp);

describe('laurel CLI on the embedded database', () => {
  it('demo --customers 3 --json prints one JSON object whose credentials work against serve', async () => {
    const dir = migratedDataDir();
    const demo = await laurel(['demo', '--data-dir', dir, '--customers', '3', '--json']);
    const creds = json(demo);
    expect(Object.keys(creds).sort()).toEqual(['admin_token', 'api_key', 'retailer_id', 'secret']);
    expect(creds.retailer_id).toMatch(UUID);
    expect(creds.api_key).toMatch(HEX40);
    expect(creds.secret).toEqual(expect.stringMatching(/^\S{20,}$/));
    expect(creds.admin_token).toMatch(ADMIN_TOKEN);
    expect(existsSync(join(dir, LOCK_FILE)), 'demo released the directory').toBe(false);

    const s = await serve(['--data-dir', dir]);
    expect(s.banner).toContain(`database: embedded, ${dir}`);
    expect(s.banner).toContain('clock:    real');
    expect(s.banner).not.toContain('api_key');
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(String(s.child.pid));
    const key = creds.api_key as string;
    const secret = creds.secret as string;

    const found = await search(s.base, key, secret, 'email=test@example.com');
    expect(found.status).toBe(200);
    expect(found.body.status).toBe('ok');
    expect(found.body.user).toMatchObject({
      external_id: 'eutest17',
      email: 'test@example.com',
      tier: 'BASE',
    });
    // Exactly three demo members: the seed's and two more.
    for (const [i, status] of [
      [2, 200],
      [3, 200],
      [4, 404],
    ] as const) {
      const r = await search(s.base, key, secret, `external_id=${demoProfile(i).external_id}`);
      expect(r.status, `member ${i}`).toBe(status);
    }
    const wrong = await search(s.base, key, `${secret}x`, 'email=test@example.com');
    expect(wrong.status).toBe(401);
    expect(wrong.body.errors.code).toBe('invalid_auth_token');
    // On the real clock, GET says so and POST says how to simulate (issue #18: it answered "No route").
    const admin = `Bearer ${creds.admin_token as string}`;
    const real = await call(s.base, 'GET', '/admin/v1/clock', admin);
    expect(real.status).toBe(200);
    expect(real.body.clock.simulated).toBe(false);
    expect(Math.abs(Date.parse(real.body.clock.now) - Date.now())).toBeLessThan(60_000);
    const set = await call(s.base, 'POST', '/admin/v1/clock', admin, { now: '2031-01-01T00:00:00Z' });
    expect(set.status).toBe(400);
    expect(set.body.errors.code).toBe('validation');
    expect(set.body.errors.message).toContain('--clock simulated');
    expect((await call(s.base, 'GET', '/admin/v1/clock')).status).toBe(401);
    // The request log carries no credentials.
    const log = s.child.out.stdout.slice(s.child.out.stdout.indexOf(s.banner) + s.banner.length);
    expect(log).toContain('"statusCode":200');
    expect(log).not.toContain(secret);
    expect(log).not.toContain(basic(key, secret).slice(6));
    // ... nor the personal data of a search: the email searched for shows as [redacted].
    expect(log).not.toContain('test@example.com');
    expect(log).toContain('email=[redacted]');

    const stopped = await s.stop();
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toBe('');
    // One line says the server stopped cleanly (issue #18), after the last log line.
    expect(stopped.stdout.trimEnd().split('\n').at(-1)).toBe('Laurel stopped cleanly (SIGTERM)');
    expect(stopped.stdout.match(/stopped cleanly/g)).toHaveLength(1);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('serve --demo prints the credentials; the directory is locked while it runs and reopens after', async () => {
    const dir = migratedDataDir();
    const s = await serve(
      ['--data-dir', dir, '--demo', '--log-level', 'silent'],
      {},
      /expand_incentives=true'\n/,
    );
    expect(s.field('base_url')).toBe(s.base);
    const key = s.field('api_key');
    const secret = s.field('secret');
    expect(key).toMatch(HEX40);
    expect(s.field('admin_token')).toMatch(ADMIN_TOKEN);
    expect(s.field('retailer_id')).toMatch(UUID);
    for (const q of SEED_SEARCHES) {
      const r = await search(s.base, key, secret, q);
      expect(r.status, q).toBe(200);
      expect(r.body.user.external_id, q).toBe('eutest17');
      expect(r.body.user.tier, q).toBe('BASE');
    }

    // A second process on the same directory is refused with one line naming it; nothing printed.
    for (const args of [
      ['demo', '--data-dir', dir, '--json'],
      ['migrate', '--data-dir', dir],
      ['serve', '--data-dir', dir, '--port', '0'],
    ]) {
      const second = await laurel(args);
      expect(second.code, args[0]).not.toBe(0);
      expect(second.stdout, args[0]).toBe('');
      const line = oneLine(second);
      expect(line).toContain(`data directory ${resolve(dir)} is in use`);
      expect(line).toContain(`pid ${s.child.pid}`);
    }
    // The server is unharmed.
    expect((await search(s.base, key, secret, SEED_SEARCHES[0]!)).status).toBe(200);

    const stopped = await s.stop();
    expect(stopped.code).toBe(0);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);

    // Reopened: the data persisted, and --demo does not create a second retailer.
    const again = await serve(
      ['--data-dir', dir, '--demo', '--log-level', 'silent'],
      {},
      /tokens create --retailer <retailer_id>\n/,
    );
    expect(again.banner).toContain('already has a retailer');
    expect(again.banner).not.toMatch(/api_key:/);
    const r = await search(again.base, key, secret, 'external_id=eutest17');
    expect(r.status).toBe(200);
    expect(r.body.user.email).toBe('test@example.com');
    expect((await again.stop()).code).toBe(0);
  });

  it('stops cleanly when signals keep arriving while it closes (Ctrl-C reaches npm and node both)', async () => {
    const dir = migratedDataDir();
    const s = await serve(
      ['--data-dir', dir, '--demo', '--log-level', 'silent'],
      {},
      /expand_incentives=true'\n/,
    );
    const key = s.field('api_key');
    const secret = s.field('secret');
    // Closing takes tens of milliseconds; these signals land while it runs (a signal that lands
    // after the close, as the process exits, could kill it by that signal harmlessly: not sent).
    const done = exited(s.child);
    for (const [i, signal] of (['SIGINT', 'SIGTERM', 'SIGINT', 'SIGTERM'] as const).entries()) {
      if (i) await new Promise((r) => setTimeout(r, 3));
      s.child.kill(signal);
    }
    const stopped = await done;
    expect({ code: stopped.code, signal: stopped.signal }).toEqual({ code: 0, signal: null });
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);

    const again = await serve(['--data-dir', dir, '--log-level', 'silent']);
    expect((await search(again.base, key, secret, 'external_id=eutest17')).status).toBe(200);
    expect((await again.stop()).code).toBe(0);
  });

  it('takes over a stale lock whose process is gone', async () => {
    const dir = migratedDataDir();
    const dead = spawnSync(process.execPath, ['-e', '']);
    expect(dead.status).toBe(0);
    writeFileSync(join(dir, LOCK_FILE), String(dead.pid));
    const r = await laurel(['retailers', 'create', '--name', 'After a crash', '--data-dir', dir, '--json']);
    expect(json(r)).toMatchObject({ name: 'After a crash' });
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('migrate applies the migrations once; a second run says the database is up to date', async () => {
    const dir = tempDir();
    const first = await laurel(['migrate', '--data-dir', dir]);
    expect(first).toMatchObject({
      code: 0,
      stderr: '',
      stdout: `applied migrations ${MIGRATIONS.map((m) => m.version).join(', ')}\n`,
    });
    const second = await laurel(['migrate', '--data-dir', dir]);
    expect(second).toMatchObject({ code: 0, stderr: '', stdout: 'database is up to date\n' });
  });

  it('retailers, apps and tokens create print JSON; an unknown retailer fails with one line', async () => {
    const dir = migratedDataDir();
    const retailer = json(
      await laurel(['retailers', 'create', '--name', 'Corner Shop', '--data-dir', dir, '--json']),
    );
    expect(retailer).toEqual({ retailer_id: expect.stringMatching(UUID), name: 'Corner Shop' });
    const id = retailer.retailer_id as string;

    const app = json(await laurel(['apps', 'create', '--retailer', id, '--data-dir', dir, '--json']));
    expect(app).toEqual({
      retailer_id: id,
      api_key: expect.stringMatching(HEX40),
      secret: expect.any(String),
    });
    const token = json(await laurel(['tokens', 'create', '--retailer', id, '--data-dir', dir, '--json']));
    expect(token).toEqual({ retailer_id: id, admin_token: expect.stringMatching(ADMIN_TOKEN) });

    const unknown = '00000000-0000-4000-8000-00000000abcd';
    for (const cmd of ['apps', 'tokens']) {
      const r = await laurel([cmd, 'create', '--retailer', unknown, '--data-dir', dir, '--json']);
      expect(r.code, cmd).toBe(1);
      expect(r.stdout, cmd).toBe('');
      expect(oneLine(r)).toContain(unknown);
      expect(existsSync(join(dir, LOCK_FILE)), 'a failed command releases the directory').toBe(false);
    }
    const human = await laurel(['apps', 'create', '--retailer', id, '--data-dir', dir]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^retailer_id: ${id}\napi_key: [0-9a-f]{40}\nsecret: \\S+\n$`));

    // The created app and token authenticate against a server; a retailer without members has none.
    const s = await serve(['--data-dir', dir, '--clock', 'simulated', '--log-level', 'silent']);
    const miss = await search(s.base, app.api_key as string, app.secret as string, 'email=test@example.com');
    expect(miss.status).toBe(404);
    expect(miss.body.errors.code).toBe('user_not_found');
    const clock = await call(s.base, 'GET', '/admin/v1/clock', `Bearer ${token.admin_token as string}`);
    expect(clock.status).toBe(200);
    expect(clock.body.clock.simulated).toBe(true);
    expect((await s.stop()).code).toBe(0);
    // Nine commands, each opening the embedded database and migrating it: more than the default limit.
  }, 180_000);

  it('bad arguments fail with one line on stderr, a non-zero exit, and touch nothing', async () => {
    const dir = tempDir();
    const cases: Array<{ args: string[]; mentions: string; env?: Record<string, string> }> = [
      { args: ['demo', '--customers', '-1', '--json'], mentions: '--customers' },
      { args: ['demo', '--customers', 'many', '--json'], mentions: '--customers' },
      { args: ['serve', '--port', 'abc'], mentions: '--port' },
      { args: ['serve', '--port', '70000'], mentions: '--port' },
      { args: ['serve', '--clock', 'simulated', '--now', 'yesterday'], mentions: '--now' },
      { args: ['serve', '--clock', 'simulated', '--now', '2026-01-01T00:00:00'], mentions: '--now' },
      { args: ['serve', '--now', '2026-01-01T00:00:00Z'], mentions: '--clock simulated' },
      { args: ['serve', '--clock', 'sundial'], mentions: '--clock' },
      { args: ['retailers', 'create', '--json'], mentions: '--name' },
      { args: ['apps', 'create', '--json'], mentions: '--retailer' },
      { args: ['frobnicate'], mentions: 'frobnicate' },
      // The documented environment variables get the same checks as the flags.
      { args: ['serve'], env: { PORT: 'abc' }, mentions: "'PORT'" },
      { args: ['serve'], env: { PORT: '-1' }, mentions: "'PORT'" },
      { args: ['serve'], env: { LOG_LEVEL: 'loud' }, mentions: "'LOG_LEVEL'" },
      // Bug: a bad relay setting was refused only after the server listened and its sweeper ran.
      { args: ['serve'], env: { LAUREL_EVENTS_LEASE_MS: '5' }, mentions: 'LAUREL_EVENTS_LEASE_MS' },
      {
        args: ['serve'],
        env: { LAUREL_EVENTS_FIRST_RETRY_MS: 'soon' },
        mentions: 'LAUREL_EVENTS_FIRST_RETRY_MS',
      },
    ];
    const results = await Promise.all(cases.map((c) => laurel([...c.args, '--data-dir', dir], c.env)));
    results.forEach((r, i) => {
      const c = cases[i]!;
      const what = `${JSON.stringify(c.env ?? {})} ${c.args.join(' ')}`;
      expect(r.code, what).not.toBe(0);
      expect(r.code, what).not.toBeNull();
      expect(r.stdout, what).toBe('');
      expect(oneLine(r), what).toContain(c.mentions);
    });
    expect(readdirSync(dir), 'no database was created').toEqual([]);
  });

  it('an unreachable DATABASE_URL fails with one line naming it', async () => {
    const port = await closedPort();
    const r = await laurel(['demo', '--json'], {
      DATABASE_URL: `postgres://laurel@127.0.0.1:${port}/laurel`,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(oneLine(r)).toContain('cannot reach the database at DATABASE_URL');
  });

  it('serve --clock simulated --now starts the clock there; POST moves it forward only', async () => {
    const dir = migratedDataDir();
    const s = await serve(
      [
        '--data-dir',
        dir,
        '--demo',
        '--clock',
        'simulated',
        '--now',
        '2026-01-01T00:00:00Z',
        '--log-level',
        'silent',
      ],
      {},
      /expand_incentives=true'\n/,
    );
    expect(s.banner).toContain('clock:    simulated (now 2026-01-01T00:00:00.000Z)');
    const admin = `Bearer ${s.field('admin_token')}`;
    const key = s.field('api_key');
    const secret = s.field('secret');

    expect(await call(s.base, 'GET', '/admin/v1/clock', admin)).toEqual({
      status: 200,
      body: { status: 'ok', clock: { now: '2026-01-01T00:00:00.000Z', simulated: true } },
    });
    // The demo members were created at the simulated time.
    const seed = await search(s.base, key, secret, 'external_id=eutest17');
    expect(seed.body.user.created_at).toBe('2026-01-01 00:00:00');

    expect((await call(s.base, 'GET', '/admin/v1/clock')).status).toBe(401);
    expect((await call(s.base, 'GET', '/admin/v1/clock', basic(key, secret))).status).toBe(401);

    const moved = await call(s.base, 'POST', '/admin/v1/clock', admin, { now: '2026-03-15T10:00:00-04:00' });
    expect(moved).toEqual({
      status: 200,
      body: { status: 'ok', clock: { now: '2026-03-15T14:00:00.000Z', simulated: true } },
    });
    const back = await call(s.base, 'POST', '/admin/v1/clock', admin, { now: '2026-02-01T00:00:00Z' });
    expect(back.status).toBe(400);
    expect(back.body.errors.code).toBe('validation');
    expect((await call(s.base, 'GET', '/admin/v1/clock', admin)).body.clock.now).toBe(
      '2026-03-15T14:00:00.000Z',
    );

    const user = await call(s.base, 'POST', `/priv/v1/apps/${key}/users`, basic(key, secret), {
      user: { email: 'later@example.com' },
    });
    expect(user.status).toBe(200);
    expect(user.body.user.created_at).toBe('2026-03-15 14:00:00');
    expect((await s.stop()).code).toBe(0);
  });
});

describe.skipIf(!process.env.DATABASE_URL)('laurel CLI on PostgreSQL (DATABASE_URL)', () => {
  const env = schemaPerTest(process.env.DATABASE_URL!);

  it('migrate, demo --json and serve work without a data directory', async () => {
    const unused = tempDir();
    const first = await laurel(['migrate', '--data-dir', unused], env);
    expect(first).toMatchObject({
      code: 0,
      stdout: `applied migrations ${MIGRATIONS.map((m) => m.version).join(', ')}\n`,
      stderr: '',
    });
    expect((await laurel(['migrate'], env)).stdout).toBe('database is up to date\n');

    const creds = json(await laurel(['demo', '--json', '--data-dir', unused], env));
    expect(Object.keys(creds).sort()).toEqual(['admin_token', 'api_key', 'retailer_id', 'secret']);
    expect(creds.api_key).toMatch(HEX40);
    const withMembers = json(await laurel(['demo', '--customers', '1', '--json'], env));

    // Two servers may share one PostgreSQL database; the data directory is not used at all.
    const s = await serve(
      [
        '--data-dir',
        unused,
        '--clock',
        'simulated',
        '--now',
        '2026-06-01T00:00:00Z',
        '--log-level',
        'silent',
      ],
      env,
    );
    const s2 = await serve(['--data-dir', unused, '--log-level', 'silent'], env);
    expect(s.banner).toContain('database: PostgreSQL (DATABASE_URL)');
    expect(readdirSync(unused)).toEqual([]);

    // demo without --customers creates no members; with --customers 1, the seed's member.
    const none = await search(
      s.base,
      creds.api_key as string,
      creds.secret as string,
      'email=test@example.com',
    );
    expect(none.status).toBe(404);
    expect(none.body.errors.code).toBe('user_not_found');
    for (const server of [s, s2]) {
      for (const q of SEED_SEARCHES) {
        const r = await search(server.base, withMembers.api_key as string, withMembers.secret as string, q);
        expect(r.status, q).toBe(200);
        expect(r.body.user).toMatchObject({ external_id: 'eutest17', tier: 'BASE' });
      }
    }

    const admin = `Bearer ${creds.admin_token as string}`;
    expect((await call(s.base, 'GET', '/admin/v1/clock', admin)).body.clock.now).toBe(
      '2026-06-01T00:00:00.000Z',
    );
    expect(
      (await call(s.base, 'POST', '/admin/v1/clock', admin, { now: '2026-07-01T00:00:00Z' })).status,
    ).toBe(200);
    // s2 runs on the real clock: it says so, and cannot be set.
    expect((await call(s2.base, 'GET', '/admin/v1/clock', admin)).body.clock.simulated).toBe(false);
    expect(
      (await call(s2.base, 'POST', '/admin/v1/clock', admin, { now: '2026-08-01T00:00:00Z' })).status,
    ).toBe(400);
    expect((await s.stop()).code).toBe(0);
    expect((await s2.stop()).code).toBe(0);
  });

  it('retailers, apps and tokens create; an unknown retailer fails with one line', async () => {
    const retailer = json(await laurel(['retailers', 'create', '--name', 'PG Shop', '--json'], env));
    const id = retailer.retailer_id as string;
    expect(json(await laurel(['apps', 'create', '--retailer', id, '--json'], env))).toMatchObject({
      retailer_id: id,
      api_key: expect.stringMatching(HEX40),
    });
    expect(json(await laurel(['tokens', 'create', '--retailer', id, '--json'], env))).toMatchObject({
      retailer_id: id,
      admin_token: expect.stringMatching(ADMIN_TOKEN),
    });
    const r = await laurel(['tokens', 'create', '--retailer', 'no-such-retailer', '--json'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(oneLine(r)).toContain('no-such-retailer');
  });
});
