import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPGlite, openPostgres, type Database } from '../../src/db/database.js';
import { MIGRATIONS } from '../../src/db/migrate.js';
import { createTestSchema, describeEachDatabase, dropTestSchema } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Issue #14 item 6: a C# POS earn service in the field sends `request_id: "1"` with every sale. The
 * idempotency key is (`request_id`, `transaction_id`) (DESIGN §4, §8 amended 2026-12-04): its
 * second sale is a new purchase, not a 409; a repeat of both with another body still is.
 * The till reads `status` and `payload.transaction_id`; on an error, `errors.code`.
 */
function sale(transactionId: string, unitPrice: number) {
  return {
    store_id: '1001',
    client_id: 'till-04',
    request_id: '1',
    culture: 'en-US',
    request_payload: {
      transaction_id: transactionId,
      is_closed: true,
      is_voided: false,
      subtotal: unitPrice,
      tax_total: 0,
      open_time: '2026-11-24 09:30:00',
      modified_time: '2026-11-24 09:31:00',
      items: [{ line_id: '1', item_id: 'COFFEE', quantity: 1, unit_price: unitPrice, subtotal: unitPrice }],
      payments: [
        {
          payment_id: '1',
          amount: unitPrice,
          type: 'CASH',
          user_id: 'CARD-77',
          user_id_type: 'external_id',
        },
      ],
    },
  };
}

describeEachDatabase('Compat: a till that sends request_id "1" for every sale', (target) => {
  let t: TestApp;
  const send = (body: unknown) => t.request('POST', '/api/2.0/send_transaction', { body });

  beforeAll(async () => {
    t = await startTestApp(target);
    const res = await t.request('POST', `${t.core}/users`, {
      body: { user: { external_id: 'CARD-77', email: 'till@example.com' } },
    });
    expect(res.status).toBe(200);
  });
  afterAll(() => t.close());

  it('the second sale with the same request_id is a new purchase, not a 409', async () => {
    const first = await send(sale('S-1', 12));
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('OK');
    expect(first.body.payload.transaction_id).toBe('S-1');
    const second = await send(sale('S-2', 30));
    expect(second.status).toBe(200);
    expect(second.body.status).toBe('OK');
    expect(second.body.payload.transaction_id).toBe('S-2');
    const rows = await t.db.query<{ transaction_id: string }>(
      'SELECT transaction_id FROM purchases ORDER BY transaction_id',
    );
    expect(rows.map((r) => r.transaction_id)).toEqual(['S-1', 'S-2']);
  });

  it('a repeat of request_id and transaction_id answers the stored answer; with another body, 409', async () => {
    const journals = async () =>
      (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM journals'))[0]!.n;
    const before = await journals();
    const again = await send(sale('S-2', 30));
    expect(again.status).toBe(200);
    expect(again.body.payload.transaction_id).toBe('S-2');
    const changed = await send(sale('S-2', 31));
    expect(changed.status).toBe(409);
    expect(changed.body.errors.code).toBe('idempotency_conflict');
    expect(await journals()).toBe(before);
  });
});

/** A database migrated up to the version before the idempotency key changed (9). */
async function openBeforeTheKeyChange(
  target: 'pglite' | 'postgres',
): Promise<{ db: Database; close(): Promise<void> }> {
  let db: Database;
  let close: () => Promise<void>;
  if (target === 'pglite') {
    db = await openPGlite();
    close = () => db.close();
  } else {
    const url = process.env.DATABASE_URL!;
    const schema = await createTestSchema(url);
    db = await openPostgres({ url, schema, max: 2 });
    close = async () => {
      await db.close();
      await dropTestSchema(url, schema);
    };
  }
  await db.exec(`CREATE TABLE schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  for (const m of MIGRATIONS.filter((x) => x.version < 9)) {
    await db.exec(m.sql);
    await db.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
  }
  return { db, close };
}

describeEachDatabase('Compat: the POS idempotency key migration', (target) => {
  it('keeps every stored answer, keyed by the transaction its answer names', async () => {
    const { db, close } = await openBeforeTheKeyChange(target.name);
    try {
      const retailer = '7b0c2f4e-0000-4000-8000-000000000001';
      await db.query(
        `INSERT INTO pos_requests (retailer_id, request_id, body_hash, response, created_at)
         VALUES ($1, '1', 'h', '{"transaction_id":"OLD-1"}', now())`,
        [retailer],
      );
      // Migration 9 alone: 0011 later moves stored answers to their purchase's owner, and an answer
      // without a purchase (as here) answers nothing after it.
      await db.exec(MIGRATIONS.find((m) => m.version === 9)!.sql);
      const rows = await db.query<{ request_id: string; transaction_id: string }>(
        'SELECT request_id, transaction_id FROM pos_requests',
      );
      expect(rows).toEqual([{ request_id: '1', transaction_id: 'OLD-1' }]);
      // The same request id on another transaction is now a row of its own.
      await db.query(
        `INSERT INTO pos_requests (retailer_id, request_id, transaction_id, body_hash, response, created_at)
         VALUES ($1, '1', 'NEW-2', 'h', '{}', now())`,
        [retailer],
      );
      await expect(
        db.query(
          `INSERT INTO pos_requests (retailer_id, request_id, transaction_id, body_hash, response, created_at)
           VALUES ($1, '1', 'NEW-2', 'h2', '{}', now())`,
          [retailer],
        ),
      ).rejects.toMatchObject({ code: '23505' });
    } finally {
      await close();
    }
  });
});
