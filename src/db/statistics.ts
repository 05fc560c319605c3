import type { Database } from './database.js';

/**
 * The planner's statistics of this schema's tables, kept current by the server itself. The
 * embedded database has no autovacuum, so its tables were never analyzed after their first rows,
 * and a server PostgreSQL may run with autovacuum off or behind: statistics taken while a table
 * was small (a fresh database, a queue that was empty) make the planner guess, and some guesses are
 * quadratic. Bug: the relay's claim of due webhook deliveries scanned the webhook's whole backlog
 * for each due delivery (1.4 s a claim at 3,800 pending; 16 events/s delivered on the bench).
 *
 * A table is stale when it has grown past a fifth of the pages it had when last analyzed (and by
 * more than a few pages): measured on the table's files, not on activity counters, which the
 * embedded database does not keep. Partitions are analyzed one by one; a Citus coordinator's
 * distributed tables hold no rows of their own and are left to Citus.
 */
export const STALE_GROWTH = 1.2;
export const STALE_MIN_PAGES = 8;

/**
 * Analyzes the stale tables of the current schema that this role may analyze (their owner's, a
 * superuser's or the database owner's: a server running as a member of `laurel_app` only, which
 * owns nothing, would be skipped with a warning each time); answers their names.
 */
export async function refreshStaleStatistics(db: Pick<Database, 'query' | 'exec'>): Promise<string[]> {
  const stale = await db.query<{ name: string; qualified: string }>(
    `SELECT c.relname AS name, format('%I.%I', n.nspname, c.relname) AS qualified
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
       AND pg_relation_size(c.oid) / current_setting('block_size')::int
           > greatest(c.relpages, 0) * ${STALE_GROWTH} + ${STALE_MIN_PAGES}
       AND (pg_has_role(current_user, c.relowner, 'USAGE')
            OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
            OR pg_has_role(current_user, (SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE'))
     ORDER BY c.relname`,
  );
  // SKIP_LOCKED: a table another session is vacuuming or analyzing (another server's keeper) is
  // left for the next look, rather than holding up the relay or the sweeper behind its lock.
  for (const { qualified } of stale) await db.exec(`ANALYZE (SKIP_LOCKED) ${qualified}`);
  return stale.map((s) => s.name);
}
