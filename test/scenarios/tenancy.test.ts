import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DemoCredentials } from '../../src/demo/demo.service.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type ApiResponse, type RequestOptions, type TestApp } from '../support/test-app.js';

/**
 * Cross-tenant isolation (DESIGN §1): nothing is visible across retailers, a wrong-tenant id answers
 * exactly like a missing one, uniqueness is per retailer, and only live credentials of the path's
 * own app get in.
 */

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

function expectError(res: ApiResponse, status: number, code: string, label = ''): void {
  const what = `${label}: got ${res.status} ${JSON.stringify(res.body)}`;
  expect(res.status, what).toBe(status);
  expect(res.body.status, what).toBe('error');
  expect(res.body.errors.code, what).toBe(code);
}

const MISSING = '00000000-0000-4000-8000-000000000000';

const memberA = {
  email: 'Shared@Example.com',
  external_id: 'CARD-42',
  external_id_type: 'merchant_identifier',
  first_name: 'Alice',
  dob: '1985-05-05',
  phone_numbers: [{ phone_number: '+1 (617) 555-0142' }],
  identifiers: [{ external_id: 'FB-42', external_id_type: 'facebook' }],
  user_profile: { favorite_store: 'Boston' },
};

describeEachDatabase('Tenancy isolation', (target) => {
  let t: TestApp;
  let b: DemoCredentials;
  let bCore: string;
  let bAuth: { key: string; secret: string };
  let aUserId: string;

  const asB = (method: Method, path: string, opts: RequestOptions = {}) =>
    t.request(method, `${bCore}${path}`, { auth: bAuth, ...opts });

  /** Retailer A's member as A sees it, and every row it owns. */
  async function aState() {
    const view = await t.request(
      'GET',
      `${t.core}/users/${aUserId}?user%5Buser_profile%5D=true&show_identifiers=true`,
    );
    const tags = await t.request('GET', `${t.core}/users/${aUserId}/tags`);
    return {
      view: view.body,
      tags: tags.body,
      row: await t.db.query('SELECT *, dob::text AS dob FROM users WHERE id = $1', [aUserId]),
      identifiers: await t.db.query(
        'SELECT * FROM user_identifiers WHERE user_id = $1 ORDER BY external_id',
        [aUserId],
      ),
      phones: await t.db.query('SELECT * FROM user_phones WHERE user_id = $1 ORDER BY position', [aUserId]),
      usersOfA: await t.db.query('SELECT count(*)::int AS n FROM users WHERE retailer_id = $1', [
        t.tenant.retailer_id,
      ]),
    };
  }
  let aBefore: Awaited<ReturnType<typeof aState>>;

  beforeAll(async () => {
    t = await startTestApp(target);
    const created = await t.request('POST', `${t.core}/users`, { body: { user: memberA } });
    expect(created.status).toBe(200);
    aUserId = created.body.user.id;
    expect(
      (await t.request('POST', `${t.core}/users/${aUserId}/tags`, { body: { tags: ['vip'] } })).status,
    ).toBe(200);
    b = await t.newTenant();
    expect(b.retailer_id).not.toBe(t.tenant.retailer_id);
    bCore = `/priv/v1/apps/${b.api_key}`;
    bAuth = { key: b.api_key, secret: b.secret };
    aBefore = await aState();
  });
  afterAll(() => t.close());

  it("B's own credentials work: B sees an empty retailer, not an error", async () => {
    const none = await asB('GET', `/users?user_ids[]=${aUserId}`);
    expect(none.status).toBe(200);
    expect(none.body.users).toEqual([]);
  });

  it("answers user_not_found to B for A's user id, on every route, exactly like a missing id", async () => {
    const routes: [Method, string, unknown?][] = [
      ['GET', '/users/:id'],
      ['PUT', '/users/:id', { user: { city: 'STOLEN', email: 'b-owned@example.com' } }],
      ['DELETE', '/users/:id'],
      ['GET', '/users/:id/tags'],
      ['POST', '/users/:id/tags', { tags: ['b-tag'] }],
      ['POST', '/users/:id/tags', { tags: ['b-ttl'], ttl: 60 }],
      ['POST', '/users/:id/models/user_profile', { user_profile: { favorite_store: null, b: 1 } }],
    ];
    for (const [method, route, body] of routes) {
      const opts = body === undefined ? {} : { body };
      const theirs = await asB(method, route.replace(':id', aUserId), opts);
      expectError(theirs, 404, 'user_not_found', `${method} ${route}`);
      const missing = await asB(method, route.replace(':id', MISSING), opts);
      expect(theirs.body, `${method} ${route}`).toEqual(missing.body);
      expect(theirs.status).toBe(missing.status);
    }
  });

  it("answers user_not_found to B for A's external ids, primary and further", async () => {
    for (const ext of ['CARD-42', 'FB-42']) {
      const routes: [Method, string, unknown?][] = [
        ['GET', `/external/users/${ext}`],
        ['PUT', `/external/users/${ext}`, { user: { city: 'STOLEN' } }],
        ['GET', `/external/users/${ext}/tags`],
        ['POST', `/external/users/${ext}/tags`, { tags: ['b-tag'] }],
        ['POST', `/external/users/${ext}/models/user_profile`, { user_profile: { b: 1 } }],
      ];
      for (const [method, path, body] of routes) {
        expectError(
          await asB(method, path, body === undefined ? {} : { body }),
          404,
          'user_not_found',
          `${method} ${path}`,
        );
      }
    }
  });

  it("answers user_not_found to B's searches for A's email, phone and external id", async () => {
    for (const q of [
      'email=Shared@Example.com',
      'email=shared%40example.com',
      'mobile_number=6175550142',
      'mobile_number=%2B1%20617%20555%200142',
      'external_id=CARD-42',
      'external_id=FB-42',
    ]) {
      expectError(await asB('GET', `/users/search?${q}`), 404, 'user_not_found', q);
    }
    // The same searches find A's member for A: the misses above are isolation, not bad queries.
    for (const q of ['email=shared%40example.com', 'mobile_number=6175550142', 'external_id=FB-42']) {
      expect((await t.request('GET', `${t.core}/users/search?${q}`)).body.user?.id, q).toBe(aUserId);
    }
  });

  it("answers invalid_auth_token when B puts A's api_key in the path, and the other way round", async () => {
    const before = await t.db.query('SELECT count(*)::int AS n FROM users');
    const aCore = t.core;
    for (const [label, url, auth] of [
      ["A's path, B's credentials", aCore, bAuth],
      ["B's path, A's credentials", bCore, { key: t.tenant.api_key, secret: t.tenant.secret }],
      ["A's path, A's key with B's secret", aCore, { key: t.tenant.api_key, secret: b.secret }],
      ["B's path, B's key with A's secret", bCore, { key: b.api_key, secret: t.tenant.secret }],
    ] as const) {
      for (const [method, path, body] of [
        ['GET', `/users/${aUserId}`],
        ['GET', '/users/search?email=shared@example.com'],
        ['PUT', `/users/${aUserId}`, { user: { city: 'STOLEN' } }],
        ['DELETE', `/users/${aUserId}`],
        ['POST', '/users', { user: { email: 'crossed@example.com' } }],
      ] as [Method, string, unknown?][]) {
        expectError(
          await t.request(method, `${url}${path}`, { auth, ...(body === undefined ? {} : { body }) }),
          401,
          'invalid_auth_token',
          `${label}: ${method} ${path}`,
        );
      }
    }
    expect(await t.db.query('SELECT count(*)::int AS n FROM users')).toEqual(before);
  });

  it("lets B create a member with A's email, external ids and phone: uniqueness is per retailer", async () => {
    const res = await asB('POST', '/users?show_identifiers=true', {
      body: {
        user: {
          email: 'SHARED@example.com',
          external_id: 'CARD-42',
          phone_numbers: [{ phone_number: '6175550142' }],
          identifiers: [{ external_id: 'FB-42', external_id_type: 'facebook' }],
          first_name: 'Bob',
        },
      },
    });
    expect(res.status).toBe(200);
    const bUserId = res.body.user.id;
    expect(bUserId).not.toBe(aUserId);
    expect(res.body.user.identifiers.map((i: { external_id: string }) => i.external_id)).toEqual([
      'CARD-42',
      'FB-42',
    ]);
    const rows = await t.db.query<{ retailer_id: string }>('SELECT retailer_id FROM users WHERE id = $1', [
      bUserId,
    ]);
    expect(rows[0]!.retailer_id).toBe(b.retailer_id);

    // Each retailer finds its own member by the shared keys.
    for (const path of [
      '/external/users/CARD-42',
      '/external/users/FB-42',
      '/users/search?email=shared@example.com',
      '/users/search?mobile_number=6175550142',
    ]) {
      expect((await asB('GET', path)).body.user.id, `B ${path}`).toBe(bUserId);
      expect((await t.request('GET', `${t.core}${path}`)).body.user.id, `A ${path}`).toBe(aUserId);
    }
    // Uniqueness still holds inside B.
    expectError(
      await asB('POST', '/users', { body: { user: { email: 'shared@EXAMPLE.com' } } }),
      409,
      'validation',
    );
    expectError(
      await asB('POST', '/users', { body: { user: { external_id: 'FB-42' } } }),
      409,
      'external_id_taken',
    );
    // A can reach B's member no more than B could reach A's.
    expectError(await t.request('GET', `${t.core}/users/${bUserId}`), 404, 'user_not_found');

    // B works on its own member by the shared external id, then deletes it; A's member is untouched.
    const put = await asB('PUT', '/external/users/CARD-42', { body: { user: { city: 'SPRINGFIELD' } } });
    expect(put.body.user).toMatchObject({ id: bUserId, city: 'SPRINGFIELD' });
    expect((await asB('POST', '/external/users/CARD-42/tags', { body: { tags: ['vip'] } })).status).toBe(200);
    expect((await asB('DELETE', `/users/${bUserId}`)).status).toBe(200);
    expectError(await asB('GET', '/external/users/CARD-42'), 404, 'user_not_found');
    expect((await t.request('GET', `${t.core}/external/users/CARD-42`)).body.user.id).toBe(aUserId);
  });

  it("leaves A's member exactly as it was after everything B did", async () => {
    expect(await aState()).toEqual(aBefore);
    expect(aBefore.view.user).toMatchObject({
      id: aUserId,
      email: 'Shared@Example.com',
      external_id: 'CARD-42',
      user_profile: { _version: 1, favorite_store: 'Boston' },
    });
    expect(aBefore.view.user).not.toHaveProperty('city');
    expect(aBefore.tags.tags).toEqual([expect.objectContaining({ tag: 'vip', count: 1 })]);
  });

  it('refuses a revoked app (credentials never used before the revocation)', async () => {
    // The verifier caches a successful verification for 60 s per process, so a key already used
    // keeps working until its entry expires (src/tenancy/tenancy.service.ts). Fresh credentials
    // exercise the database check itself.
    const c = await t.newTenant();
    const core = `/priv/v1/apps/${c.api_key}`;
    const auth = { key: c.api_key, secret: c.secret };
    await t.db.query('UPDATE apps SET revoked_at = $2 WHERE api_key = $1', [c.api_key, await t.clock.now()]);
    const before = await t.db.query('SELECT count(*)::int AS n FROM users');
    expectError(
      await t.request('GET', `${core}/users/search?email=x@example.com`, { auth }),
      401,
      'invalid_auth_token',
    );
    expectError(
      await t.request('POST', `${core}/users`, { auth, body: { user: { email: 'revoked@example.com' } } }),
      401,
      'invalid_auth_token',
    );
    expect(await t.db.query('SELECT count(*)::int AS n FROM users')).toEqual(before);

    // Control: an app of the same kind that is not revoked gets in.
    const d = await t.newTenant();
    const ok = await t.request('GET', `/priv/v1/apps/${d.api_key}/users?user_ids[]=${MISSING}`, {
      auth: { key: d.api_key, secret: d.secret },
    });
    expect(ok.status).toBe(200);
  });
});
