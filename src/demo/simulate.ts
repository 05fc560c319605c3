import type { Database } from '../db/database.js';
import { createUser, updateUser } from '../customers/customer.service.js';
import { spendMultiple } from '../incentives/incentives.service.js';
import { sendTransaction } from '../purchases/purchase.service.js';
import { LaurelError } from '../errors.js';
import { prng } from '../domain/prng.js';
import { createDemo, demoProfile, type DemoCredentials } from './demo.service.js';

/**
 * A realistic demo population (issue #6 item 5), simulated through the same engine the API uses:
 * every member joins, buys, returns, redeems and opts out at its own time, each call made with
 * `now` = that moment, so escrow, rollovers, campaigns, tiers and quarter-end cash-outs come out
 * exactly as if the tills had sent it all live. Deterministic for a seed.
 */

export interface PopulationOptions {
  /** Members to simulate (profiles 2..customers+1; the seed's member 1 is left as the seed has it). */
  customers: number;
  /** How far back the history starts. */
  months: number;
  /** The end of the history: usually now. */
  end: Date;
  seed?: number;
  /** Called after each member, for progress. */
  onMember?: (done: number, total: number) => void;
}

export interface PopulationSummary {
  members: number;
  purchases: number;
  returns: number;
  spends: number;
  opt_outs: number;
}

const DAY = 86_400_000;

const CATALOG = [
  { item_id: 'SKU-COFFEE-1KG', category: 'grocery', price: 18.5 },
  { item_id: 'SKU-TEA-SAMPLER', category: 'grocery', price: 12 },
  { item_id: 'SKU-MUG', category: 'home', price: 9.99 },
  { item_id: 'SKU-KETTLE', category: 'home', price: 64 },
  { item_id: 'SKU-GRINDER', category: 'appliances', price: 129 },
  { item_id: 'SKU-ESPRESSO', category: 'appliances', price: 449 },
  { item_id: 'SKU-APRON', category: 'apparel', price: 24 },
  { item_id: 'SKU-GIFTBOX', category: 'gifts', price: 39 },
];
const STORES = ['BOSTON-01', 'BOSTON-02', 'NYC-01', 'ONLINE'];

type Profile = 'occasional' | 'regular' | 'climber';

/**
 * The demo retailer with `customers` members: the seed's member as the seed has it and, with
 * `months` > 0, the others with that much simulated history ending at `now` (issue #6 item 5).
 */
export async function createDemoPopulation(
  db: Database,
  now: Date,
  customers: number,
  months: number,
  opts: { seed?: number; onMember?: (done: number, total: number) => void } = {},
): Promise<DemoCredentials & { history: PopulationSummary | null }> {
  if (months <= 0 || customers <= 1) return { ...(await createDemo(db, now, customers)), history: null };
  const creds = await createDemo(db, now, 1);
  const history = await simulatePopulation(db, creds.retailer_id, {
    customers: customers - 1,
    months,
    end: now,
    ...opts,
  });
  return { ...creds, history };
}

/** Creates `customers` members (profiles 2 onwards) with `months` of history ending at `end`. */
export async function simulatePopulation(
  db: Database,
  retailerId: string,
  opts: PopulationOptions,
): Promise<PopulationSummary> {
  const random = prng(opts.seed ?? 20261126);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const start = opts.end.getTime() - opts.months * 30 * DAY;
  const summary: PopulationSummary = { members: 0, purchases: 0, returns: 0, spends: 0, opt_outs: 0 };

  for (let n = 0; n < opts.customers; n++) {
    const i = n + 2;
    const kind: Profile = random() < 0.12 ? 'climber' : random() < 0.6 ? 'regular' : 'occasional';
    // Purchases per 30 days and the basket size, by kind of shopper.
    const rate = kind === 'climber' ? 5 : kind === 'regular' ? 2 : 0.5;
    const joined = start + random() * (opts.end.getTime() - start) * 0.4;
    const user = await createUser(db, retailerId, demoProfile(i), new Date(joined));
    summary.members += 1;

    // The member's moments (purchases as a Poisson process, returns, redemptions, an opt-out for
    // a few), generated first and then played in time order, each with `now` = its moment.
    const events: { at: number; run: () => Promise<unknown> }[] = [];
    const endMs = opts.end.getTime();
    let k = 0;
    for (let at = joined + (-Math.log(1 - random()) * 30 * DAY) / rate; at < endMs;) {
      k += 1;
      const now = new Date(at);
      const lines = 1 + Math.floor(random() * (kind === 'climber' ? 4 : 3));
      const items = Array.from({ length: lines }, (_, l) => {
        const product = kind === 'climber' && random() < 0.4 ? pick(CATALOG.slice(3)) : pick(CATALOG);
        return {
          line_id: String(l + 1),
          item_id: product.item_id,
          category: product.category,
          quantity: 1 + Math.floor(random() * 2),
          unit_price: product.price,
        };
      });
      const transactionId = `DEMO-${i}-${k}`;
      const store = pick(STORES);
      const body = (request: string, lineItems: typeof items, voided = false) => ({
        store_id: store,
        request_id: request,
        request_payload: {
          transaction_id: transactionId,
          open_time: now.toISOString(),
          user_id: user.id,
          user_id_type: 'SessionM_ID',
          items: lineItems,
          ...(voided ? { is_voided: true } : {}),
        },
      });
      events.push({
        at,
        run: async () => {
          await sendTransaction(db, retailerId, body(`${transactionId}:1`, items), now);
          summary.purchases += 1;
        },
      });
      // Some come back within the return period: a line returned, or the whole sale voided.
      const returnAt = at + (1 + random() * 25) * DAY;
      if (random() < 0.1 && returnAt < endMs) {
        const voided = random() < 0.25 || items.length === 1;
        events.push({
          at: returnAt,
          run: async () => {
            await sendTransaction(
              db,
              retailerId,
              body(`${transactionId}:2`, voided ? items : items.slice(1), voided),
              new Date(returnAt),
            );
            summary.returns += 1;
          },
        });
      }
      // Now and then a member redeems in the reward store, when the points are there.
      const spendAt = at + (2 + random() * 20) * DAY;
      if (random() < 0.08 && spendAt < endMs) {
        const amount = 100 * (1 + Math.floor(random() * 4));
        const reward = pick(['Free coffee', 'Mug', '10% off']);
        events.push({
          at: spendAt,
          run: async () => {
            try {
              await spendMultiple(
                db,
                retailerId,
                {
                  retailer_id: retailerId,
                  user_id: user.id,
                  spend_details: [
                    {
                      amount,
                      idempotency_id: `${transactionId}:reward`,
                      reference_type: 'REWARD_STORE',
                      reference_id: reward,
                    },
                  ],
                },
                new Date(spendAt),
              );
              summary.spends += 1;
            } catch (err) {
              // Not enough settled points yet: the member could not redeem.
              if (!(err instanceof LaurelError && err.code === 'insufficient_points')) throw err;
            }
          },
        });
      }
      at += (-Math.log(1 - random()) * 30 * DAY) / rate;
    }
    if (random() < 0.05) {
      const out = joined + random() * (endMs - joined);
      events.push({
        at: out,
        run: async () => {
          await updateUser(db, retailerId, { id: user.id }, { opted_in: false }, new Date(out));
          summary.opt_outs += 1;
        },
      });
      // A third come back a few weeks later.
      const back = out + (14 + random() * 30) * DAY;
      if (random() < 0.35 && back < endMs) {
        events.push({
          at: back,
          run: () => updateUser(db, retailerId, { id: user.id }, { opted_in: true }, new Date(back)),
        });
      }
    }
    events.sort((a, b) => a.at - b.at);
    for (const e of events) await e.run();
    opts.onMember?.(n + 1, opts.customers);
  }
  return summary;
}
