import type { Database } from './database.js';
import * as m0001 from './migrations/0001_foundation.js';
import * as m0002 from './migrations/0002_ledger.js';
import * as m0003 from './migrations/0003_tier_inputs.js';
import * as m0004 from './migrations/0004_cash_out.js';
import * as m0005 from './migrations/0005_console_sessions.js';
import * as m0006 from './migrations/0006_ledger_integrity.js';
import * as m0007 from './migrations/0007_console_search_agents.js';
import * as m0008 from './migrations/0008_behaviours.js';
import * as m0009 from './migrations/0009_pos_request_per_transaction.js';
import * as m0010 from './migrations/0010_referrer_codes.js';
import * as m0011 from './migrations/0011_distribute_by_member.js';
import * as m0012 from './migrations/0012_member_standings.js';
import * as m0013 from './migrations/0013_events.js';
import * as m0014 from './migrations/0014_opening_balances.js';
import * as m0016 from './migrations/0016_events_by_member.js';
import * as m0018 from './migrations/0018_member_actions.js';
import { distributeOnCitus, hasCitus } from './distribution.js';

/** Forward-only migrations, applied in order on start and by `laurel migrate`. Never edit one that shipped. */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  { version: 1, name: m0001.name, sql: m0001.sql },
  { version: 2, name: m0002.name, sql: m0002.sql },
  { version: 3, name: m0003.name, sql: m0003.sql },
  { version: 4, name: m0004.name, sql: m0004.sql },
  { version: 5, name: m0005.name, sql: m0005.sql },
  { version: 6, name: m0006.name, sql: m0006.sql },
  { version: 7, name: m0007.name, sql: m0007.sql },
  { version: 8, name: m0008.name, sql: m0008.sql },
  { version: 9, name: m0009.name, sql: m0009.sql },
  { version: 10, name: m0010.name, sql: m0010.sql },
  { version: 11, name: m0011.name, sql: m0011.sql },
  { version: 12, name: m0012.name, sql: m0012.sql },
  { version: 13, name: m0013.name, sql: m0013.sql },
  { version: 14, name: m0014.name, sql: m0014.sql },
  { version: 16, name: m0016.name, sql: m0016.sql },
  // The versions between belong to changes landing beside these (issue #19 and others).
  { version: 18, name: m0018.name, sql: m0018.sql },
];

/** Arbitrary constant: the advisory lock that keeps two servers from migrating at once. */
const MIGRATION_LOCK = 7_117_001;

/** Applies every migration not yet applied; returns the versions it applied. */
export async function migrate(db: Database): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    const newest = Math.max(...MIGRATIONS.map((m) => m.version));
    const unknown = [...done].filter((v) => v > newest);
    if (unknown.length) {
      throw new Error(`database has migrations ${unknown.join(', ')} newer than this Laurel; upgrade Laurel`);
    }
    // On Citus the tables are distributed by member here, on every run (issue #19, docs/scaling.md).
    if (db.kind === 'postgres' && (await hasCitus(tx))) await distributeOnCitus(tx);
    return applied;
  });
}

/**
 * Why this server should not take traffic yet (`GET /readyz`, issue #18 item 8), or null when it
 * may: the schema is behind this Laurel (migrations are running, or have not run) or ahead of it
 * (a newer Laurel migrated it). The advisory lock is looked at only when the schema is behind, so
 * migrations of another database on the same server do not count. A database that cannot be
 * reached throws, as any query does.
 */
export async function notReadyReason(db: Database): Promise<string | null> {
  const newest = Math.max(...MIGRATIONS.map((m) => m.version));
  const [present] = await db.query<{ present: boolean }>(
    "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
  );
  const version = present?.present
    ? ((await db.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations'))[0]?.v ?? 0)
    : 0;
  if (version > newest)
    return `the database schema (version ${version}) is newer than this Laurel; upgrade it`;
  if (version === newest) return null;
  const [lock] = await db.query<{ held: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = $1
       AND granted) AS held`,
    [MIGRATION_LOCK],
  );
  return lock?.held
    ? 'database migrations are running'
    : `the database schema is at version ${version} of ${newest}: run laurel migrate`;
}
