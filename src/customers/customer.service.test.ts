import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../../test/support/databases.js';
import { startTestApp, type TestApp } from '../../test/support/test-app.js';
import { LaurelError } from '../errors.js';
import { tierChangeEvents } from '../events/event.service.js';
import { createUser, type ImportedPast } from './customer.service.js';

/**
 * Creating a member is one statement on one server (issue #16): what the statement decides that
 * its parts used to, checked against them — which taken key a refused create names, and the tier
 * change of the enrollment, found without reading the new member's ledger.
 */

const NOW = '2026-12-20T17:00:00Z';
const ENROLLED = '2026-03-02T15:00:00Z';
const REGISTERED = '2025-07-04T16:00:00Z';
const CUTOVER = '2027-01-01T05:00:00Z';

type Customer = Record<string, unknown>;

describeEachDatabase('Creating a member', (target) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(target, new Date(NOW));
  });
  afterAll(async () => {
    await t.close();
  });

  it('a create whose email and external id two other members hold fails on the email, as before it was one statement', async () => {
    const tenant = await t.newTenant();
    const now = new Date(NOW);
    await createUser(t.db, tenant.retailer_id, { external_id: 'A-1', email: 'a@ex.com' }, now);
    await createUser(t.db, tenant.retailer_id, { external_id: 'B-1', email: 'b@ex.com' }, now);
    const refusal = (input: Customer) =>
      createUser(t.db, tenant.retailer_id, input, now).then(
        () => 'created',
        (err: unknown) => (err instanceof LaurelError ? err.code : String(err)),
      );
    expect(await refusal({ external_id: 'B-1', email: 'A@ex.com' })).toBe('email_taken');
    expect(
      await refusal({ external_id: 'C-1', email: 'c@ex.com', identifiers: [{ external_id: 'A-1' }] }),
    ).toBe('external_id_taken');
    expect(await refusal({ external_id: 'B-1', email: 'c@ex.com' })).toBe('external_id_taken');
    const count = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM users WHERE retailer_id = $1',
      [tenant.retailer_id],
    );
    expect(count[0]!.n).toBe(2);
  });

  it("a new member's tier change, found without reading its ledger, is the one its ledger gives once written", async () => {
    const tenant = await t.newTenant();
    const now = new Date(NOW);
    const cases: [Customer, ImportedPast][] = [
      [{ external_id: 'T-1' }, {}],
      [{ email: 't2@ex.com' }, { enrolled_at: new Date(ENROLLED), cutover: new Date(CUTOVER) }],
      [{ external_id: 'T-3' }, { enrolled_at: new Date(REGISTERED), registered_at: new Date(REGISTERED) }],
    ];
    for (const [input, past] of cases) {
      const user = await createUser(t.db, tenant.retailer_id, input, now, past);
      const stored = await t.db.query<{ id: string; effective_at: Date; data: Record<string, unknown> }>(
        "SELECT id, effective_at, data FROM events WHERE user_id = $1 AND type = 'tier.changed' ORDER BY seq",
        [user.id],
      );
      const read = await t.db.transaction((tx) =>
        tierChangeEvents(tx, tenant.retailer_id, user.id, [user.opted_in_at!], now),
      );
      expect(read.length).toBe(1);
      expect(stored.map((e) => ({ id: e.id, at: new Date(e.effective_at).getTime(), data: e.data }))).toEqual(
        read.map((e) => ({
          id: e.id,
          at: e.effective_at.getTime(),
          data: {
            user_id: user.id,
            ...(user.external_id ? { external_id: user.external_id } : {}),
            ...e.data,
          },
        })),
      );
    }
  });
});
