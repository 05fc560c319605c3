import type { ImportSummary } from '../../src/import/import.service.js';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../src/clock.js';
import { openPGlite } from '../../src/db/database.js';
import {
  cleanUp,
  ensureBuilt,
  exited,
  laurel,
  oneLine,
  ROOT,
  start,
  tempDir,
  type Result,
} from '../support/cli.js';

/**
 * `laurel import customers|transactions` as a user runs it (issue #6 item 4), on the embedded
 * database: CSV and NDJSON, bad rows named in the rejects file, re-runs that import nothing, and a
 * resume after the process is killed part-way. The same rules against the API, on every database:
 * src/import/import.service.test.ts.
 */

const NOW = '2026-12-20T17:00:00Z';
const FIXTURES = join(ROOT, 'test', 'fixtures', 'import');
const VERIFIED = /^ledger verified: /;

let baseDir: string;
let base: string;

beforeAll(async () => {
  ensureBuilt();
  // One demo database on a simulated clock, copied for every test (cleanUp leaves it alone).
  baseDir = mkdtempSync(join(tmpdir(), 'laurel-import-base-'));
  base = join(baseDir, 'data');
  const demo = await laurel(['demo', '--data-dir', base, '--json']);
  expect(demo.code, demo.stderr).toBe(0);
  const db = await openPGlite(base);
  try {
    await new SimulatedClock(db).init(new Date(NOW));
  } finally {
    await db.close();
  }
}, 120_000);
afterEach(cleanUp);
afterAll(async () => {
  await cleanUp();
  rmSync(baseDir, { recursive: true, force: true });
});

/** A copy of the demo database and of the fixtures, in a fresh directory. */
function workspace(...fixtures: string[]) {
  const dir = tempDir();
  const data = join(dir, 'data');
  cpSync(base, data, { recursive: true });
  for (const f of fixtures) copyFileSync(join(FIXTURES, f), join(dir, f));
  const path = (f: string) => join(dir, f);
  const run = (args: string[]) => laurel([...args, '--data-dir', data]);
  const json = async (kind: string, file: string, ...args: string[]): Promise<ImportSummary> => {
    const r = await run(['import', kind, path(file), '--json', ...args]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as ImportSummary;
  };
  const rejects = (file: string) =>
    readFileSync(path(`${file}.rejects.ndjson`), 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as { line: number; end_line?: number; reason: string; code: string; row: unknown },
      );
  const verify = async () => {
    const r = await run(['verify']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(VERIFIED);
  };
  /** Reads the database in this process (no CLI may hold it meanwhile). */
  const query = async <R>(sql: string): Promise<R[]> => {
    const db = await openPGlite(data);
    try {
      return await db.query<R>(sql);
    } finally {
      await db.close();
    }
  };
  return { dir, data, path, run, json, rejects, verify, query };
}

describe('laurel import customers', () => {
  // Each test below starts several CLI processes on the embedded database: under CI's load one
  // took past the default 60 s (5 December 2026), so they get the kill -9 test's three minutes.
  it('imports the good rows of a CSV, names every bad one with its line, and a second run imports nothing', async () => {
    const w = workspace('customers.csv');
    const first = await w.run(['import', 'customers', w.path('customers.csv')]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(
      /^imported customers from .*customers\.csv \(csv\) in [\d.]+ s: 8 rows at [\d,]+ rows\/s/,
    );
    expect(first.stdout).toContain('  imported:        4\n');
    expect(first.stdout).toContain('  already present: 0\n');
    expect(first.stdout).toContain(
      `  rejected:        4, each named in ${w.path('customers.csv.rejects.ndjson')}\n`,
    );
    expect(w.rejects('customers.csv').map((r) => [r.line, r.code, r.reason])).toEqual([
      [5, 'validation', 'email is not a valid address'],
      [6, 'duplicate_row', 'duplicate: external_id C-1 already appears on line 2'],
      [7, 'invalid_csv', 'a quoted field is not closed'],
      [9, 'validation', 'members must be at least 13 years old'],
    ]);
    expect(w.rejects('customers.csv')[0]!.row).toMatchObject({ external_id: 'C-4', email: 'not-an-email' });

    const users = await w.query<{
      external_id: string;
      last_name: string;
      opted_in: boolean;
      phones: number;
    }>(
      `SELECT external_id, last_name, opted_in, jsonb_array_length(phone_numbers)::int AS phones
       FROM users ORDER BY external_id`,
    );
    expect(users).toEqual([
      { external_id: 'C-1', last_name: 'Lee', opted_in: true, phones: 1 },
      { external_id: 'C-2', last_name: 'Ray', opted_in: true, phones: 2 },
      { external_id: 'C-3', last_name: 'O"Neil', opted_in: false, phones: 0 },
      { external_id: 'C-6', last_name: 'Lin, Jr.', opted_in: true, phones: 0 },
    ]);

    const again = await w.json('customers', 'customers.csv');
    expect(again.counts).toMatchObject({ rows: 8, imported: 0, present: 4, rejected: 4 });
    expect(w.rejects('customers.csv')).toHaveLength(4);
    expect(existsSync(w.path('customers.csv.laurel-checkpoint'))).toBe(false);
    await w.verify();
  }, 180_000);

  it('imports NDJSON user objects, bare or as a Core body', async () => {
    const w = workspace('customers.ndjson');
    const s = await w.json('customers', 'customers.ndjson');
    expect(s.counts).toMatchObject({ rows: 4, imported: 2, present: 0, rejected: 2 });
    expect(w.rejects('customers.ndjson').map((r) => [r.line, r.code, r.reason])).toEqual([
      [3, 'duplicate_row', 'duplicate: email n1@example.com already appears on line 1'],
      [4, 'invalid_json', expect.stringMatching(/^the line is not valid JSON: /)],
    ]);
    const rejectsPath = join(w.dir, 'bad-rows.ndjson');
    const again = await w.json('customers', 'customers.ndjson', '--rejects', rejectsPath);
    expect(again.counts).toMatchObject({ imported: 0, present: 2, rejected: 2 });
    expect(again.rejects_path).toBe(rejectsPath);
  }, 180_000);
});

describe('laurel import transactions', () => {
  it('prices and escrows each purchase at its own time, names the bad ones, and a second run changes nothing', async () => {
    const w = workspace('customers.csv', 'transactions.csv');
    await w.json('customers', 'customers.csv');
    const s = await w.json('transactions', 'transactions.csv');
    expect(s.counts).toEqual({
      rows: 9,
      imported: 6,
      not_awarded: { member_not_enrolled: 1, member_not_found: 1 },
      edits: 1,
      present: 0,
      rejected: 3,
    });
    expect(w.rejects('transactions.csv').map((r) => [r.line, r.end_line, r.code, r.reason])).toEqual([
      [8, undefined, 'validation', 'line 8: quantity "one" is not a number'],
      [9, undefined, 'validation', 'request_payload.open_time is in the future'],
      [
        10,
        undefined,
        'duplicate_row',
        'duplicate: transaction T-1 with the same content already appears on line 2',
      ],
    ]);

    // Each row also counts the journals, so one opening of the database reads it all.
    const balances = () =>
      w.query<{ external_id: string; account: string; balance: number; journals: number }>(
        `SELECT u.external_id, b.account, b.balance::int AS balance, (SELECT count(*)::int FROM journals) AS journals
         FROM balances b JOIN users u ON u.id = b.user_id WHERE b.balance <> 0 ORDER BY 1, 2`,
      );
    // C-1: T-1 (120.40 USD, 5 October) has matured into the settled accounts; T-2 (28 November,
    // Double Points Days) holds 2 × 60 in Spendable Escrow and 60 in Tier Qualifying Escrow after
    // the return of its socks. C-2: 280 USD after the discount, plus the Big Basket Bonus.
    const expected = [
      { external_id: 'C-1', account: 'spendable', balance: 120 },
      { external_id: 'C-1', account: 'spendable_escrow', balance: 120 },
      { external_id: 'C-1', account: 'tier', balance: 120 },
      { external_id: 'C-1', account: 'tier_escrow', balance: 60 },
      { external_id: 'C-2', account: 'spendable_escrow', balance: 780 },
      { external_id: 'C-2', account: 'tier_escrow', balance: 280 },
    ];
    const before = await balances();
    expect(before.map(({ journals: _j, ...b }) => b)).toEqual(expected);
    await w.verify();

    const again = await w.run(['import', 'transactions', w.path('transactions.csv')]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('  imported:        0\n');
    expect(again.stdout).toContain('  already present: 6\n');
    // Balances and the number of journals unchanged: nothing was posted twice.
    expect(await balances()).toEqual(before);
    await w.verify();
  }, 180_000);

  it('after a kill -9 part-way, running the same command again imports every transaction exactly once', async () => {
    const w = workspace('customers.csv');
    await w.json('customers', 'customers.csv');
    const members = ['C-1', 'C-2', 'C-3', 'C-6', 'C-404'];
    const count = 250;
    const lines = Array.from({ length: count }, (_, i) =>
      JSON.stringify({
        store_id: 'BOS-01',
        request_payload: {
          transaction_id: `K-${i}`,
          open_time: new Date(Date.parse('2026-06-01T12:00:00Z') + i * 15 * 3_600_000).toISOString(),
          user_id: members[i % members.length],
          user_id_type: 'external_id',
          items: [{ line_id: 1, item_id: 'SKU', quantity: 1, unit_price: 10 + (i % 40) }],
        },
      }),
    );
    writeFileSync(w.path('big.ndjson'), `${lines.join('\n')}\n`);

    const child = start([
      'import',
      'transactions',
      w.path('big.ndjson'),
      '--progress-interval',
      '1',
      '--data-dir',
      w.data,
    ]);
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`no progress:\n${child.out.stdout}${child.out.stderr}`)),
        60_000,
      );
      const check = () => {
        // Killed once rows are in and a checkpoint is on disk, so the re-run both resumes and meets
        // rows done after the checkpoint.
        // The latest progress line: on a slow machine the first ones count fewer than five rows.
        const m = [...child.out.stdout.matchAll(/import transactions: (\d+) rows/g)].at(-1);
        if (m && Number(m[1]) >= 5 && existsSync(w.path('big.ndjson.laurel-checkpoint'))) {
          clearTimeout(timer);
          child.stdout!.off('data', check);
          done();
        }
      };
      child.stdout!.on('data', check);
    });
    child.kill('SIGKILL');
    const killed: Result = await exited(child);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).not.toContain('imported transactions from');

    const resumed = await w.json('transactions', 'big.ndjson');
    expect(resumed.completed).toBe(true);
    expect(resumed.resumed_after_line).toBeGreaterThan(0);
    // The checkpoint trails the rows in flight; those past it are found already present.
    expect(resumed.counts.imported + resumed.counts.present).toBe(count);
    const [db] = await w.query<{ purchases: number; requests: number; distinct_tx: number }>(
      `SELECT (SELECT count(*)::int FROM purchases) AS purchases, (SELECT count(*)::int FROM pos_requests) AS requests,
              (SELECT count(DISTINCT transaction_id)::int FROM purchases) AS distinct_tx`,
    );
    expect(db).toEqual({ purchases: count, requests: count, distinct_tx: count });
    await w.verify();

    const again = await w.json('transactions', 'big.ndjson');
    expect(again.counts).toMatchObject({ imported: 0, present: count, rejected: 0 });
    expect(again.resumed_after_line).toBeNull();
  }, 180_000);

  it('refuses with one line on stderr when the import cannot run', async () => {
    const w = workspace('transactions.csv', 'customers.csv');
    const cases: [string[], RegExp][] = [
      [['import', 'transactions', w.path('missing.csv')], /file .*missing\.csv does not exist/],
      [['import', 'customers', w.path('transactions.csv')], /unknown column "transaction_id"/],
      [['import', 'transactions', join(FIXTURES, '..', 'seed-user-response.json')], /cannot tell the format/],
      [
        [
          'import',
          'transactions',
          w.path('transactions.csv'),
          '--retailer',
          '00000000-0000-7000-8000-000000000000',
        ],
        /retailer .* does not exist/,
      ],
      [
        ['import', 'transactions', w.path('transactions.csv'), '--concurrency', '0'],
        /expected a whole number from 1 to 1024/,
      ],
      [
        ['import', 'customers', w.path('transactions.csv'), '--concurrency', '1025'],
        /expected a whole number from 1 to 1024/,
      ],
      [
        ['import', 'balances', w.path('transactions.csv'), '--concurrency', '1025'],
        /expected a whole number from 1 to 1024/,
      ],
      [
        ['import', 'transactions', w.path('transactions.csv'), '--format', 'xml'],
        /Allowed choices are csv, ndjson/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await w.run(args);
      expect(r.code, `${args.join(' ')}: ${r.stdout}`).not.toBe(0);
      expect(oneLine(r)).toMatch(message);
    }
    expect(existsSync(w.path('transactions.csv.rejects.ndjson'))).toBe(false);
  });
});
