import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type ApiResponse, type RequestOptions, type TestApp } from '../support/test-app.js';

/**
 * Every error of the Customer Profile API over HTTP (DESIGN §1, §8; docs/errors.md): the envelope
 * `{"status":"error","errors":{"code","message"}}`, a real HTTP status, nothing internal in the
 * body, and nothing changed in the database.
 */

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

/** Traces of internals that must never reach a client: stack frames, source paths, SQL, driver text. */
const LEAKS = [
  /\n\s+at\s/,
  /\.(ts|js):\d+/,
  /node_modules/,
  /\b(SELECT\s.+\sFROM|INSERT INTO|UPDATE\s+\w+\s+SET|DELETE FROM)\b/i,
  /duplicate key|violates|constraint|relation "|syntax error at|invalid byte sequence|pglite|\bpg\b/i,
  /FST_ERR|"statusCode"|"stack"/,
];

function expectErrorEnvelope(res: ApiResponse, status: number, code: string, field?: string): void {
  const what = `${status} ${code}: got ${res.status} ${JSON.stringify(res.body)}`;
  expect(res.status, what).toBe(status);
  expect(String(res.headers['content-type']), what).toMatch(/^application\/json/);
  expect(Object.keys(res.body).sort(), what).toEqual(['errors', 'status']);
  expect(res.body.status, what).toBe('error');
  expect(res.body.errors.code, what).toBe(code);
  expect(typeof res.body.errors.message, what).toBe('string');
  expect(res.body.errors.message.length, what).toBeGreaterThan(0);
  expect(
    Object.keys(res.body.errors).every((k) => ['code', 'user', 'message', 'field'].includes(k)),
    what,
  ).toBe(true);
  // SessionM's per-field map rides only on validation errors of a profile field (issue #14 item 14).
  if ('user' in res.body.errors) {
    expect(res.body.errors.code, what).toBe('validation');
    expect(Object.keys(res.body.errors.user), what).toHaveLength(1);
    expect(typeof Object.values(res.body.errors.user)[0], what).toBe('string');
  }
  if (field !== undefined) expect(res.body.errors.field, what).toBe(field);
  const text = JSON.stringify(res.body);
  for (const leak of LEAKS) expect(text, `${what} leaks ${leak}`).not.toMatch(leak);
}

const member = {
  email: 'Taken@Example.com',
  external_id: 'EXT-1',
  external_id_type: 'merchant_identifier',
  first_name: 'Ada',
  dob: '1990-01-01',
  country: 'USA',
  phone_numbers: [{ phone_number: '+1 508 995 9991' }],
  identifiers: [{ external_id: 'EXT-ALIAS', external_id_type: 'facebook' }],
  user_profile: { shoe_size: 42 },
};

describeEachDatabase('Customer Profile API errors', (target) => {
  let t: TestApp;
  let userId: string;
  let otherId: string;
  let emailOnlyId: string;

  /** Everything an error could touch: every customer table, row by row, and the subject's own view. */
  async function snapshot() {
    const q = (sql: string) => t.db.query(sql);
    return {
      users: (await q('SELECT count(*)::int AS n FROM users'))[0],
      rows: await q('SELECT *, dob::text AS dob FROM users ORDER BY id'),
      identifiers: await q('SELECT * FROM user_identifiers ORDER BY retailer_id, external_id'),
      phones: await q('SELECT * FROM user_phones ORDER BY user_id, position'),
      tags: await q('SELECT * FROM user_tags ORDER BY user_id, tag'),
      view: (
        await t.request('GET', `${t.core}/users/${userId}?user%5Buser_profile%5D=true&show_identifiers=true`)
      ).body,
    };
  }

  /** Sends a request that must fail with `status`/`code` and leave the database exactly as it was. */
  async function rejects(
    method: Method,
    url: string,
    opts: RequestOptions,
    status: number,
    code: string,
    field?: string,
  ): Promise<ApiResponse> {
    const before = await snapshot();
    const res = await t.request(method, url, opts);
    expectErrorEnvelope(res, status, code, field);
    expect(await snapshot(), `${method} ${url} changed something`).toEqual(before);
    return res;
  }

  beforeAll(async () => {
    t = await startTestApp(target);
    const a = await t.request('POST', `${t.core}/users`, { body: { user: member } });
    expect(a.status).toBe(200);
    userId = a.body.user.id;
    const tagged = await t.request('POST', `${t.core}/users/${userId}/tags`, { body: { tags: ['vip'] } });
    expect(tagged.status).toBe(200);
    const b = await t.request('POST', `${t.core}/users`, {
      body: { user: { email: 'other@example.com', external_id: 'EXT-2' } },
    });
    expect(b.status).toBe(200);
    otherId = b.body.user.id;
    const c = await t.request('POST', `${t.core}/users`, { body: { user: { email: 'only@example.com' } } });
    expect(c.status).toBe(200);
    emailOnlyId = c.body.user.id;
  });
  afterAll(() => t.close());

  describe('malformed bodies', () => {
    it('answers invalid_json (400) to a body that is not JSON, is empty, or carries __proto__', async () => {
      const targets: [Method, string][] = [
        ['POST', '/users'],
        ['PUT', `/users/${userId}`],
        ['PUT', '/external/users/EXT-1'],
        ['POST', `/users/${userId}/models/user_profile`],
        ['POST', `/users/${userId}/tags`],
      ];
      const payloads = [
        '{"user":',
        "{user: {email: 'x@example.com'}}",
        '{"user":{"email":"x@example.com"}} trailing',
        '',
        '{"user":{"email":"x@example.com"},"__proto__":{"admin":true}}',
        '{"user":{"email":"x@example.com","constructor":{"prototype":{"admin":true}}}}',
      ];
      for (const [method, path] of targets) {
        for (const payload of payloads) {
          await rejects(method, `${t.core}${path}`, { payload }, 400, 'invalid_json');
        }
      }
    });

    it('answers unsupported_media_type (415) to a body that is not application/json', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        await rejects(
          'POST',
          `${t.core}/users`,
          { payload: 'user[email]=x@example.com', headers: { 'content-type': type } },
          415,
          'unsupported_media_type',
        );
      }
    });

    it('answers payload_too_large (413) to a body over 1 MiB, before touching anything', async () => {
      const pad = 'x'.repeat(1024 * 1024);
      const big = JSON.stringify({ user: { email: 'big@example.com', note: pad } });
      expect(Buffer.byteLength(big)).toBeGreaterThan(1024 * 1024);
      await rejects('POST', `${t.core}/users`, { payload: big }, 413, 'payload_too_large');
      await rejects('PUT', `${t.core}/users/${userId}`, { payload: big }, 413, 'payload_too_large');
      await rejects(
        'POST',
        `${t.core}/users/${userId}/models/user_profile`,
        { payload: JSON.stringify({ user_profile: { note: pad } }) },
        413,
        'payload_too_large',
      );
      // Just under the limit is parsed (and then judged on its content: here it is fine).
      const fits = JSON.stringify({ user: { email: 'fits@example.com', note: 'x'.repeat(1000 * 1000) } });
      expect(Buffer.byteLength(fits)).toBeLessThan(1024 * 1024);
      expect((await t.request('POST', `${t.core}/users`, { payload: fits })).status).toBe(200);
    });
  });

  describe('validation (400)', () => {
    it('rejects a field of the wrong type, naming the field', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ email: 123 }, 'user.email'],
        [{ email: 'new@example.com', phone_numbers: 'x' }, 'user.phone_numbers'],
        [
          { email: 'new@example.com', phone_numbers: [{ phone_number: 5085551234 }] },
          'user.phone_numbers.0.phone_number',
        ],
        [{ email: 'new@example.com', opted_in: 'yes' }, 'user.opted_in'],
        [{ email: 'new@example.com', dob: 19900101 }, 'user.dob'],
        [{ email: 'new@example.com', first_name: ['Ada'] }, 'user.first_name'],
        [{ email: 'new@example.com', user_profile: 'x' }, 'user.user_profile'],
        [{ email: 'new@example.com', identifiers: 'EXT-9' }, 'user.identifiers'],
        [{ email: 'new@example.com', test_account: 'true' }, 'user.test_account'],
      ];
      for (const [user, field] of cases) {
        await rejects('POST', `${t.core}/users`, { body: { user } }, 400, 'validation', field);
        await rejects('PUT', `${t.core}/users/${userId}`, { body: { user } }, 400, 'validation', field);
      }
      for (const user of [null, [], 'x', 1]) {
        await rejects('POST', `${t.core}/users`, { body: { user } }, 400, 'validation', 'user');
      }
      await rejects('POST', `${t.core}/users`, { body: [{ user: member }] }, 400, 'validation');
      await rejects(
        'POST',
        `${t.core}/users/${userId}/models/user_profile`,
        { body: { user_profile: ['a'] } },
        400,
        'validation',
        'user_profile',
      );
    });

    it('rejects meaningless values: email, gender, locale, phone, identifiers, custom attributes', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ email: 'not-an-email' }, 'email'],
        [{ email: 'new@example.com', gender: 'x' }, 'gender'],
        [{ email: 'new@example.com', locale: 'english please' }, 'locale'],
        [{ email: 'new@example.com', phone_numbers: [{ phone_number: 'call me' }] }, 'phone_numbers'],
        [{ email: 'new@example.com', first_name: 'Ada\u0007' }, 'first_name'],
        [
          { email: 'new@example.com', identifiers: [{ external_id: 'X' }, { external_id: 'X' }] },
          'identifiers',
        ],
        [{ email: 'new@example.com', user_profile: { _version: 9 } }, 'user_profile'],
        // jsonb cannot hold NUL: a 400 naming the attribute, not a database failure.
        [{ email: 'new@example.com', user_profile: { note: 'a\u0000b' } }, 'user.user_profile.note'],
      ];
      for (const [user, field] of cases) {
        await rejects('POST', `${t.core}/users`, { body: { user } }, 400, 'validation', field);
      }
      await rejects(
        'POST',
        `${t.core}/users/${userId}/models/user_profile`,
        { body: { user_profile: { note: '\u0000' } } },
        400,
        'validation',
        'user_profile.note',
      );
    });

    it('a lone surrogate in an email or a name answers 400 (bug: stored as U+FFFD)', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ email: '\ud800@example.com' }, 'user.email'],
        [{ email: 'new@example.com', first_name: 'a\udfffb' }, 'user.first_name'],
      ];
      for (const [user, field] of cases) {
        await rejects('POST', `${t.core}/users`, { body: { user } }, 400, 'validation', field);
      }
      await rejects(
        'PUT',
        `${t.core}/users/${userId}`,
        { body: { user: { last_name: 'Lovelace \ud83d' } } },
        400,
        'validation',
        'user.last_name',
      );
    });

    it('invalid UTF-8 in a body is silently replaced with U+FFFD: no longer, 400 and nothing stored (issue #13)', async () => {
      const utf8 = (json: string, bad: Buffer) => {
        const [head, tail] = json.split('@@');
        return Buffer.concat([Buffer.from(head!), bad, Buffer.from(tail!)]);
      };
      for (const bad of [Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80])]) {
        const res = await rejects(
          'POST',
          `${t.core}/users`,
          { payload: utf8('{"user":{"email":"utf@example.com","first_name":"Ren@@e"}}', bad) },
          400,
          'invalid_json',
        );
        expect(res.body.errors.message).toContain('UTF-8');
      }
      // Well-formed multi-byte text still passes.
      const ok = await t.request('POST', `${t.core}/users`, {
        payload: Buffer.from('{"user":{"email":"renee@example.com","first_name":"Renée 🙂"}}'),
      });
      expect(ok.status).toBe(200);
      expect(ok.body.user.first_name).toBe('Renée 🙂');
    });

    it('a lone surrogate in an external id or its type answers 400 (bug: 500)', async () => {
      await rejects(
        'PUT',
        `${t.core}/users/${userId}`,
        { body: { user: { external_id: 'EXT-\ud800' } } },
        400,
        'validation',
        'user.external_id',
      );
      await rejects(
        'POST',
        `${t.core}/users`,
        {
          body: {
            user: { external_id: 'EXT-9', identifiers: [{ external_id: 'X-9', external_id_type: '\udc00' }] },
          },
        },
        400,
        'validation',
        'user.identifiers.0.external_id_type',
      );
    });

    it('custom attributes nested 10,000 deep answer 400 (bug: 500)', async () => {
      const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
      await rejects(
        'POST',
        `${t.core}/users/${userId}/models/user_profile`,
        { payload: `{"user_profile":{"note":${deep}}}` },
        400,
        'validation',
      );
      await rejects(
        'POST',
        `${t.core}/users`,
        { payload: `{"user":{"email":"deep@example.com","user_profile":{"note":${deep}}}}` },
        400,
        'validation',
      );
    });

    it('rejects a dob under 13 years before the simulated now, to the day', async () => {
      expect((await t.clock.now()).toISOString()).toBe('2026-11-25T12:00:00.000Z');
      // Thirteen tomorrow: too young, on create and on update.
      await rejects(
        'POST',
        `${t.core}/users`,
        { body: { user: { email: 'kid@example.com', dob: '2013-11-26' } } },
        400,
        'validation',
        'dob',
      );
      await rejects(
        'PUT',
        `${t.core}/users/${userId}`,
        { body: { user: { dob: '2013-11-26' } } },
        400,
        'validation',
        'dob',
      );
      for (const dob of ['2026-11-25', '2030-01-01']) {
        await rejects(
          'POST',
          `${t.core}/users`,
          { body: { user: { email: 'kid@example.com', dob } } },
          400,
          'validation',
          'dob',
        );
      }
      // Thirteen today: accepted.
      const ok = await t.request('POST', `${t.core}/users`, {
        body: { user: { email: 'teen@example.com', dob: '2013-11-25' } },
      });
      expect(ok.status).toBe(200);
      expect(ok.body.user.dob).toBe('2013-11-25');
    });

    it('rejects a dob that is not a calendar date', async () => {
      for (const dob of [
        '1999-02-30',
        '2001-02-29',
        '1999-13-01',
        '1999-04-31',
        '1999-7-1',
        '01/07/1999',
        '1999-00-10',
      ]) {
        await rejects(
          'POST',
          `${t.core}/users`,
          { body: { user: { email: 'dob@example.com', dob } } },
          400,
          'validation',
          'dob',
        );
      }
      await rejects(
        'PUT',
        `${t.core}/external/users/EXT-1`,
        { body: { user: { dob: '1999-02-30' } } },
        400,
        'validation',
        'dob',
      );
      // A real leap day is a date.
      const leap = await t.request('POST', `${t.core}/users`, {
        body: { user: { email: 'leap@example.com', dob: '2000-02-29' } },
      });
      expect(leap.status).toBe(200);
    });

    it('rejects a country that is not ISO 3166-1 alpha-3', async () => {
      for (const country of ['XXX', 'US', 'U5A', 'usa ', 'United States']) {
        const res = await rejects(
          'POST',
          `${t.core}/users`,
          { body: { user: { email: 'c@example.com', country } } },
          400,
          'validation',
        );
        // A 4+ letter value fails the wire schema (user.country), a 3-letter one the code list.
        expect(['country', 'user.country']).toContain(res.body.errors.field);
      }
      await rejects(
        'PUT',
        `${t.core}/users/${userId}`,
        { body: { user: { country: 'XXX' } } },
        400,
        'validation',
        'country',
      );
    });

    it('rejects a bad tag ttl or bad tags', async () => {
      const max = 10 * 366 * 24 * 3600;
      for (const ttl of [0, -5, max + 1, 1e20]) {
        await rejects(
          'POST',
          `${t.core}/users/${userId}/tags`,
          { body: { tags: ['promo'], ttl } },
          400,
          'validation',
          'ttl',
        );
      }
      for (const ttl of [1.5, '60', null, true]) {
        await rejects(
          'POST',
          `${t.core}/external/users/EXT-1/tags`,
          { body: { tags: ['promo'], ttl } },
          400,
          'validation',
          'ttl',
        );
      }
      for (const tags of [[], [' '], ['x'.repeat(101)], ['a\u0001b'], 'vip', [1]]) {
        await rejects('POST', `${t.core}/users/${userId}/tags`, { body: { tags } }, 400, 'validation');
      }
    });

    it('rejects clearing both email and external_id with PUT', async () => {
      for (const user of [
        { email: null, external_id: null },
        { email: '', external_id: '   ' },
      ]) {
        await rejects('PUT', `${t.core}/users/${userId}`, { body: { user } }, 400, 'validation');
        await rejects('PUT', `${t.core}/external/users/EXT-2`, { body: { user } }, 400, 'validation');
      }
      // A user with only an email may not lose it.
      await rejects(
        'PUT',
        `${t.core}/users/${emailOnlyId}`,
        { body: { user: { email: null } } },
        400,
        'validation',
      );
    });
  });

  describe('missing_data (400)', () => {
    it('rejects a body without user, or a user with neither email nor external_id', async () => {
      await rejects('POST', `${t.core}/users`, { body: {} }, 400, 'missing_data', 'user');
      await rejects('POST', `${t.core}/users`, { body: { users: member } }, 400, 'missing_data', 'user');
      await rejects('PUT', `${t.core}/users/${userId}`, { body: {} }, 400, 'missing_data', 'user');
      // No body at all.
      await rejects('POST', `${t.core}/users`, {}, 400, 'missing_data');
      await rejects('PUT', `${t.core}/users/${userId}`, {}, 400, 'missing_data');
      for (const user of [
        {},
        { first_name: 'Ada', dob: '1990-01-01' },
        { email: '', external_id: '' },
        { email: null, external_id: null },
        { email: '  ', external_id_type: 'merchant_identifier' },
      ]) {
        await rejects('POST', `${t.core}/users`, { body: { user } }, 400, 'missing_data');
      }
      await rejects(
        'POST',
        `${t.core}/users`,
        { body: { user: { email: 'n@example.com', identifiers: [{ external_id_type: 'facebook' }] } } },
        400,
        'missing_data',
      );
    });

    it('rejects custom attributes, tags and search without their required part', async () => {
      await rejects(
        'POST',
        `${t.core}/users/${userId}/models/user_profile`,
        { body: { shoe_size: 43 } },
        400,
        'missing_data',
        'user_profile',
      );
      await rejects(
        'POST',
        `${t.core}/users/${userId}/tags`,
        { body: { ttl: 60 } },
        400,
        'missing_data',
        'tags',
      );
      await rejects('GET', `${t.core}/users/search`, {}, 400, 'missing_data');
      await rejects('GET', `${t.core}/users/search?show_identifiers=true`, {}, 400, 'missing_data');
    });
  });

  describe('conflicts (409)', () => {
    it('a taken email (email_taken inside, validation on the wire): compared case-insensitively', async () => {
      for (const email of [
        'Taken@Example.com',
        'taken@example.com',
        'TAKEN@EXAMPLE.COM',
        '  taken@example.COM ',
      ]) {
        const res = await rejects(
          'POST',
          `${t.core}/users`,
          { body: { user: { email } } },
          409,
          'validation',
          'email',
        );
        expect(res.body.errors.user).toEqual({ email: 'Email Already In Use' });
      }
      // With an external id that is free: the whole create is refused, the free id stays free.
      await rejects(
        'POST',
        `${t.core}/users`,
        {
          body: {
            user: {
              email: 'taken@example.com',
              external_id: 'EXT-FREE',
              phone_numbers: [{ phone_number: '6175550000' }],
            },
          },
        },
        409,
        'validation',
        'email',
      );
      expect((await t.request('GET', `${t.core}/external/users/EXT-FREE`)).status).toBe(404);
      // Onto another user by update, by id and by external id, with other changes riding along.
      await rejects(
        'PUT',
        `${t.core}/users/${otherId}`,
        { body: { user: { email: 'tAkEn@example.com', city: 'SALEM' } } },
        409,
        'validation',
        'email',
      );
      await rejects(
        'PUT',
        `${t.core}/external/users/EXT-2`,
        { body: { user: { email: 'TAKEN@example.com', external_id: 'EXT-2b' } } },
        409,
        'validation',
        'email',
      );
      expect((await t.request('GET', `${t.core}/external/users/EXT-2`)).body.user.id).toBe(otherId);
    });

    it('external_id_taken: primary or further identifier, on create and on update', async () => {
      const creates = [
        { external_id: 'EXT-1' },
        { external_id: 'EXT-ALIAS' },
        { email: 'new@example.com', identifiers: [{ external_id: 'EXT-1' }] },
        { email: 'new@example.com', external_id: 'EXT-NEW', identifiers: [{ external_id: 'EXT-ALIAS' }] },
      ];
      for (const user of creates) {
        await rejects('POST', `${t.core}/users`, { body: { user } }, 409, 'external_id_taken');
      }
      const updates: [string, Record<string, unknown>][] = [
        [`/users/${otherId}`, { external_id: 'EXT-1' }],
        [`/users/${otherId}`, { external_id: 'EXT-ALIAS', city: 'SALEM' }],
        [`/external/users/EXT-2`, { external_id: 'EXT-1' }],
        [`/users/${otherId}`, { identifiers: [{ external_id: 'EXT-1' }] }],
        [`/external/users/EXT-2`, { identifiers: [{ external_id: 'FREE-9' }, { external_id: 'EXT-ALIAS' }] }],
        [`/users/${emailOnlyId}`, { external_id: 'EXT-2' }],
      ];
      for (const [path, user] of updates) {
        await rejects('PUT', `${t.core}${path}`, { body: { user } }, 409, 'external_id_taken');
      }
      expect((await t.request('GET', `${t.core}/external/users/FREE-9`)).status).toBe(404);
    });
  });

  describe('authentication (401)', () => {
    const wrongs = (t: TestApp): [string, RequestOptions['auth'] | 'header', string?][] => [
      ['missing Authorization', 'none'],
      ['wrong secret', { key: t.tenant.api_key, secret: 'not-the-secret' }],
      ['empty secret', { key: t.tenant.api_key, secret: '' }],
      ['secret of another shape', { key: t.tenant.api_key, secret: `${t.tenant.secret}x` }],
      ['admin bearer token on a Core route', 'admin'],
      ['malformed Basic', 'header', 'Basic !!!not-base64'],
      ['Basic without a colon', 'header', `Basic ${Buffer.from(t.tenant.api_key).toString('base64')}`],
      ['another scheme', 'header', `Token ${t.tenant.secret}`],
    ];

    it('answers invalid_auth_token to missing or wrong credentials, on reads and writes', async () => {
      const requests: [Method, string, unknown?][] = [
        ['GET', `/users/${userId}`],
        ['GET', '/users/search?email=taken@example.com'],
        ['POST', '/users', { user: { email: 'intruder@example.com' } }],
        ['PUT', `/users/${userId}`, { user: { city: 'NOWHERE' } }],
        ['DELETE', `/users/${userId}`],
        ['POST', `/users/${userId}/tags`, { tags: ['hacked'] }],
        ['POST', `/external/users/EXT-1/models/user_profile`, { user_profile: { hacked: true } }],
      ];
      for (const [label, auth, header] of wrongs(t)) {
        for (const [method, path, body] of requests) {
          const opts: RequestOptions =
            auth === 'header'
              ? { auth: 'none', headers: { authorization: header! }, body }
              : { auth: auth!, body };
          const res = await rejects(method, `${t.core}${path}`, opts, 401, 'invalid_auth_token');
          expect(res.body.errors.message, label).toBe('The credentials are missing or not valid.');
        }
      }
    });

    it('answers invalid_auth_token to an unknown api key, and to a path key that is not the credential’s', async () => {
      const unknown = 'f'.repeat(40);
      // Unknown key in path and credential alike.
      await rejects(
        'GET',
        `/priv/v1/apps/${unknown}/users/${userId}`,
        { auth: { key: unknown, secret: t.tenant.secret } },
        401,
        'invalid_auth_token',
      );
      await rejects(
        'GET',
        `/priv/v1/apps/not-a-key/users/${userId}`,
        { auth: { key: 'not-a-key', secret: t.tenant.secret } },
        401,
        'invalid_auth_token',
      );
      // Valid credentials, but the path names another key (or none we know).
      for (const pathKey of [unknown, t.tenant.api_key.toUpperCase(), `${t.tenant.api_key}0`]) {
        await rejects('GET', `/priv/v1/apps/${pathKey}/users/${userId}`, {}, 401, 'invalid_auth_token');
        await rejects(
          'POST',
          `/priv/v1/apps/${pathKey}/users`,
          { body: { user: { email: 'path@example.com' } } },
          401,
          'invalid_auth_token',
        );
      }
      // All of these answer the same: nothing tells a wrong key from a wrong secret.
      const a = await t.request('GET', `/priv/v1/apps/${unknown}/users/${userId}`);
      const b = await t.request('GET', `${t.core}/users/${userId}`, {
        auth: { key: t.tenant.api_key, secret: 'wrong' },
      });
      expect(a.body).toEqual(b.body);
    });

    it('authenticates before it parses: bad credentials with a bad body answer 401', async () => {
      await rejects(
        'POST',
        `${t.core}/users`,
        { auth: 'none', payload: '{"user":' },
        401,
        'invalid_auth_token',
      );
      await rejects(
        'POST',
        `${t.core}/users`,
        { auth: 'none', payload: JSON.stringify({ user: { note: 'x'.repeat(1024 * 1024) } }) },
        401,
        'invalid_auth_token',
      );
    });
  });

  describe('not found (404)', () => {
    it('answers user_not_found for an unknown or malformed user id, on every route', async () => {
      const ids = [
        '00000000-0000-4000-8000-000000000000',
        'not-a-uuid',
        '12345',
        `${userId}0`,
        'x'.repeat(200),
      ];
      for (const id of ids) {
        const requests: [Method, string, unknown?][] = [
          ['GET', `/users/${id}`],
          ['PUT', `/users/${id}`, { user: { city: 'SALEM' } }],
          ['DELETE', `/users/${id}`],
          ['GET', `/users/${id}/tags`],
          ['POST', `/users/${id}/tags`, { tags: ['vip'] }],
          ['POST', `/users/${id}/models/user_profile`, { user_profile: { a: 1 } }],
        ];
        for (const [method, path, body] of requests) {
          await rejects(
            method,
            `${t.core}${path}`,
            body === undefined ? {} : { body },
            404,
            'user_not_found',
          );
        }
      }
    });

    it('answers user_not_found for an unknown external id, on every route', async () => {
      // The id's own case matters (EXT-1 exists, ext-1 does not); %00 can never be stored.
      for (const ext of ['NOPE', 'ext-1', 'EXT-1%20', 'a%00b', encodeURIComponent('ü/ö')]) {
        const requests: [Method, string, unknown?][] = [
          ['GET', `/external/users/${ext}`],
          ['PUT', `/external/users/${ext}`, { user: { city: 'SALEM' } }],
          ['GET', `/external/users/${ext}/tags`],
          ['POST', `/external/users/${ext}/tags`, { tags: ['vip'] }],
          ['POST', `/external/users/${ext}/models/user_profile`, { user_profile: { a: 1 } }],
        ];
        for (const [method, path, body] of requests) {
          await rejects(
            method,
            `${t.core}${path}`,
            body === undefined ? {} : { body },
            404,
            'user_not_found',
          );
        }
      }
    });

    it('answers user_not_found to a search that matches nobody', async () => {
      for (const q of [
        'email=nobody@example.com',
        'email=taken@example.com&external_id=EXT-2',
        'external_id=NOPE',
        'mobile_number=6175559999',
        'email=%00',
        'external_id=a%00',
      ]) {
        await rejects('GET', `${t.core}/users/search?${q}`, {}, 404, 'user_not_found');
      }
    });

    it('answers not_found for an unknown route, with or without credentials', async () => {
      for (const [method, url] of [
        ['GET', `${t.core}/nope`],
        ['GET', `${t.core}/users/${userId}/nope`],
        ['POST', `${t.core}/users/${userId}/models/other`],
        ['GET', '/nope'],
        ['GET', '/priv/v1/apps'],
        ['DELETE', `${t.core}/external/users/EXT-1`],
      ] as [Method, string][]) {
        const res = await rejects(method, url, {}, 404, 'not_found');
        expect(res.body.errors.message).toContain(url.split('?')[0]);
        await rejects(method, url, { auth: 'none' }, 404, 'not_found');
      }
    });
  });

  it('leaves the subject member exactly as created after all of the above', async () => {
    const res = await t.request(
      'GET',
      `${t.core}/users/${userId}?user%5Buser_profile%5D=true&show_identifiers=true`,
    );
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({
      email: 'Taken@Example.com',
      external_id: 'EXT-1',
      dob: '1990-01-01',
      country: 'USA',
      updated_at: '2026-11-25 12:00:00',
      user_profile: { _version: 1, shoe_size: 42 },
      identifiers: [
        { external_id: 'EXT-1', external_id_type: 'merchant_identifier' },
        { external_id: 'EXT-ALIAS', external_id_type: 'facebook' },
      ],
    });
    expect(res.body.user).not.toHaveProperty('city');
    const tags = await t.request('GET', `${t.core}/users/${userId}/tags`);
    expect(tags.body.tags).toEqual([expect.objectContaining({ tag: 'vip', count: 1, expires_at: null })]);
  });
});
