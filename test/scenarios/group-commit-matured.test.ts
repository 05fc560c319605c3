import { afterEach, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { configureGroupCommit, groupCommitOf } from '../../src/ledger/group-commit.js';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { waitingIs } from '../support/group-commit.js';
import { countingTransactions, startTestApp, TEST_START, type TestApp } from '../support/test-app.js';

/**
 * Purchases whose escrow period has ended by the time they are sent (an import of history, a till
 * that was offline) settle their member right after they are written (DESIGN §4, §5). In a batch
 * of the group commit (issue #15) those settlements are made together, after the batch writes the
 * purchases and before any later send of the same member (issue #16: an import's matured history).
 * The ledger must be exactly what the same sends leave one at a time: the same journals at the same
 * effective instants, lots, balances, tier and events.
 */

const LONG = 60_000;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const MEMBERS = ['MAT-1', 'MAT-2', 'MAT-3'];

const purchase = (
  requestId: string,
  transactionId: string,
  member: string,
  dollars: number,
  openTime: string,
) => ({
  store_id: 'S-1',
  request_id: requestId,
  request_payload: {
    transaction_id: transactionId,
    open_time: openTime,
    user_id: member,
    user_id_type: 'external_id',
    items: [{ line_id: 1, item_id: 'SKU-1', quantity: 1, unit_price: dollars }],
  },
});

// MAT-1's two old purchases cross SILVER's 2,000 tier points at the second one's maturation; MAT-3's
// purchase still waits in escrow. A return of MAT-2's comes last, after its points have settled.
const SENDS = [
  purchase('R-1', 'T-1', 'MAT-1', 1200, '2026-10-05T15:00:00Z'),
  purchase('R-2', 'T-2', 'MAT-2', 300, '2026-10-10T15:00:00Z'),
  purchase('R-3', 'T-3', 'MAT-1', 1000, '2026-10-20T15:00:00Z'),
  purchase('R-4', 'T-4', 'MAT-3', 50, '2026-11-20T15:00:00Z'),
  {
    ...purchase('R-5', 'T-2', 'MAT-2', 300, '2026-10-10T15:00:00Z'),
    request_payload: {
      ...purchase('R-5', 'T-2', 'MAT-2', 300, '2026-10-10T15:00:00Z').request_payload,
      items: [{ line_id: 1, item_id: 'SKU-1', quantity: 0, unit_price: 300 }],
    },
  },
];

/** Each member's ledger by external id, without ids: what the two ways of sending must agree on. */
async function ledgerOf(db: Database) {
  const rows = await db.query<{ member: string; ledger: unknown }>(
    `SELECT u.external_id AS member, json_build_object(
       'balances', (SELECT json_agg(json_build_array(b.account, b.balance) ORDER BY b.account)
                    FROM balances b WHERE b.user_id = u.id),
       'journals', (SELECT json_agg(json_build_array(j.kind, j.effective_at, j.reference_id,
                      (SELECT json_agg(json_build_array(p.account, p.amount) ORDER BY p.account, p.amount)
                       FROM postings p WHERE p.journal_id = j.id))
                    ORDER BY j.effective_at, j.kind, j.reference_id) FROM journals j WHERE j.user_id = u.id),
       'lots', (SELECT json_agg(json_build_array(l.account, l.amount, l.remaining, l.matures_at,
                  l.rolled_over_at IS NOT NULL) ORDER BY l.matures_at, l.account) FROM lots l WHERE l.user_id = u.id),
       'events', (SELECT json_agg(json_build_array(e.type, e.effective_at) ORDER BY e.effective_at, e.type)
                  FROM events e WHERE e.user_id = u.id)
     ) AS ledger
     FROM users u WHERE u.external_id = ANY($1) ORDER BY u.external_id`,
    [MEMBERS],
  );
  return rows;
}

describeEachDatabase('Matured purchases in one batch', (target) => {
  const apps: TestApp[] = [];
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close();
  });

  /** An app whose members enrolled in October; `transactions` counts what it runs. */
  const start = async () => {
    let transactions = 0;
    const app = await startTestApp(
      target,
      new Date('2026-10-01T12:00:00Z'),
      countingTransactions(() => transactions++),
    );
    apps.push(app);
    for (const m of MEMBERS) {
      const r = await app.request('POST', `${app.core}/users`, { body: { user: { external_id: m } } });
      expect(r.status).toBe(200);
    }
    await app.setNow(TEST_START.toISOString());
    return { app, transactions: () => transactions };
  };

  it('settle after the batch writes them, and leave the ledger the same sends leave one at a time', async () => {
    const alone = await start();
    configureGroupCommit(alone.app.db, { maxSize: 1, windowMs: 0, concurrency: 1 });
    const aloneAnswers = [];
    for (const body of SENDS)
      aloneAnswers.push(await alone.app.request('POST', '/api/2.0/send_transaction', { body }));

    const batched = await start();
    const oneServer = await groupCommitOf(batched.app.db).oneServer();
    configureGroupCommit(batched.app.db, { maxSize: SENDS.length, windowMs: LONG, concurrency: 1 });
    const before = batched.transactions();
    // The batch starts when all five wait: they are in it together. Each is sent once the one
    // before it waits in the queue, so the batch holds them in the order the loop above sent them
    // (bug: sent all at once, the return R-5 could reach the server before its purchase R-2).
    const pending: Promise<{ status: number; body: unknown }>[] = [];
    for (const [k, body] of SENDS.entries()) {
      pending.push(batched.app.request('POST', '/api/2.0/send_transaction', { body }));
      if (k < SENDS.length - 1) await waitingIs(batched.app.db, k + 1);
    }
    const answers = await Promise.all(pending);
    // One transaction for the whole batch: no send failed it into running alone.
    if (oneServer) expect(batched.transactions() - before).toBe(1);
    // The same answers but for the ids, which each database makes its own.
    const same = (a: { status: number; body: unknown }) =>
      JSON.parse(JSON.stringify({ status: a.status, body: a.body }).replace(UUID, '<id>')) as unknown;
    expect(answers.map(same)).toEqual(aloneAnswers.map(same));

    const ledger = await ledgerOf(batched.app.db);
    expect(ledger).toEqual(await ledgerOf(alone.app.db));
    // What the comparison holds, spelled out for MAT-1: both purchases rolled over at their own
    // maturation instants, and SILVER from the second one's (after BASE at enrollment).
    const mat1 = ledger.find((r) => r.member === 'MAT-1')!.ledger as {
      lots: [string, number, number, string, boolean][];
      events: [string, string][];
    };
    expect(mat1.lots.every((l) => l[2] === 0 && l[4])).toBe(true);
    expect(
      mat1.events.filter((e) => e[0].startsWith('tier.')).map((e) => new Date(e[1]).toISOString()),
    ).toEqual(['2026-10-01T12:00:00.000Z', '2026-11-19T15:00:00.000Z']);
    for (const app of [alone.app, batched.app]) expect((await verifyLedger(app.db)).problems).toEqual([]);
  }, 180_000);
});
