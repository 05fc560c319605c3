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

/** A member whose history is worth a look, for the banner and the README (issue #18). */
export interface MemberWithHistory {
  email: string;
  external_id: string;
  purchases: number;
  returns: number;
  spends: number;
}

/**
 * What `laurel demo` and `serve --demo` create: the credentials, shown once, the history made, and
 * the members to look at first (the seed's member, then the two busiest others).
 */
export type DemoPopulation = DemoCredentials & {
  history: PopulationSummary | null;
  members_with_history: MemberWithHistory[];
};

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

type Profile = 'occasional' | 'regular' | 'climber' | 'showcase';

/**
 * The demo retailer with `customers` members and, with `months` > 0, that much simulated history
 * ending at `now` (issue #6 item 5). The seed's member (test@example.com, the README's example)
 * gets the richest history of all (issue #18): a member from the first day, buying every few days,
 * with returns and redemptions; the others are simulated as before, from their own random stream.
 */
export async function createDemoPopulation(
  db: Database,
  now: Date,
  customers: number,
  months: number,
  opts: { seed?: number; onMember?: (done: number, total: number) => void } = {},
): Promise<DemoPopulation> {
  if (months <= 0 || customers < 1) {
    return { ...(await createDemo(db, now, customers)), history: null, members_with_history: [] };
  }
  const creds = await createDemo(db, now, 0);
  const seed = opts.seed ?? 20261126;
  const start = now.getTime() - months * 30 * DAY;
  const summary: PopulationSummary = { members: 0, purchases: 0, returns: 0, spends: 0, opt_outs: 0 };
  const showcase = await simulateMember(
    db,
    creds.retailer_id,
    1,
    'showcase',
    start,
    now,
    prng(seed + 1),
    summary,
  );
  const others: MemberWithHistory[] = [];
  const history = await simulatePopulation(db, creds.retailer_id, {
    customers: customers - 1,
    months,
    end: now,
    seed,
    onMember: (done, total) => opts.onMember?.(done + 1, total + 1),
    onHistory: (m) => others.push(m),
  });
  for (const k of ['members', 'purchases', 'returns', 'spends', 'opt_outs'] as const)
    summary[k] += history[k];
  others.sort((a, b) => b.purchases + b.returns + b.spends - (a.purchases + a.returns + a.spends));
  return { ...creds, history: summary, members_with_history: [showcase, ...others.slice(0, 2)] };
}

/** Creates `customers` members (profiles 2 onwards) with `months` of history ending at `end`. */
export async function simulatePopulation(
  db: Database,
  retailerId: string,
  opts: PopulationOptions & { onHistory?: (m: MemberWithHistory) => void },
): Promise<PopulationSummary> {
  const random = prng(opts.seed ?? 20261126);
  const start = opts.end.getTime() - opts.months * 30 * DAY;
  const summary: PopulationSummary = { members: 0, purchases: 0, returns: 0, spends: 0, opt_outs: 0 };
  for (let n = 0; n < opts.customers; n++) {
    const kind: Profile = random() < 0.12 ? 'climber' : random() < 0.6 ? 'regular' : 'occasional';
    const joined = start + random() * (opts.end.getTime() - start) * 0.4;
    const m = await simulateMember(db, retailerId, n + 2, kind, joined, opts.end, random, summary);
    opts.onHistory?.(m);
    opts.onMember?.(n + 1, opts.customers);
  }
  return summary;
}

/**
 * Member `i` of `kind`, joined at `joined`: its moments (purchases as a Poisson process, returns,
 * redemptions, an opt-out for a few) generated first and then played in time order, each with
 * `now` = its moment. Adds to `summary`; answers what the member did.
 */
async function simulateMember(
  db: Database,
  retailerId: string,
  i: number,
  kind: Profile,
  joined: number,
  end: Date,
  random: () => number,
  summary: PopulationSummary,
): Promise<MemberWithHistory> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const big = kind === 'climber' || kind === 'showcase';
  // Purchases per 30 days, and how often one comes back or is followed by a redemption.
  const rate = kind === 'showcase' ? 8 : kind === 'climber' ? 5 : kind === 'regular' ? 2 : 0.5;
  const returnChance = kind === 'showcase' ? 0.2 : 0.1;
  const spendChance = kind === 'showcase' ? 0.3 : 0.08;
  const profile = demoProfile(i);
  const user = await createUser(db, retailerId, profile, new Date(joined));
  summary.members += 1;
  const mine = { purchases: 0, returns: 0, spends: 0 };

  const events: { at: number; run: () => Promise<unknown> }[] = [];
  const endMs = end.getTime();
  let k = 0;
  for (let at = joined + (-Math.log(1 - random()) * 30 * DAY) / rate; at < endMs;) {
    k += 1;
    const now = new Date(at);
    const lines = 1 + Math.floor(random() * (big ? 4 : 3));
    const items = Array.from({ length: lines }, (_, l) => {
      const product = big && random() < 0.4 ? pick(CATALOG.slice(3)) : pick(CATALOG);
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
        mine.purchases += 1;
      },
    });
    // Some come back within the return period: a line returned, or the whole sale voided.
    const returnAt = at + (1 + random() * 25) * DAY;
    if (random() < returnChance && returnAt < endMs) {
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
          mine.returns += 1;
        },
      });
    }
    // Now and then a member redeems in the reward store, when the points are there.
    const spendAt = at + (2 + random() * 20) * DAY;
    if (random() < spendChance && spendAt < endMs) {
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
            mine.spends += 1;
          } catch (err) {
            // Not enough settled points yet: the member could not redeem.
            if (!(err instanceof LaurelError && err.code === 'insufficient_points')) throw err;
          }
        },
      });
    }
    at += (-Math.log(1 - random()) * 30 * DAY) / rate;
  }
  if (kind !== 'showcase' && random() < 0.05) {
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
  return { email: profile.email, external_id: profile.external_id, ...mine };
}
