import type { Database } from '../../src/db/database.js';
import { LOOKUP_TABLES, MEMBER_TABLES } from '../../src/db/distribution.js';

/**
 * `LAUREL_TEST_PARTITIONED=1`: the PostgreSQL test databases hold every member table and lookup
 * table hash-partitioned by its distribution column (issue #19). PostgreSQL's partitioning refuses
 * a primary key or unique index without the partition key, as Citus refuses one without the
 * distribution column, so the whole suite running in this mode proves the schema distributes.
 */
export const PARTITIONED = process.env.LAUREL_TEST_PARTITIONED === '1';

/** Partitions per table: enough that a statement touching one member shows it touches one. */
export const PARTITIONS = 4;

/** The partition `n` of a table. */
export const partitionName = (table: string, n: number): string => `${table}_p${n}`;

interface Constraint {
  table: string;
  name: string;
  def: string;
}

/**
 * Turns the migrated schema's member and lookup tables into tables hash-partitioned by their
 * distribution column, keeping every column, default, check, key, index and foreign key under
 * its own name. Runs on a freshly migrated (empty) schema, in one transaction.
 */
export async function partitionByMember(db: Database): Promise<void> {
  const tables = [...MEMBER_TABLES, ...LOOKUP_TABLES];
  const names = tables.map((t) => t.table);
  await db.transaction(async (tx) => {
    const foreign = await tx.query<Constraint>(
      `SELECT c.conrelid::regclass::text AS table, c.conname AS name, pg_get_constraintdef(c.oid) AS def
       FROM pg_constraint c
       WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
         AND (c.conrelid::regclass::text = ANY($1) OR c.confrelid::regclass::text = ANY($1))
       ORDER BY c.conname`,
      [names],
    );
    for (const f of foreign) await tx.exec(`ALTER TABLE ${f.table} DROP CONSTRAINT ${f.name}`);
    for (const { table, column } of tables) {
      const keys = await tx.query<Constraint>(
        `SELECT conrelid::regclass::text AS table, conname AS name, pg_get_constraintdef(oid) AS def
         FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('p', 'u') ORDER BY conname`,
        [table],
      );
      const indexes = await tx.query<{ def: string }>(
        `SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
         WHERE i.indrelid = $1::regclass
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`,
        [table],
      );
      const grants = await tx.query<{ grantee: string; privilege: string }>(
        `SELECT grantee, privilege_type AS privilege FROM information_schema.role_table_grants
         WHERE table_schema = current_schema() AND table_name = $1 AND grantee <> current_user`,
        [table],
      );
      await tx.exec(`ALTER TABLE ${table} RENAME TO ${table}__plain`);
      await tx.exec(
        `CREATE TABLE ${table} (LIKE ${table}__plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS
           INCLUDING GENERATED INCLUDING IDENTITY) PARTITION BY HASH (${column})`,
      );
      for (let n = 0; n < PARTITIONS; n++) {
        await tx.exec(
          `CREATE TABLE ${partitionName(table, n)} PARTITION OF ${table}
             FOR VALUES WITH (MODULUS ${PARTITIONS}, REMAINDER ${n})`,
        );
      }
      await tx.exec(`INSERT INTO ${table} SELECT * FROM ${table}__plain`);
      // A serial column's sequence belongs to the old table: it moves to the new one, or it would go.
      const owned = await tx.query<{ seq: string; col: string }>(
        `SELECT s.oid::regclass::text AS seq, a.attname AS col
         FROM pg_class s
         JOIN pg_depend d ON d.objid = s.oid AND d.deptype = 'a'
         JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE s.relkind = 'S' AND d.refobjid = $1::regclass`,
        [`${table}__plain`],
      );
      for (const o of owned) await tx.exec(`ALTER SEQUENCE ${o.seq} OWNED BY ${table}.${o.col}`);
      await tx.exec(`DROP TABLE ${table}__plain`);
      for (const k of keys) await tx.exec(`ALTER TABLE ${table} ADD CONSTRAINT ${k.name} ${k.def}`);
      for (const i of indexes) await tx.exec(i.def.replace(`${table}__plain`, table));
      // Each partition's copy of a key or index is named after it with the partition's number, as
      // Citus names a shard's (`name_102008`): a unique violation names the key the code looks for.
      const copies = await tx.query<{ child: string; parent: string; part: string }>(
        `SELECT ci.relname AS child, pi.relname AS parent, pc.relname AS part
         FROM pg_inherits h
         JOIN pg_class pi ON pi.oid = h.inhparent AND pi.relkind = 'I'
         JOIN pg_class ci ON ci.oid = h.inhrelid
         JOIN pg_index x ON x.indexrelid = ci.oid
         JOIN pg_class pc ON pc.oid = x.indrelid
         JOIN pg_index px ON px.indexrelid = pi.oid
         WHERE px.indrelid = $1::regclass`,
        [table],
      );
      for (const c of copies) {
        const n = c.part.slice(table.length + 2);
        await tx.exec(`ALTER INDEX ${c.child} RENAME TO ${c.parent}_p${n}`);
      }
      // The same privileges as before: the ledger stays insert-only for the application's role.
      for (const grantee of new Set(grants.map((g) => g.grantee))) {
        await tx.exec(`REVOKE ALL ON ${table} FROM ${grantee}`);
      }
      for (const g of grants) await tx.exec(`GRANT ${g.privilege} ON ${table} TO ${g.grantee}`);
    }
    for (const f of foreign) await tx.exec(`ALTER TABLE ${f.table} ADD CONSTRAINT ${f.name} ${f.def}`);
  });
}
