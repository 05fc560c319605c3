import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ImportSummary } from '../../src/import/import.service.js';
import {
  basic,
  call,
  cleanUp,
  ensureBuilt,
  laurel,
  migratedDataDir,
  oneLine,
  schemaPerTest,
  serve,
  type Server,
  tempDir,
} from '../support/cli.js';

/**
 * `laurel import balances` (issue #16 item 2) as a migrating retailer runs it, beside a running
 * server: customers enrolled in the past, their opening balances and tiers as of the cut-over,
 * the old platform's purchases with `--history-only`, then a return of one of them and a new
 * purchase. The member reads as the old platform showed it, the return claws back (DESIGN §4),
 * bad rows are named, a re-run imports nothing, and `laurel verify` holds. On the embedded
 * database (through the server that holds it) and on PostgreSQL.
 */

const NOW = '2026-12-20T17:00:00Z';
const CUTOVER = '2026-12-15T05:00:00Z';

const CUSTOMERS = `external_id,email,first_name,enrolled_at,registered_at
M-1,m1@example.com,Mia,2025-03-01T14:00:00Z,2025-03-01T14:00:00Z
M-2,m2@example.com,Max,,
M-3,m3@example.com,Mo,2024-01-10T14:00:00Z,2024-01-10T14:00:00Z
`;

const BALANCES = `user_id,user_id_type,account,balance,life_time_value,tier,tier_entered_at,tier_expires_at,tier_points
M-1,external_id,ACME Spendable Account,1500,4200,SILVER,2025-07-04T15:00:00Z,2027-01-01T05:00:00Z,800
M-2,external_id,,300,,,,,
M-3,external_id,,100,100,BASE,,,2500
M-404,external_id,,10,,,,,
M-1,external_id,,1,,,,,
M-3,external_id,,50,20,,,,
`;

const item = (line: number, price: number, quantity = 1) => ({
  line_id: line,
  item_id: `SKU-${line}`,
  quantity,
  unit_price: price,
});
const sale = (id: string, at: string, items: unknown[]) =>
  JSON.stringify({
    store_id: 'BOS-01',
    transaction_id: id,
    open_time: at,
    user_id: 'M-1',
    user_id_type: 'external_id',
    items,
  });

async function scenario(env: Record<string, string>, dataArgs: string[]) {
  const dir = tempDir();
  const path = (f: string) => join(dir, f);
  const run = (args: string[]) => laurel([...args, ...dataArgs], env);
  const json = async (kind: string, file: string, ...args: string[]): Promise<ImportSummary> => {
    const r = await run(['import', kind, path(file), '--json', ...args]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as ImportSummary;
  };
  const demo = await run(['demo', '--json']);
  expect(demo.code, demo.stderr).toBe(0);
  const creds = JSON.parse(demo.stdout) as { api_key: string; secret: string; retailer_id: string };
  const server: Server = await serve(
    [...dataArgs, '--clock', 'simulated', '--now', NOW, '--log-level', 'silent'],
    env,
  );
  try {
    writeFileSync(path('customers.csv'), CUSTOMERS);
    writeFileSync(path('balances.csv'), BALANCES);
    writeFileSync(
      path('history.ndjson'),
      `${[
        sale('H-1', '2026-11-02T15:00:00Z', [item(1, 100), item(2, 50)]),
        sale('H-2', '2026-12-10T15:00:00Z', [item(1, 20)]),
      ].join('\n')}\n`,
    );
    writeFileSync(
      path('after.ndjson'),
      `${[
        // A return of the socks of H-1, bought on the old platform: 50 points clawed back.
        sale('H-1', '2026-11-02T15:00:00Z', [item(1, 100), item(2, 50, 0)]),
        // A purchase of the old platform's, matured by the cut-over, imported to earn: its points
        // are in the opening balance, so it is refused.
        sale('H-3', '2026-11-10T15:00:00Z', [item(1, 70)]),
        // One still in its return period at the cut-over: its points were in escrow there, not in the
        // opening balance, so it earns into escrow, maturing at its own time.
        sale('H-4', '2026-12-14T15:00:00Z', [item(1, 40)]),
        sale('N-1', '2026-12-18T15:00:00Z', [item(1, 30)]),
      ].join('\n')}\n`,
    );
    expect((await json('customers', 'customers.csv')).counts).toMatchObject({ imported: 3, rejected: 0 });

    const s = await json('balances', 'balances.csv', '--cutover', CUTOVER);
    expect(s.counts).toMatchObject({ rows: 6, imported: 1, present: 0, rejected: 5 });
    const rejects = readFileSync(path('balances.csv.rejects.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; code: string; reason: string });
    expect(rejects.map((r) => [r.line, r.code, r.reason])).toEqual([
      [
        3,
        'validation',
        expect.stringMatching(
          /^the member enrolled at .*, after the cut-over 2026-12-15T05:00:00.000Z: import the customer with enrolled_at/,
        ),
      ],
      [
        4,
        'validation',
        'at the cut-over the program puts the member at SILVER (2,500 tier points this period), not BASE',
      ],
      [5, 'user_not_found', 'no member with external_id M-404: import customers first'],
      [6, 'duplicate_row', 'duplicate: external_id M-1 already appears on line 2'],
      [
        7,
        'validation',
        'life_time_value 20 is less than the balance 50: it counts every point ever credited',
      ],
    ]);
    // A re-run imports nothing twice; a changed position for the member is refused, not applied.
    expect((await json('balances', 'balances.csv', '--cutover', CUTOVER)).counts).toMatchObject({
      imported: 0,
      present: 1,
      rejected: 5,
    });
    writeFileSync(path('changed.csv'), 'user_id,user_id_type,balance\nM-1,external_id,9999\n');
    const changed = await json('balances', 'changed.csv', '--cutover', CUTOVER);
    expect(changed.counts).toMatchObject({ imported: 0, rejected: 1 });
    expect(readFileSync(path('changed.csv.rejects.ndjson'), 'utf8')).toContain(
      "the member's opening balance was already imported with other data: balance (stored 1500, in the file 9999)",
    );

    const history = await json('transactions', 'history.ndjson', '--history-only');
    expect(history.counts).toMatchObject({ imported: 2, not_awarded: { history_only: 2 }, rejected: 0 });

    const auth = basic(creds.api_key, creds.secret);
    const user = async () => {
      const r = await call(server.base, 'GET', `/priv/v1/apps/${creds.api_key}/external/users/M-1`, auth);
      expect(r.status).toBe(200);
      return r.body.user as Record<string, unknown>;
    };
    // As the old platform showed the member at the cut-over: the history earned nothing again.
    expect(await user()).toMatchObject({
      tier: 'SILVER',
      tier_entered_at: '2025-07-04 15:00:00',
      tier_resets_at: '2027-01-01 05:00:00',
      tier_points: 800,
      available_points: 1500,
    });
    const balances = await call(server.base, 'POST', '/incentives/api/1.0/user_points/all_balances', auth, {
      retailer_id: creds.retailer_id,
      user_id: (await user()).id,
    });
    expect(balances.status).toBe(200);
    const spendable = (
      balances.body.payload.details as {
        grouping_label: string;
        available_balance: number;
        life_time_value: number;
        account_name: string;
      }[]
    ).find((d) => d.account_name === 'ACME Spendable Account');
    expect(spendable).toMatchObject({ available_balance: 1500, life_time_value: 4200 });

    const after = await json('transactions', 'after.ndjson');
    expect(after.counts).toMatchObject({ imported: 3, edits: 1, rejected: 1 });
    const refused = readFileSync(path('after.ndjson.rejects.ndjson'), 'utf8').trim().split('\n');
    expect(refused.map((l) => JSON.parse(l) as { line: number; code: string; reason: string })).toEqual([
      {
        line: 2,
        code: 'before_cutover',
        reason:
          "the purchase at 2026-11-10T15:00:00.000Z matured at 2026-12-10T15:00:00.000Z, by the member's " +
          'opening balance at the cut-over 2026-12-15T05:00:00.000Z, which holds its points already: ' +
          'import it with --history-only',
        row: expect.objectContaining({ transaction_id: 'H-3' }),
      },
    ]);
    // DESIGN §4: the socks' 50 points come back from the settled accounts; H-4 and N-1 wait in escrow.
    expect(await user()).toMatchObject({ tier: 'SILVER', tier_points: 750, available_points: 1450 });
    const escrow = await call(server.base, 'POST', '/incentives/api/1.0/user_points/all_balances', auth, {
      retailer_id: creds.retailer_id,
      user_id: (await user()).id,
    });
    expect(
      (escrow.body.payload.details as { account_name: string; available_balance: number }[]).find(
        (d) => d.account_name === 'ACME Spendable Escrow Account',
      ),
    ).toMatchObject({ available_balance: 70 });

    const audit = await call(
      server.base,
      'POST',
      '/incentives/api/2.0/user_points/fetch_point_audit_logs',
      auth,
      {
        retailer_id: creds.retailer_id,
        user_id: (await user()).id,
        take: 100,
      },
    );
    expect(audit.status).toBe(200);
    const opening = (audit.body.payload.results as Record<string, unknown>[]).filter(
      (r) => r.modification_type === 'opening',
    );
    expect(opening.map((r) => [r.account_name, r.modification, r.audit_type, r.time_of_occurrence])).toEqual([
      ['ACME Spendable Account', 4200, 16, '2026-12-15T05:00:00.000Z'],
      ['ACME Spendable Account', -2700, 2, '2026-12-15T05:00:00.000Z'],
      ['ACME Tier Qualifying Account', 800, 16, '2026-12-15T05:00:00.000Z'],
    ]);
    expect(opening[0]!.reason).toBe(
      'Opening balance from the previous platform at 2026-12-15T05:00:00.000Z: +4200 points',
    );
  } finally {
    expect((await server.stop()).code).toBe(0);
  }
  const verify = await run(['verify']);
  expect(verify.code, verify.stderr).toBe(0);
  expect(verify.stdout).toMatch(/^ledger verified: /);
  const bad = await run(['import', 'balances', path('balances.csv'), '--cutover', '2027-01-01T00:00:00Z']);
  expect(bad.code).not.toBe(0);
  expect(oneLine(bad)).toMatch(/--cutover 2027-01-01T00:00:00.000Z is after the import's clock/);
}

beforeAll(ensureBuilt);
afterEach(cleanUp);

describe('laurel import balances', () => {
  it('on the embedded database, through the server that holds it', async () => {
    await scenario({}, ['--data-dir', migratedDataDir()]);
  }, 600_000);
});

describe.skipIf(!process.env.DATABASE_URL)('laurel import balances on PostgreSQL (DATABASE_URL)', () => {
  const env = schemaPerTest(process.env.DATABASE_URL!);
  it('on PostgreSQL', async () => {
    await scenario(env, []);
  }, 600_000);
});
