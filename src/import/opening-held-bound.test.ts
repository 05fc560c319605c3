import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../../test/support/databases.js';
import { startTestApp, type TestApp } from '../../test/support/test-app.js';
import type { DemoCredentials } from '../demo/demo.service.js';
import { MAX_LEDGER_AMOUNT } from '../domain/bounds.js';
import { verifyLedger } from '../ledger/verify.js';
import { runImport, type ImportOptions, type ImportSummary } from './import.service.js';
import { rejectsOf } from '../../test/support/import-files.js';

/**
 * Bug: an opening balance onto a member who already holds points was checked on its own figures
 * only, so a balance each within the bound could leave the member's account past 10^15, and
 * `laurel verify` then failed (DESIGN §3, amended 2026-12-04: amounts bounded so the ledger holds
 * them exactly; decision 0004). The opening now adds to what the member's accounts hold, read under
 * the member's lock, batched and one row at a time alike; a row that would cross is refused and
 * writes nothing; one that reaches the bound exactly is imported.
 */

const START = '2026-01-05T15:00:00Z';
const HISTORY_AT = '2026-11-01T12:00:00Z';
const NOW = '2026-12-20T17:00:00Z';
const CUTOVER = '2026-12-01T05:00:00Z';
const HELD = 1800;

const ndjson = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const opening = (member: string, balance: number, lifetime: number, tier: number) => ({
  user_id: member,
  user_id_type: 'external_id',
  balance,
  life_time_value: lifetime,
  tier_points: tier,
});

describeEachDatabase('An opening onto points the member already holds', (target) => {
  let t: TestApp;
  let dir: string;
  let n = 0;
  const file = (content: string) => {
    const path = join(dir, `${n++}.ndjson`);
    writeFileSync(path, content);
    return path;
  };
  const importFile = (
    c: DemoCredentials,
    kind: ImportOptions['kind'],
    content: string,
    extra: Partial<ImportOptions> = {},
  ): Promise<ImportSummary> =>
    runImport(t.db, {
      retailerId: c.retailer_id,
      kind,
      file: file(content),
      concurrency: 1,
      now: () => new Date(NOW),
      ...extra,
    });
  const balancesOf = async (c: DemoCredentials) =>
    t.db.query<{ external_id: string; account: string; balance: string; life_time_value: string }>(
      `SELECT u.external_id, b.account, b.balance::text AS balance, b.life_time_value::text AS life_time_value
       FROM balances b JOIN users u ON u.id = b.user_id WHERE u.retailer_id = $1 ORDER BY 1, 2`,
      [c.retailer_id],
    );

  /** A purchase of HELD points by each of `members` at `openTime`. */
  const purchases = (members: string[], openTime: string) =>
    ndjson(
      members.map((m) => ({
        store_id: 'BOS-01',
        request_payload: {
          transaction_id: `${m}-P`,
          open_time: openTime,
          user_id: m,
          user_id_type: 'external_id',
          items: [{ line_id: 1, item_id: 'TV', quantity: 1, unit_price: HELD }],
        },
      })),
    );

  /**
   * A retailer whose members OB-1..OB-4 hold 1,800 settled points in both accounts, and OB-5 and
   * OB-6 1,800 still in escrow (they roll into the settled accounts later).
   */
  const holding = async () => {
    const c = await t.newTenant();
    const settled = ['OB-1', 'OB-2', 'OB-3', 'OB-4'];
    const pending = ['OB-5', 'OB-6'];
    const customers = await importFile(
      c,
      'customers',
      ndjson(
        [...settled, ...pending].map((m) => ({ external_id: m, enrolled_at: START, registered_at: START })),
      ),
    );
    expect(customers.counts).toMatchObject({ imported: 6, rejected: 0 });
    // Purchased in June, imported in November: matured, so settled as soon as written. Purchased
    // the day before the import: in escrow until 30 November.
    for (const [members, openTime] of [
      [settled, '2026-06-10T15:00:00Z'],
      [pending, '2026-10-31T15:00:00Z'],
    ] as const) {
      const history = await importFile(c, 'transactions', purchases([...members], openTime), {
        now: () => new Date(HISTORY_AT),
      });
      expect(history.counts).toMatchObject({ imported: members.length, rejected: 0 });
    }
    const held = await balancesOf(c);
    expect(held.filter((b) => b.account === 'spendable').map((b) => [b.external_id, b.balance])).toEqual(
      settled.map((m) => [m, String(HELD)]),
    );
    expect(
      held
        .filter((b) => b.account === 'spendable_escrow' && b.balance !== '0')
        .map((b) => [b.external_id, b.balance]),
    ).toEqual(pending.map((m) => [m, String(HELD)]));
    return c;
  };

  beforeAll(async () => {
    t = await startTestApp(target, new Date(START));
    dir = mkdtempSync(join(tmpdir(), 'laurel-opening-bound-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const concurrency of [1, 64]) {
    it(`refuses an opening that would carry a held balance past 10^15, writing nothing (${concurrency} in flight)`, async () => {
      const c = await holding();
      const before = await balancesOf(c);
      const spendableName = 'ACME Spendable Account';
      const tierName = 'ACME Tier Qualifying Account';
      const rows = [
        // Each figure within the bound on its own, beyond it with the 1,800 held.
        opening('OB-1', MAX_LEDGER_AMOUNT - 1000, MAX_LEDGER_AMOUNT - 1000, 0),
        opening('OB-2', 0, 0, MAX_LEDGER_AMOUNT - 1000),
        // Its balance fits; the sum of its account's credits does not.
        opening('OB-3', 0, MAX_LEDGER_AMOUNT - HELD + 1, 0),
        // Exactly at the bound: imported.
        opening('OB-4', MAX_LEDGER_AMOUNT - HELD, MAX_LEDGER_AMOUNT - HELD, 0),
        // The 1,800 in escrow count too (bug: only the settled accounts were read, and the
        // rollover later carried Spendable past the bound).
        opening('OB-5', MAX_LEDGER_AMOUNT - 1000, MAX_LEDGER_AMOUNT - 1000, 0),
        opening('OB-6', 0, 0, MAX_LEDGER_AMOUNT - 1000),
      ];
      const s = await importFile(c, 'balances', ndjson(rows), {
        concurrency,
        cutover: new Date(CUTOVER),
      });
      const held = (name: string) =>
        `the member's ${name} already holds 1,800 points (1,800 credited in all): with this opening it would be ` +
        `beyond ${MAX_LEDGER_AMOUNT.toLocaleString('en-US')}`;
      expect(rejectsOf(s)).toEqual([
        [1, 'validation', held(spendableName)],
        [2, 'validation', held(tierName)],
        [3, 'validation', held(spendableName)],
        [5, 'validation', held(spendableName)],
        [6, 'validation', held(tierName)],
      ]);
      expect(s.counts).toMatchObject({ imported: 1, rejected: 5 });
      const after = await balancesOf(c);
      // The refused rows wrote nothing; OB-4's Spendable account holds exactly the bound.
      expect(after.filter((b) => b.external_id !== 'OB-4')).toEqual(
        before.filter((b) => b.external_id !== 'OB-4'),
      );
      expect(after.find((b) => b.external_id === 'OB-4' && b.account === 'spendable')).toMatchObject({
        balance: String(MAX_LEDGER_AMOUNT),
        life_time_value: String(MAX_LEDGER_AMOUNT),
      });
      expect((await verifyLedger(t.db)).problems).toEqual([]);
    });
  }
});
