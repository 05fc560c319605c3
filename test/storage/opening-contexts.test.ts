import { afterEach, expect, it } from 'vitest';
import { createUser, deleteUser } from '../../src/customers/customer.service.js';
import type { Queryable } from '../../src/db/database.js';
import { isOneServer } from '../../src/db/distribution.js';
import { OpeningContextReader } from '../../src/ledger/opening.service.js';
import { readOpeningContexts } from '../../src/ledger/opening.repository.js';
import { getProgramAt } from '../../src/program/program.service.js';
import { findMemberId, type MemberKey } from '../../src/purchases/purchase.repository.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * A batched import of opening balances reads the contexts of the rows it prepares together in one
 * statement (issue #16): that statement must read what each row's own reads read (the program in
 * force at the cut-over and at the import's clock, and the member by each kind of key), and a row
 * whose values the statement cannot take must fail alone.
 */
describeEachDatabase('Opening contexts read together', (target) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('read what each row reads alone: the programs at the cut-over and now, the member by every kind of key', async () => {
    const cutover = new Date('2026-11-01T05:00:00Z');
    const now = new Date('2026-12-20T17:00:00Z');
    t = await startTestApp(target, new Date('2026-06-01T12:00:00Z'));
    if (!(await isOneServer(t.db))) return; // one statement over the lookup tables: one server only
    const retailer = t.tenant.retailer_id;
    const ann = await createUser(t.db, retailer, { external_id: 'C-1', email: 'Ann@Example.com' }, now);
    const gone = await createUser(t.db, retailer, { external_id: 'C-2' }, now);
    await deleteUser(t.db, retailer, { id: gone.id }, now);
    // A version after the cut-over: the precision in force now is another version's.
    await t.setNow('2026-12-01T12:00:00Z');
    const program = (await t.request('GET', '/admin/v1/program', { auth: 'admin' })).body.program_version
      .program;
    const put = await t.request('PUT', '/admin/v1/program', {
      auth: 'admin',
      body: { program: { ...program, escrow_days: 14 } },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);

    const keys: MemberKey[] = [
      { type: 'external_id', id: 'C-1' },
      { type: 'email', id: 'ANN@example.COM' },
      { type: 'SessionM_ID', id: ann.id },
      { type: 'SessionM_ID', id: gone.id },
      { type: 'external_id', id: 'C-2' },
      { type: 'external_id', id: 'NOBODY' },
      { type: 'SessionM_ID', id: '00000000-0000-4000-8000-000000000000' },
    ];
    const together = await readOpeningContexts(t.db, retailer, cutover, now, keys);
    const alone = await Promise.all(keys.map((k) => findMemberId(t!.db, retailer, k)));
    expect(together.memberIds).toEqual(alone);
    expect(together.memberIds).toEqual([ann.id, ann.id, ann.id, undefined, undefined, undefined, undefined]);
    expect(together.program?.document).toEqual(await getProgramAt(t.db, retailer, cutover));
    expect(together.programNow?.document).toEqual(await getProgramAt(t.db, retailer, now));
    expect(together.program?.document.escrow_days).toBe(30);
    expect(together.programNow?.document.escrow_days).toBe(14);
    // At the cut-over itself, one version.
    const same = await readOpeningContexts(t.db, retailer, cutover, cutover, keys.slice(0, 1));
    expect(same.programNow).toEqual(same.program);

    // Rows prepared in the same turn of the event loop, each at its own instant as on the system
    // clock, share one statement; a key the statement cannot take fails alone, and a SessionM id that
    // is not a UUID names nobody without being read.
    let statements = 0;
    const counted = {
      query: <T>(sql: string, params?: unknown[]) => {
        statements++;
        return t!.db.query<T>(sql, params);
      },
    } as unknown as Queryable;
    const reader = new OpeningContextReader(counted);
    const rows: MemberKey[] = [...keys, { type: 'SessionM_ID', id: 'not-a-uuid' }];
    const read = await Promise.all(
      rows.map((k, i) => reader.read(retailer, k, cutover, new Date(now.getTime() - i))),
    );
    expect(statements).toBe(1);
    expect(read.map((c) => c.memberId)).toEqual([...alone, undefined]);
    expect(read.every((c) => c.programNow.escrow_days === 14 && c.program.escrow_days === 30)).toBe(true);
    statements = 0;
    const bad = await Promise.allSettled(
      [keys[0]!, { type: 'external_id', id: 'C-\u00001' } as MemberKey, keys[1]!].map((k) =>
        reader.read(retailer, k, cutover, now),
      ),
    );
    expect(bad.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((bad[2] as PromiseFulfilledResult<{ memberId: string }>).value.memberId).toBe(ann.id);
    expect(statements).toBe(4);
  }, 60_000);
});
