import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { SimulatedClock } from '../../src/clock.js';
import { envTrustProxy } from '../../src/config.js';
import { DEFAULT_AUTH_LIMITS } from '../../src/http/auth-limiter.js';
import { describeEachDatabase } from '../support/databases.js';
import { basic, startTestApp, TEST_GIFT_CARD_KEY, type TestApp } from '../support/test-app.js';

/**
 * Failed authentications are limited per key and per address with the production defaults
 * (issue #7 security basics): 429 in the envelope with Retry-After, no secret checked meanwhile,
 * and credentials that work keep working for the clients behind a limited address.
 */
describeEachDatabase('Failed-authentication limits', (target) => {
  let t: TestApp;
  let app: FastifyInstance;
  const get = (path: string, authorization: string | undefined, ip = '203.0.113.7') =>
    app.inject({
      method: 'GET',
      url: path,
      remoteAddress: ip,
      headers: authorization ? { authorization } : {},
    });

  beforeAll(async () => {
    t = await startTestApp(target);
    const clock = new SimulatedClock(t.db);
    await clock.init(undefined);
    // A server with the default limits over the test database.
    app = await buildApp({ db: t.db, clock, giftCardKey: TEST_GIFT_CARD_KEY });
  });
  afterAll(async () => {
    await app.close();
    await t.close();
  });

  it('a key that keeps failing is refused with 429 and Retry-After; another key is not', async () => {
    const { api_key, secret } = t.tenant;
    const path = `/priv/v1/apps/${api_key}/users/search?email=nobody@example.com`;
    // A till that authenticated before keeps working throughout.
    expect((await get(path, basic(api_key, secret), '198.51.100.1')).statusCode).toBe(404);
    for (let i = 0; i < DEFAULT_AUTH_LIMITS.perKey; i++) {
      const res = await get(path, basic(api_key, `wrong-${i}`));
      expect(res.statusCode).toBe(401);
    }
    const limited = await get(path, basic(api_key, 'wrong-again'));
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ status: 'error', errors: { code: 'too_many_requests' } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // The limit is on guessing: the right secret, already verified, still works from anywhere.
    expect((await get(path, basic(api_key, secret), '198.51.100.1')).statusCode).toBe(404);
    expect((await get(path, basic(api_key, secret))).statusCode).toBe(404);
    const other = await t.newTenant();
    expect(
      (
        await get(
          `/priv/v1/apps/${other.api_key}/users/search?email=x@example.com`,
          basic(other.api_key, 'nope'),
        )
      ).statusCode,
    ).toBe(401);
  });

  it('an address that keeps failing is refused for every unknown credential, admin tokens too', async () => {
    const ip = '192.0.2.44';
    for (let i = 0; i < DEFAULT_AUTH_LIMITS.perAddress; i++) {
      const key = i.toString(16).padStart(40, '0');
      expect(
        (await get(`/priv/v1/apps/${key}/users/search?email=a@example.com`, basic(key, 's'), ip)).statusCode,
      ).toBe(401);
    }
    const forged = await get(
      '/admin/v1/program',
      'Bearer lat_0123456789abcdef_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      ip,
    );
    expect(forged.statusCode).toBe(429);
    expect((await get('/admin/v1/program', undefined, ip)).statusCode).toBe(429);
    // Elsewhere the admin API answers as usual.
    expect((await get('/admin/v1/program', `Bearer ${t.tenant.admin_token}`, '192.0.2.45')).statusCode).toBe(
      200,
    );
  });

  it('a stranger can lock a client out: failures from other addresses never refuse the right secret', async () => {
    const victim = await t.newTenant();
    const path = `/priv/v1/apps/${victim.api_key}/users/search?email=nobody@example.com`;
    // Ten and more failures naming the key, with no secret or a wrong one, from a stranger's address.
    for (let i = 0; i < DEFAULT_AUTH_LIMITS.perKey + 5; i++) {
      const res = await get(path, i % 2 ? basic(victim.api_key, `guess-${i}`) : undefined, '203.0.113.66');
      expect([401, 429]).toContain(res.statusCode);
    }
    expect((await get(path, basic(victim.api_key, 'guess'), '203.0.113.66')).statusCode).toBe(429);
    // The client's first request with the right secret, never verified before, from its own address.
    expect((await get(path, basic(victim.api_key, victim.secret), '198.51.100.20')).statusCode).toBe(404);
  });

  it('a flood of bad credentials from one address does not hold up a first sign-in from another', async () => {
    const victim = await t.newTenant();
    const path = `/priv/v1/apps/${victim.api_key}/users/search?email=nobody@example.com`;
    let done = 0;
    const flood = Array.from({ length: 40 }, (_, i) =>
      get(path, basic(victim.api_key, `flood-${i}`), '203.0.113.99').then((r) => {
        done += 1;
        return r.statusCode;
      }),
    );
    const first = await get(path, basic(victim.api_key, victim.secret), '198.51.100.21');
    const doneWhenAnswered = done;
    expect(first.statusCode).toBe(404);
    // The flood's checks run one at a time behind each other, not ahead of the sign-in.
    expect(doneWhenAnswered).toBeLessThan(10);
    const codes = await Promise.all(flood);
    expect(codes.every((c) => c === 401 || c === 429)).toBe(true);
  });

  it('behind a trusted proxy, a forged X-Forwarded-For cannot spend another address’s allowance (adversarial review of #13)', async () => {
    process.env.LAUREL_TRUST_PROXY = 'on';
    const proxied = await buildApp({
      db: t.db,
      clock: t.clock,
      giftCardKey: TEST_GIFT_CARD_KEY,
      trustProxy: envTrustProxy(),
    });
    delete process.env.LAUREL_TRUST_PROXY;
    try {
      const victim = await t.newTenant();
      const path = `/priv/v1/apps/${victim.api_key}/users/search?email=nobody@example.com`;
      const via = (authorization: string, forwardedFor: string) =>
        proxied.inject({
          method: 'GET',
          url: path,
          remoteAddress: '10.0.0.1', // the proxy
          headers: { authorization, 'x-forwarded-for': forwardedFor },
        });
      // The attacker writes the victim's address first; the proxy appends the attacker's own.
      for (let i = 0; i < DEFAULT_AUTH_LIMITS.perAddress; i++) {
        const key = i.toString(16).padStart(40, '0');
        expect((await via(basic(key, 'x'), '198.51.100.9, 203.0.113.66')).statusCode).toBe(401);
      }
      expect((await via(basic(victim.api_key, victim.secret), '198.51.100.9')).statusCode).toBe(404);
      // The attacker's own address is the one limited.
      expect((await via(basic(victim.api_key, 'x'), '198.51.100.9, 203.0.113.66')).statusCode).toBe(429);
    } finally {
      await proxied.close();
    }
  });
});
