/**
 * Populations for the benchmarks at a scale the API cannot create in minutes (1,000,000 members,
 * 1,000,000 escrow lots): a template member is written through the real API, then copied row for
 * row with SQL, every id mapped to a fresh one. A copy is therefore exactly what the product writes
 * (profile, identifiers, enrollment, purchase, lots, journal, postings, balances, stored answer,
 * stored standing), and
 * `laurel verify` holds on the result.
 */
import type pg from 'pg';

/** Tables a member's rows live in, in foreign-key order, and how to find the template's rows. */
const TABLES: ReadonlyArray<{ table: string; where: string }> = [
  { table: 'users', where: 'id = $1' },
  // The stored standing (issue #15) as the template's last read left it: a copy reads as warm or
  // cold as the template did.
  { table: 'member_standings', where: 'user_id = $1' },
  { table: 'user_identifiers', where: 'user_id = $1' },
  { table: 'user_phones', where: 'user_id = $1' },
  { table: 'user_tags', where: 'user_id = $1' },
  { table: 'enrollment_events', where: 'user_id = $1' },
  { table: 'tier_moves', where: 'user_id = $1' },
  { table: 'purchases', where: 'user_id = $1' },
  { table: 'lots', where: 'user_id = $1' },
  { table: 'journals', where: 'user_id = $1' },
  { table: 'postings', where: 'user_id = $1' },
  { table: 'balances', where: 'user_id = $1' },
  { table: 'pos_requests', where: 'user_id = $1' },
  // The lookup tables of migration 0011, each pointing at its copy.
  { table: 'member_emails', where: 'user_id = $1' },
  { table: 'member_external_ids', where: 'user_id = $1' },
  { table: 'member_phones', where: 'user_id = $1' },
  { table: 'transaction_keys', where: 'user_id = $1' },
];

/** Columns whose values must differ per copy, and how copy `g` writes them. */
const UNIQUE_TEXT: Record<string, Record<string, string>> = {
  users: {
    email: `replace(email, '@', '+' || g || '@')`,
    external_id: `external_id || '-' || g`,
    // Unique per retailer: each copy draws its own, as a member created through the API does.
    referrer_code: `laurel_referrer_code(nextval('referrer_code_seq'))`,
  },
  user_identifiers: { external_id: `external_id || '-' || g` },
  member_emails: { email_key: `replace(email_key, '@', '+' || g || '@')` },
  member_external_ids: { external_id: `external_id || '-' || g` },
  transaction_keys: { transaction_id: `transaction_id || '-' || g` },
  purchases: { transaction_id: `transaction_id || '-' || g` },
  journals: {
    request_id: `request_id || '-' || g`,
    reference_id: `CASE WHEN reference_type = 'POS Transaction' THEN reference_id || '-' || g ELSE reference_id END`,
  },
  pos_requests: { request_id: `request_id || '-' || g` },
};

async function columns(client: pg.Client, table: string): Promise<{ name: string; type: string }[]> {
  const { rows } = await client.query<{ name: string; type: string }>(
    `SELECT column_name AS name, data_type AS type FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows;
}

/**
 * Writes copies `from`..`to` (inclusive) of the template member `userId`. Copy g of an id is
 * `md5(id || ':' || g)`, the same in every table, so references between the copies' rows hold.
 * Copies go in chunks of `chunk` per statement.
 */
export async function cloneMember(
  client: pg.Client,
  userId: string,
  from: number,
  to: number,
  chunk = 25_000,
): Promise<void> {
  const plans: { table: string; sql: string }[] = [];
  for (const { table, where } of TABLES) {
    const cols = await columns(client, table);
    if (!cols.length) continue;
    const select = cols.map(({ name, type }) => {
      const special = UNIQUE_TEXT[table]?.[name];
      if (special) return special;
      if (type === 'uuid' && name !== 'retailer_id' && name !== 'tier_system_id' && name !== 'tier_level_id')
        return `md5(${name}::text || ':' || g)::uuid`;
      return name;
    });
    plans.push({
      table,
      sql: `INSERT INTO ${table} (${cols.map((c) => c.name).join(', ')})
            SELECT ${select.join(', ')} FROM ${table}, generate_series($2::int, $3::int) AS g WHERE ${where}`,
    });
  }
  // Each copy drew its own referrer code: claim it in the lookup table as a member created through
  // the API does.
  plans.push({
    table: 'member_referrer_codes',
    sql: `INSERT INTO member_referrer_codes (retailer_id, referrer_code, user_id)
          SELECT u.retailer_id, u.referrer_code, u.id FROM generate_series($2::int, $3::int) AS g
          JOIN users u ON u.id = md5($1::text || ':' || g)::uuid`,
  });
  for (let start = from; start <= to; start += chunk) {
    const end = Math.min(to, start + chunk - 1);
    await client.query('BEGIN');
    try {
      for (const p of plans) await client.query(p.sql, [userId, start, end]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
  }
}
