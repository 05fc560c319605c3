import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { decode, type Shape } from './answers-decoder.js';

/**
 * Issue #14 items 12 and 13: the answers a C# POS earn/burn service decodes into its DTOs.
 * - It burns with `spend_multiple`, a `SpendUserPointsRequestDetail` whose unset strings are ""
 *   (`id`, `timestamp`, `overdraft_id`, `overdraft_timestamp`, `point_source_id`), `rank: 0`,
 *   `force_spend: true`, `allow_partial_success: true`; the whole answer goes through
 *   `System.Text.Json` into `SpendResponse`, where `error_status` and `spend_weight` are a
 *   non-nullable `int` and amounts are `double`: one `null` there and every burn fails.
 * - Its `PointAuditLog` (the spend answer's `audits[]`, also the audit log's rows) reads
 *   `point_source_name`, `amount_spent`, `amount_expired` and `spend_weight`.
 */
const V1 = '/incentives/api/1.0';
const V2 = '/incentives/api/2.0';

/**
 * `SpendPointsDetail` of the C# client: what must decode. Its strings are `string?` (null is
 * fine there); numbers are `double` and `int`, where null fails.
 */
const SPEND_DETAIL: Shape = {
  required: {
    amount_spent: 'number',
    remaining_balance: 'number',
    error_status: 'int',
    idempotency_summary: 'string',
  },
  optional: {
    account_name: 'string',
    user_point_account_id: 'string',
    point_account_id: 'string',
    idempotency_id: 'string',
  },
};

/** `PointAuditLog` of the C# client (its nullable `string?` fields left out). */
const AUDIT: Shape = {
  required: {
    id: 'string',
    modification: 'number',
    amount_spent: 'number',
    amount_expired: 'number',
    audit_type: 'int',
    spend_weight: 'int',
    point_source_name: 'string',
    modification_type: 'string',
    time_of_occurrence: 'string',
    create_date: 'string',
  },
  optional: {
    retailer_id: 'string',
    user_id: 'string',
    account_name: 'string',
    point_account_id: 'string',
    user_point_account_id: 'string',
  },
};

/** Every decoding error of a `SpendResponse` payload, as `System.Text.Json` would meet them. */
function decodeSpend(payload: Record<string, unknown>): string[] {
  const errors = decode('payload', payload, {
    required: { details: 'array', summary: 'object', audits: 'array', time_of_occurrence: 'string' },
    optional: { retailer_id: 'string', user_id: 'string' },
  });
  errors.push(
    ...decode('payload.summary', payload.summary, {
      required: { amount_spent: 'number', remaining_balance: 'number' },
    }),
  );
  for (const [i, d] of (payload.details as unknown[]).entries()) {
    errors.push(...decode(`payload.details[${i}]`, d, SPEND_DETAIL));
    const er = (d as { error_response?: unknown }).error_response;
    if (er)
      errors.push(...decode(`payload.details[${i}].error_response`, er, { required: { error: 'string' } }));
  }
  for (const [i, a] of (payload.audits as unknown[]).entries()) {
    errors.push(...decode(`payload.audits[${i}]`, a, AUDIT));
  }
  return errors;
}

describeEachDatabase('Compat: the C# POS burn service decodes spend answers and audit rows', (target) => {
  let t: TestApp;
  let userId: string;
  let spendable: string;
  const post = (path: string, body: Record<string, unknown>) =>
    t.request('POST', path, { body: { retailer_id: t.tenant.retailer_id, ...body } });
  /** `SpendRequest` exactly as the client serialises it, every default included. */
  const burn = (amount: number, transactionId: string, idempotencyId: string) =>
    post(`${V1}/user_points/spend_multiple`, {
      culture: 'en-US',
      user_id: userId,
      spend_details: [
        {
          id: '',
          timestamp: '',
          overdraft_id: '',
          overdraft_timestamp: '',
          amount,
          point_account_ids: [spendable],
          reference_id: `ref-${idempotencyId}`,
          reference_type: 'AppSpend',
          transaction_id: transactionId,
          force_spend: true,
          rank: 0,
          is_return: false,
          idempotency_id: idempotencyId,
          point_source_id: '',
        },
      ],
      allow_partial_success: true,
      disable_event_publishing: false,
      parallel_mode: false,
    });

  beforeAll(async () => {
    t = await startTestApp(target);
    const res = await t.request('POST', `${t.core}/users`, { body: { user: { external_id: 'RWS-1' } } });
    userId = res.body.user.id;
    const all = await post(`${V1}/user_points/all_balances`, { user_id: userId, culture: 'en_US' });
    spendable = (all.body.payload.details as { grouping_label: string; point_account_id: string }[]).find(
      (d) => d.grouping_label === 'Spend',
    )!.point_account_id;
    const dep = await post(`${V2}/user_points/deposit`, {
      user_id: userId,
      deposit_details: [
        {
          point_source_id: 'SIGNUP',
          point_account_id: spendable,
          amount: 500,
          reference_id: 'seed',
          rank: 3,
        },
      ],
    });
    expect(dep.status).toBe(200);
  });
  afterEach(async () => expect((await verifyLedger(t.db)).problems).toEqual([]));
  afterAll(() => t.close());

  it('a burn answers error_status 0, a tracking id, the summary and its audit row', async () => {
    const res = await burn(120, 'RWS-T-1', '6f1c7a52-3e0b-4d7e-9d43-0c1c3f3f2a01');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(decodeSpend(res.body.payload)).toEqual([]);
    const [line] = res.body.payload.details;
    expect(line).toMatchObject({
      amount_spent: 120,
      remaining_balance: 380,
      error_status: 0,
      error_response: null,
      idempotency_summary: 'new',
    });
    expect(res.body.payload.summary).toEqual({ amount_spent: 120, remaining_balance: 380 });
    expect(res.body.payload.audits).toHaveLength(1);
    const [audit] = res.body.payload.audits;
    expect(audit).toMatchObject({
      id: `${line.tracking_id}:1`,
      modification: -120,
      amount_spent: 120,
      amount_expired: 0,
      spend_weight: 0,
      audit_type: 2,
      modification_type: 'spend',
      point_source_name: 'Spend',
      transaction_id: 'RWS-T-1',
    });
    expect(res.body.payload.time_of_occurrence).toBe(audit.time_of_occurrence);
    // The spend's row in the audit log is the one the answer carried.
    const log = await post(`${V2}/user_points/fetch_point_audit_logs`, { user_id: userId, take: 10 });
    expect((log.body.payload.results as { id: string }[]).find((r) => r.id === audit.id)).toEqual(audit);

    // A retry of the same burn is a duplicate: the same tracking id, error_status 0, no new row.
    const again = await burn(120, 'RWS-T-1', '6f1c7a52-3e0b-4d7e-9d43-0c1c3f3f2a01');
    expect(decodeSpend(again.body.payload)).toEqual([]);
    expect(again.body.payload.details[0]).toMatchObject({
      tracking_id: line.tracking_id,
      error_status: 0,
      idempotency_summary: 'duplicate',
    });
    expect(again.body.payload.audits).toEqual([]);
  });

  it('a burn the balance cannot cover answers error_status 1 and error_response, still decodable', async () => {
    const res = await burn(10_000, 'RWS-T-2', '6f1c7a52-3e0b-4d7e-9d43-0c1c3f3f2a02');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(decodeSpend(res.body.payload)).toEqual([]);
    expect(res.body.payload.details[0]).toMatchObject({
      amount_spent: 0,
      remaining_balance: 380,
      error_status: 1,
      error_response: { error: 'insufficient_points' },
    });
    expect(res.body.payload.audits).toEqual([]);
  });

  it('a burn of a subtotal with cents (12.5) on a whole-point account answers 400 and spends nothing', async () => {
    // The client sends its basket subtotal as a double; the ACME accounts hold whole points
    // (issue #14 item 3: refused as before; a program of precision 2 takes it: points-decimal-precision.test.ts).
    const res = await burn(12.5, 'RWS-T-3', '6f1c7a52-3e0b-4d7e-9d43-0c1c3f3f2a03');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: 'error', errors: { code: 'validation' } });
    expect(res.body.errors.message).toMatch(/spend_details\.0\.amount|spend_details\/0\/amount/);
    const all = await post(`${V1}/user_points/all_balances`, { user_id: userId });
    expect(
      (all.body.payload.details as { point_account_id: string; available_balance: number }[]).find(
        (d) => d.point_account_id === spendable,
      )!.available_balance,
    ).toBe(380);
  });

  it('a rank of -1e309 answers 400 and spends nothing (fuzzer seed 65259131)', async () => {
    const before = await post(`${V1}/user_points/all_balances`, { user_id: userId });
    for (const rank of ['-1e309', '1e309', '3000000000']) {
      const res = await t.request('POST', `${V1}/user_points/spend_multiple`, {
        payload: `{"retailer_id":"${t.tenant.retailer_id}","user_id":"${userId}","spend_details":[{"amount":1,
          "point_account_ids":["${spendable}"],"reference_id":"rank-${rank}","idempotency_id":"rank-${rank}","reference_type":"AppSpend",
          "transaction_id":"RWS-RANK","rank":${rank}}]}`,
      });
      expect(res.status, rank).toBe(400);
      expect(res.body.status).toBe('error');
      expect(res.body.errors.message).toMatch(/rank/);
    }
    const after = await post(`${V1}/user_points/all_balances`, { user_id: userId });
    expect(after.body.payload.details).toEqual(before.body.payload.details);
  });

  it('audit rows carry point_source_name, amount_spent, amount_expired and spend_weight', async () => {
    const log = await post(`${V2}/user_points/fetch_point_audit_logs`, {
      user_id: userId,
      exclude_specified_modification_types: false,
      skip: 0,
      take: 50,
    });
    expect(log.status).toBe(200);
    const rows = log.body.payload.results as Record<string, unknown>[];
    for (const [i, r] of rows.entries()) expect(decode(`results[${i}]`, r, AUDIT)).toEqual([]);
    expect(
      rows
        .filter((r) => r.modification_type !== 'tier_change')
        .map((r) => [
          r.modification_type,
          r.point_source_name,
          r.amount_spent,
          r.amount_expired,
          r.spend_weight,
        ])
        // Both journals share the simulated instant: their order is by the ids' random part.
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    ).toEqual([
      // The deposit's rank, as sent, is its spend weight.
      ['deposit', 'Manual Adjustment', 0, 0, 3],
      ['spend', 'Spend', 120, 0, 0],
    ]);
  });
});
