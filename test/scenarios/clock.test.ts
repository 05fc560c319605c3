import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const CLOCK = '/admin/v1/clock';
const clockBody = (now: string) => ({ status: 'ok', clock: { now, simulated: true } });

describeEachDatabase('Simulated clock (admin API)', (target) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp(target);
  });
  afterAll(() => t.close());

  const readClock = async () => {
    const res = await t.request('GET', CLOCK, { auth: 'admin' });
    expect(res.status).toBe(200);
    return res.body.clock.now as string;
  };

  it('reads the simulated time with an admin token', async () => {
    const res = await t.request('GET', CLOCK, { auth: 'admin' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(clockBody('2026-11-25T12:00:00.000Z'));
  });

  it('moves forward, answers in UTC, and Core requests then run at the new time', async () => {
    const res = await t.request('POST', CLOCK, {
      auth: 'admin',
      body: { now: '2026-11-26T09:30:15+02:00' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(clockBody('2026-11-26T07:30:15.000Z'));
    expect(await readClock()).toBe('2026-11-26T07:30:15.000Z');

    const created = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'clock@example.com', external_id: 'clock-1' } },
    });
    expect(created.status).toBe(200);
    expect(created.body.user.created_at).toBe('2026-11-26 07:30:15');
    const read = await t.request('GET', `${t.core}/users/${created.body.user.id}`);
    expect(read.body.user.created_at).toBe('2026-11-26 07:30:15');

    // Setting the same instant again is allowed: the clock does not move, and it does not go back.
    const same = await t.request('POST', CLOCK, { auth: 'admin', body: { now: '2026-11-26T07:30:15Z' } });
    expect(same.status).toBe(200);
    expect(same.body).toEqual(clockBody('2026-11-26T07:30:15.000Z'));
  });

  it('never moves backwards: 400 validation and the clock is unchanged', async () => {
    const before = await readClock();
    const back = new Date(new Date(before).getTime() - 1000).toISOString();
    const res = await t.request('POST', CLOCK, { auth: 'admin', body: { now: back } });
    expect(res.status).toBe(400);
    expect(res.body.status).toBe('error');
    expect(res.body.errors.code).toBe('validation');
    expect(res.body.errors.message).toContain(before);
    expect(await readClock()).toBe(before);
  });

  it('answers 401 invalid_auth_token without a valid admin token, for reads and writes', async () => {
    const before = await readClock();
    const other = await t.newTenant();
    const bad: Array<{ name: string; auth: Parameters<TestApp['request']>[2] }> = [
      { name: 'no token', auth: { auth: 'none' } },
      { name: 'wrong token', auth: { auth: { bearer: `${t.tenant.admin_token.slice(0, -1)}x` } } },
      { name: 'garbage token', auth: { auth: { bearer: 'lat_nope' } } },
      { name: "an app's Basic credentials", auth: { auth: 'app' } },
      {
        name: 'Basic with the admin token as secret',
        auth: { auth: { key: t.tenant.api_key, secret: t.tenant.admin_token } },
      },
      { name: "the app's secret as bearer", auth: { auth: { bearer: t.tenant.secret } } },
      {
        name: "another app's Basic credentials",
        auth: { auth: { key: other.api_key, secret: other.secret } },
      },
    ];
    for (const { name, auth } of bad) {
      for (const method of ['GET', 'POST'] as const) {
        const res = await t.request(method, CLOCK, {
          ...auth,
          ...(method === 'POST' ? { body: { now: '2031-01-01T00:00:00Z' } } : {}),
        });
        expect(res.status, `${method} ${name}`).toBe(401);
        expect(res.body, `${method} ${name}`).toEqual({
          status: 'error',
          errors: { code: 'invalid_auth_token', message: expect.any(String) },
        });
      }
    }
    expect(await readClock()).toBe(before);
  });

  it('rejects a body without a valid ISO-8601 instant with an offset (400) and stays put', async () => {
    const before = await readClock();
    const cases: Array<{ name: string; body: unknown; code: string }> = [
      { name: 'no now', body: {}, code: 'missing_data' },
      { name: 'another field', body: { time: '2031-01-01T00:00:00Z' }, code: 'missing_data' },
      { name: 'tomorrow', body: { now: 'tomorrow' }, code: 'validation' },
      { name: 'no offset', body: { now: '2031-01-01T00:00:00' }, code: 'validation' },
      { name: 'date only', body: { now: '2031-01-01' }, code: 'validation' },
      { name: 'epoch number', body: { now: 1924992000000 }, code: 'validation' },
      { name: 'empty string', body: { now: '' }, code: 'validation' },
      { name: 'impossible month', body: { now: '2031-13-01T00:00:00Z' }, code: 'validation' },
    ];
    for (const c of cases) {
      const res = await t.request('POST', CLOCK, { auth: 'admin', body: c.body });
      expect(res.status, c.name).toBe(400);
      expect(res.body.status, c.name).toBe('error');
      expect(res.body.errors.code, c.name).toBe(c.code);
      expect(res.body.errors.field, c.name).toBe('now');
    }
    const notJson = await t.request('POST', CLOCK, { auth: 'admin', payload: '{"now":' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.errors.code).toBe('invalid_json');
    expect(await readClock()).toBe(before);
  });

  it('is one clock for the whole server: a second retailer reads the same time', async () => {
    const other = await t.newTenant();
    const res = await t.request('GET', CLOCK, { auth: { bearer: other.admin_token } });
    expect(res.status).toBe(200);
    expect(res.body.clock.now).toBe(await readClock());
  });
});
