import { afterEach, expect, it } from 'vitest';
import { createUser } from '../../src/customers/customer.service.js';
import { findOpeningCutover, importOpening } from '../../src/ledger/opening.service.js';
import { verifyLedger } from '../../src/ledger/verify.js';
import { newId } from '../../src/domain/ids.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Bug (issue #16): an opening position of nothing (balance, lifetime value and tier points all 0, a
 * dormant member) is posted as an opening journal without postings, and `laurel verify` reported
 * each one as a journal that "does not balance: 0 postings summing to 0". Such a journal is the
 * member's opening all the same (a re-run finds it present, and a purchase of the old platform's is
 * refused as before its cut-over), so verify accepts it; any other journal without postings is still
 * reported.
 */
describeEachDatabase('An opening of an empty position', (target) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('verifies, is present on a re-run and still marks the cut-over; another journal of no postings does not verify', async () => {
    const now = new Date('2026-12-20T17:00:00Z');
    const cutover = new Date('2026-12-01T05:00:00Z');
    t = await startTestApp(target, now);
    const retailer = t.tenant.retailer_id;
    const member = await createUser(t.db, retailer, { external_id: 'Z-1' }, now, {
      enrolled_at: new Date('2026-01-05T15:00:00Z'),
    });
    const empty = {
      member: { type: 'external_id' as const, id: 'Z-1' },
      balance: 0,
      life_time_value: 0,
      tier_points: 0,
    };
    expect(await importOpening(t.db, retailer, empty, cutover, now)).toEqual({ status: 'imported' });
    const journals = await t.db.query<{ kind: string; postings: number }>(
      `SELECT j.kind, (SELECT count(*) FROM postings p WHERE p.journal_id = j.id)::int AS postings
       FROM journals j WHERE j.user_id = $1`,
      [member.id],
    );
    expect(journals).toEqual([{ kind: 'opening', postings: 0 }]);
    expect((await verifyLedger(t.db)).problems).toEqual([]);
    expect(await importOpening(t.db, retailer, empty, cutover, now)).toEqual({ status: 'present' });

    // It marks where the old platform's points end, as any opening does.
    expect(await findOpeningCutover(t.db, member.id)).toEqual(cutover);

    // Any other journal without postings is still reported.
    const id = newId(now.getTime());
    await t.db.query(
      `INSERT INTO journals (id, retailer_id, user_id, kind, effective_at, recorded_at, details)
       VALUES ($1, $2, $3, 'deposit', $4, $4, '{}')`,
      [id, retailer, member.id, now],
    );
    expect((await verifyLedger(t.db)).problems).toEqual([
      `journal ${id} does not balance: 0 postings summing to 0`,
    ]);
  }, 60_000);
});
