import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Tx } from '../../src/db/database.js';
import { LOOKUP_TABLES, MEMBER_TABLES } from '../../src/db/distribution.js';
import { EventRelay } from '../../src/events/relay.js';
import { sweepOnce } from '../../src/jobs/sweeper.js';
import { verifyLedger } from '../../src/ledger/verify.js';
import { TEST_DATABASES } from '../support/databases.js';
import { PARTITIONED } from '../support/partitioned.js';
import { startTestApp, TEST_GIFT_CARD_KEY, type TestApp } from '../support/test-app.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Issue #19: every statement of the hot paths touches one shard. Under `LAUREL_TEST_PARTITIONED=1`
 * the test database hash-partitions every member and lookup table as Citus distributes them; a
 * scenario (purchases, a replay, a return, lookups by every key, a deposit, a spend, rollovers by a
 * purchase and by the sweeper, a cash-out) records every statement it sends, and `EXPLAIN` of each
 * must touch at most one partition of each table. Statements that fan out by nature are named
 * below (docs/scaling.md says why); any other that fans out fails here.
 */

/** Statements that read every shard by nature (docs/scaling.md, "Fan out, by nature"). */
const FAN_OUT: ReadonlyArray<{ why: string; sql: RegExp }> = [
  {
    why: 'the sweeper finds members with lots due',
    sql: /SELECT DISTINCT user_id FROM \(\s*SELECT user_id FROM lots/,
  },
  {
    why: 'the event relay finds the members with events to fan out, or deliveries due',
    sql: /^\s*(SELECT user_id FROM events WHERE dispatched_at IS NULL GROUP BY user_id|SELECT d\.user_id FROM event_deliveries d)/,
  },
  {
    why: "a cash-out run walks a retailer's members",
    sql: /SELECT u\.id FROM users u\s+WHERE u\.retailer_id = \$1 AND u\.deleted_at IS NULL AND \(\$3::uuid IS NULL/,
  },
];

const DISTRIBUTED = new Set([...MEMBER_TABLES, ...LOOKUP_TABLES].map((t) => t.table));

interface Recorded {
  sql: string;
  params: readonly unknown[];
}

/** Records every statement sent through the app's database. */
function recording(db: Database, into: Recorded[]): Database {
  const wrapTx = (tx: Tx): Tx => ({
    inTransaction: true,
    query: (sql, params = []) => {
      into.push({ sql, params });
      return tx.query(sql, params);
    },
    exec: (sql) => tx.exec(sql),
  });
  return {
    kind: db.kind,
    query: (sql, params = []) => {
      into.push({ sql, params });
      return db.query(sql, params);
    },
    transaction: (fn) => db.transaction((tx) => fn(wrapTx(tx))),
    exec: (sql) => db.exec(sql),
    close: () => db.close(),
  };
}

/** Every table a plan scans or modifies, as `Relation Name`s (partitions by their own name). */
function relations(plan: unknown, out: string[] = []): string[] {
  if (Array.isArray(plan)) for (const p of plan) relations(p, out);
  else if (plan && typeof plan === 'object') {
    for (const [k, v] of Object.entries(plan)) {
      if (k === 'Relation Name' && typeof v === 'string') out.push(v);
      else relations(v, out);
    }
  }
  return out;
}

/** The partitions of each distributed table a statement's plan touches. */
async function partitionsTouched(db: Database, r: Recorded): Promise<Map<string, Set<string>>> {
  const [row] = await db.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${r.sql}`, r.params);
  const touched = new Map<string, Set<string>>();
  for (const name of relations(row!['QUERY PLAN'])) {
    const m = /^(.+)_p\d+$/.exec(name);
    if (!m || !DISTRIBUTED.has(m[1]!)) continue;
    const set = touched.get(m[1]!) ?? new Set<string>();
    set.add(name);
    touched.set(m[1]!, set);
  }
  return touched;
}

const target = TEST_DATABASES.find((d) => d.name === 'postgres');

describe.runIf(PARTITIONED && target)('Hot paths touch one partition [postgres, partitioned]', () => {
  let t: TestApp;
  const recorded: Recorded[] = [];
  const steps: { what: string; from: number; to: number }[] = [];

  beforeAll(async () => {
    t = await startTestApp(target!, new Date('2026-11-02T16:00:00Z'), (db) => recording(db, recorded));
    const step = async (what: string, call: () => Promise<{ status: number; body?: unknown }>) => {
      const from = recorded.length;
      const res = await call();
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(200);
      steps.push({ what, from, to: recorded.length });
      return res;
    };
    const created = await t.request('POST', `${t.core}/users`, {
      body: {
        user: {
          email: 'Hot@Example.com',
          external_id: 'HOT-1',
          phone_numbers: [{ phone_number: '+1 617 555 0199', phone_type: 'mobile' }],
        },
      },
    });
    expect(created.status).toBe(200);
    const userId: string = created.body.user.id;
    const send = (
      requestId: string,
      transactionId: string,
      member: Record<string, string>,
      lines: number,
      openTime = '2026-11-02T10:00:00Z',
    ) =>
      t.request('POST', '/api/2.0/send_transaction', {
        body: {
          store_id: 'S-1',
          request_id: requestId,
          request_payload: {
            transaction_id: transactionId,
            open_time: openTime,
            ...member,
            items: Array.from({ length: lines }, (_, k) => ({
              line_id: k + 1,
              item_id: 'SKU',
              quantity: 1,
              unit_price: 50,
            })),
          },
        },
      });
    const byExternal = { user_id: 'HOT-1', user_id_type: 'external_id' };
    await step('purchase, first send (external id)', () => send('1', 'T-1', byExternal, 3));
    await step('purchase, replay', () => send('1', 'T-1', byExternal, 3));
    await step('purchase, return of a line', () => send('2', 'T-1', byExternal, 2));
    await step('purchase, first send (email)', () =>
      send('1', 'T-2', { user_id: 'hot@example.com', user_id_type: 'email' }, 1),
    );
    await step('purchase, first send (Laurel id)', () => send('1', 'T-3', { user_id: userId }, 1));
    await step('purchase of an unknown member', () => send('1', 'T-4', {}, 1));
    await step('purchase of an unknown member, re-sent changed', () => send('2', 'T-4', {}, 2));
    for (const [what, query] of [
      ['search by email', 'email=hot@example.com'],
      ['search by external id', 'external_id=HOT-1'],
      ['search by phone', 'mobile_number=6175550199'],
    ] as const) {
      await step(what, () => t.request('GET', `${t.core}/users/search?${query}&expand_incentives=true`));
    }
    await step('member by id with incentives', () =>
      t.request('GET', `${t.core}/users/${userId}?expand_incentives=true&show_identifiers=true`),
    );
    for (const [what, key] of [
      ['POS lookup by email', { email: 'hot@example.com' }],
      ['POS lookup by phone', { phone: '6175550199' }],
      ['POS lookup by user id', { user_id: userId }],
      ['POS lookup by external id', { external_customer_id: 'HOT-1' }],
      ['POS lookup by transaction', { transaction: { transaction_id: 'T-1' } }],
    ] as const) {
      await step(what, () =>
        t.request('POST', '/api/2.0/lookup', {
          body: { store_id: 'S-1', request_id: 'lk', request_payload: key },
        }),
      );
    }
    const balances = await t.request('POST', '/incentives/api/1.0/user_points/all_balances', {
      body: { retailer_id: t.tenant.retailer_id, user_id: userId },
    });
    const accounts = Object.fromEntries(
      (balances.body.payload.details as { account_name: string; point_account_id: string }[]).map((d) => [
        d.account_name,
        d.point_account_id,
      ]),
    );
    const spendable = accounts['ACME Spendable Account']!;
    await step('deposit', () =>
      t.request('POST', '/incentives/api/1.0/user_points/deposit', {
        body: {
          retailer_id: t.tenant.retailer_id,
          user_id: userId,
          deposit_details: [{ point_account_id: spendable, amount: 500, idempotency_id: 'D-1' }],
        },
      }),
    );
    await step('spend', () =>
      t.request('POST', '/incentives/api/1.0/user_points/spend_multiple', {
        body: {
          retailer_id: t.tenant.retailer_id,
          user_id: userId,
          spend_details: [{ point_account_id: spendable, amount: 100, idempotency_id: 'SP-1' }],
        },
      }),
    );
    // Past the escrow period: a purchase rolls the member's lots over, then the sweeper another's.
    await t.setNow('2026-12-05T12:00:00Z');
    await step('purchase that rolls the member over first', () =>
      send('1', 'T-5', byExternal, 1, '2026-12-05T10:00:00Z'),
    );
    const other = await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'HOT-2' } } });
    expect(other.status).toBe(200);
    await t.setNow('2026-12-06T12:00:00Z');
    await step('purchase (second member)', () =>
      send('1', 'T-6', { user_id: 'HOT-2', user_id_type: 'external_id' }, 1, '2026-12-06T10:00:00Z'),
    );
    await t.setNow('2027-01-10T12:00:00Z');
    await step('tier balance and ledger view (as of, after a quarter end)', () =>
      t.request('POST', '/incentives/api/1.0/user_points/all_balances', {
        body: { retailer_id: t.tenant.retailer_id, user_id: userId },
      }),
    );
    await step('sweep: rollovers and the quarter-end cash-out', async () => {
      const r = await sweepOnce(t.db, t.clock, { wait: true });
      expect(r.failures).toEqual([]);
      expect(r.lots).toBeGreaterThan(0);
      return { status: 200 };
    });
    // The event relay on Citus (issues #17, #19): fan-out and delivery claims lock rows of one member
    // each; Citus refuses a row lock across shards, and a relay that asked for one dispatched nothing.
    const hook = await t.request('POST', '/admin/v1/webhooks', {
      auth: 'admin',
      body: { webhook: { url: 'http://127.0.0.1:9/never-called', events: ['*'] } },
    });
    expect(hook.status).toBe(200);
    await step('event relay: fan out, then claim deliveries', async () => {
      // The relay as `laurel serve` starts it, deciding itself how to claim: on this layout, member by
      // member as on Citus (a relay that asked `hasCitus` claimed across every partition at once).
      const relay = new EventRelay(t.db, { serverKey: TEST_GIFT_CARD_KEY, log: silent });
      await relay.tick();
      await relay.stop();
      expect(relay.stats.dispatched).toBeGreaterThan(0);
      // The delivery was claimed and tried (the address refuses it).
      expect(relay.stats.failedAttempts).toBeGreaterThan(0);
      return { status: 200 };
    });
    // The member's settlement (or the cash-out run) wrote the quarter's gift card.
    const [cards] = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM gift_cards');
    expect(cards!.n).toBeGreaterThan(0);
  }, 600_000);
  afterAll(async () => {
    await t?.close();
  });

  it('the scenario left a ledger that verifies', async () => {
    expect((await verifyLedger(t.db)).problems).toEqual([]);
  });

  it('EXPLAIN of every statement on a member or lookup table touches at most one partition of it', async () => {
    const wide: string[] = [];
    let explained = 0;
    for (const s of steps) {
      for (const r of recorded.slice(s.from, s.to)) {
        if (FAN_OUT.some((f) => f.sql.test(r.sql))) continue;
        if (!/^\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b/i.test(r.sql)) continue;
        const touched = await partitionsTouched(t.db, r);
        if (touched.size) explained++;
        for (const [table, parts] of touched) {
          if (parts.size > 1) {
            wide.push(
              `${s.what}: ${table} in ${parts.size} partitions: ${r.sql.replace(/\s+/g, ' ').slice(0, 160)}`,
            );
          }
        }
      }
    }
    expect(wide).toEqual([]);
    // The scenario did reach the partitions (a mode that partitioned nothing would pass vacuously).
    expect(explained).toBeGreaterThan(40);
  }, 600_000);
});
