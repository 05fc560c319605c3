import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../../test/support/databases.js';
import { startTestApp, type TestApp } from '../../test/support/test-app.js';
import { createUser } from '../customers/customer.service.js';
import { runImport } from './import.service.js';

/**
 * Bug (issue #16): a balances row naming its member by a SessionM id that is not a UUID, or with a
 * NUL character in a field, reached the database and was rejected as `internal_server_error` ("the
 * database refused the row: invalid input syntax for type uuid"). As in a till's transaction, such
 * a SessionM id names nobody (`user_not_found`), and text the database cannot store is refused as
 * the API's body guard refuses it (`validation`); the rows beside them go in, one at a time or in
 * batches (where such a key would fail the statement its rows share).
 */
describeEachDatabase('Balances rows whose keys the database cannot take', (target) => {
  let t: TestApp;
  let dir: string;
  const now = new Date('2026-12-20T17:00:00Z');

  beforeAll(async () => {
    t = await startTestApp(target, now);
    dir = mkdtempSync(join(tmpdir(), 'laurel-balances-keys-'));
    for (const id of ['K-1-1', 'K-1-2', 'K-64-1', 'K-64-2'])
      await createUser(t.db, t.tenant.retailer_id, { external_id: id }, now, {
        enrolled_at: new Date('2026-01-05T15:00:00Z'),
      });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([1, 64])(
    "are refused as the row's own error, the others imported (%i in flight)",
    async (concurrency) => {
      const path = join(dir, `balances-${concurrency}.ndjson`);
      writeFileSync(
        path,
        [
          { user_id: `K-${concurrency}-1`, user_id_type: 'external_id', balance: 5 },
          { user_id: 'K-\u00002', user_id_type: 'external_id', balance: 5 },
          { user_id: 'not-a-uuid', balance: 5 },
          { user_id: `K-${concurrency}-2`, user_id_type: 'external_id', balance: 5 },
        ]
          .map((r) => JSON.stringify(r))
          .join('\n') + '\n',
      );
      const s = await runImport(t.db, {
        retailerId: t.tenant.retailer_id,
        kind: 'balances',
        file: path,
        concurrency,
        now: () => now,
      });
      expect(s.counts).toMatchObject({ rows: 4, imported: 2, rejected: 2 });
      const rejects = readFileSync(s.rejects_path!, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { line: number; code: string; reason: string })
        .map((r) => [r.line, r.code, r.reason]);
      expect(rejects).toEqual([
        [2, 'validation', 'user_id must be text without NUL characters or lone surrogates'],
        [3, 'user_not_found', 'no member with SessionM_ID not-a-uuid: import customers first'],
      ]);
    },
  );
});
