import { createHash } from 'node:crypto';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { envTrustProxy, type TrustProxy } from '../../src/config.js';
import { consoleRoutes } from '../../src/console/console.routes.js';
import { createAdminToken, CredentialVerifier } from '../../src/tenancy/tenancy.service.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, TEST_GIFT_CARD_KEY, type TestApp } from '../support/test-app.js';

/**
 * The console's sign-in, sessions, CSRF protection and headers over HTTP (issue #6), without a
 * browser: `inject()` on PGlite and PostgreSQL. The browser tests (console.test.ts) drive the
 * same pages in Chromium.
 */

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const cookieOf = (setCookie: unknown, name: string): string | undefined => {
  const all = Array.isArray(setCookie) ? setCookie : setCookie ? [String(setCookie)] : [];
  return all.find((c: string) => c.startsWith(`${name}=`));
};
const valueOf = (cookie: string | undefined) => cookie?.split(';')[0]!.split('=')[1];
const hidden = (body: string, name: string) =>
  new RegExp(`name="${name}" value="([^"]*)"`).exec(body)?.[1] ?? '';

describeEachDatabase('Console sessions, CSRF and headers', (target) => {
  let t: TestApp;
  let userId: string;

  beforeAll(async () => {
    t = await startTestApp(target);
    const res = await t.request('POST', `${t.core}/users`, {
      body: {
        user: {
          email: 'ada@example.com',
          external_id: 'ADA-1',
          first_name: '<script>alert(1)</script>',
          phone_numbers: [{ phone_number: '+1 (508) 995-9991', phone_type: 'mobile' }],
        },
      },
    });
    expect(res.status).toBe(200);
    userId = res.body.user.id;
  });
  afterAll(() => t.close());

  const get = (url: string, session?: string) =>
    t.app.inject({ method: 'GET', url, headers: session ? { cookie: `laurel_console=${session}` } : {} });
  const post = (
    url: string,
    fields: Record<string, string>,
    session?: string,
    extra: Record<string, string> = {},
  ) =>
    t.app.inject({
      method: 'POST',
      url,
      headers: { ...FORM, ...(session ? { cookie: `laurel_console=${session}` } : {}), ...extra },
      payload: form(fields),
    });

  /** Signs in through the form; answers the session cookie's value. */
  async function signIn(token = t.tenant.admin_token, next?: string) {
    const page = await get('/console/login');
    const login = cookieOf(page.headers['set-cookie'], 'laurel_console_login');
    const res = await t.app.inject({
      method: 'POST',
      url: '/console/login',
      headers: { ...FORM, cookie: login!.split(';')[0]! },
      payload: form({
        _login: hidden(page.body, '_login'),
        agent: 'Dana Whitfield',
        token,
        ...(next ? { next } : {}),
      }),
    });
    return { res, session: valueOf(cookieOf(res.headers['set-cookie'], 'laurel_console')) };
  }

  /** The member page's CSRF token and a fresh adjustment nonce. */
  async function formTokens(session: string) {
    const page = await get(`/console/members/${userId}`, session);
    expect(page.statusCode).toBe(200);
    return { _csrf: hidden(page.body, '_csrf'), nonce: hidden(page.body, 'nonce') };
  }

  const journals = async () =>
    (
      await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM journals WHERE user_id = $1', [userId])
    )[0]!.n;

  it('pages without a session redirect to the sign-in form, keeping where the agent was going', async () => {
    const res = await get(`/console/members/${userId}?page=2`);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(
      `/console/login?next=${encodeURIComponent(`/console/members/${userId}?page=2`)}`,
    );
    const root = await get('/console');
    expect(root.headers.location).toBe('/console/login?next=%2Fconsole');
  });

  it('a form posted without a session changes nothing and leads to sign-in', async () => {
    const before = await journals();
    const res = await post(`/console/members/${userId}/adjustments`, {
      direction: 'credit',
      amount: '100',
      reason: 'x',
      nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/console/login');
    expect(await journals()).toBe(before);
  });

  it('every console answer carries the security headers, redirects and 404s included', async () => {
    const { session } = await signIn();
    for (const res of [
      await get('/console/login'),
      await get('/console'),
      await get('/console/members/nope', session),
      await get('/console/no-such-page', session),
      await get('/console', session),
    ]) {
      expect(res.headers['content-security-policy']).toMatch(
        /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'/,
      );
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-frame-options']).toBe('DENY');
    }
  });

  it('the stylesheet is the one the policy allows by hash; pages have no script and no style attribute', async () => {
    const { session } = await signIn();
    const res = await get(`/console/members/${userId}`, session);
    const css = /<style>([\s\S]*?)<\/style>/.exec(res.body)![1]!;
    const hash = createHash('sha256').update(css).digest('base64');
    expect(res.headers['content-security-policy']).toContain(`'sha256-${hash}'`);
    expect(res.body).not.toMatch(/<script|\sstyle=|\son[a-z]+=/i);
  });

  it('sign-in sets an HttpOnly, SameSite=Strict cookie on /console and stores only a hash of it', async () => {
    const { res, session } = await signIn(t.tenant.admin_token, `/console/members/${userId}`);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/console/members/${userId}`);
    const cookie = cookieOf(res.headers['set-cookie'], 'laurel_console')!;
    expect(cookie).toMatch(/^laurel_console=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/console$/);
    const rows = await t.db.query<Record<string, unknown>>('SELECT * FROM console_sessions');
    const hash = createHash('sha256').update(session!).digest('hex');
    expect(rows.map((r) => r.id_hash)).toContain(hash);
    expect(JSON.stringify(rows)).not.toContain(session);
  });

  it('behind a TLS proxy the console cookie never gets Secure: it does once LAUREL_TRUST_PROXY says so (issue #13)', async () => {
    const login = (app: Awaited<ReturnType<typeof buildApp>>) =>
      app.inject({ method: 'GET', url: '/console/login', headers: { 'x-forwarded-proto': 'https' } });
    const build = (trustProxy: TrustProxy) =>
      buildApp({ db: t.db, clock: t.clock, giftCardKey: TEST_GIFT_CARD_KEY, trustProxy });
    // By default a client cannot claim https through the header.
    const untrusting = await build(false);
    expect(cookieOf((await login(untrusting)).headers['set-cookie'], 'laurel_console_login')).not.toMatch(
      /Secure/,
    );
    await untrusting.close();
    process.env.LAUREL_TRUST_PROXY = 'on';
    try {
      const trusting = await build(envTrustProxy());
      expect(cookieOf((await login(trusting)).headers['set-cookie'], 'laurel_console_login')).toMatch(
        /; Secure$/,
      );
      await trusting.close();
      process.env.LAUREL_TRUST_PROXY = 'maybe';
      expect(() => envTrustProxy()).toThrow(/LAUREL_TRUST_PROXY must be/);
    } finally {
      delete process.env.LAUREL_TRUST_PROXY;
    }
  });

  it('the cookie is Secure when the request came over https', async () => {
    const app = Fastify({ trustProxy: true });
    await app.register(consoleRoutes, {
      db: t.db,
      clock: t.clock,
      verifier: new CredentialVerifier(t.db),
      giftCardKey: TEST_GIFT_CARD_KEY,
      prefix: '/console',
    });
    const res = await app.inject({
      method: 'GET',
      url: '/console/login',
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(cookieOf(res.headers['set-cookie'], 'laurel_console_login')).toMatch(/; Secure$/);
    const plain = await app.inject({ method: 'GET', url: '/console/login' });
    expect(cookieOf(plain.headers['set-cookie'], 'laurel_console_login')).not.toMatch(/Secure/);
    await app.close();
  });

  it('a wrong, unknown or revoked token is refused with a clear message and no session', async () => {
    const revoked = await createAdminToken(t.db, t.tenant.retailer_id, 'revoked agent', await t.clock.now());
    await t.db.query('UPDATE admin_tokens SET revoked_at = now() WHERE retailer_id = $1 AND name = $2', [
      t.tenant.retailer_id,
      'revoked agent',
    ]);
    const other = await t.newTenant();
    for (const token of [
      'not-a-token',
      `${t.tenant.admin_token.slice(0, -2)}xx`,
      revoked.admin_token,
      `lat_${'0'.repeat(16)}_${'a'.repeat(43)}`,
    ]) {
      const { res, session } = await signIn(token);
      expect(res.statusCode).toBe(401);
      expect(res.body).toContain('That admin token was not accepted: it is mistyped, unknown or revoked.');
      expect(res.body).not.toContain(token);
      expect(session).toBeUndefined();
    }
    // Another retailer's token works, for that retailer only.
    const { session } = await signIn(other.admin_token);
    const page = await get(`/console/members/${userId}`, session);
    expect(page.statusCode).toBe(404);
  });

  it('the sign-in form must come with its own cookie (no sign-in from another site)', async () => {
    const res = await post('/console/login', {
      _login: 'AAAAAAAAAAAAAAAAAAAAAA',
      token: t.tenant.admin_token,
    });
    expect(res.statusCode).toBe(403);
    expect(cookieOf(res.headers['set-cookie'], 'laurel_console')).toBeUndefined();
  });

  it('after sign-in only a console path is followed, never another site', async () => {
    for (const next of [
      '//evil.example/x',
      'https://evil.example/',
      '/consolex/../../admin',
      '/\\evil',
      '/consolex',
    ]) {
      const { res } = await signIn(t.tenant.admin_token, next);
      expect(res.headers.location).toBe('/console');
    }
    const { res } = await signIn(t.tenant.admin_token, '/console/program?x=1');
    expect(res.headers.location).toBe('/console/program?x=1');
  });

  it('a POST without the session’s CSRF token, or from another origin, is refused with 403 and changes nothing', async () => {
    const { session } = await signIn();
    const tokens = await formTokens(session!);
    const before = await journals();
    const adjust = {
      direction: 'credit',
      account: 'spendable',
      amount: '100',
      reason: 'Goodwill',
      nonce: tokens.nonce,
    };
    for (const res of [
      await post(`/console/members/${userId}/adjustments`, adjust, session),
      await post(`/console/members/${userId}/adjustments`, { ...adjust, _csrf: 'x'.repeat(43) }, session),
      await post(`/console/members/${userId}/adjustments`, { ...adjust, _csrf: tokens._csrf }, session, {
        origin: 'https://evil.example',
      }),
      await post(`/console/members/${userId}/enrollment`, { opted_in: 'false' }, session),
      await post('/console/logout', {}, session),
    ]) {
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain('nothing was changed');
    }
    expect(await journals()).toBe(before);
    expect((await t.request('GET', `${t.core}/users/${userId}`)).body.user.opted_in).toBe(true);
    // The session survived the refused sign-out.
    expect((await get('/console', session)).statusCode).toBe(200);
  });

  it('an adjustment applies once per form, however often it is posted', async () => {
    const { session } = await signIn();
    const tokens = await formTokens(session!);
    const before = await journals();
    const fields = {
      ...tokens,
      direction: 'credit',
      account: 'spendable',
      amount: '1,250',
      reason: '  Goodwill:   late  delivery ',
    };
    const first = await post(`/console/members/${userId}/adjustments`, fields, session);
    expect(first.statusCode).toBe(303);
    expect(first.headers.location).toBe(`/console/members/${userId}?notice=credited&points=1250`);
    const second = await post(`/console/members/${userId}/adjustments`, fields, session);
    expect(second.headers.location).toBe(`/console/members/${userId}?notice=duplicate&points=1250`);
    expect(await journals()).toBe(before + 1);
    const [journal] = await t.db.query<Record<string, string>>(
      `SELECT reference_type, reference_id, point_source_id FROM journals WHERE user_id = $1 AND kind = 'deposit'`,
      [userId],
    );
    expect(journal).toMatchObject({
      reference_type: 'Agent adjustment',
      reference_id: 'Goodwill: late delivery',
    });
    expect(journal!.point_source_id).toMatch(/^console:[0-9a-f]{16}$/);
    const page = await get(first.headers.location as string, session);
    expect(page.body).toContain('Added 1,250 points.');
  });

  it('an adjustment needs a reason and a whole number of points; a bad form changes nothing', async () => {
    const { session } = await signIn();
    const tokens = await formTokens(session!);
    const before = await journals();
    for (const [fields, message] of [
      [{ amount: '10', reason: '   ' }, 'A reason is required'],
      [{ amount: '0', reason: 'x' }, 'Enter a whole number of points'],
      [{ amount: '2.5', reason: 'x' }, 'Enter a whole number of points'],
      [{ amount: '10', reason: 'x'.repeat(121) }, 'Keep the reason to 120 characters'],
      [{ amount: '10', reason: 'x', direction: 'sideways' }, 'Choose whether to add or remove points'],
      [{ amount: '10', reason: 'x', nonce: 'short' }, 'The form was incomplete'],
    ] as const) {
      const res = await post(
        `/console/members/${userId}/adjustments`,
        { ...tokens, direction: 'credit', account: 'spendable', ...fields },
        session,
      );
      expect(res.statusCode).toBe(400);
      expect(res.body).toContain(message);
      expect(res.body).toContain('aria-invalid="true"');
    }
    expect(await journals()).toBe(before);
  });

  it('member data is escaped, never markup', async () => {
    const { session } = await signIn();
    const page = await get(`/console/members/${userId}`, session);
    expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.body).not.toContain('<script>alert(1)</script>');
  });

  it('one search box: an exact email, phone, external id, name or Laurel id opens the member; a miss is a friendly 404', async () => {
    const { session } = await signIn();
    for (const q of ['ADA@example.com', '508-995-9991', '+1 508 995 9991', 'ada-1', userId.toUpperCase()]) {
      const res = await get(`/console/search?q=${encodeURIComponent(q)}`, session);
      expect(res.statusCode, q).toBe(303);
      expect(res.headers.location).toBe(`/console/members/${userId}`);
    }
    // A prefix lists the member rather than guessing.
    const prefix = await get('/console/search?q=ADA', session);
    expect(prefix.statusCode).toBe(200);
    expect(prefix.body).toContain(`href="/console/members/${userId}"`);
    const miss = await get('/console/search?q=zzz-nobody', session);
    expect(miss.statusCode).toBe(404);
    expect(miss.body).toContain('No member matches “zzz-nobody”.');
    const empty = await get('/console/search?q=', session);
    expect(empty.statusCode).toBe(400);
    // Wildcards are text: "%" matches nothing rather than everyone.
    const wild = await get('/console/search?q=%25', session);
    expect(wild.statusCode).toBe(404);
  });

  it('sign-out deletes the session; its cookie then leads to sign-in', async () => {
    const { session } = await signIn();
    const { _csrf } = await formTokens(session!);
    const hash = createHash('sha256').update(session!).digest('hex');
    const res = await post('/console/logout', { _csrf }, session);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/console/login?signed_out=1');
    expect(cookieOf(res.headers['set-cookie'], 'laurel_console')).toMatch(/^laurel_console=; .*Max-Age=0/);
    expect(await t.db.query('SELECT 1 FROM console_sessions WHERE id_hash = $1', [hash])).toEqual([]);
    expect((await get('/console', session)).statusCode).toBe(303);
  });

  describe('sessions expire', () => {
    const expire = async (session: string, column: 'idle_expires_at' | 'expires_at') => {
      const hash = createHash('sha256').update(session).digest('hex');
      await t.db.query(
        `UPDATE console_sessions SET ${column} = now() - interval '1 second' WHERE id_hash = $1`,
        [hash],
      );
    };

    it('after 8 hours without a request', async () => {
      const { session } = await signIn();
      const hash = createHash('sha256').update(session!).digest('hex');
      const [row] = await t.db.query<{ idle: number; max: number }>(
        `SELECT extract(epoch FROM idle_expires_at - created_at)::int AS idle,
                extract(epoch FROM expires_at - created_at)::int AS max
         FROM console_sessions WHERE id_hash = $1`,
        [hash],
      );
      expect(row).toEqual({ idle: 8 * 3600, max: 12 * 3600 });
      await expire(session!, 'idle_expires_at');
      const res = await get('/console', session);
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toMatch(/^\/console\/login/);
      expect(cookieOf(res.headers['set-cookie'], 'laurel_console')).toMatch(/Max-Age=0/);
    });

    it('12 hours after sign-in, however busy', async () => {
      const { session } = await signIn();
      await expire(session!, 'expires_at');
      expect((await get('/console', session)).statusCode).toBe(303);
    });

    it('at once when its admin token is revoked', async () => {
      const created = await createAdminToken(t.db, t.tenant.retailer_id, 'agent 7', await t.clock.now());
      const { session } = await signIn(created.admin_token);
      expect((await get('/console', session)).statusCode).toBe(200);
      await t.db.query(`UPDATE admin_tokens SET revoked_at = now() WHERE name = 'agent 7'`);
      expect((await get('/console', session)).statusCode).toBe(303);
    });
  });

  it('console routes stay out of the OpenAPI document', async () => {
    const doc = (await t.request('GET', '/openapi.json', { auth: 'none' })).body as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/console'))).toEqual([]);
  });
});
