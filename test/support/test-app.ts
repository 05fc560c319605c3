import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp } from '../../src/app.js';
import { SimulatedClock } from '../../src/clock.js';
import type { Database } from '../../src/db/database.js';
import { createDemo, type DemoCredentials } from '../../src/demo/demo.service.js';
import type { OpenTestDatabase, TestDatabase } from './databases.js';

/** The instant test apps start at: a fixed time so scenarios are repeatable. */
export const TEST_START = new Date('2026-11-25T12:00:00Z');

export interface ApiResponse {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Record<string, unknown>;
}

export interface RequestOptions {
  body?: unknown;
  /** Raw payload, sent as is (malformed JSON tests). */
  payload?: string | Buffer;
  headers?: Record<string, string>;
  /** Credentials: the app's (default), none, or explicit ones. */
  auth?: 'app' | 'none' | 'admin' | { key: string; secret: string } | { bearer: string };
}

export interface TestApp {
  app: FastifyInstance;
  db: Database;
  clock: SimulatedClock;
  /** DATABASE_URL for child processes (undefined on PGlite). */
  url: string | undefined;
  /** The retailer, app and admin token every request uses by default. */
  tenant: DemoCredentials;
  /** Path prefix of the Core API for the default app. */
  core: string;
  request(method: InjectOptions['method'], url: string, opts?: RequestOptions): Promise<ApiResponse>;
  /** Another retailer with its own app and token, for isolation tests. */
  newTenant(): Promise<DemoCredentials>;
  setNow(iso: string): Promise<void>;
  close(): Promise<void>;
}

/** The gift-card key of every test server: codes a test computes match the server's. */
export const TEST_GIFT_CARD_KEY = Buffer.alloc(32, 7);

export const basic = (key: string, secret: string): string =>
  `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;

/** A server on a fresh test database with a simulated clock and one tenant (no members). */
/**
 * A `wrap` for `startTestApp` that calls `begun` for each transaction the app begins: a batch of the
 * group commit is one, and each of its requests run alone after a failed batch one more.
 */
export const countingTransactions =
  (begun: () => void) =>
  (db: Database): Database => ({
    kind: db.kind,
    query: (sql, params) => db.query(sql, params),
    transaction: (fn) => {
      begun();
      return db.transaction(fn);
    },
    exec: (sql) => db.exec(sql),
    close: () => db.close(),
  });

export async function startTestApp(
  target: TestDatabase,
  start: Date = TEST_START,
  /** Wraps the database the app is given (round-trip counting). */
  wrap: (db: Database) => Database = (db) => db,
): Promise<TestApp> {
  const opened: OpenTestDatabase = await target.open();
  const db = wrap(opened.db);
  const clock = new SimulatedClock(db);
  await clock.init(start);
  const tenant = await createDemo(db, start, 0);
  // LAUREL_TEST_LOG=1 shows the server's error log while debugging a test.
  const app = await buildApp({
    db,
    clock,
    giftCardKey: TEST_GIFT_CARD_KEY,
    // Error-case tests fail authentication on purpose many times a minute from one address; the
    // limits themselves are tested with their defaults (test/scenarios/auth-limits.test.ts).
    authLimits: { perKey: 100_000, perAddress: 100_000, windowMs: 60_000 },
    logger: process.env.LAUREL_TEST_LOG ? { level: 'error' } : false,
  });
  await app.ready();

  const request: TestApp['request'] = async (method, url, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const auth = opts.auth ?? 'app';
    if (auth === 'app') headers.authorization = basic(tenant.api_key, tenant.secret);
    else if (auth === 'admin') headers.authorization = `Bearer ${tenant.admin_token}`;
    else if (auth !== 'none') {
      headers.authorization = 'bearer' in auth ? `Bearer ${auth.bearer}` : basic(auth.key, auth.secret);
    }
    let payload: string | Buffer | undefined = opts.payload;
    if (payload === undefined && opts.body !== undefined) payload = JSON.stringify(opts.body);
    if (payload !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await app.inject({ method, url, headers, ...(payload !== undefined ? { payload } : {}) });
    let body: unknown = res.body;
    try {
      body = res.json();
    } catch {
      // not JSON: keep the text
    }
    return { status: res.statusCode, body, headers: res.headers };
  };

  return {
    app,
    db,
    clock,
    url: opened.url,
    tenant,
    core: `/priv/v1/apps/${tenant.api_key}`,
    request,
    newTenant: async () => createDemo(db, await clock.now(), 0),
    setNow: async (iso) => {
      await clock.set(new Date(iso));
    },
    async close() {
      await app.close();
      await opened.close();
    },
  };
}
