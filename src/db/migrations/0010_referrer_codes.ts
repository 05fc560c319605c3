/**
 * Referrer codes (issue #14 item 10): every member has a short code of their own that SessionM's
 * create answers carry (`referrer_code`, reference §3), stable for life and unique.
 *
 * The code is 8 characters of Crockford base32 (no I, L, O, U) of a 40-bit number: a global
 * sequence value, scrambled by a bijection on 40 bits (multiply by an odd constant, xor-shift,
 * multiply again, each invertible mod 2^40), so codes are unique by construction, with no retry
 * and no retailer-wide lock (DESIGN §9), and consecutive members do not get consecutive codes.
 * The multipliers stay below 2^23 so no product leaves bigint. 2^40 codes outlast any sequence.
 *
 * The column's default draws the code, so every way a member is created gets one; existing
 * members are backfilled here, oldest first.
 */
export const name = 'referrer_codes';

export const sql = `
CREATE SEQUENCE referrer_code_seq;

CREATE FUNCTION laurel_referrer_code(n bigint) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $fn$
  WITH a AS (SELECT (n * 5851013) & 1099511627775 AS x),
       b AS (SELECT ((x # (x >> 21)) * 6700417) & 1099511627775 AS x FROM a)
  SELECT string_agg(substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((b.x >> (35 - 5 * i)) & 31)::int + 1, 1), '' ORDER BY i)
  FROM b, generate_series(0, 7) AS i
$fn$;

ALTER TABLE users ADD COLUMN referrer_code text;

UPDATE users u SET referrer_code = laurel_referrer_code(o.n)
FROM (SELECT id, nextval('referrer_code_seq') AS n FROM (SELECT id FROM users ORDER BY created_at, id) s) o
WHERE o.id = u.id;

ALTER TABLE users
  ALTER COLUMN referrer_code SET DEFAULT laurel_referrer_code(nextval('referrer_code_seq')),
  ALTER COLUMN referrer_code SET NOT NULL;

CREATE UNIQUE INDEX users_referrer_code_uq ON users (retailer_id, referrer_code);
`;
