import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../../test/support/databases.js';
import { startTestApp, type TestApp } from '../../test/support/test-app.js';
import type { Database } from '../db/database.js';
import { interceptedInTransactions } from '../../test/support/import-files.js';
import { isOneServer } from '../db/distribution.js';
import { runImport } from './import.service.js';

/**
 * Bug: a balances row that met a transient database error (a serialization failure, a deadlock)
 * was tried again with a new turn, behind the rows after it; a later row naming the same member
 * by another key then went first and took the member's one opening, and the file's first row came
 * back `idempotency_conflict` (issue #16). A row is now tried again within its own turn.
 */

const ENROLLED = '2026-01-05T15:00:00Z';
const CUTOVER = '2026-12-01T05:00:00Z';
const NOW = '2026-12-20T17:00:00Z';
/** A figure only the first row's write carries. */
const MARK = 424_242;

describeEachDatabase('A balances row tried again after a transient error', (target) => {
  let t: TestApp;
  let dir: string;
  beforeAll(async () => {
    t = await startTestApp(target, new Date('2026-01-02T12:00:00Z'));
    dir = mkdtempSync(join(tmpdir(), 'laurel-opening-retry-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps its turn: the member named by another key on a later line waits for it', async () => {
    const c = await t.newTenant();
    const customers = join(dir, 'customers.ndjson');
    writeFileSync(
      customers,
      JSON.stringify({ external_id: 'RT-1', email: 'rt-1@example.com', enrolled_at: ENROLLED }) + '\n',
    );
    const run = (db: Database, file: string) =>
      runImport(db, {
        retailerId: c.retailer_id,
        kind: 'balances',
        file,
        concurrency: 8,
        now: () => new Date(NOW),
        cutover: new Date(CUTOVER),
      });
    expect(
      (
        await runImport(t.db, {
          retailerId: c.retailer_id,
          kind: 'customers',
          file: customers,
          concurrency: 1,
          now: () => new Date(NOW),
        })
      ).counts,
    ).toMatchObject({ imported: 1 });

    // The statements carrying the first row's figures fail as a serialization failure does: on one
    // server its batch's write, then its write alone; where members are spread over servers (rows
    // run alone there) its one write.
    const failing = (await isOneServer(t.db)) ? 2 : 1;
    let failures = 0;
    const flaky = interceptedInTransactions(t.db, (_sql, params) => {
      if (failures >= failing || !JSON.stringify(params ?? []).includes(String(MARK))) return undefined;
      failures++;
      throw Object.assign(new Error('could not serialize access due to concurrent update'), {
        code: '40001',
      });
    });
    const file = join(dir, 'balances.ndjson');
    writeFileSync(
      file,
      [
        { user_id: 'RT-1', user_id_type: 'external_id', balance: 100, life_time_value: MARK, tier_points: 0 },
        {
          user_id: 'rt-1@example.com',
          user_id_type: 'email',
          balance: 200,
          life_time_value: 300,
          tier_points: 0,
        },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    const s = await run(flaky, file);
    expect(failures).toBe(failing);
    expect(s.counts).toMatchObject({ imported: 1, rejected: 1 });
    const rejects = readFileSync(s.rejects_path!, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; code: string });
    // The file's first row took the member's opening; the second, with other figures, conflicts.
    expect(rejects.map((r) => [r.line, r.code])).toEqual([[2, 'idempotency_conflict']]);
    const held = await t.db.query<{ life_time_value: string }>(
      `SELECT b.life_time_value::text AS life_time_value FROM balances b JOIN users u ON u.id = b.user_id
       WHERE u.retailer_id = $1 AND b.account = 'spendable'`,
      [c.retailer_id],
    );
    expect(held).toEqual([{ life_time_value: String(MARK) }]);
  });
});
