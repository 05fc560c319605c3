import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../../test/support/databases.js';
import { startTestApp, type TestApp } from '../../test/support/test-app.js';
import type { Database } from '../db/database.js';
import type { DemoCredentials } from '../demo/demo.service.js';
import { verifyLedger } from '../ledger/verify.js';
import { runImport, type ImportOptions, type ImportSummary } from './import.service.js';
import { rejectsOf } from '../../test/support/import-files.js';

/**
 * Batched customers and balances imports (issue #16) against the same file one row at a time
 * (`--concurrency 1`), where the file's order decides which row wins: two rows naming one member
 * by different keys, or claiming one external id, one as its primary and one as an identifier.
 * Two batches run at once (or, on a database spread over servers, rows alone side by side), so a
 * row may commit before a row above it: the first transaction is held back here to make that happen
 * every time.
 */

const NOW = '2026-12-20T17:00:00Z';
const CUTOVER = '2026-12-01T05:00:00Z';
const ENROLLED = '2026-01-05T15:00:00Z';

const ndjson = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/**
 * The database with its first transaction begun `ms` later: the first batch commits last. `spread`:
 * the database answers that its members are spread over servers (Citus), so nothing is batched.
 */
function firstBatchLate(db: Database, ms: number, spread = false): Database {
  let first = true;
  return {
    kind: db.kind,
    query: async <R>(sql: string, params?: readonly unknown[]) =>
      spread && sql.includes('pg_partitioned_table') ? ([{ spread: true }] as R[]) : db.query<R>(sql, params),
    exec: (sql) => db.exec(sql),
    close: () => db.close(),
    transaction: async (fn) => {
      if (first) {
        first = false;
        await new Promise((done) => setTimeout(done, ms));
      }
      return db.transaction(fn);
    },
  };
}

describeEachDatabase(
  'Batched imports keep the file order of rows that meet on one member or key',
  (target) => {
    let t: TestApp;
    let dir: string;
    let n = 0;

    const file = (name: string, content: string) => {
      const path = join(dir, `${n++}-${name}`);
      writeFileSync(path, content);
      return path;
    };
    const importFile = (
      db: Database,
      c: DemoCredentials,
      kind: ImportOptions['kind'],
      path: string,
      extra: Partial<ImportOptions> = {},
    ): Promise<ImportSummary> =>
      runImport(db, {
        retailerId: c.retailer_id,
        kind,
        file: path,
        concurrency: 2,
        now: () => new Date(NOW),
        ...extra,
      });

    beforeAll(async () => {
      t = await startTestApp(target, new Date(NOW));
      dir = mkdtempSync(join(tmpdir(), 'laurel-file-order-'));
    });
    afterAll(async () => {
      await t?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('balances: a member named by its external id and then by its email with other figures gets the first row, as one at a time, batched or alone side by side as on Citus (the later row could win)', async () => {
      const [batched, spread, alone] = [await t.newTenant(), await t.newTenant(), await t.newTenant()];
      const rows = [
        { user_id: 'M-1', user_id_type: 'external_id', balance: 100, life_time_value: 300, tier_points: 10 },
        {
          user_id: 'M-1@Example.com',
          user_id_type: 'email',
          balance: 200,
          life_time_value: 300,
          tier_points: 10,
        },
      ];
      const outcomes: unknown[] = [];
      for (const [c, concurrency, spreadOut] of [
        [alone, 1, false],
        [batched, 2, false],
        [spread, 2, true],
      ] as const) {
        const customers = file(
          'customers.ndjson',
          ndjson([{ external_id: 'M-1', email: 'm-1@example.com', enrolled_at: ENROLLED }]),
        );
        expect((await importFile(t.db, c, 'customers', customers)).counts).toMatchObject({ imported: 1 });
        const s = await importFile(
          firstBatchLate(t.db, 300, spreadOut),
          c,
          'balances',
          file('balances.ndjson', ndjson(rows)),
          {
            cutover: new Date(CUTOVER),
            concurrency,
          },
        );
        expect(s.counts).toMatchObject({ imported: 1, rejected: 1 });
        outcomes.push(rejectsOf(s));
      }
      expect(outcomes[0]).toEqual([
        [
          2,
          'idempotency_conflict',
          "the member's opening balance was already imported with other data: balance (stored 100, in the file 200)",
        ],
      ]);
      expect(outcomes[1]).toEqual(outcomes[0]);
      expect(outcomes[2]).toEqual(outcomes[0]);
      expect((await verifyLedger(t.db)).problems).toEqual([]);
    });

    it("customers: an external id given as one row's primary and as the next row's identifier goes to the first row, as one at a time (the later row could take it)", async () => {
      const [batched, alone] = [await t.newTenant(), await t.newTenant()];
      const rows = [
        { external_id: 'P-1', email: 'p1@example.com' },
        { external_id: 'P-2', identifiers: [{ external_id: 'P-1', external_id_type: 'loyalty' }] },
      ];
      const outcomes: unknown[] = [];
      for (const [c, concurrency] of [
        [batched, 2],
        [alone, 1],
      ] as const) {
        const s = await importFile(
          firstBatchLate(t.db, 300),
          c,
          'customers',
          file('customers.ndjson', ndjson(rows)),
          {
            concurrency,
          },
        );
        expect(s.counts).toMatchObject({ imported: 1, rejected: 1 });
        outcomes.push(rejectsOf(s));
        const members = await t.db.query<{ external_id: string }>(
          'SELECT external_id FROM users WHERE retailer_id = $1',
          [c.retailer_id],
        );
        expect(members).toEqual([{ external_id: 'P-1' }]);
      }
      expect(outcomes[1]).toEqual([[2, 'external_id_taken', expect.any(String)]]);
      expect(outcomes[0]).toEqual(outcomes[1]);
    });
    it('customers: emails the database takes for one (\u0130 and i, a final \u03a3 and \u03c3) go to the first row, as one at a time (the later row could take the email)', async () => {
      const [batched, alone] = [await t.newTenant(), await t.newTenant()];
      // JavaScript lowercases \u0130 to i and a combining dot, and a final \u03a3 to \u03c2: the rows'
      // keys differ, while lower() in the database makes each pair one email.
      const rows = [
        { external_id: 'Q-1', email: '\u0130@example.com' },
        { external_id: 'Q-2', email: 'i@example.com' },
        { external_id: 'Q-3', email: '\u039f\u0394\u039f\u03a3@example.com' },
        { external_id: 'Q-4', email: '\u03bf\u03b4\u03bf\u03c3@example.com' },
      ];
      const outcomes: unknown[] = [];
      for (const [c, concurrency] of [
        [batched, 2],
        [alone, 1],
      ] as const) {
        const s = await importFile(
          firstBatchLate(t.db, 300),
          c,
          'customers',
          file('emails.ndjson', ndjson(rows)),
          {
            concurrency,
          },
        );
        outcomes.push(rejectsOf(s));
      }
      expect(outcomes[1]).toEqual([
        [2, 'email_taken', expect.stringContaining('external_id (stored "Q-1", in the file "Q-2")')],
        [4, 'email_taken', expect.stringContaining('external_id (stored "Q-3", in the file "Q-4")')],
      ]);
      expect(outcomes[0]).toEqual(outcomes[1]);
    });
  },
);
