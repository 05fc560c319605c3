import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Issue #14 item 2: a TypeScript member app saves custom attributes with
 * `PUT .../users/:id/models/user_profile` (and by external id), and reads the answer SessionM
 * recorded: `{"status":"ok","user_profile":{"_version":N, ...attributes}}`. POST answers the same.
 */
describeEachDatabase('Compat: PUT of models/user_profile', (target) => {
  let t: TestApp;
  let userId: string;
  beforeAll(async () => {
    t = await startTestApp(target);
    const res = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'app@example.com', external_id: 'APP-9' } },
    });
    expect(res.status).toBe(200);
    userId = res.body.user.id;
  });
  afterAll(() => t.close());

  it('PUT by id sets attributes and answers user_profile with its _version', async () => {
    const res = await t.request('PUT', `${t.core}/users/${userId}/models/user_profile`, {
      body: { user_profile: { favorite_store: 'BOSTON-01', newsletter: true } },
    });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.user_profile).toEqual({ _version: 1, favorite_store: 'BOSTON-01', newsletter: true });
    expect(res.body.user).toBeUndefined();
  });

  it('PUT by external id and POST answer the same shape, the version counting every change', async () => {
    const put = await t.request('PUT', `${t.core}/external/users/APP-9/models/user_profile`, {
      body: { user_profile: { newsletter: null, shoe_size: 42 } },
    });
    expect(put.status).toBe(200);
    expect(put.body.user_profile).toEqual({ _version: 2, favorite_store: 'BOSTON-01', shoe_size: 42 });
    const post = await t.request('POST', `${t.core}/users/${userId}/models/user_profile`, {
      body: { user_profile: { shoe_size: 43 } },
    });
    expect(post.status).toBe(200);
    expect(post.body).toEqual({
      status: 'ok',
      user_profile: { _version: 3, favorite_store: 'BOSTON-01', shoe_size: 43 },
    });
    const read = await t.request('GET', `${t.core}/users/${userId}?user[user_profile]=true`);
    expect(read.body.user.user_profile).toEqual(post.body.user_profile);
  });

  it('PUT for an unknown member answers user_not_found', async () => {
    const res = await t.request('PUT', `${t.core}/external/users/NOBODY/models/user_profile`, {
      body: { user_profile: { a: 1 } },
    });
    expect(res.status).toBe(404);
    expect(res.body.errors.code).toBe('user_not_found');
  });
});
