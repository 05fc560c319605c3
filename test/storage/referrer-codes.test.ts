import { expect, it } from 'vitest';
import { openPGlite, openPostgres, type Database } from '../../src/db/database.js';
import { MIGRATIONS, migrate } from '../../src/db/migrate.js';
import { createTestSchema, describeEachDatabase, dropTestSchema } from '../support/databases.js';

/**
 * Migration 0010 (issue #14 item 10): members who existed before it get a referrer code each,
 * unique and in the 8-character format; members created afterwards get theirs from the default.
 */

const CODE = /^[0-9A-HJKMNP-TV-Z]{8}$/;
const RETAILER = '0190a000-0000-7000-8000-000000000001';

async function openEmpty(name: 'pglite' | 'postgres'): Promise<{ db: Database; close(): Promise<void> }> {
  if (name === 'pglite') {
    const db = await openPGlite();
    return { db, close: () => db.close() };
  }
  const url = process.env.DATABASE_URL!;
  const schema = await createTestSchema(url);
  const db = await openPostgres({ url, schema, max: 2 });
  return {
    db,
    async close() {
      await db.close();
      await dropTestSchema(url, schema);
    },
  };
}

const insertMember = (db: Database, n: number) =>
  db.query(
    `INSERT INTO users (id, retailer_id, external_id, opted_in, created_at, updated_at, registered_at)
     VALUES ($1, $2, $3, true, now(), now(), now())`,
    [`0190a000-0000-7000-8000-${String(n).padStart(12, '0')}`, RETAILER, `OLD-${n}`],
  );

describeEachDatabase('Referrer codes migration', (target) => {
  it('backfills every existing member with a distinct code, and new members get one by default', async () => {
    const { db, close } = await openEmpty(target.name);
    try {
      // The database as it stood before 0010, with members in it.
      await db.transaction(async (tx) => {
        await tx.exec(`CREATE TABLE schema_migrations (
          version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
        for (const m of MIGRATIONS.filter((x) => x.version < 10)) {
          await tx.exec(m.sql);
          await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
        }
      });
      await db.query(`INSERT INTO retailers (id, name, created_at) VALUES ($1, 'Old', now())`, [RETAILER]);
      for (let n = 1; n <= 30; n++) await insertMember(db, n);

      expect(await migrate(db)).toContain(10);
      const rows = await db.query<{ referrer_code: string }>('SELECT referrer_code FROM users');
      expect(rows).toHaveLength(30);
      for (const r of rows) expect(r.referrer_code).toMatch(CODE);
      expect(new Set(rows.map((r) => r.referrer_code)).size).toBe(30);

      await insertMember(db, 31);
      const [fresh] = await db.query<{ referrer_code: string }>(
        `SELECT referrer_code FROM users WHERE external_id = 'OLD-31'`,
      );
      expect(fresh!.referrer_code).toMatch(CODE);
      expect(rows.map((r) => r.referrer_code)).not.toContain(fresh!.referrer_code);
    } finally {
      await close();
    }
  });

  it('draws codes by a bijection: 20,000 consecutive sequence values give 20,000 codes', async () => {
    const { db, close } = await openEmpty(target.name);
    try {
      await migrate(db);
      const [r] = await db.query<{ n: number; codes: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT laurel_referrer_code(i))::int AS codes
         FROM generate_series(1, 20000) AS i`,
      );
      expect(r).toEqual({ n: 20000, codes: 20000 });
    } finally {
      await close();
    }
  });
});
