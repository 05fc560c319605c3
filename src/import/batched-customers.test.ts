import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../../test/support/databases.js';
import { startTestApp, type TestApp } from '../../test/support/test-app.js';
import {
  createUser,
  insertNewMemberByParts,
  newMember,
  type ImportedPast,
} from '../customers/customer.service.js';
import type { Database, Tx } from '../db/database.js';
import { isOneServer } from '../db/distribution.js';
import { runImport, type ImportOptions } from './import.service.js';
import { interceptedInTransactions } from '../../test/support/import-files.js';

/**
 * New customers imported a batch at a time (issue #16): one statement writes a batch's members,
 * and must write exactly what creating each one alone writes, through the API's `createUser` (the
 * same statement with one member) and part by part as on Citus (issue #19, the statements the
 * create was made of before). A row whose key is taken leaves its batch or, when only the write
 * finds it, fails the batch, whose rows then run alone: each gets the outcome it had before.
 */

const ENROLLED = '2026-03-02T15:00:00Z';
const REGISTERED = '2025-07-04T16:00:00Z';
const NOW = '2026-12-20T17:00:00Z';
const CUTOVER = '2027-01-01T05:00:00Z';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

type Customer = Record<string, unknown>;

/** Every shape of customer the import reads: keys, phones shared, identifiers, past, opted out. */
const CUSTOMERS: Customer[] = [
  {
    external_id: 'C-1',
    email: 'Ann@Example.com',
    first_name: 'Ann',
    phone_numbers: [
      { phone_number: '5085550101' },
      { phone_number: '+1 617 555 0102', phone_type: 'home', preference_flags: ['primary'] },
    ],
    dob: '1990-04-12',
    enrolled_at: ENROLLED,
    registered_at: REGISTERED,
  },
  { email: 'bob@example.com', last_name: 'Ray, Jr.', gender: 'm' },
  { external_id: 'C-3', external_id_type: 'merchant_identifier', country: 'USA', state: 'MA' },
  { external_id: 'C-4', email: 'c4@example.com', opted_in: false, test_account: true },
  {
    external_id: 'C-5',
    identifiers: [{ external_id: 'LOY-5', external_id_type: 'loyalty' }, { external_id: 'C-5' }],
    user_profile: { favorite_store: 'Boston Downtown', visits: '3' },
    enrolled_at: ENROLLED,
  },
  // The phone of C-1: a phone may name several members.
  { external_id: 'C-6', email: 'c6@example.com', phone_numbers: [{ phone_number: '5085550101' }] },
  ...Array.from({ length: 14 }, (_, i) => ({
    external_id: `G-${i + 7}`,
    email: `g${i + 7}@example.com`,
    first_name: `G${i + 7}`,
    ...(i % 3 === 0 ? { enrolled_at: ENROLLED } : {}),
  })),
];

/**
 * New rows beside one whose email X-1 holds (line 8, rejected) and one that is X-1 (present), and
 * two rows claiming N-12: line 1 as its external id, line 2 among its identifiers (rejected).
 */
const TAKEN_ROWS: Customer[] = [
  { external_id: 'N-12', email: 'n12@ex.com' },
  { external_id: 'N-13', identifiers: [{ external_id: 'N-12' }] },
  ...Array.from({ length: 5 }, (_, i) => ({ external_id: `N-${i + 1}`, email: `n${i + 1}@ex.com` })),
  { external_id: 'N-11', email: 'DUP@example.com' },
  ...Array.from({ length: 5 }, (_, i) => ({ external_id: `N-${i + 6}`, email: `n${i + 6}@ex.com` })),
  { external_id: 'X-1' },
];

const ndjson = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v).replace(UUID, '<id>')) as unknown;

/** A customer's past as the import reads it from its row, for `createUser`. */
function split(c: Customer, cutover: Date): { input: Customer; past: ImportedPast } {
  const { enrolled_at, registered_at, ...input } = c;
  return {
    input,
    past: {
      cutover,
      ...(enrolled_at ? { enrolled_at: new Date(enrolled_at as string) } : {}),
      ...(registered_at ? { registered_at: new Date(registered_at as string) } : {}),
    },
  };
}

interface Recorded {
  sql: string;
  params: readonly unknown[] | undefined;
  failed?: string;
}

/** Records every statement sent through the database, and the code of each that failed. */
function recording(db: Database, into: Recorded[]): Database {
  const run = async <R>(
    sql: string,
    params: readonly unknown[] | undefined,
    call: () => Promise<R>,
  ): Promise<R> => {
    const r: Recorded = { sql, params };
    into.push(r);
    try {
      return await call();
    } catch (err) {
      r.failed = (err as { code?: string }).code ?? 'error';
      throw err;
    }
  };
  const wrapTx = (tx: Tx): Tx => ({
    inTransaction: true,
    query: (sql, params) => run(sql, params, () => tx.query(sql, params)),
    exec: (sql) => tx.exec(sql),
  });
  return {
    kind: db.kind,
    query: (sql, params) => run(sql, params, () => db.query(sql, params)),
    transaction: (fn) => db.transaction((tx) => fn(wrapTx(tx))),
    exec: (sql) => db.exec(sql),
    close: () => db.close(),
  };
}

const memberWrites = (r: Recorded[]) => r.filter((s) => /INSERT INTO users/.test(s.sql));
/** How many members a statement of `insertMembers` writes. */
const membersOf = (s: Recorded) => (JSON.parse(s.params![0] as string) as unknown[]).length;

describeEachDatabase('New customers imported a batch at a time', (target) => {
  let t: TestApp;
  let dir: string;
  let n = 0;
  let oneServer: boolean;

  const file = (name: string, content: string) => {
    const path = join(dir, `${n++}-${name}`);
    writeFileSync(path, content);
    return path;
  };
  const run = (
    db: Database,
    retailerId: string,
    opts: Pick<ImportOptions, 'file'> & Partial<ImportOptions>,
  ) =>
    runImport(db, {
      kind: 'customers',
      retailerId,
      concurrency: 16,
      now: () => new Date(NOW),
      ...opts,
    });
  const rejects = (path: string) =>
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; code: string; reason: string });

  /** Everything creating a member wrote, per member, by its external id or email, ids left out. */
  const written = async (retailerId: string) => {
    const rows = await t.db.query<{ k: string; member: Record<string, unknown> }>(
      `SELECT coalesce(u.external_id, u.email) AS k, jsonb_build_object(
         'user', to_jsonb(u) - 'id' - 'retailer_id' - 'referrer_code',
         'identifiers', (SELECT jsonb_agg(to_jsonb(i) - 'user_id' - 'retailer_id' ORDER BY i.external_id)
                         FROM user_identifiers i WHERE i.user_id = u.id),
         'phones', (SELECT jsonb_agg(to_jsonb(p) - 'user_id' - 'retailer_id' ORDER BY p.position)
                    FROM user_phones p WHERE p.user_id = u.id),
         'email_keys', (SELECT jsonb_agg(e.email_key) FROM member_emails e WHERE e.user_id = u.id),
         'external_ids', (SELECT jsonb_agg(x.external_id ORDER BY x.external_id) FROM member_external_ids x
                          WHERE x.user_id = u.id),
         'phone_keys', (SELECT jsonb_agg(m.phone_key ORDER BY m.phone_key) FROM member_phones m
                        WHERE m.user_id = u.id),
         'referrer_code', (SELECT jsonb_agg(c.referrer_code) FROM member_referrer_codes c
                           WHERE c.user_id = u.id) = jsonb_build_array(u.referrer_code),
         'enrollment', (SELECT jsonb_agg(jsonb_build_object('opted_in', en.opted_in, 'at', en.at, 'cause', en.cause,
                          'actor', en.actor) ORDER BY en.at)
                        FROM enrollment_events en WHERE en.user_id = u.id),
         -- The version counts the writes that marked it stale: by parts, an enrollment and a cut-over two.
         'standing', (SELECT jsonb_build_object('stale', s.version >= 1, 'body', s.body)
                      FROM member_standings s WHERE s.user_id = u.id),
         'events', (SELECT jsonb_agg(jsonb_build_object('type', ev.type, 'created_at', ev.created_at,
                      'effective_at', ev.effective_at, 'data', ev.data) ORDER BY ev.seq)
                    FROM events ev WHERE ev.user_id = u.id)
       ) AS member
       FROM users u WHERE u.retailer_id = $1 ORDER BY k`,
      [retailerId],
    );
    return Object.fromEntries(rows.map((r) => [r.k, strip(r.member)]));
  };

  beforeAll(async () => {
    t = await startTestApp(target, new Date(NOW));
    oneServer = await isOneServer(t.db);
    dir = mkdtempSync(join(tmpdir(), 'laurel-import-customers-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a batch writes exactly the rows of the same customers created one by one, through the API and part by part; a re-run finds them all present', async () => {
    const [batched, viaApi, byParts] = [await t.newTenant(), await t.newTenant(), await t.newTenant()];
    const cutover = new Date(CUTOVER);
    const recorded: Recorded[] = [];
    const customersFile = file('customers.ndjson', ndjson(CUSTOMERS));
    const summary = await run(recording(t.db, recorded), batched.retailer_id, {
      file: customersFile,
      cutover,
    });
    expect(summary.counts).toMatchObject({ rows: CUSTOMERS.length, imported: CUSTOMERS.length, rejected: 0 });
    // Batches of up to 8 (half of 16 rows in flight): one statement each writes their members.
    if (oneServer) {
      expect(memberWrites(recorded).length).toBeLessThanOrEqual(Math.ceil(CUSTOMERS.length / 4));
      expect(memberWrites(recorded).every((s) => !s.failed)).toBe(true);
    }

    for (const c of CUSTOMERS) {
      const { input, past } = split(c, cutover);
      await createUser(t.db, viaApi.retailer_id, input, new Date(NOW), past);
      await t.db.transaction((tx) =>
        insertNewMemberByParts(tx, newMember(byParts.retailer_id, input, new Date(NOW), past)),
      );
    }
    const expected = await written(viaApi.retailer_id);
    expect(Object.keys(expected)).toHaveLength(CUSTOMERS.length);
    expect(await written(batched.retailer_id)).toEqual(expected);
    expect(await written(byParts.retailer_id)).toEqual(expected);
    // What the one statement writes, spelled out for one member (a regression here is not symmetric).
    expect(expected['C-1']).toMatchObject({
      referrer_code: true,
      email_keys: ['ann@example.com'],
      external_ids: ['C-1'],
      phone_keys: ['5085550101', '6175550102'],
      enrollment: [{ opted_in: true, cause: 'created', actor: null }],
      standing: { stale: true, body: null },
      events: [{ type: 'member.created' }, { type: 'tier.changed' }],
    });
    expect(
      (expected['C-1'] as { user: { cashed_out_through: string } }).user.cashed_out_through,
    ).toBeTruthy();

    const again: Recorded[] = [];
    const rerun = await run(recording(t.db, again), batched.retailer_id, { file: customersFile, cutover });
    expect(rerun.counts).toMatchObject({ rows: CUSTOMERS.length, imported: 0, present: CUSTOMERS.length });
    if (oneServer) {
      // Known present before any write: no member is written, no statement fails.
      expect(memberWrites(again)).toEqual([]);
      expect(again.filter((s) => s.failed)).toEqual([]);
    }
    expect(await written(batched.retailer_id)).toEqual(expected);
  });

  it('a taken email among new rows leaves the batch; an external id claimed by two rows, as a primary and as an identifier, goes to the first, as one at a time', async () => {
    const tenant = await t.newTenant();
    await createUser(
      t.db,
      tenant.retailer_id,
      { external_id: 'X-1', email: 'dup@example.com' },
      new Date(NOW),
    );
    const recorded: Recorded[] = [];
    const path = file('dup.ndjson', ndjson(TAKEN_ROWS));
    const summary = await run(recording(t.db, recorded), tenant.retailer_id, { file: path });
    expect(summary.counts).toMatchObject({ rows: 14, imported: 11, present: 1, rejected: 2 });
    const bad = rejects(summary.rejects_path!);
    expect(bad.find((r) => r.line === 8)).toEqual({
      line: 8,
      code: 'email_taken',
      reason:
        'email DUP@example.com already belongs to a customer with other data: external_id (stored "X-1", in the file "N-11")',
      row: TAKEN_ROWS[7],
    });
    // The second claim of N-12 waits for the first (they never share a batch) and is refused by its key.
    expect(bad.filter((r) => r.line <= 2).map((r) => [r.line, r.code])).toEqual([[2, 'external_id_taken']]);
    const ids = await t.db.query<{ external_id: string }>(
      'SELECT external_id FROM users WHERE retailer_id = $1 ORDER BY external_id',
      [tenant.retailer_id],
    );
    expect(ids.map((r) => r.external_id)).toEqual(
      [...Array.from({ length: 10 }, (_, i) => `N-${i + 1}`), 'N-12', 'X-1'].sort(),
    );
    // Every taken key was known before its batch wrote: no batch failed (line 2 alone, its create
    // refused on the identifier, is the write that fails).
    if (oneServer) {
      const failed = memberWrites(recorded).filter((s) => s.failed);
      expect(failed.map(membersOf)).toEqual([1]);
    }
  });

  it('a batch whose write meets a key taken since its read runs its rows alone, each with the outcome one at a time gives', async () => {
    const [batched, alone] = [await t.newTenant(), await t.newTenant()];
    for (const c of [batched, alone]) {
      await createUser(t.db, c.retailer_id, { external_id: 'X-1', email: 'dup@example.com' }, new Date(NOW));
    }
    // The first batch's read of taken keys answers none, as if X-1's email were taken just after it.
    let hidden = 0;
    const racing = interceptedInTransactions(t.db, (sql, params) => {
      if (hidden || !/FROM member_emails WHERE email_key = lower\(e\)/.test(sql)) return undefined;
      const emails = params![1] as string[];
      if (!emails.includes('DUP@example.com') || emails.length < 2) return undefined;
      hidden++;
      return [];
    });
    const recorded: Recorded[] = [];
    const batchedRun = await run(recording(racing, recorded), batched.retailer_id, {
      file: file('racing.ndjson', ndjson(TAKEN_ROWS)),
    });
    const aloneRun = await run(t.db, alone.retailer_id, {
      file: file('alone.ndjson', ndjson(TAKEN_ROWS)),
      concurrency: 1,
    });
    if (oneServer) {
      expect(hidden).toBe(1);
      // The batch failed on the key, and its rows were created alone.
      const failed = memberWrites(recorded).filter((s) => s.failed === '23505');
      expect(failed.filter((s) => membersOf(s) > 1)).toHaveLength(1);
    }
    expect(batchedRun.counts).toEqual(aloneRun.counts);
    expect(batchedRun.counts).toMatchObject({ imported: 11, present: 1, rejected: 2 });
    const words = (s: typeof batchedRun) => rejects(s.rejects_path!).map((r) => [r.line, r.code, r.reason]);
    expect(words(batchedRun)).toEqual(words(aloneRun));
    expect(await written(batched.retailer_id)).toEqual(await written(alone.retailer_id));
  });

  it('two imports of one file at once create each customer once: the other counts it present', async () => {
    const tenant = await t.newTenant();
    const rows = Array.from({ length: 40 }, (_, i) => ({
      external_id: `R-${i + 1}`,
      email: `r${i + 1}@ex.com`,
      enrolled_at: ENROLLED,
    }));
    const [a, b] = await Promise.all(
      ['a', 'b'].map((k) => run(t.db, tenant.retailer_id, { file: file(`race-${k}.ndjson`, ndjson(rows)) })),
    );
    expect(a!.counts.rejected + b!.counts.rejected).toBe(0);
    expect(a!.counts.imported + b!.counts.imported).toBe(40);
    expect(a!.counts.present + b!.counts.present).toBe(40);
    const members = await t.db.query<{ n: number; events: number; codes: number }>(
      `SELECT count(*)::int AS n,
         (SELECT count(*)::int FROM events e JOIN users v ON v.id = e.user_id WHERE v.retailer_id = $1) AS events,
         (SELECT count(*)::int FROM member_referrer_codes WHERE retailer_id = $1) AS codes
       FROM users WHERE retailer_id = $1`,
      [tenant.retailer_id],
    );
    // Each member once, with its creation and its tier change, and no code of a failed batch claimed.
    expect(members[0]).toEqual({ n: 40, events: 80, codes: 40 });
  });
});
