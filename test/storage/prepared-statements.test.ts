import { describe, expect, it } from 'vitest';
import { openPostgres, statement } from '../../src/db/database.js';
import { createTestSchema, dropTestSchema } from '../support/databases.js';
import { laurel } from '../support/cli.js';

/**
 * Statements are prepared by name on PostgreSQL (issue #8: planning the lookup's statements cost
 * more than running them), unless LAUREL_PREPARED_STATEMENTS=off for a pooler that cannot keep them.
 */
describe('prepared statements', () => {
  it('a parameterised statement is named after its text; one without parameters, or with preparing off, is not', () => {
    const a = statement('SELECT $1::int AS n', [1]);
    expect(a.name).toMatch(/^laurel_[\w-]{20}$/);
    expect(statement('SELECT $1::int AS n', [2]).name).toBe(a.name);
    expect(statement('SELECT $1::int + 1 AS n', [2]).name).not.toBe(a.name);
    expect(statement('SELECT 1', []).name).toBeUndefined();
    expect(statement('SELECT $1::int AS n', [1], false).name).toBeUndefined();
  });

  const url = process.env.DATABASE_URL;
  describe.skipIf(!url)('[postgres]', () => {
    it('the connection keeps the statement when preparing is on, and nothing when it is off', async () => {
      const schema = await createTestSchema(url!);
      try {
        for (const prepare of [true, false]) {
          const db = await openPostgres({ url: url!, schema, max: 1, prepare });
          try {
            const rows = await db.query<{ n: number }>('SELECT $1::int + 41 AS n', [1]);
            expect(rows[0]!.n).toBe(42);
            const kept = await db.query<{ n: number }>(
              "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE '%+ 41 AS n%'",
            );
            expect(kept[0]!.n).toBe(prepare ? 1 : 0);
          } finally {
            await db.close();
          }
        }
      } finally {
        await dropTestSchema(url!, schema);
      }
    });

    it('LAUREL_PREPARED_STATEMENTS other than on or off is refused with one line, before any database work', async () => {
      const r = await laurel(['migrate'], { DATABASE_URL: url!, LAUREL_PREPARED_STATEMENTS: 'maybe' });
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/LAUREL_PREPARED_STATEMENTS must be on or off/);
    }, 60_000);
  });
});
