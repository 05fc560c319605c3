import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, inject } from 'vitest';
import { openPGlite, openPostgres, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { PARTITIONED, partitionByMember } from './partitioned.js';

/**
 * The databases every storage and API test runs on (CONVENTIONS: one behavioural suite looped over
 * every database): embedded PGlite always, server PostgreSQL when DATABASE_URL is set. On
 * PostgreSQL each test database is its own schema, so test files run in parallel without sharing
 * rows or the simulated clock. With `LAUREL_TEST_PARTITIONED=1` its member tables are
 * hash-partitioned by member (test/support/partitioned.ts).
 */
export interface TestDatabase {
  readonly name: 'pglite' | 'postgres';
  /** A fresh, migrated database. */
  open(): Promise<OpenTestDatabase>;
}

export interface OpenTestDatabase {
  db: Database;
  /** For child processes: DATABASE_URL selecting this database, or undefined for PGlite. */
  url: string | undefined;
  close(): Promise<void>;
}

/**
 * The migrated embedded database each test copies: made once per run by the global setup
 * (test/support/global-setup.ts), since PGlite's initdb and the migrations cost a few seconds of
 * CPU per database and loading a dump about one tenth of that.
 */
let pgliteTemplate: Blob | undefined;

function migratedPGlite(): Blob {
  pgliteTemplate ??= new Blob([readFileSync(join(inject('laurelTemplate'), 'dump.tar'))]);
  return pgliteTemplate;
}

const pglite: TestDatabase = {
  name: 'pglite',
  async open() {
    const db = await openPGlite(undefined, migratedPGlite());
    // Up to date already: this proves it, and costs one read.
    await migrate(db);
    return { db, url: undefined, close: () => db.close() };
  },
};

/** DATABASE_URL with the search_path set to `schema`, for this process and child processes. */
export function urlWithSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createTestSchema(url: string): Promise<string> {
  const schema = `laurel_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(url, `CREATE SCHEMA ${schema}`);
  return schema;
}

export async function dropTestSchema(url: string, schema: string): Promise<void> {
  await adminQuery(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

const postgres = (url: string): TestDatabase => ({
  name: 'postgres',
  async open() {
    const schema = await createTestSchema(url);
    const db = await openPostgres({ url, schema, max: 5 });
    await migrate(db);
    // The member tables hash-partitioned by member, as Citus distributes them (issue #19).
    if (PARTITIONED) await partitionByMember(db);
    return {
      db,
      url: urlWithSchema(url, schema),
      async close() {
        await db.close();
        await dropTestSchema(url, schema);
      },
    };
  },
});

/** In the partitioned mode only PostgreSQL runs: PGlite was covered by the plain pass. */
export const TEST_DATABASES: TestDatabase[] = [
  ...(PARTITIONED && process.env.DATABASE_URL ? [] : [pglite]),
  ...(process.env.DATABASE_URL ? [postgres(process.env.DATABASE_URL)] : []),
];

/** Declares the same suite once per test database. */
export function describeEachDatabase(title: string, suite: (target: TestDatabase) => void): void {
  for (const target of TEST_DATABASES) describe(`${title} [${target.name}]`, () => suite(target));
}
