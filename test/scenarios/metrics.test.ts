import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { SimulatedClock } from '../../src/clock.js';
import { openPGlite, openPostgres, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import {
  createTestSchema,
  describeEachDatabase,
  dropTestSchema,
  TEST_DATABASES,
} from '../support/databases.js';
import { startTestApp, TEST_GIFT_CARD_KEY, type TestApp } from '../support/test-app.js';

/** The value of one sample of a Prometheus text exposition, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

/** Issue #18 item 8: `GET /metrics` (Prometheus text, prom-client) and `GET /readyz`. */
describeEachDatabase('Metrics and readiness', (target) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(target);
  });
  afterAll(() => t.close());

  it('a scrape after real requests shows them by route pattern, with latency, errors and auth failures', async () => {
    const scrape = async () => (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    const route = '/priv/v1/apps/:api_key/users';
    const before = await scrape();
    const created = await t.request('POST', `${t.core}/users`, {
      body: { user: { external_id: 'METRICS-1', email: 'jane.doe@corp.com' } },
    });
    expect(created.status).toBe(200);
    const id = created.body.user.id as string;
    expect((await t.request('GET', `${t.core}/users/${id}`)).status).toBe(200);
    expect((await t.request('GET', `${t.core}/users/search?email=nobody@corp.com`)).status).toBe(404);
    expect(
      (await t.request('GET', `${t.core}/users/${id}`, { auth: { key: t.tenant.api_key, secret: 'wrong' } }))
        .status,
    ).toBe(401);

    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body;
    const posts = (s: string) =>
      sample(s, 'laurel_http_requests_total', { method: 'POST', route, status: '200' });
    expect((posts(text) ?? 0) - (posts(before) ?? 0)).toBe(1);
    const byId = { method: 'GET', route: `${route}/:user_id` };
    expect(sample(text, 'laurel_http_request_duration_seconds_count', byId)).toBeGreaterThanOrEqual(2);
    expect(
      sample(text, 'laurel_http_request_duration_seconds_bucket', { ...byId, le: '+Inf' }),
    ).toBeGreaterThan(0);
    expect(sample(text, 'laurel_http_errors_total', { ...byId, status: '401' })).toBe(1);
    expect(sample(text, 'laurel_http_errors_total', { route: `${route}/search`, status: '404' })).toBe(1);
    expect(sample(text, 'laurel_auth_failures_total', { reason: 'denied' })).toBeGreaterThanOrEqual(1);
    // Route patterns only: no key, id or email becomes a label.
    for (const secretish of [t.tenant.api_key, id, 'jane.doe', 'nobody@corp.com'])
      expect(text).not.toContain(secretish);
    expect(sample(text, 'laurel_database_up')).toBe(1);
    expect(sample(text, 'laurel_sweeper_lag_seconds')).toBe(0);
    expect(sample(text, 'laurel_purchases')).toBe(0);
    expect(sample(text, 'laurel_cash_out_runs', { state: 'incomplete' })).toBe(0);
    if (target.name === 'postgres') {
      expect(sample(text, 'laurel_db_pool_connections', { state: 'max' })).toBe(5);
    }
    expect(sample(text, 'laurel_process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('every metric the sample Grafana dashboard queries is exposed', async () => {
    const dashboard = readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8');
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const queried = new Set(
      [...dashboard.matchAll(/laurel_[a-z0-9_]+/g)].map((m) => m[0].replace(/_bucket$/, '')),
    );
    expect(queried.size).toBeGreaterThan(10);
    for (const name of queried) expect(exposed, name).toContain(name);
  });

  it('/readyz answers ok beside /healthz on a migrated database', async () => {
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('/metrics asks for its bearer token when one is configured', async () => {
    const app = await buildApp({
      db: t.db,
      clock: t.clock,
      giftCardKey: TEST_GIFT_CARD_KEY,
      metricsToken: 'scrape-me',
    });
    try {
      const none = await app.inject({ method: 'GET', url: '/metrics' });
      expect(none.statusCode).toBe(401);
      expect(none.json().status).toBe('error');
      const ok = await app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: 'Bearer scrape-me' },
      });
      expect(ok.statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});

/** A server over a database that is not migrated yet: /readyz is 503 until migrations are done. */
describe('Readiness while migrations have not run', () => {
  for (const target of TEST_DATABASES) {
    it(`answers 503 in the envelope, then ok once migrated [${target.name}]`, async () => {
      let db: Database;
      let cleanup = async () => undefined as void;
      if (target.name === 'pglite') {
        db = await openPGlite();
      } else {
        const url = process.env.DATABASE_URL!;
        const schema = await createTestSchema(url);
        db = await openPostgres({ url, schema, max: 3 });
        cleanup = () => dropTestSchema(url, schema);
      }
      const app = await buildApp({ db, clock: new SimulatedClock(db), giftCardKey: TEST_GIFT_CARD_KEY });
      try {
        const early = await app.inject({ method: 'GET', url: '/readyz' });
        expect(early.statusCode).toBe(503);
        expect(early.json().errors.code).toBe('service_unavailable');
        // The migration lock is database-wide: another test's schema migrating at this moment
        // makes the answer "migrations are running", which is as true for this schema.
        expect(early.json().errors.message).toMatch(/version 0 of \d+|migrations are running/);
        await migrate(db);
        expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      } finally {
        await app.close();
        await db.close();
        await cleanup();
      }
    });
  }
});

const postgresUrl = process.env.DATABASE_URL;

describe.skipIf(!postgresUrl)('Readiness on a PostgreSQL that migrates or goes away [postgres]', () => {
  let schema: string;
  beforeAll(async () => {
    schema = await createTestSchema(postgresUrl!);
  });
  afterAll(() => dropTestSchema(postgresUrl!, schema));

  it('is 503 "migrations are running" while a migration holds its lock', async () => {
    const db = await openPostgres({ url: postgresUrl!, schema, max: 3 });
    const app = await buildApp({ db, clock: new SimulatedClock(db), giftCardKey: TEST_GIFT_CARD_KEY });
    // Another server is migrating: it holds the migration lock, so ours waits behind it.
    const other = new pg.Client({ connectionString: postgresUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_advisory_xact_lock(7117001)');
      const migrating = migrate(db);
      const during = await app.inject({ method: 'GET', url: '/readyz' });
      expect(during.statusCode).toBe(503);
      expect(during.json().errors.message).toMatch(/migrations are running/);
      expect(during.headers['retry-after']).toBeDefined();
      await other.query('COMMIT');
      await migrating;
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await other.end();
      await app.close();
      await db.close();
    }
  });

  it('is 503 while the database cannot be reached, and ready again once it can', async () => {
    // A real TCP relay in front of PostgreSQL: closing it makes the database unreachable.
    const target = new URL(postgresUrl!);
    const sockets = new Set<Socket>();
    let relay: Server = createServer();
    const listen = (port: number) =>
      new Promise<number>((done) => {
        relay = createServer((client) => {
          const upstream = connect(Number(target.port || 5432), target.hostname);
          for (const s of [client, upstream]) {
            sockets.add(s);
            s.on('error', () => s.destroy());
            s.on('close', () => sockets.delete(s));
          }
          client.pipe(upstream).pipe(client);
        });
        relay.listen(port, '127.0.0.1', () => done((relay.address() as { port: number }).port));
      });
    const port = await listen(0);
    const viaRelay = new URL(postgresUrl!);
    viaRelay.hostname = '127.0.0.1';
    viaRelay.port = String(port);
    const db = await openPostgres({ url: viaRelay.toString(), schema, max: 3 });
    await migrate(db);
    const app = await buildApp({ db, clock: new SimulatedClock(db), giftCardKey: TEST_GIFT_CARD_KEY });
    try {
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      await new Promise<void>((done) => relay.close(() => done()));
      for (const s of sockets) s.destroy();
      const down = await app.inject({ method: 'GET', url: '/readyz' });
      expect(down.statusCode).toBe(503);
      expect(down.json()).toMatchObject({ status: 'error', errors: { code: 'service_unavailable' } });
      const scrape = await app.inject({ method: 'GET', url: '/metrics' });
      expect(scrape.statusCode).toBe(200);
      expect(sample(scrape.body, 'laurel_database_up')).toBe(0);
      await listen(port);
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await app.close();
      await db.close();
      relay.close();
      for (const s of sockets) s.destroy();
    }
  });
});
