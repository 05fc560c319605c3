import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../../test/support/databases.js';
import { startTestApp, type TestApp } from '../../test/support/test-app.js';
import type { DemoCredentials } from '../demo/demo.service.js';
import { prng } from '../domain/prng.js';
import { LaurelError } from '../errors.js';
import { verifyLedger } from '../ledger/verify.js';
import type { SendContext } from '../purchases/purchase.repository.js';
import { BeforeOpeningError, SendContextReader, sendTransaction } from '../purchases/purchase.service.js';
import { runImport, type ImportOptions, type ImportSummary } from './import.service.js';
import { transactionUnit } from './transaction-rows.js';

/**
 * The batched import (issue #16: 256 rows in flight, the import's own group commit, contexts read
 * together, matured purchases settled by the batch) against the same rows sent one at a time by
 * `sendTransaction` into a second retailer, as a migrating retailer's files would stress it: one
 * member named by several keys within the rows in flight, purchase, return and edit of one
 * transaction close together, unknown and anonymous buyers, members enrolled after some of their
 * purchases, a per-member campaign limit, tier thresholds crossed at maturation instants, opening
 * balances with purchases refused before the cut-over and others earning into escrow, and a
 * re-run. Each comparison covers every row's outcome and each member's journals, lots, balances,
 * events, purchases and stored answers; `verifyLedger` holds after each.
 */

const START = '2026-08-20T12:00:00Z';
const NOW = '2026-12-20T17:00:00Z';
const CUTOVER = '2026-12-01T05:00:00Z';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

type Row = { store_id: string; request_payload: Record<string, unknown> };
type Item = { line_id: number; item_id: string; quantity: number; unit_price: number };
/** How a row names its buyer: the member's external id, email or SessionM id, or a raw key. */
type Buyer =
  { member: string; by: 'external_id' | 'email' | 'SessionM_ID' } | { raw: string; type: string } | undefined;

/** A row of a transactions file, its buyer named per retailer (a SessionM id is the retailer's own). */
interface Spec {
  transactionId: string;
  at: string;
  buyer: Buyer;
  items: Item[];
}

const ndjson = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v).replace(UUID, '<id>')) as unknown;
const item = (line: number, price: number, quantity = 1): Item => ({
  line_id: line,
  item_id: `SKU-${line}`,
  quantity,
  unit_price: price,
});

describeEachDatabase('The batched import against the same rows one at a time', (target) => {
  let t: TestApp;
  let dir: string;
  let n = 0;
  /** The retailers of the scenarios, made at START (campaigns are created before their window). */
  const tenants: DemoCredentials[] = [];

  const file = (name: string, content: string) => {
    const path = join(dir, `${n++}-${name}`);
    writeFileSync(path, content);
    return path;
  };

  const now = () => new Date(NOW);

  const importFile = (
    c: DemoCredentials,
    kind: ImportOptions['kind'],
    path: string,
    extra: Partial<ImportOptions> = {},
  ): Promise<ImportSummary> =>
    runImport(t.db, {
      retailerId: c.retailer_id,
      kind,
      file: path,
      // The command's default on each database (src/cli/db-commands.ts).
      concurrency: target.name === 'pglite' ? 64 : 256,
      now,
      ...extra,
    });

  const memberIds = async (c: DemoCredentials) =>
    new Map(
      (
        await t.db.query<{ id: string; external_id: string }>(
          'SELECT id, external_id FROM users WHERE retailer_id = $1',
          [c.retailer_id],
        )
      ).map((r) => [r.external_id, r.id]),
    );

  /** The file's rows for one retailer. */
  const rowsFor = (specs: Spec[], ids: Map<string, string>): Row[] =>
    specs.map((s) => {
      const b = s.buyer;
      const who =
        b === undefined
          ? {}
          : 'raw' in b
            ? { user_id: b.raw, user_id_type: b.type }
            : b.by === 'external_id'
              ? { user_id: b.member, user_id_type: 'external_id' }
              : b.by === 'email'
                ? // Emails are found whatever their case.
                  { user_id: `${b.member}@Example.com`, user_id_type: 'email' }
                : // A SessionM id in capitals names the same member.
                  { user_id: ids.get(b.member)!.toUpperCase(), user_id_type: 'SessionM_ID' };
      return {
        store_id: 'BOS-01',
        request_payload: { transaction_id: s.transactionId, open_time: s.at, ...who, items: s.items },
      };
    });

  interface RowOutcome {
    line: number;
    code: string | null;
    notAwarded: string | null;
    edit: boolean;
  }

  /** The rows one at a time, each in a transaction of its own, as the import would outcome them. */
  const oneAtATime = async (c: DemoCredentials, rows: Row[], historyOnly = false): Promise<RowOutcome[]> => {
    const out: RowOutcome[] = [];
    for (const [i, row] of rows.entries()) {
      const unit = transactionUnit({ line: i + 1, endLine: i + 1, end: 0, row }, row, undefined);
      expect(unit.rejects, JSON.stringify(unit.rejects)).toBeUndefined();
      try {
        const r = await sendTransaction(t.db, c.retailer_id, unit.value!, now(), {
          historyOnly,
          refuseBeforeOpening: !historyOnly,
        });
        const notAwarded = !r.awarded
          ? (r.reason ?? null)
          : historyOnly && r.revision === 1
            ? 'history_only'
            : null;
        out.push({ line: i + 1, code: null, notAwarded, edit: r.revision > 1 });
      } catch (err) {
        if (err instanceof BeforeOpeningError)
          out.push({ line: i + 1, code: 'before_cutover', notAwarded: null, edit: false });
        else if (err instanceof LaurelError)
          out.push({ line: i + 1, code: err.code, notAwarded: null, edit: false });
        else throw err;
      }
    }
    return out;
  };

  /** What the import's summary and rejects file say of the same rows, in the same terms. */
  const asOutcomes = (s: ImportSummary) => {
    const rejects = s.rejects_path
      ? readFileSync(s.rejects_path, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { line: number; code: string })
          .map((r) => [r.line, r.code])
      : [];
    return { counts: s.counts, rejects };
  };
  const summarize = (outcomes: RowOutcome[]) => {
    const notAwarded: Record<string, number> = {};
    for (const o of outcomes)
      if (o.code === null && o.notAwarded) notAwarded[o.notAwarded] = (notAwarded[o.notAwarded] ?? 0) + 1;
    return {
      counts: expect.objectContaining({
        rows: outcomes.length,
        imported: outcomes.filter((o) => o.code === null).length,
        rejected: outcomes.filter((o) => o.code !== null).length,
        edits: outcomes.filter((o) => o.edit).length,
        not_awarded: notAwarded,
      }) as unknown,
      rejects: outcomes.filter((o) => o.code !== null).map((o) => [o.line, o.code]),
    };
  };

  /**
   * A retailer's ledger, member by member (by external id; anonymous purchases as one), without
   * ids: journals with their postings and instants, lots, balances, events, purchases and the
   * stored answers.
   */
  const ledgerOf = async (c: DemoCredentials) => {
    const rows = await t.db.query<{ member: string; ledger: unknown }>(
      `SELECT u.external_id AS member, json_build_object(
         'balances', (SELECT json_agg(json_build_array(b.account, b.balance) ORDER BY b.account)
                      FROM balances b WHERE b.user_id = u.id),
         'journals', (SELECT json_agg(json_build_array(j.kind, j.effective_at, j.reference_id, j.idempotency_key,
                        (SELECT json_agg(json_build_array(p.account, p.amount) ORDER BY p.account, p.amount)
                         FROM postings p WHERE p.journal_id = j.id))
                      ORDER BY j.effective_at, j.kind, j.reference_id, j.idempotency_key) FROM journals j WHERE j.user_id = u.id),
         'lots', (SELECT json_agg(json_build_array(l.account, l.amount, l.remaining, l.matures_at, l.rolled_over_at)
                  ORDER BY l.matures_at, l.account, l.amount) FROM lots l WHERE l.user_id = u.id),
         'events', (SELECT json_agg(json_build_array(e.type, e.effective_at, e.data)
                    ORDER BY e.effective_at, e.type, e.data::text) FROM events e WHERE e.user_id = u.id)
       ) AS ledger
       FROM users u WHERE u.retailer_id = $1 ORDER BY u.external_id`,
      [c.retailer_id],
    );
    const purchases = await t.db.query<{ p: unknown }>(
      `SELECT json_build_array(coalesce(u.external_id, 'anonymous'), p.transaction_id, p.purchase_time,
         p.program_version, p.basket, p.award, p.not_awarded_reason, p.revision, p.shortfall, p.earned_elsewhere) AS p
       FROM purchases p LEFT JOIN users u ON u.id = p.user_id
       WHERE p.retailer_id = $1 ORDER BY p.transaction_id`,
      [c.retailer_id],
    );
    const answers = await t.db.query<{ response: unknown }>(
      'SELECT response FROM pos_requests WHERE retailer_id = $1',
      [c.retailer_id],
    );
    // Program versions are numbered per retailer alike; the ids differ.
    return strip({
      members: rows,
      purchases: purchases.map((r) => r.p),
      answers: answers.map((a) => JSON.stringify(strip(a.response))).sort(),
    });
  };

  const verified = async () => expect((await verifyLedger(t.db)).problems).toEqual([]);

  const customers = (list: { id: string; enrolled_at?: string }[]) =>
    file(
      'customers.ndjson',
      ndjson(
        list.map((m) => ({
          external_id: m.id,
          email: `${m.id.toLowerCase()}@example.com`,
          ...(m.enrolled_at ? { enrolled_at: m.enrolled_at, registered_at: m.enrolled_at } : {}),
        })),
      ),
    );

  beforeAll(async () => {
    t = await startTestApp(target, new Date(START));
    dir = mkdtempSync(join(tmpdir(), 'laurel-batched-adv-'));
    for (let i = 0; i < 6; i++) tenants.push(await t.newTenant());
    // A welcome bonus once per member (DESIGN §5 campaigns), in force from before the history.
    for (const c of [tenants[0]!, tenants[1]!, tenants[4]!, tenants[5]!]) {
      const res = await t.request('POST', '/admin/v1/campaigns', {
        auth: { bearer: c.admin_token },
        body: {
          campaign: {
            name: 'Welcome Bonus',
            starts_on: '2026-09-01',
            ends_on: '2026-12-31',
            award: { type: 'threshold_bonus', min_eligible_spend: 0, points: 100 },
            max_awards_per_member: 1,
            tier_qualifying: false,
          },
        },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    await t.setNow(NOW);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A seeded history of many members, each named in turn by every key, with returns and edits. */
  function mixedHistory(seed: number, mixKeys: boolean) {
    const r = prng(seed);
    const members = Array.from({ length: 24 }, (_, i) => ({
      id: `M-${String(i + 1).padStart(2, '0')}`,
      // A few enrolled in November: their earlier purchases are member_not_enrolled.
      enrolled_at: i % 6 === 5 ? '2026-11-01T10:00:00Z' : '2026-09-01T10:00:00Z',
    }));
    const keys = ['external_id', 'email', 'SessionM_ID'] as const;
    const purchases: Spec[] = [];
    const t0 = Date.parse('2026-09-05T00:00:00Z');
    const span = Date.parse('2026-12-19T00:00:00Z') - t0;
    for (const [mi, m] of members.entries()) {
      // One member buys many times: a long run of consecutive rows of one member.
      const count = mi === 0 ? 30 : 3 + Math.floor(r() * 6);
      const own = keys[mi % 3]!;
      const key = () => (mixKeys ? keys[Math.floor(r() * 3)]! : own);
      for (let p = 0; p < count; p++) {
        const at = new Date(t0 + Math.floor(r() * span)).toISOString();
        // Large baskets: members cross SILVER's 2,000 tier points at maturation instants.
        const items = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, k) =>
          item(k + 1, 50 + Math.floor(r() * 700) + Math.floor(r() * 100) / 100),
        );
        purchases.push({
          transactionId: `${m.id}-P${p}`,
          at,
          buyer: { member: m.id, by: key() },
          items,
        });
      }
    }
    for (let a = 0; a < 12; a++) {
      purchases.push({
        transactionId: `ANON-${a}`,
        at: new Date(t0 + Math.floor(r() * span)).toISOString(),
        buyer:
          a % 3 === 0
            ? undefined
            : a % 3 === 1
              ? { raw: `GHOST-${a}`, type: 'external_id' }
              : { raw: 'not-a-uuid', type: 'SessionM_ID' },
        items: [item(1, 120), item(2, 30)],
      });
    }
    purchases.sort((x, y) => x.at.localeCompare(y.at));
    // Returns and edits: some right after their purchase (within the rows in flight), some later,
    // by another key of the same member; an edit back up after a return.
    const rows: Spec[] = [];
    const later: Spec[] = [];
    for (const p of purchases) {
      rows.push(p);
      if (p.items.length < 2) continue;
      const roll = r();
      const other: Buyer =
        p.buyer && 'member' in p.buyer && mixKeys
          ? { member: p.buyer.member, by: keys[Math.floor(r() * 3)]! }
          : p.buyer;
      const returned = {
        ...p,
        buyer: other,
        items: [...p.items.slice(0, -1), { ...p.items.at(-1)!, quantity: 0 }],
      };
      if (roll < 0.25) {
        rows.push(returned);
        rows.push({ ...p, buyer: other, items: p.items.map((i) => ({ ...i, quantity: 2 })) });
      } else if (roll < 0.4) later.push(returned);
    }
    // A till's transaction id sent again for another member, and anonymously, after its purchase.
    const stolen = purchases.find((p) => p.buyer && 'member' in p.buyer && p.buyer.member === 'M-02')!;
    rows.push({ ...stolen, buyer: { member: 'M-03', by: 'external_id' } });
    return { members, rows: [...rows, ...later] };
  }

  it('a history of members each named by one key, with returns, edits, strangers and a campaign limit, equals the rows one at a time; a re-run changes nothing', async () => {
    const [bulk, ref] = [tenants[0]!, tenants[1]!];
    const { members, rows } = mixedHistory(7, false);
    for (const c of [bulk, ref]) {
      const s = await importFile(c, 'customers', customers(members));
      expect(s.counts).toMatchObject({ imported: members.length, rejected: 0 });
    }
    const bulkRows = rowsFor(rows, await memberIds(bulk));
    const refRows = rowsFor(rows, await memberIds(ref));

    const path = file('history.ndjson', ndjson(bulkRows));
    const imported = await importFile(bulk, 'transactions', path);
    const alone = await oneAtATime(ref, refRows);
    expect(asOutcomes(imported)).toEqual(summarize(alone));
    // What the history holds, so the comparison is not of nothing.
    expect(imported.counts.edits).toBeGreaterThan(5);
    expect(imported.counts.not_awarded).toMatchObject({ member_not_enrolled: expect.any(Number) });
    // The transaction id sent again for another member is refused.
    expect(asOutcomes(imported).rejects).toEqual([[expect.any(Number), 'validation']]);

    const ledger = await ledgerOf(bulk);
    expect(ledger).toEqual(await ledgerOf(ref));
    const text = JSON.stringify(ledger);
    expect(text).toContain('Welcome Bonus');
    expect(text).toContain('"tier.changed"');
    await verified();

    // Everything present, nothing changed.
    const again = await importFile(bulk, 'transactions', path);
    expect(again.counts).toMatchObject({
      rows: rows.length,
      imported: 0,
      present: imported.counts.imported,
      rejected: imported.counts.rejected,
    });
    expect(await ledgerOf(bulk)).toEqual(ledger);
    await verified();
  }, 120_000);

  it('members named by several keys within the rows in flight: rows apply in file order per member, as one at a time, and the ledger verifies', async () => {
    const [bulk, ref] = [tenants[4]!, tenants[5]!];
    const { members, rows } = mixedHistory(11, true);
    for (const c of [bulk, ref]) await importFile(c, 'customers', customers(members));
    const imported = await importFile(
      bulk,
      'transactions',
      file('mixed.ndjson', ndjson(rowsFor(rows, await memberIds(bulk)))),
    );
    expect(asOutcomes(imported)).toEqual(
      summarize(await oneAtATime(ref, rowsFor(rows, await memberIds(ref)))),
    );
    // Rows of one member keep the file's order whichever key names them: a per-member campaign
    // limit and the tier.changed events fall as one at a time. Before, the order held only per
    // user_id text, and a member named by several keys had rows applied out of order (found here).
    expect(await ledgerOf(bulk)).toEqual(await ledgerOf(ref));
    await verified();
  }, 120_000);

  it('opening balances: history-only purchases, their returns, purchases refused before the cut-over and others earning into escrow, as one at a time', async () => {
    const [bulk, ref] = [tenants[2]!, tenants[3]!];
    const members = Array.from({ length: 16 }, (_, i) => ({
      id: `O-${String(i + 1).padStart(2, '0')}`,
      enrolled_at: '2025-06-01T10:00:00Z',
    }));
    // Half the members have an opening position, some at SILVER; the others import every receipt.
    const balances = members
      .filter((_, i) => i % 2 === 0)
      .map((m, i) => ({
        user_id: m.id,
        user_id_type: 'external_id',
        balance: 500 + i * 100,
        life_time_value: 3000 + i * 100,
        ...(i % 3 === 0 ? { tier: 'SILVER', tier_entered_at: '2026-03-01T12:00:00Z' } : {}),
        tier_points: i % 3 === 0 ? 2400 : 300,
      }));
    const keys = ['external_id', 'email', 'SessionM_ID'] as const;
    const history: Spec[] = [];
    const after: Spec[] = [];
    for (const [i, m] of members.entries()) {
      const by = (k: number) => ({ member: m.id, by: keys[(i + k) % 3]! });
      const old = {
        transactionId: `${m.id}-OLD`,
        at: '2026-10-10T15:00:00Z',
        buyer: by(0),
        items: [item(1, 400), item(2, 90)],
      };
      if (i % 2 === 0) history.push(old);
      after.push(
        // Matured by the cut-over: refused where an opening holds it, earned where none does.
        { transactionId: `${m.id}-A`, at: '2026-10-25T15:00:00Z', buyer: by(1), items: [item(1, 700)] },
        // In its return period at the cut-over, matured by the import's clock: earns, settles at once.
        {
          transactionId: `${m.id}-B`,
          at: '2026-11-15T15:00:00Z',
          buyer: by(2),
          items: [item(1, 900), item(2, 40)],
        },
        // After the cut-over, still in escrow.
        { transactionId: `${m.id}-C`, at: '2026-12-10T15:00:00Z', buyer: by(0), items: [item(1, 250)] },
        // A return of B right away, by another key.
        {
          transactionId: `${m.id}-B`,
          at: '2026-11-15T15:00:00Z',
          buyer: by(1),
          items: [item(1, 900), item(2, 40, 0)],
        },
      );
      // A return of the old platform's purchase: clawed back from the settled accounts (DESIGN §4).
      if (i % 2 === 0) after.push({ ...old, buyer: by(2), items: [item(1, 400, 0), item(2, 90)] });
    }
    for (const c of [bulk, ref]) {
      expect((await importFile(c, 'customers', customers(members))).counts).toMatchObject({ rejected: 0 });
      const b = await importFile(c, 'balances', file('balances.ndjson', ndjson(balances)), {
        cutover: new Date(CUTOVER),
      });
      expect(b.counts).toMatchObject({ imported: balances.length, rejected: 0 });
    }
    const [bulkIds, refIds] = [await memberIds(bulk), await memberIds(ref)];

    const h = await importFile(bulk, 'transactions', file('old.ndjson', ndjson(rowsFor(history, bulkIds))), {
      historyOnly: true,
    });
    expect(asOutcomes(h)).toEqual(summarize(await oneAtATime(ref, rowsFor(history, refIds), true)));
    expect(h.counts.not_awarded).toEqual({ history_only: history.length });

    const a = await importFile(bulk, 'transactions', file('after.ndjson', ndjson(rowsFor(after, bulkIds))));
    const alone = await oneAtATime(ref, rowsFor(after, refIds));
    expect(asOutcomes(a)).toEqual(summarize(alone));
    // Each opening member's matured purchase is refused; nothing else is.
    expect(asOutcomes(a).rejects.map((r) => r[1])).toEqual(Array(balances.length).fill('before_cutover'));

    const ledger = await ledgerOf(bulk);
    expect(ledger).toEqual(await ledgerOf(ref));
    expect(JSON.stringify(ledger)).toContain('"opening"');
    await verified();
  }, 120_000);

  it('a row with a NUL character is refused as validation, alone: the rows read beside it go in (it failed every row of its context read)', async () => {
    const c = tenants[0]!;
    const good = Array.from({ length: 12 }, (_, i) => ({
      store_id: 'BOS-01',
      request_payload: {
        transaction_id: `NUL-OK-${i}`,
        open_time: '2026-12-18T15:00:00Z',
        user_id: `M-${String(i + 1).padStart(2, '0')}`,
        user_id_type: 'external_id',
        items: [item(1, 10)],
      },
    }));
    const bad = [
      { ...good[0]!, request_payload: { ...good[0]!.request_payload, transaction_id: 'NUL-\u0000-1' } },
      {
        ...good[1]!,
        request_payload: { ...good[1]!.request_payload, transaction_id: 'NUL-2', user_id: 'M-\u000002' },
      },
    ];
    const s = await importFile(
      c,
      'transactions',
      file('nul.ndjson', ndjson([...good.slice(0, 6), ...bad, ...good.slice(6)])),
    );
    expect(s.counts).toMatchObject({ rows: 14, imported: 12, rejected: 2 });
    expect(asOutcomes(s).rejects).toEqual([
      [7, 'validation'],
      [8, 'validation'],
    ]);
    await verified();
  }, 60_000);

  it('contexts read together: a read whose values the shared statement cannot take fails alone, not with every read beside it', async () => {
    const c = tenants[0]!;
    const reader = new SendContextReader(t.db);
    const reads = ['CTX-1', 'CTX-\u0000-2', 'CTX-3'].map((transactionId) =>
      reader.read(
        c.retailer_id,
        { transactionId, key: { type: 'external_id', id: 'M-01' } },
        new Date(NOW),
        undefined,
      ),
    );
    const settled = await Promise.allSettled(reads);
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const member = (await memberIds(c)).get('M-01');
    expect(member).toBeDefined();
    expect((settled[2] as PromiseFulfilledResult<SendContext>).value.memberId).toBe(member);
  });
});
