import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { dumpPGlite, openPGlite } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A directory holding `data/`, a migrated embedded database on disk, and `dump.tar`, its dump. */
    laurelTemplate: string;
  }
}

/**
 * Once per run, before any test file: one migrated embedded database, kept as a data directory
 * (for the CLI tests' `migratedDataDir`) and as a dump (for the in-memory test databases). PGlite's
 * initdb and the migrations cost seconds of CPU; each test file used to pay them itself.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), 'laurel-template-'));
  const db = await openPGlite(join(dir, 'data'));
  try {
    await migrate(db);
    const dump = await dumpPGlite(db);
    writeFileSync(join(dir, 'dump.tar'), Buffer.from(await dump.arrayBuffer()));
  } finally {
    await db.close();
  }
  project.provide('laurelTemplate', dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
