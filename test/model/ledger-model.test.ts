import { afterAll, beforeAll, expect, it } from 'vitest';
import { prng } from '../../src/domain/prng.js';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { MemberModel } from './ledger.model.js';

/**
 * Model-based test of the ledger (issue #13): random sequences of purchases, partial returns,
 * voids, re-rings, edits, deposits and spends (with shared idempotency ids) and clock moves across
 * maturations, quarter ends and year ends, sent to the real API; after every step each member's
 * balances and tier are compared with `ledger.model.ts`, and `laurel verify` holds at the end.
 *
 * Seeded and reproducible: LAUREL_SEED picks the seed (printed on every failure), LAUREL_MODEL_STEPS
 * the length. CI runs a short sequence on each database; `npm run test:model` runs long ones with
 * random seeds (scripts/model-runs.mjs). Found, with the old rules: void and re-ring minting points
 * (item 1) and idempotency ids that did not bind their line (item 3).
 */

// The CI sequence's seed: one whose 150 steps reach a re-send repaying a shortfall (checked below).
const SEED = Number(process.env.LAUREL_SEED ?? 7);
const STEPS = Number(process.env.LAUREL_MODEL_STEPS ?? 150);
const MEMBERS = 3;
const UNIT_CENTS = 3725;
const V1 = '/incentives/api/1.0';
const SPEND = 'ACME Spendable Account';
const TIER = 'ACME Tier Qualifying Account';

describeEachDatabase('Ledger model-based sequences (issue #13)', (target) => {
  let t: TestApp;
  let accounts: Record<string, string>;
  beforeAll(async () => {
    t = await startTestApp(target, new Date('2027-01-05T15:00:00Z'));
  });
  afterAll(() => t.close());

  const post = (path: string, body: Record<string, unknown>) =>
    t.request('POST', `${V1}/${path}`, { body: { retailer_id: t.tenant.retailer_id, ...body } });

  it(
    `matches the reference model over ${STEPS} random steps (seed ${SEED})`,
    async () => {
      const rand = prng(SEED);
      const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      let now = new Date('2027-01-05T15:00:00Z');
      const log: string[] = [];
      const where = () => `seed ${SEED}, step ${log.length}; last steps:\n  ${log.slice(-8).join('\n  ')}`;

      const members: Array<{ id: string; model: MemberModel }> = [];
      for (let i = 0; i < MEMBERS; i++) {
        const res = await t.request('POST', `${t.core}/users`, {
          body: { user: { external_id: `MB-${i}` } },
        });
        expect(res.status).toBe(200);
        members.push({ id: res.body.user.id, model: new MemberModel(`MB-${i}`, now) });
      }
      const probe = await post('user_points/all_balances', { user_id: members[0]!.id });
      accounts = Object.fromEntries(
        (probe.body.payload.details as { account_name: string; point_account_id: string }[]).map((d) => [
          d.account_name,
          d.point_account_id,
        ]),
      );

      let tx = 0;
      let req = 0;
      const send = (m: MemberModel, transactionId: string, time: Date, quantity: number, voided: boolean) =>
        t.request('POST', '/api/2.0/send_transaction', {
          body: {
            store_id: 'MODEL-1',
            request_id: `mr-${++req}`,
            request_payload: {
              transaction_id: transactionId,
              open_time: time.toISOString(),
              is_voided: voided,
              items: [{ line_id: '1', item_id: 'SKU', quantity, unit_price: UNIT_CENTS / 100 }],
              user_id: m.externalId,
              user_id_type: 'external_id',
            },
          },
        });
      const quantities = new Map<string, { quantity: number; voided: boolean; owner: number; time: Date }>();

      for (let step = 0; step < STEPS; step++) {
        const mi = int(0, MEMBERS - 1);
        const { id: userId, model } = members[mi]!;
        const r = rand();
        if (r < 0.22) {
          // A new purchase, its time up to three days back but not before the member joined.
          const back = Math.min(int(0, 3 * 24) * 3_600_000, now.getTime() - model.createdAt.getTime());
          const time = new Date(now.getTime() - back);
          const transactionId = `MT-${++tx}`;
          const quantity = int(1, 8);
          log.push(`${model.externalId} buys ${transactionId} ×${quantity} at ${time.toISOString()}`);
          const res = await send(model, transactionId, time, quantity, false);
          expect(res.status, where()).toBe(200);
          model.send(transactionId, time, quantity * UNIT_CENTS, false, now);
          quantities.set(transactionId, { quantity, voided: false, owner: mi, time });
        } else if (r < 0.45 && quantities.size) {
          // A re-send of an earlier purchase: a return, an edit, a void or a re-ring.
          // Mostly purchases whose points have matured: their returns meet spent points.
          const all = [...quantities.keys()];
          const matured = all.filter(
            (k) => quantities.get(k)!.time.getTime() + 30 * 86_400_000 <= now.getTime(),
          );
          const transactionId = pick(matured.length && rand() < 0.7 ? matured : all);
          const prior = quantities.get(transactionId)!;
          const owner = members[prior.owner]!;
          const kind = pick(['edit', 'void', 'rering'] as const);
          const next =
            kind === 'void'
              ? { ...prior, voided: true }
              : kind === 'rering'
                ? { ...prior, voided: false }
                : { ...prior, quantity: int(0, 8) };
          log.push(
            `${owner.model.externalId} re-sends ${transactionId}: ${kind} ×${next.quantity} voided=${next.voided}`,
          );
          const res = await send(owner.model, transactionId, prior.time, next.quantity, next.voided);
          expect(res.status, where()).toBe(200);
          owner.model.send(transactionId, prior.time, next.quantity * UNIT_CENTS, next.voided, now);
          quantities.set(transactionId, next);
        } else if (r < 0.58) {
          // A deposit, sometimes under an id used before, with the same or another amount.
          const role = rand() < 0.8 ? 'spendable' : 'tier';
          const reuse =
            model.ids.size > 0 && rand() < 0.3
              ? pick([...model.ids.keys()].filter((k) => k.startsWith('d')))
              : undefined;
          const id = reuse ?? `d-${++req}`;
          const before = model.ids.get(id);
          const amount = before && rand() < 0.5 ? Number(before.split(':')[1]) : int(1, 3000);
          const account = before ? before.split(':')[0]! : role;
          const line = `${account}:${amount}`;
          log.push(
            `${model.externalId} deposits ${amount} to ${account} as ${id}${before ? ` (used: ${before})` : ''}`,
          );
          const res = await post('user_points/deposit', {
            user_id: userId,
            deposit_details: [
              {
                point_account_id: accounts[account === 'spendable' ? SPEND : TIER],
                amount,
                idempotency_id: id,
              },
            ],
          });
          if (before === undefined) {
            expect(res.status, where()).toBe(200);
            model.deposit(account as 'spendable' | 'tier', amount, now);
            model.ids.set(id, line);
          } else if (before === line) {
            expect(res.status, where()).toBe(200);
            expect(res.body.payload.details[0].applied, where()).toBe(false);
          } else {
            expect(res.status, where()).toBe(409);
            expect(res.body.errors.code, where()).toBe('idempotency_conflict');
          }
        } else if (r < 0.72) {
          // A spend, sometimes beyond the balance, sometimes under an id used before.
          const used = [...model.ids.keys()].filter((k) => k.startsWith('s'));
          const reuse = used.length && rand() < 0.3 ? pick(used) : undefined;
          const id = reuse ?? `s-${++req}`;
          const before = model.ids.get(id);
          // Often the whole balance: a drained account is what turns a later return into a shortfall.
          const have = model.view(now).spendable;
          const amount =
            before && rand() < 0.5 ? Number(before) : have > 0 && rand() < 0.4 ? have : int(1, have + 100);
          log.push(`${model.externalId} spends ${amount} as ${id}${before ? ` (used: ${before})` : ''}`);
          const res = await post('user_points/spend_multiple', {
            user_id: userId,
            spend_details: [{ amount, idempotency_id: id }],
          });
          if (before === undefined) {
            if (amount > model.view(now).spendable) {
              expect(res.status, where()).toBe(400);
              expect(res.body.errors.code, where()).toBe('insufficient_points');
            } else {
              expect(res.status, where()).toBe(200);
              model.spendable -= amount;
              model.ids.set(id, String(amount));
            }
          } else if (before === String(amount)) {
            expect(res.status, where()).toBe(200);
            expect(res.body.payload.details[0].idempotency_summary, where()).toBe('duplicate');
          } else {
            expect(res.status, where()).toBe(409);
          }
        } else {
          // Time passes: across maturations, quarter ends and year ends.
          const next = new Date(now.getTime() + int(1, 25 * 24) * 3_600_000 + int(0, 59) * 60_000);
          log.push(`clock ${now.toISOString()} → ${next.toISOString()}`);
          await t.setNow(next.toISOString());
          for (const m of members) m.model.advance(now, next);
          now = next;
        }

        for (const m of members) {
          const want = m.model.view(now);
          const res = await post('user_points/all_balances', { user_id: m.id });
          expect(res.status, where()).toBe(200);
          const got = Object.fromEntries(
            (res.body.payload.details as { account_name: string; available_balance: number }[]).map((d) => [
              d.account_name,
              d.available_balance,
            ]),
          );
          const user = await t.request('GET', `${t.core}/users/${m.id}`);
          expect(
            {
              spendable: got[SPEND],
              spendableEscrow: got['ACME Spendable Escrow Account'],
              tier: got[TIER],
              tierEscrow: got['ACME Tier-Qualifying Escrow Account'],
              tierName: user.body.user.tier,
            },
            `${m.model.externalId} at ${now.toISOString()}; ${where()}`,
          ).toEqual(want);
        }
      }
      expect((await verifyLedger(t.db)).problems, where()).toEqual([]);
      const repaid = members.reduce((n, m) => n + m.model.repaid, 0);
      if (process.env.LAUREL_MODEL_STATS) console.log(`seed ${SEED}: ${repaid} points repaid by re-sends`);
      // The CI sequence must reach the rule that void and re-ring once broke.
      if (process.env.LAUREL_SEED === undefined) expect(repaid, where()).toBeGreaterThan(0);
      // Long runs take their time: about 50 ms a step on PGlite, more on a loaded machine.
    },
    Math.max(180_000, STEPS * 400),
  );
});
