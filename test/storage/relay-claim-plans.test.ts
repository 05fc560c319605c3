import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { isOneServer } from '../../src/db/distribution.js';
import { refreshStaleStatistics } from '../../src/db/statistics.js';
import { claimDeliveries, dispatchEvents } from '../../src/events/delivery.repository.js';
import { EventRelay } from '../../src/events/relay.js';
import { Sweeper } from '../../src/jobs/sweeper.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, TEST_GIFT_CARD_KEY, TEST_START, type TestApp } from '../support/test-app.js';

/**
 * Bug: the relay's claim of due webhook deliveries went quadratic in its backlog when the planner's
 * statistics were those of empty tables, as on the embedded database (which has no autovacuum) and
 * on a server whose autovacuum is off or behind: each due delivery's check that it heads its
 * member's queue scanned every pending delivery of the webhook (`event_deliveries_list_idx`).
 * Measured on the bench's 100,000 members: a claim took 1.4 s at 3,800 pending and the webhook
 * drained at 16 events/s. The planner guesses on such statistics (every index looks one page and
 * one row), so no way of writing the statement holds; the server's sweeper and its relay now
 * analyze the tables that grew since they were last analyzed (src/db/statistics.ts), and the claim
 * then reads what it claims, not the backlog.
 */

// Enough that each of the four partitions of the partitioned layout outgrows its statistics too.
const BACKLOG = 2400;
const CLAIM = 32;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

const walk = (n: PlanNode, out: PlanNode[] = []): PlanNode[] => {
  out.push(n);
  for (const c of n.Plans ?? []) walk(c, out);
  return out;
};

/** Whether `names` holds `table`, or one of its partitions in the partitioned layout. */
const holds = (names: string[], table: string): boolean =>
  names.some((name) => name === table || name.startsWith(`${table}_p`));

/** BACKLOG events of as many members, already fanned out or waiting to be. */
const insertEvents = (db: Pick<Database, 'query'>, retailerId: string, dispatched: boolean) =>
  db.query(
    `INSERT INTO events (user_id, id, retailer_id, type, created_at, effective_at, data, dispatched_at)
     SELECT gen_random_uuid(), gen_random_uuid(), $1, 'purchase.posted', $2, $2, '{}'::jsonb,
            CASE WHEN $3 THEN $2::timestamptz END
     FROM generate_series(1, ${BACKLOG})`,
    [retailerId, TEST_START, dispatched],
  );

/**
 * On the statistics of a new database (every table analyzed while empty), a webhook with a backlog:
 * one due delivery for each of BACKLOG members. Answers whether claims go member by member.
 */
async function deliveryBacklog(t: TestApp): Promise<boolean> {
  await t.db.exec('ANALYZE');
  const hook = await t.request('POST', '/admin/v1/webhooks', {
    auth: 'admin',
    body: { webhook: { url: 'http://127.0.0.1:9/hook', events: ['*'] } },
  });
  expect(hook.status, JSON.stringify(hook.body)).toBe(200);
  await insertEvents(t.db, t.tenant.retailer_id, false);
  const perMember = !(await isOneServer(t.db));
  let dispatched = 0;
  while (dispatched < BACKLOG) dispatched += await dispatchEvents(t.db, 500, TEST_START, perMember);
  return perMember;
}

describeEachDatabase('The relay claims a backlog of deliveries', (target) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(target, TEST_START);
  });
  afterAll(() => t.close());

  it(`in work that grows with what it claims, not with the backlog, once the grown tables are analyzed`, async () => {
    const perMember = await deliveryBacklog(t);

    // What the sweeper does at each tick: the tables the backlog grew are analyzed, once.
    const analyzed = await refreshStaleStatistics(t.db);
    for (const table of ['event_deliveries', 'events']) expect(holds(analyzed, table), table).toBe(true);
    expect(await refreshStaleStatistics(t.db)).toEqual([]);

    // Each claim statement explained as it runs (then rolled back), with what it read.
    const plans: PlanNode[] = [];
    const explaining: Database = {
      ...t.db,
      kind: t.db.kind,
      query: async <R>(sql: string, params?: readonly unknown[]) => {
        if (sql.includes('FOR UPDATE OF d SKIP LOCKED')) {
          const rollback = new Error('rollback');
          await t.db
            .transaction(async (tx) => {
              const [row] = await tx.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] | string }>(
                `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`,
                params,
              );
              const doc = row!['QUERY PLAN'];
              plans.push((typeof doc === 'string' ? (JSON.parse(doc) as [{ Plan: PlanNode }]) : doc)[0].Plan);
              throw rollback;
            })
            .catch((err: unknown) => {
              if (err !== rollback) throw err;
            });
        }
        return t.db.query<R>(sql, params);
      },
      exec: (sql) => t.db.exec(sql),
      transaction: (fn) => t.db.transaction(fn),
      close: () => t.db.close(),
    };
    const claimed = await claimDeliveries(explaining, false, CLAIM, new Date(), 30_000, perMember);
    expect(claimed).toHaveLength(CLAIM);
    expect(plans.length).toBeGreaterThan(0);

    const nodes = plans.flatMap((p) => walk(p));
    // The queue-head check never walks the webhook's whole backlog (its list index, in status order).
    const wide = nodes.filter((n) => /^event_deliveries_list_idx(_p\d+)?$/.test(n['Index Name'] ?? ''));
    expect(wide.map((n) => `${n['Node Type']} ${n['Relation Name']} ${n['Index Name'] ?? ''}`)).toEqual([]);
    // What the claims read: a few pages per delivery claimed, where the quadratic plan read a page
    // of the webhook's queue per pending delivery for each of them.
    const blocks = plans.reduce(
      (s, p) => s + (p['Shared Hit Blocks'] ?? 0) + (p['Shared Read Blocks'] ?? 0),
      0,
    );
    expect(blocks).toBeLessThan(BACKLOG * 4);
  });
  it("the server's sweeper analyzes the tables that grew, at its first tick", async () => {
    // A database of its own: the test above analyzed its tables at their present size.
    const t = await startTestApp(target, TEST_START);
    await t.db.exec('ANALYZE');
    await insertEvents(t.db, t.tenant.retailer_id, true);
    let tables: string[] | undefined;
    let sweeper: Sweeper | undefined;
    const ticked = new Promise<void>((resolve) => {
      const log = {
        info: (obj: object, msg: string) => {
          if (msg.startsWith('analyzed ')) {
            tables = (obj as { tables: string[] }).tables;
            resolve();
          }
        },
        error: (obj: object, msg: string) => {
          throw new Error(`${msg}: ${JSON.stringify(obj)}`);
        },
      };
      sweeper = new Sweeper(t.db, t.clock, { intervalMs: 3_600_000, log });
      sweeper.start();
    });
    await ticked;
    await sweeper!.stop();
    expect(holds(tables!, 'events')).toBe(true);
    expect(await refreshStaleStatistics(t.db)).toEqual([]);
    await t.close();
  });
  it('the relay analyzes the outbox and its queue itself, at its first round, without waiting for the sweeper', async () => {
    const t = await startTestApp(target, TEST_START);
    await deliveryBacklog(t);
    const analyzed: string[] = [];
    const relay = new EventRelay(t.db, {
      serverKey: TEST_GIFT_CARD_KEY,
      log: {
        info: (obj, msg) => {
          if (msg.startsWith('events: analyzed')) analyzed.push(...(obj as { tables: string[] }).tables);
        },
        warn: () => undefined,
        error: () => undefined,
      },
    });
    await relay.tick();
    await relay.stop();
    for (const table of ['event_deliveries', 'events']) expect(holds(analyzed, table), table).toBe(true);
    await t.close();
  });

  if (target.name === 'postgres')
    it('a role that owns no table (a member of laurel_app only) leaves the statistics to their owner', async () => {
      const t = await startTestApp(target, TEST_START);
      await t.db.exec('ANALYZE');
      const granted = await t.db.query<{ ok: boolean }>(
        `SELECT has_table_privilege('laurel_app', 'events', 'INSERT') AS ok`,
      );
      expect(granted[0]!.ok).toBe(true);
      const seen = await t.db.transaction(async (tx) => {
        await tx.query('SET LOCAL ROLE laurel_app');
        await insertEvents(tx, t.tenant.retailer_id, true);
        const asApp = await refreshStaleStatistics(tx);
        await tx.query('RESET ROLE');
        return { asApp, asOwner: await refreshStaleStatistics(tx) };
      });
      expect(seen.asApp).toEqual([]);
      expect(holds(seen.asOwner, 'events')).toBe(true);
      await t.close();
    });
});
