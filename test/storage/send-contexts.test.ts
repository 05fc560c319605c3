import { afterEach, expect, it } from 'vitest';
import { createUser } from '../../src/customers/customer.service.js';
import type { Queryable } from '../../src/db/database.js';
import { isOneServer } from '../../src/db/distribution.js';
import { SendContextReader } from '../../src/purchases/purchase.service.js';
import { findOpeningCutover, importOpening, OPENING_KEY } from '../../src/ledger/opening.service.js';
import {
  readSendContext,
  readSendContexts,
  type SendToRead,
} from '../../src/purchases/purchase.repository.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, TEST_START, type TestApp } from '../support/test-app.js';

/**
 * An import reads the contexts of the purchases it prepares together in one statement (issue #16):
 * for every kind of send, that statement must read what each send's own context read reads: the
 * program, the member by each kind of key, the claim of the transaction id and the opening instant.
 */
describeEachDatabase('Send contexts read together', (target) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('read what each send reads alone, in the order given, for every kind of member key', async () => {
    t = await startTestApp(target, new Date('2026-06-01T12:00:00Z'));
    if (!(await isOneServer(t.db))) return; // one statement over the lookup tables and journals: one server only
    const retailer = t.tenant.retailer_id;
    const now = new Date('2026-06-01T12:00:00Z');
    const ann = await createUser(t.db, retailer, { external_id: 'C-1', email: 'Ann@Example.com' }, now, {
      enrolled_at: new Date('2025-01-01T00:00:00Z'),
    });
    const bob = await createUser(t.db, retailer, { external_id: 'C-2' }, now);
    await importOpening(
      t.db,
      retailer,
      { member: { type: 'external_id', id: 'C-1' }, balance: 100, life_time_value: 150, tier_points: 0 },
      new Date('2026-05-01T04:00:00Z'),
      now,
    );
    // A claimed transaction id: a purchase of Bob's through the API.
    await t.setNow(TEST_START.toISOString());
    const sent = await t.request('POST', '/api/2.0/send_transaction', {
      body: {
        store_id: 'S-1',
        request_id: 'R-1',
        request_payload: {
          transaction_id: 'T-CLAIMED',
          open_time: '2026-11-25T10:00:00Z',
          user_id: 'C-2',
          user_id_type: 'external_id',
          items: [{ line_id: 1, item_id: 'A', quantity: 1, unit_price: 10 }],
        },
      },
    });
    expect(sent.status).toBe(200);

    const sends: SendToRead[] = [
      { transactionId: 'T-1', key: { type: 'external_id', id: 'C-1' } },
      { transactionId: 'T-2', key: { type: 'email', id: 'ANN@example.COM' } },
      { transactionId: 'T-3', key: { type: 'SessionM_ID', id: ann.id } },
      { transactionId: 'T-CLAIMED', key: { type: 'external_id', id: 'C-2' } },
      { transactionId: 'T-4', key: { type: 'SessionM_ID', id: bob.id } },
      { transactionId: 'T-5', key: { type: 'external_id', id: 'NOBODY' } },
      { transactionId: 'T-6', key: { type: 'SessionM_ID', id: '00000000-0000-4000-8000-000000000000' } },
      { transactionId: 'T-7', key: undefined },
      { transactionId: 'T-CLAIMED', key: undefined },
    ];
    const together = await readSendContexts(t.db, retailer, TEST_START, sends, OPENING_KEY);
    // Alone: the send's own context read, and the import's read of the member's opening instant.
    const alone = [];
    for (const s of sends) {
      const ctx = await readSendContext(t.db, retailer, s.transactionId, s.key, TEST_START);
      const openingAt = ctx.memberId ? await findOpeningCutover(t.db, ctx.memberId) : undefined;
      alone.push({ ...ctx, ...(openingAt ? { openingAt } : {}) });
    }
    expect(together).toEqual(alone);
    // What they agree on, spelled out.
    expect(together.map((c) => c.memberId)).toEqual([
      ann.id,
      ann.id,
      ann.id,
      bob.id,
      bob.id,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(together.map((c) => c.openingAt?.toISOString())).toEqual([
      ...Array<string>(3).fill('2026-05-01T04:00:00.000Z'),
      ...Array<undefined>(6).fill(undefined),
    ]);
    expect(together[3]!.claim?.user_id).toBe(bob.id);
    expect(together[8]!.claim).toEqual(together[3]!.claim);
    expect(together.every((c) => c.program?.version === together[0]!.program?.version)).toBe(true);
    expect(together[0]!.program).toBeDefined();

    // Sends prepared in the same turn of the event loop, each at its own instant as on the system
    // clock, share one statement and read what each reads alone.
    let statements = 0;
    const counted = {
      query: <T>(sql: string, params?: unknown[]) => {
        statements++;
        return t!.db.query<T>(sql, params);
      },
    } as unknown as Queryable;
    const reader = new SendContextReader(counted);
    const instants = sends.map((_, i) => new Date(TEST_START.getTime() + i));
    const read = await Promise.all(sends.map((s, i) => reader.read(retailer, s, instants[i]!, OPENING_KEY)));
    expect(statements).toBe(1);
    expect(read).toEqual(alone);
  }, 60_000);
});
