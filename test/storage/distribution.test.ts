import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/database.js';
import { LOCAL_TABLES, LOOKUP_TABLES, MEMBER_TABLES, REFERENCE_TABLES } from '../../src/db/distribution.js';
import { describeEachDatabase, type OpenTestDatabase } from '../support/databases.js';
import { PARTITIONED } from '../support/partitioned.js';

/**
 * The schema distributes by member (issue #19, docs/scaling.md), read from the catalog: what Citus
 * (and PostgreSQL's partitioning) would refuse is absent. A new table must be classified in
 * src/db/distribution.ts and follow the rules of its class.
 */

const DISTRIBUTED = new Map([...MEMBER_TABLES, ...LOOKUP_TABLES].map((t) => [t.table, t.column]));
const MEMBER = new Set(MEMBER_TABLES.map((t) => t.table));
const REFERENCE = new Set(REFERENCE_TABLES);

interface ForeignKey {
  name: string;
  from_table: string;
  to_table: string;
  from_columns: string[];
  to_columns: string[];
}

async function foreignKeys(db: Queryable): Promise<ForeignKey[]> {
  return db.query<ForeignKey>(
    `SELECT c.conname AS name, f.relname AS from_table, t.relname AS to_table,
            (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY AS k(att, n)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.att) AS from_columns,
            (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY AS k(att, n)
               JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.att) AS to_columns
     FROM pg_constraint c JOIN pg_class f ON f.oid = c.conrelid JOIN pg_class t ON t.oid = c.confrelid
     WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace AND c.conparentid = 0
     ORDER BY c.conname`,
  );
}

describeEachDatabase('The schema distributes by member', (target) => {
  let opened: OpenTestDatabase;
  beforeAll(async () => {
    opened = await target.open();
  });
  afterAll(async () => {
    await opened?.close();
  });

  it('classifies every table: member, lookup, reference or local, and nothing twice', async () => {
    const rows = await opened.db.query<{ name: string }>(
      `SELECT relname AS name FROM pg_class
       WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition
       ORDER BY relname`,
    );
    const classified = [...DISTRIBUTED.keys(), ...REFERENCE_TABLES, ...LOCAL_TABLES];
    expect(new Set(classified).size).toBe(classified.length);
    expect(rows.map((r) => r.name)).toEqual([...classified].sort());
  });

  it('every primary key and unique index of a member or lookup table contains its distribution column', async () => {
    const rows = await opened.db.query<{ table: string; index: string; columns: (string | null)[] }>(
      `SELECT t.relname AS table, i.relname AS index,
              (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(att, n)
                 LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.att) AS columns
       FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
       WHERE x.indisunique AND t.relnamespace = current_schema()::regnamespace AND NOT t.relispartition`,
    );
    const checked = rows.filter((r) => DISTRIBUTED.has(r.table));
    // Every distributed table has its key.
    expect(new Set(checked.map((r) => r.table))).toEqual(new Set(DISTRIBUTED.keys()));
    const wrong = checked
      .filter((r) => !r.columns.includes(DISTRIBUTED.get(r.table)!))
      .map((r) => `${r.table}.${r.index} (${r.columns.join(', ')})`);
    expect(wrong).toEqual([]);
  });

  it('foreign keys among member tables carry the member on both sides; none cross the classes', async () => {
    const wrong: string[] = [];
    for (const fk of await foreignKeys(opened.db)) {
      const what = `${fk.name}: ${fk.from_table} (${fk.from_columns.join(', ')}) → ${fk.to_table} (${fk.to_columns.join(', ')})`;
      if (MEMBER.has(fk.from_table) && MEMBER.has(fk.to_table)) {
        const at = fk.from_columns.indexOf(DISTRIBUTED.get(fk.from_table)!);
        if (at < 0 || fk.to_columns[at] !== DISTRIBUTED.get(fk.to_table)) wrong.push(what);
      } else if (!(REFERENCE.has(fk.from_table) && REFERENCE.has(fk.to_table))) {
        // Lookup tables point at members by value only; member tables keep no key to reference
        // tables and reference tables none into distributed ones (Citus would make them local).
        wrong.push(what);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('no distribution column is nullable, and no distributed table has a trigger', async () => {
    const nullable: string[] = [];
    for (const [table, column] of DISTRIBUTED) {
      const [r] = await opened.db.query<{ notnull: boolean }>(
        `SELECT attnotnull AS notnull FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2`,
        [table, column],
      );
      if (!r?.notnull) nullable.push(`${table}.${column}`);
    }
    expect(nullable).toEqual([]);
    const triggers = await opened.db.query<{ name: string }>(
      `SELECT t.tgname AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace
         AND c.relname = ANY($1::text[])`,
      [[...DISTRIBUTED.keys()]],
    );
    expect(triggers).toEqual([]);
  });

  it('the ledger is insert-only for the application role laurel_app', async () => {
    const [role] = await opened.db.query<{ present: boolean }>(
      "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'laurel_app') AS present",
    );
    expect(role?.present).toBe(true);
    const rows = await opened.db.query<{ table: string; insert: boolean; update: boolean; del: boolean }>(
      `SELECT t AS table, has_table_privilege('laurel_app', t, 'INSERT') AS insert,
              has_table_privilege('laurel_app', t, 'UPDATE') AS update,
              has_table_privilege('laurel_app', t, 'DELETE') AS del
       FROM unnest($1::text[]) AS t ORDER BY t`,
      [['journals', 'postings', 'tier_moves', 'enrollment_events', 'user_events', 'behaviour_outcomes']],
    );
    expect(rows.every((r) => r.insert && !r.update && !r.del)).toBe(true);
  });

  it.runIf(PARTITIONED && target.name === 'postgres')(
    'in the partitioned test mode, every member and lookup table is hash-partitioned by its column',
    async () => {
      const rows = await opened.db.query<{ table: string; key: string }>(
        `SELECT c.relname AS table, pg_get_partkeydef(c.oid) AS key FROM pg_class c
         WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'p' ORDER BY c.relname`,
      );
      expect(new Map(rows.map((r) => [r.table, r.key]))).toEqual(
        new Map([...DISTRIBUTED].map(([t, c]) => [t, `HASH (${c})`])),
      );
    },
  );
});
