import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * A balance call naming an account the program does not have wrote the member's stored standing
 * before refusing (found by the hostile-input suite, seed 1597090373): since the call reads the
 * standing as a lookup does (issue #15), the accounts are checked against the program before the
 * standing it computed is stored. Bad input changes nothing, not even that cache.
 */
describeEachDatabase('A refused balance call', (target) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(target, new Date('2026-11-20T15:30:00Z'));
  });
  afterAll(() => t.close());

  it('a balance call naming an unknown account writes nothing, not even the stored standing', async () => {
    const created = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'refused@example.com', external_id: 'REF-1' } },
    });
    expect(created.status).toBe(200);
    const userId = created.body.user.id as string;
    const stored = () =>
      t.db.query<{ version: number; body: unknown }>(
        'SELECT version, body FROM member_standings WHERE user_id = $1',
        [userId],
      );
    const before = await stored();
    // A new member's standing is not stored yet: the first read computes it.
    expect(before[0]?.body ?? null).toBeNull();
    const call = (ids: string[]) =>
      t.request('POST', '/incentives/api/2.0/user_points/balance', {
        body: { retailer_id: t.tenant.retailer_id, user_id: userId, point_account_ids: ids },
      });
    const refused = await call(['<script>alert(1)</script>']);
    expect(refused.status).toBe(400);
    expect(refused.body.errors.code).toBe('validation');
    expect(await stored()).toEqual(before);
    // The same call with no account named reads and stores it: the check above could see a write.
    expect((await call([])).status).toBe(200);
    expect((await stored())[0]?.body).not.toBeNull();
  });
});
