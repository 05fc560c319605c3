import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../../test/support/databases.js';
import { startTestApp, type TestApp } from '../../test/support/test-app.js';
import type { DemoCredentials } from '../demo/demo.service.js';
import { verifyLedger } from '../ledger/verify.js';
import { runImport, type ImportOptions } from './import.service.js';
import { importRequestId } from './transaction-rows.js';

/**
 * Bulk import against the API it stands in for (issue #6 item 4): the same customers and baskets
 * go to one retailer through the HTTP API and to another through `runImport`, and must come out
 * the same; then bad rows, re-runs and resumes.
 */

const NOW = '2026-12-20T17:00:00Z';

const CUSTOMERS = [
  { external_id: 'M-1', email: 'm1@example.com', first_name: 'Ann', dob: '1990-04-12' },
  {
    external_id: 'M-2',
    email: 'm2@example.com',
    first_name: 'Bob',
    phone_numbers: [{ phone_number: '5085550102' }],
  },
  { external_id: 'M-3', email: 'm3@example.com', opted_in: false },
];

/**
 * The customers enrolled before every purchase below (DESIGN §4: a purchase of a day before the
 * enrollment earns nothing): the till's through the API at this instant, the import's with it as
 * `enrolled_at`.
 */
const ENROLLED = '2026-10-01T12:00:00Z';
const enrolled = (u: (typeof CUSTOMERS)[number]) =>
  u.opted_in === false ? u : { ...u, enrolled_at: ENROLLED };

const item = (line_id: number, unit_price: number, quantity = 1) => ({
  line_id,
  item_id: `SKU-${line_id}`,
  quantity,
  unit_price,
});
const purchase = (id: string, member: string, open_time: string, items: object[], extra: object = {}) => ({
  store_id: 'BOS-01',
  request_payload: {
    transaction_id: id,
    open_time,
    user_id: member,
    user_id_type: 'external_id',
    items,
    ...extra,
  },
});

/** Purchases in file order: matured, Double Points Days, Big Basket Bonus, unenrolled, unknown, a return. */
const PURCHASES = [
  purchase('P-1', 'M-1', '2026-10-05T10:00:00', [item(1, 120.4)]),
  purchase('P-2', 'M-1', '2026-11-28T15:00:00', [item(1, 60), item(2, 10, 2)]),
  purchase('P-3', 'M-2', '2026-12-05T12:00:00', [item(1, 300)]),
  purchase('P-4', 'M-3', '2026-12-06T12:00:00', [item(1, 50)]),
  purchase('P-5', 'NOBODY', '2026-12-07T12:00:00', [item(1, 70)]),
  purchase('P-2', 'M-1', '2026-11-28T15:00:00', [item(1, 60), item(2, 10, 1)]),
  purchase('P-6', 'M-2', '2026-12-18T09:30:00-05:00', [item(1, 99.99), item(2, 5)], {
    discounts: [{ amount: 4.99 }],
  }),
];

const ndjson = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

describeEachDatabase('Bulk import', (target) => {
  let t: TestApp;
  let dir: string;
  let n = 0;

  const file = (name: string, content: string) => {
    const path = join(dir, `${n++}-${name}`);
    writeFileSync(path, content);
    return path;
  };
  const run = async (
    tenant: DemoCredentials,
    opts: Pick<ImportOptions, 'kind' | 'file'> & Partial<ImportOptions>,
  ) => {
    const now = await t.clock.now();
    return runImport(t.db, {
      retailerId: tenant.retailer_id,
      concurrency: t.db.kind === 'pglite' ? 1 : 4,
      now: () => now,
      ...opts,
    });
  };
  const auth = (c: DemoCredentials) => ({ key: c.api_key, secret: c.secret });
  const member = async (c: DemoCredentials, externalId: string) => {
    const res = await t.request(
      'GET',
      `/priv/v1/apps/${c.api_key}/external/users/${externalId}?expand_incentives=true`,
      {
        auth: auth(c),
      },
    );
    expect(res.status).toBe(200);
    const u = res.body.user;
    return {
      available_points: u.available_points,
      tier: u.tier,
      tier_points: u.tier_points,
      accounts: Object.fromEntries(
        (
          u.tier_details.point_account_balances.details as {
            account_name: string;
            available_balance: number;
            life_time_value: number;
          }[]
        ).map((d) => [d.account_name, [d.available_balance, d.life_time_value]]),
      ),
    };
  };
  const journals = async (c: DemoCredentials) =>
    (
      await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM journals WHERE retailer_id = $1', [
        c.retailer_id,
      ])
    )[0]!.n;
  const rejects = (path: string) =>
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; code: string; reason: string });

  beforeAll(async () => {
    t = await startTestApp(target, new Date(ENROLLED));
    dir = mkdtempSync(join(tmpdir(), 'laurel-import-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an imported purchase is priced and escrowed exactly as the till sending it is', async () => {
    const viaApi = t.tenant;
    const viaImport = await t.newTenant();
    const answers: unknown[] = [];
    for (const user of CUSTOMERS) {
      expect((await t.request('POST', `${t.core}/users`, { body: { user } })).status).toBe(200);
    }
    await t.setNow(NOW);
    for (const [i, body] of PURCHASES.entries()) {
      const res = await t.request('POST', '/api/2.0/send_transaction', {
        body: { ...body, request_id: `till-${i}` },
      });
      expect(res.status).toBe(200);
      answers.push(res.body.payload);
    }

    const customers = await run(viaImport, {
      kind: 'customers',
      file: file('customers.ndjson', ndjson(CUSTOMERS.map(enrolled))),
    });
    expect(customers.counts).toMatchObject({ rows: 3, imported: 3, present: 0, rejected: 0 });
    const purchases = await run(viaImport, {
      kind: 'transactions',
      file: file('purchases.ndjson', ndjson(PURCHASES)),
    });
    expect(purchases.counts).toEqual({
      rows: 7,
      imported: 7,
      not_awarded: { member_not_enrolled: 1, member_not_found: 1 },
      edits: 1,
      present: 0,
      rejected: 0,
    });
    expect(purchases.rejects_path).toBeNull();

    for (const id of ['M-1', 'M-2', 'M-3'])
      expect(await member(viaImport, id)).toEqual(await member(viaApi, id));
    // The stored answer of each imported request is the till's, but for the tenant's own ids.
    const comparable = (p: Record<string, unknown>) => {
      const { user_id: _u, points_awarded, purchase_points, ...rest } = p;
      const names = (rows: unknown) =>
        (rows as { account_name: string; amount: number }[]).map((r) => [r.account_name, r.amount]);
      return {
        ...rest,
        points_awarded: names(points_awarded),
        purchase_points: names(purchase_points),
        campaigns: (rest.campaigns as { name: string; points: number }[]).map((c) => [c.name, c.points]),
      };
    };
    for (const [i, body] of PURCHASES.entries()) {
      const replay = await t.request('POST', '/api/2.0/send_transaction', {
        auth: auth(viaImport),
        body: { ...body, request_id: importRequestId(body) },
      });
      expect(replay.status).toBe(200);
      expect(comparable(replay.body.payload)).toEqual(comparable(answers[i] as Record<string, unknown>));
    }
    expect((await verifyLedger(t.db)).problems).toEqual([]);
  });

  it('imports every good row, names every bad one with its line, and a second run imports nothing', async () => {
    const tenant = await t.newTenant();
    const customersFile = file(
      'customers.ndjson',
      [
        JSON.stringify({ user: enrolled(CUSTOMERS[0]!) }),
        '{"external_id": "M-9", "email":',
        JSON.stringify({ external_id: 'M-8', email: 'not-an-email' }),
        '',
        JSON.stringify({ first_name: 'Nobody' }),
        JSON.stringify({ ...CUSTOMERS[0], email: 'other@example.com' }),
        JSON.stringify(enrolled(CUSTOMERS[1]!)),
      ].join('\n'),
    );
    const first = await run(tenant, { kind: 'customers', file: customersFile });
    expect(first.counts).toMatchObject({ rows: 6, imported: 2, present: 0, rejected: 4 });
    expect(rejects(first.rejects_path!).map((r) => [r.line, r.code])).toEqual([
      [2, 'invalid_json'],
      [3, 'validation'],
      [5, 'missing_data'],
      [6, 'duplicate_row'],
    ]);
    expect(rejects(first.rejects_path!)[3]!.reason).toBe(
      'duplicate: external_id M-1 already appears on line 1',
    );

    const purchasesFile = file(
      'purchases.ndjson',
      ndjson([
        PURCHASES[0],
        purchase('Q-1', 'STRANGER', '2026-12-01T10:00:00', [item(1, 10)]),
        purchase('Q-2', 'M-1', '2027-06-01T10:00:00', [item(1, 10)]),
        PURCHASES[0],
        {
          store_id: 'BOS-01',
          request_payload: {
            transaction_id: 'Q-3',
            open_time: '2026-12-01T10:00:00',
            items: [{ line_id: 1, item_id: 'X', quantity: -1, unit_price: 1 }],
          },
        },
        'a string',
        PURCHASES[2],
      ]),
    );
    const purchases = await run(tenant, { kind: 'transactions', file: purchasesFile });
    expect(purchases.counts).toMatchObject({
      rows: 7,
      imported: 3,
      not_awarded: { member_not_found: 1 },
      present: 0,
      rejected: 4,
    });
    expect(rejects(purchases.rejects_path!).map((r) => [r.line, r.code, r.reason])).toEqual([
      [3, 'validation', 'request_payload.open_time is in the future'],
      [4, 'duplicate_row', 'duplicate: transaction P-1 with the same content already appears on line 1'],
      [5, 'validation', 'request_payload.items[0].quantity must be from 0 to 1,000,000'],
      [6, 'validation', 'the line is not a JSON object'],
    ]);

    const before = {
      journals: await journals(tenant),
      m1: await member(tenant, 'M-1'),
      m2: await member(tenant, 'M-2'),
    };
    const again = await run(tenant, { kind: 'transactions', file: purchasesFile });
    expect(again.counts).toMatchObject({ imported: 0, present: 3, rejected: 4 });
    const againCustomers = await run(tenant, { kind: 'customers', file: customersFile });
    expect(againCustomers.counts).toMatchObject({ imported: 0, present: 2, rejected: 4 });
    expect({
      journals: await journals(tenant),
      m1: await member(tenant, 'M-1'),
      m2: await member(tenant, 'M-2'),
    }).toEqual(before);
    expect(before.m1.accounts['ACME Spendable Account']).toEqual([120, 120]);

    // A customer whose row now says otherwise is a conflict naming the field, not a silent skip.
    const changed = await run(tenant, {
      kind: 'customers',
      file: file('changed.ndjson', ndjson([{ ...CUSTOMERS[1], first_name: 'Robert' }])),
    });
    expect(changed.counts).toMatchObject({ imported: 0, present: 0, rejected: 1 });
    expect(rejects(changed.rejects_path!)[0]).toMatchObject({
      code: 'external_id_taken',
      reason:
        'external_id M-2 already belongs to a customer with other data: first_name (stored "Bob", in the file "Robert")',
    });
    expect((await verifyLedger(t.db)).problems).toEqual([]);
  });

  it("a balances import stopped and resumed without --cutover posts every position at the first run's instant (the resume took its own clock for the cut-over)", async () => {
    const tenant = await t.newTenant();
    const members = Array.from({ length: 30 }, (_, i) => `O-${i + 1}`);
    const customers = ndjson(members.map((m) => ({ external_id: m, enrolled_at: ENROLLED })));
    await run(tenant, { kind: 'customers', file: file('customers.ndjson', customers) });
    const path = file(
      'balances.ndjson',
      ndjson(
        members.map((m, i) => ({
          user_id: m,
          user_id_type: 'external_id',
          balance: i,
          life_time_value: 100,
        })),
      ),
    );
    const start = await t.clock.now();
    const stop = new AbortController();
    let applied = 0;
    const first = await run(tenant, {
      kind: 'balances',
      file: path,
      signal: stop.signal,
      now: () => {
        if (++applied === 10) stop.abort();
        return start;
      },
    });
    expect(first.completed).toBe(false);
    // The real clock has moved on by the resume.
    const later = new Date(start.getTime() + 60_000);
    const second = await run(tenant, { kind: 'balances', file: path, now: () => later });
    expect(second.completed).toBe(true);
    expect(second.resumed_after_line).toBe(first.line);
    expect(second.counts).toMatchObject({ rows: 30, imported: 30, present: 0, rejected: 0 });
    const instants = await t.db.query<{ at: Date }>(
      `SELECT DISTINCT effective_at AS at FROM journals WHERE retailer_id = $1 AND kind = 'opening'`,
      [tenant.retailer_id],
    );
    expect(instants.map((r) => new Date(r.at).toISOString())).toEqual([start.toISOString()]);
  });

  it('a stopped import resumes after its checkpoint and ends with every row in once', async () => {
    const tenant = await t.newTenant();
    await run(tenant, { kind: 'customers', file: file('customers.ndjson', ndjson(CUSTOMERS.map(enrolled))) });
    const rows = Array.from({ length: 40 }, (_, i) =>
      purchase(
        `R-${i}`,
        i % 7 === 6 ? 'NOBODY' : `M-${1 + (i % 3)}`,
        `2026-12-${String(1 + (i % 18)).padStart(2, '0')}T10:00:00`,
        [item(1, 10 + i)],
      ),
    );
    const path = file('purchases.ndjson', ndjson(rows) + '{broken\n');
    const stop = new AbortController();
    let applied = 0;
    const clock = await t.clock.now();
    const first = await run(tenant, {
      kind: 'transactions',
      file: path,
      signal: stop.signal,
      now: () => {
        if (++applied === 15) stop.abort();
        return clock;
      },
    });
    expect(first.completed).toBe(false);
    expect(first.line).toBeGreaterThanOrEqual(15);
    expect(first.line).toBeLessThan(40);

    const second = await run(tenant, { kind: 'transactions', file: path });
    expect(second.completed).toBe(true);
    expect(second.resumed_after_line).toBe(first.line);
    expect(second.run.skipped).toBe(first.line);
    expect(second.counts).toMatchObject({ rows: 41, imported: 40, present: 0, rejected: 1 });
    expect(rejects(second.rejects_path!).map((r) => r.line)).toEqual([41]);
    const [purchases] = await t.db.query<{ n: number; requests: number }>(
      `SELECT count(*)::int AS n, (SELECT count(*)::int FROM pos_requests WHERE retailer_id = $1) AS requests
       FROM purchases WHERE retailer_id = $1`,
      [tenant.retailer_id],
    );
    expect(purchases).toEqual({ n: 40, requests: 40 });
    expect((await verifyLedger(t.db)).problems).toEqual([]);
  });
});
