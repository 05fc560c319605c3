import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const seed = JSON.parse(
  readFileSync(new URL('../fixtures/seed-user-response.json', import.meta.url), 'utf8'),
);

/** Every key path of a JSON value (arrays contribute their first element's paths). */
function keyPaths(v: unknown, prefix = ''): string[] {
  if (Array.isArray(v)) return v.length ? keyPaths(v[0], `${prefix}[]`) : [];
  if (v && typeof v === 'object') {
    return Object.entries(v).flatMap(([k, child]) => {
      // point_accounts is keyed by account id: its keys are data, not shape.
      if (k === 'point_accounts') return [`${prefix}.${k}`];
      return [`${prefix}.${k}`, ...keyPaths(child, `${prefix}.${k}`)];
    });
  }
  return [];
}

const member = {
  external_id: 'eutest17',
  external_id_type: 'merchant_identifier',
  email: 'Test@Example.com',
  opted_in: 'true',
  first_name: 'ZZZ002',
  last_name: 'Lei',
  gender: 'm',
  dob: '1999-07-01',
  address: '222 Main St.',
  address2: 'APT 11',
  city: 'BOSTON',
  state: 'MA',
  zip: '02210',
  dma: '506',
  country: 'USA',
  phone_numbers: [{ phone_number: '+1 (508) 995-9991', phone_type: 'mobile', preference_flags: ['primary'] }],
  user_profile: { loyalty_card: 'AC-1' },
};

describeEachDatabase('Customer Profile API', (target) => {
  let t: TestApp;
  let userId: string;

  beforeAll(async () => {
    t = await startTestApp(target);
    const res = await t.request('POST', `${t.core}/users`, { body: { user: member } });
    expect(res.status).toBe(200);
    userId = res.body.user.id;
  });
  afterAll(() => t.close());

  it('creates a profile and answers in the seed shape', async () => {
    const res = await t.request('GET', `${t.core}/users/${userId}`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    const u = res.body.user;
    expect(u).toMatchObject({
      id: userId,
      external_id: 'eutest17',
      email: 'Test@Example.com',
      opted_in: true,
      dob: '1999-07-01',
      country: 'USA',
      current_zip: '02210',
      tier: 'BASE',
      tier_system: 'ACME Tier System',
      tier_points: 0,
      next_tier_points: 2000,
      tier_ends_value: 2000,
      tier_resets_at: '2027-01-01 05:00:00',
      available_points: 0,
      created_at: '2026-11-25 12:00:00',
      tier_entered_at: '2026-11-25 12:00:00',
    });
    expect(u.user_profile).toBeUndefined();
    expect(u.tier_details).toBeUndefined();
    expect(u.identifiers).toBeUndefined();
  });

  it('answers the three searches of the seed Step 1 with every field of the seed response', async () => {
    const flags = 'user%5Buser_profile%5D=true&expand_incentives=true&show_identifiers=true';
    const seedPaths = keyPaths(seed.user);
    for (const q of ['email=test@example.com', 'external_id=eutest17', 'mobile_number=5089959991']) {
      const res = await t.request('GET', `${t.core}/users/search?${q}&${flags}`);
      expect(res.status, q).toBe(200);
      expect(res.body.user.id).toBe(userId);
      const ours = new Set(keyPaths(res.body.user));
      // next_tier_overview is absent only at the top level; BASE has a next tier.
      expect(seedPaths.filter((p) => !ours.has(p))).toEqual([]);
      expect(res.body.user.user_profile).toEqual({ _version: 1, loyalty_card: 'AC-1' });
      expect(res.body.user.identifiers).toEqual([
        { external_id: 'eutest17', external_id_type: 'merchant_identifier' },
      ]);
      const details = res.body.user.tier_details;
      expect(details.tier_levels[0].tier_overview).toMatchObject({ name: 'BASE', rank: 1 });
      expect(details.tier_levels[0].next_tier_overview).toMatchObject({ name: 'SILVER', rank: 2 });
      const rule = details.tier_levels[0].tier_progress[0].rules[0];
      expect(rule.query_result).toBe(0);
      expect(rule.rule.target_balance).toBe(2000);
      expect(Object.values(rule.rule.constraints[0].point_accounts)).toEqual([
        'ACME Tier Qualifying Account',
      ]);
      expect(
        details.point_account_balances.details.map((d: { account_name: string }) => d.account_name),
      ).toEqual([
        'ACME Spendable Account',
        'ACME Spendable Escrow Account',
        'ACME Tier Qualifying Account',
        'ACME Tier-Qualifying Escrow Account',
      ]);
      expect(details.point_account_balances.summary).toEqual({ total_points: 0, life_time_points: 0 });
    }
  });

  it('finds by external id, searches case-insensitively by email and by phone digits', async () => {
    expect((await t.request('GET', `${t.core}/external/users/eutest17`)).body.user.id).toBe(userId);
    expect((await t.request('GET', `${t.core}/users/search?email=TEST%40EXAMPLE.COM`)).body.user.id).toBe(
      userId,
    );
    expect(
      (await t.request('GET', `${t.core}/users/search?mobile_number=(508)%20995-9991`)).body.user.id,
    ).toBe(userId);
    const miss = await t.request('GET', `${t.core}/users/search?email=nobody@example.com`);
    expect(miss.status).toBe(404);
    expect(miss.body.errors.code).toBe('user_not_found');
    const none = await t.request('GET', `${t.core}/users/search`);
    expect(none.status).toBe(400);
    expect(none.body.errors.code).toBe('missing_data');
  });

  it('gets several users by id, in order, leaving unknown ids out', async () => {
    const other = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'second@example.com' } },
    });
    const id2 = other.body.user.id;
    const res = await t.request(
      'GET',
      `${t.core}/users?user_ids[]=${id2}&user_ids[]=${userId}&user_ids[]=00000000-0000-4000-8000-000000000000`,
    );
    expect(res.status).toBe(200);
    expect(res.body.users.map((u: { id: string }) => u.id)).toEqual([id2, userId]);
  });

  it('updates partially, replaces arrays wholesale, and a repeated update changes nothing', async () => {
    await t.setNow('2026-11-25T13:00:00Z');
    const res = await t.request('PUT', `${t.core}/users/${userId}`, {
      body: { user: { city: 'CAMBRIDGE', phone_numbers: [{ phone_number: '617-555-0100' }] } },
    });
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({
      city: 'CAMBRIDGE',
      zip: '02210',
      updated_at: '2026-11-25 13:00:00',
    });
    expect(res.body.user.phone_numbers).toEqual([
      { phone_number: '617-555-0100', phone_type: 'mobile', preference_flags: [], verified_ownership: false },
    ]);
    // The old number no longer finds the member; the new one does.
    expect((await t.request('GET', `${t.core}/users/search?mobile_number=5089959991`)).status).toBe(404);
    expect((await t.request('GET', `${t.core}/users/search?mobile_number=6175550100`)).body.user.id).toBe(
      userId,
    );

    await t.setNow('2026-11-25T14:00:00Z');
    const again = await t.request('PUT', `${t.core}/users/${userId}`, {
      body: { user: { city: 'CAMBRIDGE', phone_numbers: [{ phone_number: '617-555-0100' }] } },
    });
    expect(again.body.user.updated_at).toBe('2026-11-25 13:00:00');

    const cleared = await t.request('PUT', `${t.core}/external/users/eutest17`, {
      body: { user: { phone_numbers: [], address2: null } },
    });
    expect(cleared.status).toBe(200);
    // Cleared fields are left out, never null (issue #14 item 11).
    expect(cleared.body.user).not.toHaveProperty('phone_numbers');
    expect(cleared.body.user).not.toHaveProperty('address2');
  });

  it('changes the primary external id and keeps further identifiers', async () => {
    const created = await t.request('POST', `${t.core}/users?show_identifiers=true`, {
      body: {
        user: {
          external_id: 'CARD-1',
          identifiers: [{ external_id: 'fb-77', external_id_type: 'facebook' }],
        },
      },
    });
    expect(created.status).toBe(200);
    const id = created.body.user.id;
    expect(created.body.user.identifiers).toEqual([
      { external_id: 'CARD-1' },
      { external_id: 'fb-77', external_id_type: 'facebook' },
    ]);
    expect((await t.request('GET', `${t.core}/external/users/fb-77`)).body.user.id).toBe(id);
    const moved = await t.request('PUT', `${t.core}/users/${id}?show_identifiers=true`, {
      body: { user: { external_id: 'CARD-2' } },
    });
    expect(moved.body.user.external_id).toBe('CARD-2');
    expect(moved.body.user.identifiers.map((i: { external_id: string }) => i.external_id)).toEqual([
      'CARD-2',
      'fb-77',
    ]);
    expect((await t.request('GET', `${t.core}/external/users/CARD-1`)).status).toBe(404);
  });

  it('merges custom attributes and versions them', async () => {
    const res = await t.request('POST', `${t.core}/users/${userId}/models/user_profile`, {
      body: { user_profile: { shoe_size: 42, loyalty_card: null } },
    });
    expect(res.status).toBe(200);
    expect(res.body.user_profile).toEqual({ _version: 2, shoe_size: 42 });
    const ext = await t.request('POST', `${t.core}/external/users/eutest17/models/user_profile`, {
      body: { user_profile: { favorite_color: 'green' } },
    });
    expect(ext.body.user_profile).toEqual({ _version: 3, shoe_size: 42, favorite_color: 'green' });
  });

  it('counts tags up, and expires TTL tags on the simulated clock', async () => {
    await t.request('POST', `${t.core}/users/${userId}/tags`, { body: { tags: ['vip', 'vip-event'] } });
    const twice = await t.request('POST', `${t.core}/users/${userId}/tags`, { body: { tags: ['vip'] } });
    expect(twice.status).toBe(200);
    expect(twice.body.tags.find((x: { tag: string }) => x.tag === 'vip')).toMatchObject({
      count: 2,
      expires_at: null,
    });
    const ttl = await t.request('POST', `${t.core}/external/users/eutest17/tags`, {
      body: { tags: ['promo'], ttl: 3600 },
    });
    expect(ttl.body.tags.find((x: { tag: string }) => x.tag === 'promo')).toMatchObject({ count: null });
    const now = await t.clock.now();
    await t.setNow(new Date(now.getTime() + 3601_000).toISOString());
    const later = await t.request('GET', `${t.core}/users/${userId}/tags`);
    expect(later.body.tags.map((x: { tag: string }) => x.tag)).toEqual(['vip', 'vip-event']);
  });

  it("a member's tags are unbounded: no longer, past 200 the request is refused whole (issue #13)", async () => {
    const created = await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'TAGS-1' } } });
    const id = created.body.user.id;
    const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => `t-${from + i}`);
    for (const from of [0, 50, 100, 150]) {
      const res = await t.request('POST', `${t.core}/users/${id}/tags`, { body: { tags: batch(from, 50) } });
      expect(res.status).toBe(200);
    }
    const over = await t.request('POST', `${t.core}/users/${id}/tags`, {
      body: { tags: ['one-more', 't-0'] },
    });
    expect(over.status).toBe(400);
    expect(over.body.errors).toMatchObject({ code: 'validation', field: 'tags' });
    const held = await t.request('GET', `${t.core}/users/${id}/tags`);
    expect(held.body.tags).toHaveLength(200);
    expect(held.body.tags.find((x: { tag: string }) => x.tag === 't-0').count).toBe(1);
    // Counting up a tag already held still works at the bound.
    expect((await t.request('POST', `${t.core}/users/${id}/tags`, { body: { tags: ['t-0'] } })).status).toBe(
      200,
    );
  });

  it('opting out shows UNENROLLED; opting back in is BASE from that instant', async () => {
    const out = await t.request('PUT', `${t.core}/users/${userId}`, { body: { user: { opted_in: false } } });
    expect(out.body.user).toMatchObject({ opted_in: false, tier: 'UNENROLLED' });
    expect(out.body.user).not.toHaveProperty('tier_entered_at');
    const now = await t.clock.now();
    const back = await t.request('PUT', `${t.core}/users/${userId}`, { body: { user: { opted_in: true } } });
    expect(back.body.user).toMatchObject({ tier: 'BASE' });
    expect(back.body.user.tier_entered_at).toBe(now.toISOString().slice(0, 19).replace('T', ' '));
  });

  it('deletes a profile: then user_not_found everywhere, and its email and external id are free again', async () => {
    const created = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'gone@example.com', external_id: 'GONE-1' } },
    });
    const id = created.body.user.id;
    const del = await t.request('DELETE', `${t.core}/users/${id}`);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ status: 'ok' });
    for (const path of [`/users/${id}`, '/external/users/GONE-1', '/users/search?email=gone@example.com']) {
      const res = await t.request('GET', `${t.core}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.body.errors.code).toBe('user_not_found');
    }
    expect((await t.request('DELETE', `${t.core}/users/${id}`)).status).toBe(404);
    const again = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'gone@example.com', external_id: 'GONE-1' } },
    });
    expect(again.status).toBe(200);
    expect(again.body.user.id).not.toBe(id);
  });
});
