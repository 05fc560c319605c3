import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConnectionError } from '../../src/db/database.js';
import { TEST_DATABASES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Regression (issue #7, found by the reliability suite, test/reliability/conservation.test.ts): when
 * the database stalls under load, requests beyond the pool's connections wait for one, and pg-pool
 * gives up after its connection timeout (5 s) with `timeout exceeded when trying to connect`. That
 * error was not recognised as the database being unavailable, so those requests answered 500
 * `internal_server_error`. They must answer 503 in the envelope with Retry-After, like any outage.
 */

const postgres = TEST_DATABASES.find((d) => d.name === 'postgres');

describe.skipIf(!postgres)('A stalled database under load [postgres]', () => {
  let t: TestApp;
  let userId: string;

  beforeAll(async () => {
    t = await startTestApp(postgres!);
    userId = (await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'STALL-1' } } })).body
      .user.id;
  });
  afterAll(() => t.close());

  it('answers 503 with Retry-After to requests that waited past the pool timeout, never 500 (bug: pool timeout was a 500)', async () => {
    // The test database's pool holds 5 connections; `users` locked for 6.5 s stalls every one of
    // them, and the next requests wait for a connection longer than the pool's 5 s.
    const locker = new pg.Client({ connectionString: t.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      const answers = Promise.all(
        Array.from({ length: 10 }, () =>
          t.request('POST', '/incentives/api/1.0/user_points/all_balances', {
            body: { retailer_id: t.tenant.retailer_id, user_id: userId },
          }),
        ),
      );
      await new Promise((done) => setTimeout(done, 6500));
      await locker.query('ROLLBACK');
      const got = await answers;
      const statuses = got.map((a) => a.status).sort();
      expect(statuses).not.toContain(500);
      const unavailable = got.filter((a) => a.status === 503);
      expect(unavailable.length, `statuses ${statuses.join(',')}`).toBeGreaterThan(0);
      for (const a of unavailable) {
        expect(a.body.errors.code).toBe('service_unavailable');
        expect(a.headers['retry-after']).toBeDefined();
      }
      expect(got.filter((a) => a.status === 200).length + unavailable.length).toBe(10);
    } finally {
      await locker.end();
    }
  }, 30_000);
});

describe('The pool timeout', () => {
  it('is recognised as the database being unavailable (bug: pool timeout was a 500)', () => {
    expect(isConnectionError(new Error('timeout exceeded when trying to connect'))).toBe(true);
  });
});
