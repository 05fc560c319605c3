import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../../test/support/databases.js';
import { startTestApp, type TestApp } from '../../test/support/test-app.js';
import { runImport } from './import.service.js';

/**
 * A member's lock after an import read every member of the retailer. A table the import has just
 * loaded has no planner statistics until something analyzes it (autovacuum, a while later, or
 * never where it is off), and on such a table PostgreSQL ties `lockUserById`'s primary-key lookup
 * with an index on the retailer alone: every request touching a member then walked the retailer's
 * members. The import now analyzes the tables it wrote.
 */

const NOW = '2026-12-20T17:00:00Z';

describeEachDatabase('An import leaves its tables analyzed', (target) => {
  let t: TestApp;
  let dir: string;

  beforeAll(async () => {
    t = await startTestApp(target, new Date(NOW));
    dir = mkdtempSync(join(tmpdir(), 'laurel-import-statistics-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a member's lock after an import of customers finds the member by its id, not by a walk of the retailer's members", async () => {
    const file = join(dir, 'customers.csv');
    // Many customers share a name, as in life (and in the bench's generator, where this was found).
    const [first, last] = [
      ['Ava', 'Liam', 'Maya', 'Noah', 'Zoe'],
      ['Lei', 'Garcia', 'Okafor', 'Nguyen'],
    ];
    const rows = Array.from(
      { length: 200 },
      (_, i) => `S-${i},s${i}@example.com,${first[i % 5]},${last[i % 4]}`,
    );
    writeFileSync(file, ['external_id,email,first_name,last_name', ...rows].join('\n') + '\n');
    const summary = await runImport(t.db, {
      kind: 'customers',
      file,
      retailerId: t.tenant.retailer_id,
      concurrency: 16,
      now: () => new Date(NOW),
    });
    expect(summary.counts).toMatchObject({ imported: 200, rejected: 0 });
    expect(summary.statistics_error).toBeNull();

    const [member] = await t.db.query<{ id: string }>(`SELECT id FROM users WHERE external_id = 'S-117'`);
    // The statement of `lockUserById`, planned as the server plans it.
    // At 200 members a scan of the table costs little, and is fair; what went wrong was the choice
    // of index, so the scan is ruled out.
    const plan = await t.db.transaction(async (tx) => {
      await tx.exec('SET LOCAL enable_seqscan = off');
      return tx.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)
         SELECT u.id FROM users u WHERE u.retailer_id = $1 AND u.id = $2 AND u.deleted_at IS NULL FOR UPDATE`,
        [t.tenant.retailer_id, member!.id],
      );
    });
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    // Partitioned by member, the scan reaches one partition; either way the id is an index condition
    // and no other member is read and thrown away.
    expect(text).toMatch(/Index Cond: \([^\n]*\bid = /);
    expect(text).not.toMatch(/Rows Removed by Filter/);
  });
});
