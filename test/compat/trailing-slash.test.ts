import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Issue #14 item 1: a Java Spring profile service builds its URLs with a trailing slash,
 * `POST .../users/` and `GET .../users/?user_ids[]=a&user_ids[]=b`. Both answered 404, and the
 * empty segment was read as a user id. The client reads `status`, `user.id` and `users[].id`.
 */
describeEachDatabase('Compat: URLs with a trailing slash', (target) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(target);
  });
  afterAll(() => t.close());

  it('POST .../users/ creates, GET .../users/?user_ids[]= reads several, GET .../users/:id/ reads one', async () => {
    const ids: string[] = [];
    for (const email of ['spring-a@example.com', 'spring-b@example.com']) {
      const res = await t.request('POST', `${t.core}/users/`, {
        body: { user: { email, first_name: 'Spring', opted_in: 'true' } },
      });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('ok');
      ids.push(res.body.user.id);
    }
    const many = await t.request('GET', `${t.core}/users/?user_ids[]=${ids[0]}&user_ids[]=${ids[1]}`);
    expect(many.status).toBe(200);
    expect(many.body.status).toBe('ok');
    expect(many.body.users.map((u: { id: string }) => u.id)).toEqual(ids);

    const one = await t.request('GET', `${t.core}/users/${ids[1]}/?user[user_profile]=true`);
    expect(one.status).toBe(200);
    expect(one.body.user.id).toBe(ids[1]);
  });

  it('a trailing slash on the incentives and POS routes is the route too', async () => {
    const res = await t.request('POST', `${t.core}/users/`, { body: { user: { external_id: 'SLASH-1' } } });
    const balances = await t.request('POST', '/incentives/api/1.0/user_points/all_balances/', {
      body: { retailer_id: t.tenant.retailer_id, user_id: res.body.user.id },
    });
    expect(balances.status).toBe(200);
    expect(balances.body.payload.user_id).toBe(res.body.user.id);
  });

  it('an unknown path with a trailing slash is still 404 in the envelope', async () => {
    const res = await t.request('GET', `${t.core}/nothing/here/`);
    expect(res.status).toBe(404);
    expect(res.body.errors.code).toBe('not_found');
  });
});
