import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { decode, nullPaths } from './answers-decoder.js';

/**
 * Client habit (issue #14 item 11): a Java profile service and a C# POS decode the user object
 * into typed classes whose string fields reject `null`. Fields the member does not have must be
 * left out; `tier_resets_at` is a `YYYY-MM-DD HH:MM:SS` string whenever the member has a tier.
 */

/** The user fields those clients read, with the types their classes declare. */
const USER = {
  required: {
    id: 'string',
    opted_in: 'boolean',
    available_points: 'number',
    created_at: 'core_time',
    updated_at: 'core_time',
    tier: 'string',
    tier_system: 'string',
    tier_points: 'number',
    referrer_code: 'string',
  },
  optional: {
    external_id: 'string',
    email: 'string',
    gender: 'string',
    dob: 'string',
    address: 'string',
    address2: 'string',
    city: 'string',
    zip: 'string',
    dma: 'string',
    state: 'string',
    country: 'string',
    locale: 'string',
    first_name: 'string',
    last_name: 'string',
    current_zip: 'string',
    current_dma: 'string',
    current_state: 'string',
    current_country: 'string',
    next_tier_points: 'number',
    tier_ends_value: 'number',
    tier_entered_at: 'core_time',
    tier_resets_at: 'core_time',
    phone_numbers: 'array',
  },
} as const;

const FLAGS = 'user%5Buser_profile%5D=true&expand_incentives=true&show_identifiers=true';

describeEachDatabase('compat: a member without a field answers without it, never null', (target) => {
  let t: TestApp;
  let bare: string;
  beforeAll(async () => {
    t = await startTestApp(target);
    const res = await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'BARE-1' } } });
    bare = res.body.user.id;
  });
  afterAll(() => t.close());

  it('answers a member with only an external id without one null, on every read and write', async () => {
    const answers = [
      await t.request('GET', `${t.core}/users/${bare}`),
      await t.request('GET', `${t.core}/users/${bare}?${FLAGS}`),
      await t.request('GET', `${t.core}/external/users/BARE-1?${FLAGS}`),
      await t.request('GET', `${t.core}/users/search?external_id=BARE-1&${FLAGS}`),
      await t.request('PUT', `${t.core}/users/${bare}`, { body: { user: { locale: 'en-US' } } }),
    ];
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(nullPaths(res.body.user)).toEqual([]);
      expect(decode('user', res.body.user, USER)).toEqual([]);
    }
    const u = answers[0]!.body.user;
    for (const absent of [
      'email',
      'gender',
      'dob',
      'address2',
      'dma',
      'phone_numbers',
      'current_dma',
      'first_name',
    ]) {
      expect(u, absent).not.toHaveProperty(absent);
    }
    const many = await t.request('GET', `${t.core}/users?user_ids[]=${bare}`);
    expect(nullPaths(many.body.users)).toEqual([]);
  });

  it('leaves out what a PUT cleared (phone_numbers [] and address2 null) instead of echoing null', async () => {
    const put = await t.request('PUT', `${t.core}/users/${bare}`, {
      body: {
        user: {
          address2: 'APT 11',
          dma: '506',
          phone_numbers: [{ phone_number: '617-555-0100' }],
        },
      },
    });
    expect(put.body.user).toMatchObject({ address2: 'APT 11', current_dma: '506' });
    const cleared = await t.request('PUT', `${t.core}/users/${bare}`, {
      body: { user: { address2: null, dma: null, phone_numbers: [] } },
    });
    expect(cleared.status).toBe(200);
    expect(nullPaths(cleared.body)).toEqual([]);
    expect(decode('user', cleared.body.user, USER)).toEqual([]);
    for (const absent of ['address2', 'dma', 'current_dma', 'phone_numbers']) {
      expect(cleared.body.user, absent).not.toHaveProperty(absent);
    }
  });

  it('answers tier_resets_at for BASE, which never expires, as the end of the qualifying year', async () => {
    // ACME: BASE never expires; the qualifying period is the calendar year in New York.
    const res = await t.request('GET', `${t.core}/users/${bare}`);
    expect(res.body.user).toMatchObject({ tier: 'BASE', tier_resets_at: '2027-01-01 05:00:00' });
    await t.setNow('2027-03-01T12:00:00Z');
    const next = await t.request('GET', `${t.core}/users/${bare}`);
    expect(next.body.user.tier_resets_at).toBe('2028-01-01 05:00:00');
  });

  it('leaves the tier times out for an UNENROLLED member, whose tier is no level', async () => {
    const res = await t.request('PUT', `${t.core}/users/${bare}`, { body: { user: { opted_in: 'false' } } });
    expect(res.body.user.tier).toBe('UNENROLLED');
    expect(res.body.user).not.toHaveProperty('tier_resets_at');
    expect(res.body.user).not.toHaveProperty('tier_entered_at');
    expect(nullPaths(res.body.user)).toEqual([]);
  });
});
