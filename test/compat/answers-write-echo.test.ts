import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { decode } from './answers-decoder.js';

/**
 * Client habit (issue #14 item 10): a member app and a loyalty middleware create or update a
 * profile without any query flag and read `user_profile._version` (an integer), `identifiers[]`
 * and `referrer_code` straight from the answer, as SessionM's create answers them.
 */

/** What those clients decode from a create or update answer. */
const WRITE_ANSWER = {
  required: { id: 'string', referrer_code: 'string', user_profile: 'object', identifiers: 'array' },
} as const;
const PROFILE = { required: { _version: 'int' } } as const;
const IDENTIFIER = { required: { external_id: 'string' }, optional: { external_id_type: 'string' } } as const;
const REFERRER_CODE = /^[0-9A-HJKMNP-TV-Z]{8}$/;

describeEachDatabase(
  'compat: create and update answers carry user_profile, identifiers, referrer_code',
  (target) => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp(target);
    });
    afterAll(() => t.close());

    const decodeWrite = (user: unknown): string[] => {
      const u = user as { user_profile: unknown; identifiers: unknown[] };
      return [
        ...decode('user', user, WRITE_ANSWER),
        ...(u?.user_profile ? decode('user.user_profile', u.user_profile, PROFILE) : []),
        ...(u?.identifiers ?? []).flatMap((i, n) => decode(`user.identifiers[${n}]`, i, IDENTIFIER)),
      ];
    };

    it('answers a flagless create with _version, identifiers and a referrer code', async () => {
      const res = await t.request('POST', `${t.core}/users`, {
        body: {
          user: {
            email: 'echo-1@example.com',
            external_id: 'ECHO-1',
            external_id_type: 'merchant_identifier',
          },
        },
      });
      expect(res.status).toBe(200);
      expect(decodeWrite(res.body.user)).toEqual([]);
      expect(res.body.user.user_profile).toEqual({ _version: 0 });
      expect(res.body.user.identifiers).toEqual([
        { external_id: 'ECHO-1', external_id_type: 'merchant_identifier' },
      ]);
      expect(res.body.user.referrer_code).toMatch(REFERRER_CODE);
    });

    it('keeps the referrer code stable across reads and updates; _version counts attribute changes', async () => {
      const created = await t.request('POST', `${t.core}/users`, {
        body: { user: { email: 'echo-2@example.com', user_profile: { favourite_store: 'Boston' } } },
      });
      const { id, referrer_code: code } = created.body.user;
      expect(created.body.user.user_profile).toEqual({ _version: 1, favourite_store: 'Boston' });
      // An email-only member has no identifiers: an empty list, not null and not absent.
      expect(created.body.user.identifiers).toEqual([]);

      const put = await t.request('PUT', `${t.core}/users/${id}`, {
        body: { user: { city: 'CAMBRIDGE', user_profile: { favourite_store: 'Cambridge' } } },
      });
      expect(put.status).toBe(200);
      expect(decodeWrite(put.body.user)).toEqual([]);
      expect(put.body.user).toMatchObject({ referrer_code: code, user_profile: { _version: 2 } });

      const byExternal = await t.request('PUT', `${t.core}/users/${id}`, {
        body: { user: { external_id: 'ECHO-2' } },
      });
      expect(byExternal.body.user.identifiers).toEqual([{ external_id: 'ECHO-2' }]);
      const put2 = await t.request('PUT', `${t.core}/external/users/ECHO-2`, {
        body: { user: { city: 'SALEM' } },
      });
      expect(decodeWrite(put2.body.user)).toEqual([]);
      expect(put2.body.user.referrer_code).toBe(code);

      // A plain read keeps the flags' meaning: no user_profile or identifiers, but the code.
      const read = await t.request('GET', `${t.core}/users/${id}`);
      expect(read.body.user.referrer_code).toBe(code);
      expect(read.body.user.user_profile).toBeUndefined();
      expect(read.body.user.identifiers).toBeUndefined();
    });

    it('gives every member of a retailer a different code', async () => {
      const codes = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const res = await t.request('POST', `${t.core}/users`, {
          body: { user: { external_id: `ECHO-MANY-${i}` } },
        });
        codes.add(res.body.user.referrer_code);
      }
      expect(codes.size).toBe(20);
    });
  },
);
