import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDatabase } from '../../test/support/databases.js';
import type { TestApp } from '../../test/support/test-app.js';
import type { DemoCredentials } from '../demo/demo.service.js';
import { prng } from '../domain/prng.js';
import type { ImportOptions } from './import.service.js';
import { rejectsOf } from '../../test/support/import-files.js';

/**
 * The batched customers and balances imports (issue #16) attacked as a migrating retailer's files
 * and neighbours would: keys in case, Unicode and whitespace variants, identifiers claiming other
 * rows' ids, bad rows among good ones, `--concurrency` 2 to 1,024 against one row at a time; two
 * imports of overlapping files in opposite orders while the API creates the same customers; a
 * customer erased between runs; opening positions at a qualifying year's boundary and at the
 * program zone's DST changes, beside lots maturing at the cut-over to the millisecond, then
 * purchases and a re-run. Each compares every row's outcome and every member, and verifies the
 * ledger. About a minute on each database: run with `LAUREL_IMPORT_ATTACKS=1`.
 */

const NOW = '2026-12-20T17:00:00Z';
const START = '2026-01-02T12:00:00Z';
const ENROLLED = '2026-01-05T15:00:00Z';
/** Opening instants, in time order: DST starts, the repeated hour and DST's end, the year's end. */
const CUTOVERS = [
  '2026-03-08T07:00:00Z',
  '2026-11-01T05:30:00Z',
  '2026-11-01T06:00:00Z',
  '2027-01-01T05:00:00Z',
];
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ndjson = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v).replace(UUID, '<id>')) as unknown;
const iso = (ms: number) => new Date(ms).toISOString();

const ATTACKS = Boolean(process.env.LAUREL_IMPORT_ATTACKS);

/** The app and the services, loaded only when the attacks run: skipped, the file costs no app. */
const load = async () => ({
  ...(await import('../../test/support/test-app.js')),
  ...(await import('../customers/customer.service.js')),
  ...(await import('../ledger/verify.js')),
  ...(await import('./import.service.js')),
});

describe.skipIf(!ATTACKS)('LAUREL_IMPORT_ATTACKS=1', () => {
  describeEachDatabase('Batched customers and balances imports under attack', (target) => {
    let lib: Awaited<ReturnType<typeof load>>;
    let t: TestApp;
    let dir: string;
    let n = 0;
    const pairs = new Map<string, DemoCredentials[]>();
    let tenants: DemoCredentials[] = [];

    const file = (name: string, rows: unknown[]) => {
      const path = join(dir, `${n++}-${name}`);
      writeFileSync(path, ndjson(rows));
      return path;
    };
    const run = (
      c: DemoCredentials,
      kind: ImportOptions['kind'],
      rows: unknown[],
      now: string,
      extra: Partial<ImportOptions> = {},
    ) =>
      lib.runImport(t.db, {
        retailerId: c.retailer_id,
        kind,
        file: file(`${kind}.ndjson`, rows),
        concurrency: 256,
        now: () => new Date(now),
        ...extra,
      });
    const verified = async () => expect((await lib.verifyLedger(t.db)).problems).toEqual([]);

    /** Every live member with its keys, profile, enrollment and how many events it has. */
    const members = async (c: DemoCredentials) =>
      strip(
        await t.db.query(
          `SELECT u.external_id, u.email, u.first_name, u.phone_numbers, u.user_profile, u.opted_in, u.opted_in_at,
           (SELECT json_agg(i.external_id ORDER BY i.external_id) FROM user_identifiers i WHERE i.user_id = u.id) AS ids,
           (SELECT json_agg(e.email_key) FROM member_emails e WHERE e.user_id = u.id) AS email_keys,
           (SELECT count(*)::int FROM events ev WHERE ev.user_id = u.id) AS events
         FROM users u WHERE u.retailer_id = $1 AND u.deleted_at IS NULL
         ORDER BY u.external_id NULLS LAST, u.email`,
          [c.retailer_id],
        ),
      );
    /** Each member's journals with postings, balances and tier moves, without ids. */
    const ledgerOf = async (c: DemoCredentials) =>
      strip(
        await t.db.query(
          `SELECT u.external_id, json_build_object(
           'journals', (SELECT json_agg(json_build_array(j.kind, j.effective_at, j.idempotency_key, j.details,
                          (SELECT json_agg(json_build_array(p.line, p.account, p.amount) ORDER BY p.line)
                           FROM postings p WHERE p.journal_id = j.id))
                        ORDER BY j.effective_at, j.kind) FROM journals j WHERE j.user_id = u.id),
           'balances', (SELECT json_agg(json_build_array(b.account, b.balance, b.life_time_value) ORDER BY b.account)
                        FROM balances b WHERE b.user_id = u.id),
           'moves', (SELECT json_agg(json_build_array(m.tier_level_id, m.effective_at, m.actor, m.reason, m.holds_until)
                       ORDER BY m.effective_at, m.actor) FROM tier_moves m WHERE m.user_id = u.id)
         ) AS ledger
         FROM users u WHERE u.retailer_id = $1 ORDER BY u.external_id`,
          [c.retailer_id],
        ),
      );
    /** The members as the Core API shows them, without ids and instants of creation. */
    const usersOf = async (c: DemoCredentials, externalIds: string[]) => {
      const out: unknown[] = [];
      for (const m of externalIds) {
        const res = await t.request('GET', `/priv/v1/apps/${c.api_key}/external/users/${m}`, {
          auth: { key: c.api_key, secret: c.secret },
        });
        expect(res.status).toBe(200);
        const { user } = res.body as { user: Record<string, unknown> };
        out.push(strip({ ...user, created_at: undefined, updated_at: undefined, referrer_code: undefined }));
      }
      return out;
    };

    beforeAll(async () => {
      lib = await load();
      t = await lib.startTestApp(target, new Date(START));
      dir = mkdtempSync(join(tmpdir(), 'laurel-import-attacks-'));
      // Every retailer is made at the start: its program must be in force at the past instants imported.
      for (const c of CUTOVERS) pairs.set(c, [await t.newTenant(), await t.newTenant()]);
      tenants = await Promise.all(Array.from({ length: 8 }, () => t.newTenant()));
    }, 120_000);
    afterAll(async () => {
      await t?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('customers with keys in every variant, identifiers on other rows, bad rows: 1,024, 256 and 2 in flight equal one at a time; a re-run imports nothing', async () => {
      const rnd = prng(42);
      const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
      const emails = [
        'a@x.co',
        'A@X.CO',
        ' a@x.co ',
        '\u0130@x.co',
        'i@x.co',
        '\u212a@x.co',
        'k@x.co',
        '\u00df@x.co',
        'SS@x.co',
        '\u00e9@x.co',
        'e\u0301@x.co',
        '\u039f\u03a3@x.co',
        '\u03bf\u03c3@x.co',
      ];
      const ids = ['E-1', 'e-1', ' E-1', 'E-2', '\u00c9-3', 'E\u0301-3', 'E-4', 'x'.repeat(255)];
      const rows = Array.from({ length: 300 }, (_, i) => {
        const r: Record<string, unknown> = {};
        const k = rnd();
        if (k < 0.7) r.external_id = rnd() < 0.5 ? pick(ids) : `U-${Math.floor(rnd() * 120)}`;
        if (k > 0.3) r.email = rnd() < 0.4 ? pick(emails) : `u${Math.floor(rnd() * 120)}@ex.com`;
        if (rnd() < 0.2)
          r.identifiers = [{ external_id: rnd() < 0.5 ? pick(ids) : `U-${Math.floor(rnd() * 120)}` }];
        if (rnd() < 0.2)
          r.phone_numbers = [{ phone_number: '5085550101' }, { phone_number: '(508) 555-0101' }];
        if (rnd() < 0.1) r.first_name = 'N'.repeat(256);
        if (rnd() < 0.1) r.first_name = 'Zo\u0000e';
        if (rnd() < 0.1) r.user_profile = { visits: String(i) };
        if (rnd() < 0.1) r.opted_in = false;
        if (rnd() < 0.1) r.enrolled_at = ENROLLED;
        return r;
      });
      const [ref, ...others] = tenants.slice(0, 4);
      const one = await run(ref!, 'customers', rows, NOW, { concurrency: 1 });
      const expected = await members(ref!);
      expect(one.counts.imported).toBeGreaterThan(50);
      for (const [i, concurrency] of [1024, 256, 2].entries()) {
        const c = others[i]!;
        const s = await run(c, 'customers', rows, NOW, { concurrency });
        expect(s.counts, `${concurrency}`).toEqual(one.counts);
        expect(rejectsOf(s), `${concurrency}`).toEqual(rejectsOf(one));
        expect(await members(c), `${concurrency}`).toEqual(expected);
        const again = await run(c, 'customers', rows, NOW, { concurrency });
        expect(again.counts).toMatchObject({ imported: 0, present: one.counts.imported });
      }
    }, 600_000);

    it('two imports of one set of customers in opposite orders at once, the API creating some of them meanwhile: each created once; a customer erased between runs is created again', async () => {
      const c = tenants[4]!;
      const rows = Array.from({ length: 600 }, (_, i) => ({ external_id: `R-${i}`, email: `r${i}@ex.com` }));
      const api = { created: 0, taken: 0, failed: [] as string[] };
      const racing = (async () => {
        for (let i = 0; i < 600; i += 7) {
          try {
            await lib.createUser(t.db, c.retailer_id, rows[i]!, new Date(NOW));
            api.created++;
          } catch (err) {
            const code = (err as { code?: string }).code;
            if (code === 'external_id_taken' || code === 'email_taken') api.taken++;
            else api.failed.push(String(err));
          }
        }
      })();
      const [a, b] = await Promise.all([
        run(c, 'customers', rows, NOW),
        run(c, 'customers', [...rows].reverse(), NOW),
        racing,
      ]);
      expect(api.failed).toEqual([]);
      expect(a!.counts.rejected + b!.counts.rejected).toBe(0);
      expect(a!.counts.imported + b!.counts.imported + api.created).toBe(600);
      const [written] = await t.db.query<{ n: number; codes: number; events: number }>(
        `SELECT count(*)::int AS n, (SELECT count(*)::int FROM member_referrer_codes WHERE retailer_id = $1) AS codes,
         (SELECT count(*)::int FROM events e JOIN users v ON v.id = e.user_id WHERE v.retailer_id = $1) AS events
       FROM users WHERE retailer_id = $1`,
        [c.retailer_id],
      );
      expect(written).toEqual({ n: 600, codes: 600, events: 1200 });

      await lib.deleteUser(t.db, c.retailer_id, { external_id: 'R-5' }, new Date(NOW));
      const again = await run(c, 'customers', rows, NOW);
      expect(again.counts).toMatchObject({ imported: 1, present: 599, rejected: 0 });
      await verified();
    }, 600_000);

    it('two balances imports at once naming each member by the other key, in opposite orders: one opening each', async () => {
      const c = tenants[5]!;
      const ms = Array.from({ length: 400 }, (_, i) => `B-${i}`);
      await run(
        c,
        'customers',
        ms.map((m) => ({ external_id: m, email: `${m.toLowerCase()}@ex.com`, enrolled_at: ENROLLED })),
        NOW,
      );
      const row = (m: string, i: number, byEmail: boolean) => ({
        user_id: byEmail ? `${m.toLowerCase()}@EX.com` : m,
        user_id_type: byEmail ? 'email' : 'external_id',
        balance: i,
        life_time_value: 1000,
        tier_points: i * 10,
      });
      const cutover = new Date('2026-12-01T05:00:00Z');
      const [a, b] = await Promise.all([
        run(
          c,
          'balances',
          ms.map((m, i) => row(m, i, i % 2 === 0)),
          NOW,
          { cutover },
        ),
        run(c, 'balances', ms.map((m, i) => row(m, i, i % 2 === 1)).reverse(), NOW, { cutover }),
      ]);
      expect(a.counts.rejected + b.counts.rejected).toBe(0);
      expect(a.counts.imported + b.counts.imported).toBe(400);
      const [openings] = await t.db.query<{ n: number; members: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT user_id)::int AS members FROM journals
       WHERE retailer_id = $1 AND kind = 'opening'`,
        [c.retailer_id],
      );
      expect(openings).toEqual({ n: 400, members: 400 });
      await verified();
    }, 600_000);

    for (const CUT of CUTOVERS) {
      it(`openings at ${CUT}, beside lots maturing at it to the millisecond: 1,024 in flight equal one at a time; purchases after it, then a re-run with 2 in flight, all present`, async () => {
        const [bulk, ref] = pairs.get(CUT)!;
        const cut = new Date(CUT).getTime();
        const now = iso(cut + 4 * 86_400_000);
        const rnd = prng(7);
        const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
        const ms = Array.from({ length: 60 }, (_, i) => `M-${String(i).padStart(2, '0')}`);
        const escrow = 30 * 86_400_000;
        // Every third member bought once, its lot maturing an hour or a millisecond around the cut-over, or at it.
        const history = ms.flatMap((m, i) =>
          i % 3 === 0
            ? [
                {
                  store_id: 'BOS-01',
                  request_payload: {
                    transaction_id: `T-${m}`,
                    open_time: iso(cut - escrow + pick([-3_600_000, -1, 0, 1, 3_600_000])),
                    user_id: m,
                    user_id_type: 'external_id',
                    items: [
                      { line_id: 1, item_id: 'X', quantity: 1, unit_price: pick([1500, 2100, 9000, 10500]) },
                    ],
                  },
                },
              ]
            : [],
        );
        const rows = ms.map((m) => {
          const tier = pick([undefined, 'BASE', 'SILVER', 'GOLD', 'silver']);
          const r: Record<string, unknown> = {
            user_id: m,
            user_id_type: 'external_id',
            balance: pick([0, 10, 500]),
            life_time_value: 600,
            tier_points: pick([0, 500, 1999, 2000, 9999, 10000, 12000]),
          };
          if (tier) r.tier = tier;
          if (tier && rnd() < 0.6) {
            const enrolled = Date.parse(ENROLLED);
            r.tier_entered_at = iso(pick([cut, cut - 1, enrolled, enrolled - 1000, cut - 200 * 86_400_000]));
          }
          if (tier && rnd() < 0.4) {
            r.tier_expires_at = iso(
              pick([cut + 1, Date.parse('2027-12-31T05:00:00Z'), Date.parse('2028-01-01T05:00:00Z')]),
            );
          }
          return r;
        });
        const customers = ms.map((m) => ({ external_id: m, enrolled_at: ENROLLED, registered_at: ENROLLED }));
        for (const c of [bulk!, ref!]) {
          expect((await run(c, 'customers', customers, '2026-01-06T00:00:00Z')).counts.rejected).toBe(0);
          // Imported before the cut-over: no lot has rolled over when the openings come.
          expect(rejectsOf(await run(c, 'transactions', history, iso(cut - 7_200_000)))).toEqual([]);
        }
        await t.setNow(now);
        const alone = await run(ref!, 'balances', rows, now, { cutover: new Date(cut), concurrency: 1 });
        expect(alone.counts.imported).toBeGreaterThan(20);
        expect(alone.counts.rejected).toBeGreaterThan(5);
        const batched = await run(bulk!, 'balances', rows, now, {
          cutover: new Date(cut),
          concurrency: 1024,
        });
        expect(batched.counts).toEqual(alone.counts);
        expect(rejectsOf(batched)).toEqual(rejectsOf(alone));
        expect(await ledgerOf(bulk!)).toEqual(await ledgerOf(ref!));
        expect(await usersOf(bulk!, ms)).toEqual(await usersOf(ref!, ms));
        await verified();

        const after = ms.slice(0, 10).map((m) => ({
          store_id: 'BOS-01',
          request_payload: {
            transaction_id: `A-${m}`,
            open_time: iso(cut + 3_600_000),
            user_id: m,
            user_id_type: 'external_id',
            items: [{ line_id: 1, item_id: 'X', quantity: 1, unit_price: 3000 }],
          },
        }));
        for (const c of [bulk!, ref!]) {
          await run(c, 'transactions', after, now);
          const again = await run(c, 'balances', rows, now, { cutover: new Date(cut), concurrency: 2 });
          expect(again.counts).toMatchObject({ imported: 0, present: alone.counts.imported });
        }
        expect(await ledgerOf(bulk!)).toEqual(await ledgerOf(ref!));
        await verified();
      }, 600_000);
    }
  });
});
