import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server as NetServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ROOT,
  basic,
  call,
  cleanUp,
  ensureBuilt,
  exited,
  laurel,
  oneLine,
  schemaPerTest,
  serve,
  tempDir,
  type Result,
  type Server,
} from '../support/cli.js';

/**
 * The operator's first hour (issue #18 items 1-4), as a user runs the `laurel` command: a busy
 * port, listing and revoking tenants' credentials (refused by every running server within 2 s),
 * the commands that work while a server holds the embedded database, and the refusals that say
 * what is wrong (a data directory with no database, a DATABASE_URL that is not one).
 */

beforeAll(ensureBuilt, 120_000);
afterEach(cleanUp);
afterAll(cleanUp);

const OPERATOR_FILE = 'laurel.operator';
const VERIFIED =
  /^ledger verified: \d+ journals, \d+ postings, \d+ balances, \d+ lots in \d+\.\d s \(\d+ journals\/s\)\n$/;
const FIXTURE = join(ROOT, 'test', 'fixtures', 'import', 'customers.csv');

/** A port something else listens on, until `close`. */
async function busyPort(): Promise<{ port: number; close(): Promise<void> }> {
  const srv: NetServer = createServer();
  await new Promise<void>((done) => srv.listen(0, '127.0.0.1', done));
  return {
    port: (srv.address() as { port: number }).port,
    close: () => new Promise((done) => srv.close(() => done())),
  };
}

function ok(r: Result): string {
  expect(r.stderr, r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

const jsonLines = (r: Result): Record<string, unknown>[] =>
  ok(r)
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const searchPath = (key: string) => `/priv/v1/apps/${key}/users/search?email=test@example.com`;

/**
 * Asks `server` with the credentials until it refuses them; answers when the first refused request
 * was sent, counted from `since` (a loaded machine can take long to answer; what counts is that a
 * request sent that long after the revocation is refused).
 */
async function refusedWithin(
  server: Server,
  path: string,
  authorization: string,
  since: number,
): Promise<number> {
  for (;;) {
    const sent = Date.now();
    const r = await call(server.base, 'GET', path, authorization);
    if (r.status === 401) return sent - since;
    // Still accepted: found, or a search that finds nobody.
    expect([200, 404]).toContain(r.status);
    if (Date.now() - since > 10_000) throw new Error('still accepted after 10 s');
    await new Promise((d) => setTimeout(d, 50));
  }
}

/** `serve` on a port already taken fails before anything is created, and says which port. */
async function busyPortFailsCleanly(args: string[], env: Record<string, string>): Promise<void> {
  const busy = await busyPort();
  try {
    const r = await laurel(
      ['serve', '--demo', '--port', String(busy.port), '--log-level', 'silent', ...args],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const line = oneLine(r);
    expect(line).toContain(`port ${busy.port} on 127.0.0.1 is already in use`);
    expect(line).toContain('--port');
  } finally {
    await busy.close();
  }
  // Nothing was created: no retailer, so the next start still prints the credentials.
  expect(ok(await laurel(['retailers', 'list', ...args], env))).toBe('no retailers\n');
}

describe('operators on the embedded database', () => {
  it('a busy port creates nothing (bug: the demo credentials were created, then lost); while serve holds the directory, tenants, imports, verify, sweep and reports go through it', async () => {
    const dir = join(tempDir(), 'data');
    const d = ['--data-dir', dir];
    await busyPortFailsCleanly(d, {});

    const s = await serve([...d, '--demo'], {}, /expand_incentives=true'\n/);
    const retailerId = s.field('retailer_id');
    const key1 = s.field('api_key');
    const secret1 = s.field('secret');
    const token1 = s.field('admin_token');

    // The operator endpoint's token: beside the lock, this user's only, never in the log.
    const file = join(dir, OPERATOR_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const operator = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; url: string; token: string };
    expect(operator.pid).toBe(s.child.pid);
    expect(operator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(operator.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Without the token the endpoint refuses, and runs nothing.
    const stranger = await fetch(`${operator.url}/run`, {
      method: 'POST',
      headers: { authorization: 'Bearer not-the-token', 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'retailers create', options: { name: 'Intruder' } }),
    });
    expect(stranger.status).toBe(401);

    // Lists and creations, through the server.
    const retailers = jsonLines(await laurel(['retailers', 'list', '--json', ...d]));
    expect(retailers).toEqual([
      expect.objectContaining({
        retailer_id: retailerId,
        name: 'ACME Demo Retailer',
        apps: 1,
        admin_tokens: 1,
      }),
    ]);
    const app2 = jsonLines(await laurel(['apps', 'create', '--retailer', retailerId, '--json', ...d]))[0]!;
    const key2 = app2.api_key as string;
    const secret2 = app2.secret as string;
    const apps = jsonLines(await laurel(['apps', 'list', '--json', ...d]));
    expect(apps.map((a) => [a.api_key, a.revoked_at])).toEqual([
      [key1, null],
      [key2, null],
    ]);
    expect(JSON.stringify(apps)).not.toContain(secret1);

    // Revoking an app: refused at once (the revocation ran in the server's own process).
    for (const [k, sec] of [
      [key1, secret1],
      [key2, secret2],
    ] as const) {
      expect((await call(s.base, 'GET', searchPath(k), basic(k, sec))).status).toBe(200);
    }
    const revoked = await laurel(['apps', 'revoke', key1, ...d]);
    const since = Date.now();
    expect(ok(revoked)).toBe(
      `revoked app ${key1} (ACME Demo POS) of retailer ${retailerId}: every server refuses it from now\n`,
    );
    expect(await refusedWithin(s, searchPath(key1), basic(key1, secret1), since)).toBeLessThan(2000);
    expect((await call(s.base, 'GET', searchPath(key2), basic(key2, secret2))).status).toBe(200);
    expect(jsonLines(await laurel(['apps', 'revoke', key1, '--json', ...d]))[0]).toMatchObject({
      api_key: key1,
      changed: false,
      revoked_at: expect.any(String),
    });
    const unknown = await laurel(['apps', 'revoke', '0'.repeat(40), ...d]);
    expect(unknown.code).toBe(1);
    expect(oneLine(unknown)).toBe(`laurel: no app with API key ${'0'.repeat(40)}`);

    // Admin tokens likewise.
    const token2 = jsonLines(await laurel(['tokens', 'create', '--retailer', retailerId, '--json', ...d]))[0]!
      .admin_token as string;
    const tokens = jsonLines(await laurel(['tokens', 'list', '--retailer', retailerId, '--json', ...d]));
    expect(tokens).toHaveLength(2);
    const id1 = token1.slice(4, 20);
    expect(tokens[0]).toMatchObject({ id: id1, name: 'demo admin', revoked_at: null });
    expect((await call(s.base, 'GET', '/admin/v1/clock', `Bearer ${token1}`)).status).toBe(200);
    const tokenRevoked = await laurel(['tokens', 'revoke', id1, ...d]);
    const tokenSince = Date.now();
    expect(ok(tokenRevoked)).toContain(`revoked admin token ${id1} (demo admin)`);
    expect(await refusedWithin(s, '/admin/v1/clock', `Bearer ${token1}`, tokenSince)).toBeLessThan(2000);
    expect((await call(s.base, 'GET', '/admin/v1/clock', `Bearer ${token2}`)).status).toBe(200);

    // The commands that used to say "in use": through the server, with their usual output.
    const imported = ok(
      await laurel(['import', 'customers', FIXTURE, '--rejects', join(dir, '..', 'rejects.ndjson'), ...d]),
    );
    expect(imported).toContain('  imported:        4\n');
    expect(existsSync(join(dir, '..', 'rejects.ndjson'))).toBe(true);
    expect(ok(await laurel(['verify', ...d]))).toMatch(VERIFIED);
    expect(ok(await laurel(['sweep', ...d]))).toMatch(
      /^swept \d+ lots for \d+ members as of .* \(real clock\)\n/,
    );
    expect(ok(await laurel(['cashout', 'report', ...d]))).toMatch(/^period\s+cash-out at/);

    // Several retailers: the error names them, so one can be copied.
    const second = jsonLines(
      await laurel(['retailers', 'create', '--name', 'Second Shop', '--json', ...d]),
    )[0]!;
    const several = await laurel(['cashout', 'report', ...d]);
    expect(several.code).toBe(1);
    expect(several.stdout).toBe('');
    const line = oneLine(several);
    expect(line).toContain('several retailers: name one with --retailer');
    expect(line).toContain(`${retailerId} (ACME Demo Retailer)`);
    expect(line).toContain(`${second.retailer_id as string} (Second Shop)`);

    // The server's log never carried the operator token.
    expect(s.child.out.stdout).not.toContain(operator.token);
    expect(s.child.out.stdout).toContain('operator command done');

    // SIGINT: one line that it stopped cleanly; the operator file and the lock are gone.
    s.child.kill('SIGINT');
    const stopped = await exited(s.child);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout.trimEnd().split('\n').at(-1)).toBe('Laurel stopped cleanly (SIGINT)');
    expect(stopped.stdout.match(/stopped cleanly/g)).toHaveLength(1);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(join(dir, 'laurel.lock'))).toBe(false);
    // Without a server, the same commands open the directory themselves.
    expect(jsonLines(await laurel(['apps', 'list', '--retailer', retailerId, '--json', ...d]))).toHaveLength(
      2,
    );
    // A server start and some twenty commands, each a process: minutes on a busy machine.
  }, 300_000);

  it('a reading command refuses a directory that holds no Laurel database, and creates none (bug: verify --data-dir /a/typo reported success)', async () => {
    const typo = join(tempDir(), 'a', 'typo');
    const empty = tempDir();
    // Every kind of reading command (their check is one, before any database work).
    const cases: [string, string[]][] = [
      [typo, ['verify']],
      [typo, ['sweep']],
      [typo, ['apps', 'revoke', 'f'.repeat(40)]],
      [typo, ['import', 'customers', FIXTURE]],
      [empty, ['cashout', 'report']],
      [empty, ['tokens', 'list', '--json']],
    ];
    const results = await Promise.all(cases.map(([dir, c]) => laurel([...c, '--data-dir', dir])));
    results.forEach((r, i) => {
      const [dir, c] = cases[i]!;
      const what = c.join(' ');
      expect(r.code, what).toBe(1);
      expect(r.stdout, what).toBe('');
      expect(oneLine(r), what).toBe(
        `laurel: ${resolve(dir)} holds no Laurel database: check --data-dir (or LAUREL_DATA_DIR), ` +
          'or create one with laurel serve or laurel migrate',
      );
    });
    expect(existsSync(join(typo, '..')), 'nothing was created').toBe(false);
    expect(existsSync(join(empty, 'pgdata'))).toBe(false);
  });

  it('DATABASE_URL that is not a PostgreSQL URL says so, without repeating it (bug: getaddrinfo ENOTFOUND base)', async () => {
    for (const url of ['notaurl', 'mysql://user:pw@host/db', 'http://example.com']) {
      const r = await laurel(['verify'], { DATABASE_URL: url });
      expect(r.code, url).toBe(1);
      expect(oneLine(r)).toBe(
        'laurel: DATABASE_URL is not a PostgreSQL URL: expected postgres://user:password@host:5432/database',
      );
    }
  });
});

describe.skipIf(!process.env.DATABASE_URL)('operators on PostgreSQL (DATABASE_URL)', () => {
  const env = schemaPerTest(process.env.DATABASE_URL!);

  it('a busy port creates nothing; a reading command refuses a database with no Laurel tables', async () => {
    for (const c of [['verify'], ['retailers', 'list'], ['apps', 'list', '--json']]) {
      const r = await laurel(c, env);
      expect(r.code, c.join(' ')).toBe(1);
      expect(oneLine(r)).toBe(
        'laurel: the database at DATABASE_URL holds no Laurel database: check it, or create one with laurel serve or laurel migrate',
      );
    }
    expect(ok(await laurel(['migrate'], env))).toMatch(/^applied migrations/);
    await busyPortFailsCleanly([], env);
  });

  it('revoking an app or an admin token is heard by every running server within 2 seconds', async () => {
    const demo = jsonLines(await laurel(['demo', '--customers', '1', '--json'], env))[0]!;
    const retailerId = demo.retailer_id as string;
    const key = demo.api_key as string;
    const auth = basic(key, demo.secret as string);
    const admin = `Bearer ${demo.admin_token as string}`;
    // Two servers on one database, each having verified (and remembered) both credentials.
    const servers = await Promise.all([
      serve(['--log-level', 'silent', '--sweep-interval', '0'], env),
      serve(['--log-level', 'silent', '--sweep-interval', '0'], env),
    ]);
    for (const s of servers) {
      expect((await call(s.base, 'GET', searchPath(key), auth)).status).toBe(200);
      expect((await call(s.base, 'GET', '/admin/v1/clock', admin)).status).toBe(200);
    }

    const other = jsonLines(await laurel(['retailers', 'create', '--name', 'Other', '--json'], env))[0]!;
    const otherApp = jsonLines(
      await laurel(['apps', 'create', '--retailer', other.retailer_id as string, '--json'], env),
    )[0]!;
    // Lists by retailer, and the several-retailers error naming both.
    expect(
      jsonLines(await laurel(['apps', 'list', '--retailer', other.retailer_id as string, '--json'], env)).map(
        (a) => a.api_key,
      ),
    ).toEqual([otherApp.api_key]);
    expect(jsonLines(await laurel(['apps', 'list', '--json'], env))).toHaveLength(2);
    const several = oneLine(await laurel(['import', 'customers', FIXTURE], env));
    expect(several).toContain(`${retailerId} (ACME Demo Retailer)`);
    expect(several).toContain(`${other.retailer_id as string} (Other)`);

    const revoked = await laurel(['apps', 'revoke', key], env);
    const since = Date.now();
    expect(ok(revoked)).toContain(`revoked app ${key}`);
    const appTimes = await Promise.all(servers.map((s) => refusedWithin(s, searchPath(key), auth, since)));
    for (const t of appTimes) expect(t).toBeLessThan(2000);

    const tokenRevoked = await laurel(['tokens', 'revoke', (demo.admin_token as string).slice(4, 20)], env);
    const tokenSince = Date.now();
    expect(ok(tokenRevoked)).toContain('revoked admin token');
    const tokenTimes = await Promise.all(
      servers.map((s) => refusedWithin(s, '/admin/v1/clock', admin, tokenSince)),
    );
    for (const t of tokenTimes) expect(t).toBeLessThan(2000);
    // The other retailer's app is untouched.
    const otherAuth = basic(otherApp.api_key as string, otherApp.secret as string);
    expect(
      (await call(servers[0]!.base, 'GET', searchPath(otherApp.api_key as string), otherAuth)).status,
    ).toBe(404);
    expect(jsonLines(await laurel(['tokens', 'list', '--json'], env))[0]).toMatchObject({
      revoked_at: expect.any(String),
    });
    // On PostgreSQL the commands connect themselves while servers run.
    expect(ok(await laurel(['verify'], env))).toMatch(VERIFIED);
    for (const s of servers) expect((await s.stop()).code).toBe(0);
  }, 120_000);
});
