import type { Queryable, Tx } from './database.js';

/**
 * How each table distributes (issue #19, DESIGN §9, docs/scaling.md). Every table of the schema is
 * in exactly one list; a new table must be added to one (test/storage/distribution.test.ts fails
 * on a table that is not).
 *
 * - Member tables: everything about one member, hash-distributed by the member's id and
 *   co-located, so a member's rows are on one shard. `users` is the member itself (`id`).
 * - Lookup tables: a key that is not the member (an email, an external id, a phone, a referrer
 *   code, a transaction id), distributed by that key, each row naming its member.
 * - Reference tables: retailer-wide configuration, small and read-mostly, copied to every node.
 * - Local tables: bookkeeping of the coordinator (migrations).
 */
export interface DistributedTable {
  table: string;
  /** The distribution column. */
  column: string;
}

/** Member tables, in foreign-key order (a table after every table it references). */
export const MEMBER_TABLES: readonly DistributedTable[] = [
  { table: 'users', column: 'id' },
  { table: 'user_identifiers', column: 'user_id' },
  { table: 'user_phones', column: 'user_id' },
  { table: 'user_tags', column: 'user_id' },
  { table: 'purchases', column: 'user_id' },
  { table: 'pos_requests', column: 'user_id' },
  { table: 'journals', column: 'user_id' },
  { table: 'postings', column: 'user_id' },
  { table: 'balances', column: 'user_id' },
  { table: 'lots', column: 'user_id' },
  { table: 'tier_moves', column: 'user_id' },
  { table: 'enrollment_events', column: 'user_id' },
  { table: 'gift_cards', column: 'user_id' },
  { table: 'user_events', column: 'user_id' },
  { table: 'behaviour_outcomes', column: 'user_id' },
  { table: 'console_recent_views', column: 'user_id' },
  { table: 'member_standings', column: 'user_id' },
  { table: 'member_actions', column: 'user_id' },
  // The outbox (issue #17): a member's events and their deliveries stay with the member, in order.
  { table: 'events', column: 'user_id' },
  { table: 'event_deliveries', column: 'user_id' },
];

/** Lookup tables: one step from a key to the member. */
export const LOOKUP_TABLES: readonly DistributedTable[] = [
  { table: 'member_emails', column: 'email_key' },
  { table: 'member_external_ids', column: 'external_id' },
  { table: 'member_phones', column: 'phone_key' },
  { table: 'member_referrer_codes', column: 'referrer_code' },
  { table: 'transaction_keys', column: 'transaction_id' },
];

/** Reference tables, in foreign-key order. */
export const REFERENCE_TABLES: readonly string[] = [
  'retailers',
  'apps',
  'admin_tokens',
  'program_versions',
  'console_sessions',
  'cash_out_runs',
  'simulated_clock',
  'webhooks',
  'event_brokers',
];

/** Tables that stay on the coordinator alone. */
export const LOCAL_TABLES: readonly string[] = ['schema_migrations'];

/** True when the database has the Citus extension, so `laurel migrate` distributes the tables. */
export async function hasCitus(db: Queryable): Promise<boolean> {
  const rows = await db.query<{ citus: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus",
  );
  return rows[0]?.citus ?? false;
}

const oneServerOf = new WeakMap<object, Promise<boolean>>();

/**
 * Whether the members live whole on one server, where one statement may read and write many
 * members and reach a member through its lookup table (issue #15): not on Citus, where a
 * statement stays on one shard (issue #19), nor where `users` is partitioned the way Citus
 * distributes it (test/support/partitioned.ts), which is held to the same rules. Asked once per
 * database handle; asked again after a failure.
 */
export function isOneServer(db: Queryable): Promise<boolean> {
  let known = oneServerOf.get(db);
  if (!known) {
    // Never a synchronous throw: a handle that cannot query answers a rejected promise.
    known = Promise.resolve()
      .then(() =>
        db.query<{ spread: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')
             OR EXISTS (SELECT 1 FROM pg_partitioned_table pt JOIN pg_class c ON c.oid = pt.partrelid
                        WHERE c.relname = 'users' AND c.relnamespace = current_schema()::regnamespace) AS spread`,
        ),
      )
      .then(
        (rows) => rows[0]?.spread !== true,
        (err: unknown) => {
          oneServerOf.delete(db);
          throw err;
        },
      );
    oneServerOf.set(db, known);
  }
  return known;
}

/**
 * Distributes the schema's tables on Citus (docs/scaling.md): reference tables first, then the
 * members (`users` by id, every member table co-located with it by `user_id`), then the lookup
 * tables by their keys. Tables already distributed are left as they are, so it runs on every
 * `laurel migrate`. Answers the tables it distributed.
 */
export async function distributeOnCitus(tx: Tx): Promise<string[]> {
  const done = new Set(
    (
      await tx.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_dist_partition d JOIN pg_class c ON c.oid = d.logicalrelid
         WHERE c.relnamespace = current_schema()::regnamespace`,
      )
    ).map((r) => r.name),
  );
  const distributed: string[] = [];
  // Distributing tables that reference each other in one transaction needs one connection per node.
  await tx.query("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'");
  for (const table of REFERENCE_TABLES) {
    if (done.has(table)) continue;
    await tx.query('SELECT create_reference_table($1::regclass)', [table]);
    distributed.push(table);
  }
  for (const { table, column } of MEMBER_TABLES) {
    if (done.has(table)) continue;
    await tx.query(
      table === 'users'
        ? 'SELECT create_distributed_table($1::regclass, $2)'
        : "SELECT create_distributed_table($1::regclass, $2, colocate_with => 'users')",
      [table, column],
    );
    distributed.push(table);
  }
  for (const { table, column } of LOOKUP_TABLES) {
    if (done.has(table)) continue;
    await tx.query('SELECT create_distributed_table($1::regclass, $2)', [table, column]);
    distributed.push(table);
  }
  return distributed;
}
