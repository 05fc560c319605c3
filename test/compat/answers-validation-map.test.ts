import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { decode } from './answers-decoder.js';

/**
 * Client habit (issue #14 item 14): a C# POS and a Go middleware decode a failed profile write as
 * `RlpErrors{code, message, user}` and show `user.<field>` to the operator. Laurel's own `field`
 * and `message` stay beside SessionM's per-field map.
 */

const ERRORS = {
  required: { code: 'string', message: 'string', field: 'string', user: 'object' },
} as const;

describeEachDatabase('compat: validation errors carry SessionM per-field map', (target) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(target);
    await t.request('POST', `${t.core}/users`, { body: { user: { email: 'taken@example.com' } } });
  });
  afterAll(() => t.close());

  it('answers a duplicate email as validation with user.email "Email Already In Use"', async () => {
    const users = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users'))[0]!.n;
    const before = await users();
    const res = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'TAKEN@example.com' } },
    });
    expect(res.status).toBe(409);
    expect(res.body.status).toBe('error');
    expect(decode('errors', res.body.errors, ERRORS)).toEqual([]);
    expect(res.body.errors).toEqual({
      code: 'validation',
      user: { email: 'Email Already In Use' },
      message: 'Another user of this retailer already has this email.',
      field: 'email',
    });
    expect(await users()).toBe(before);

    const other = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'free@example.com' } },
    });
    const put = await t.request('PUT', `${t.core}/users/${other.body.user.id}`, {
      body: { user: { email: 'taken@example.com' } },
    });
    expect(put.body.errors).toMatchObject({ code: 'validation', user: { email: 'Email Already In Use' } });
  });

  it('answers an invalid US state with user.state "not a valid state", on create and update', async () => {
    const res = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'state@example.com', state: 'XX', country: 'USA' } },
    });
    expect(res.status).toBe(400);
    expect(decode('errors', res.body.errors, ERRORS)).toEqual([]);
    expect(res.body.errors).toMatchObject({
      code: 'validation',
      user: { state: 'not a valid state' },
      field: 'state',
    });

    const ok = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'state@example.com', state: 'ma', country: 'USA' } },
    });
    expect(ok.status).toBe(200);
    const put = await t.request('PUT', `${t.core}/users/${ok.body.user.id}`, {
      body: { user: { state: 'Atlantis' } },
    });
    expect(put.body.errors).toMatchObject({ user: { state: 'not a valid state' } });
    // Outside the USA the state is not checked.
    const abroad = await t.request('PUT', `${t.core}/users/${ok.body.user.id}`, {
      body: { user: { state: 'Ontario', country: 'CAN' } },
    });
    expect(abroad.status).toBe(200);
  });

  it('maps every other validation of a user field the same way, with Laurel own message', async () => {
    const dob = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'kid@example.com', dob: '2020-01-01' } },
    });
    expect(dob.body.errors).toEqual({
      code: 'validation',
      user: { dob: 'members must be at least 13 years old' },
      message: 'members must be at least 13 years old',
      field: 'dob',
    });
    const typed = await t.request('POST', `${t.core}/users`, { body: { user: { email: 42 } } });
    expect(typed.status).toBe(400);
    expect(decode('errors', typed.body.errors, ERRORS)).toEqual([]);
    expect(Object.keys(typed.body.errors.user)).toEqual(['email']);
    const phone = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'p@example.com', phone_numbers: [{ phone_number: 'abc' }] } },
    });
    expect(Object.keys(phone.body.errors.user)).toEqual(['phone_numbers']);
  });

  it('keeps other errors as they were: no map on missing data, not-found or a non-profile body', async () => {
    const missing = await t.request('POST', `${t.core}/users`, { body: { user: {} } });
    expect(missing.body.errors.code).toBe('missing_data');
    expect(missing.body.errors).not.toHaveProperty('user');
    const ext = await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'EXT-1' } } });
    expect(ext.status).toBe(200);
    const dupExt = await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'EXT-1' } } });
    expect(dupExt.body.errors.code).toBe('external_id_taken');
    expect(dupExt.body.errors).not.toHaveProperty('user');
  });
});
