import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase, type TestDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Campaigns (issue #5) over HTTP with the simulated clock: each award type inside and outside its
 * window with edges at program-time midnight (America/New_York), targeting by tier, store and
 * channel fixed at the first send, the per-member limit, returns taking back the right bonus, the
 * escrow accounts campaign points land in, the admin API with its versions, and Core's listing.
 * The ledger is verified after every scenario. Times only move forward inside a suite.
 */

const SPEND = 'ACME Spendable Account';
const SPEND_ESCROW = 'ACME Spendable Escrow Account';
const TIER = 'ACME Tier Qualifying Account';
const TIER_ESCROW = 'ACME Tier-Qualifying Escrow Account';

interface Line {
  line_id: string;
  item_id: string;
  quantity: number;
  unit_price: number;
  category?: string;
  pos_cat_key?: string;
}
const line = (
  id: string,
  itemId: string,
  quantity: number,
  unitPrice: number,
  extra: Partial<Line> = {},
) => ({
  line_id: id,
  item_id: itemId,
  quantity,
  unit_price: unitPrice,
  ...extra,
});

interface Sale {
  member: string;
  transactionId: string;
  /** Without an offset: New York time. */
  openTime: string;
  items: Line[];
  store?: string;
  channel?: string;
  voided?: boolean;
}

type Amounts = { account_name: string; amount: number }[];
const byName = (rows: Amounts) => Object.fromEntries(rows.map((r) => [r.account_name, r.amount]));

/** A test app on one database with the helpers every campaign scenario uses. */
function harness(target: TestDatabase, start: string) {
  let seq = 0;
  const h = {
    t: undefined as unknown as TestApp,
    async member(externalId: string): Promise<string> {
      const res = await h.t.request('POST', `${h.t.core}/users`, {
        body: { user: { external_id: externalId } },
      });
      expect(res.status).toBe(200);
      return res.body.user.id;
    },
    /** Sends a purchase (or a re-send of one) and answers its payload; fails the test on an error. */
    async sell(s: Sale) {
      const res = await h.t.request('POST', '/api/2.0/send_transaction', {
        body: {
          store_id: s.store ?? 'BOSTON-01',
          request_id: `req-${++seq}`,
          request_payload: {
            transaction_id: s.transactionId,
            open_time: s.openTime,
            items: s.items,
            user_id: s.member,
            user_id_type: 'external_id',
            ...(s.channel !== undefined ? { channel: s.channel } : {}),
            ...(s.voided ? { is_voided: true } : {}),
          },
        },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.payload as {
        base_points: number;
        campaigns: { campaign_id: string; name: string; points: number; tier_qualifying: boolean }[];
        limited_campaigns: { campaign_id: string; name: string }[];
        points_awarded: Amounts;
        purchase_points: Amounts;
      };
    },
    admin: (method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) =>
      h.t.request(method, `/admin/v1${url}`, { auth: 'admin', ...(body !== undefined ? { body } : {}) }),
    async createCampaign(campaign: Record<string, unknown>): Promise<string> {
      const res = await h.admin('POST', '/campaigns', { campaign });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.campaign.id;
    },
    async balances(externalId: string): Promise<Record<string, number>> {
      const res = await h.t.request('GET', `${h.t.core}/external/users/${externalId}?expand_incentives=true`);
      const details = res.body.user.tier_details.point_account_balances.details as {
        account_name: string;
        available_balance: number;
      }[];
      return Object.fromEntries(details.map((d) => [d.account_name, d.available_balance]));
    },
    async auditRows(userId: string) {
      const res = await h.t.request('POST', '/incentives/api/2.0/user_points/fetch_point_audit_logs', {
        body: {
          retailer_id: h.t.tenant.retailer_id,
          user_id: userId,
          take: 500,
          exclude_specified_modification_types: ['tier_change', 'rollover'],
        },
      });
      expect(res.status).toBe(200);
      return res.body.payload.results as {
        modification_type: string;
        account_name: string;
        modification: number;
        transaction_id: string;
        reason: string;
        campaigns?: string[];
      }[];
    },
    async verified() {
      expect((await verifyLedger(h.t.db)).problems).toEqual([]);
    },
  };
  beforeAll(async () => {
    h.t = await startTestApp(target, new Date(start));
  });
  afterAll(() => h.t.close());
  return h;
}

describeEachDatabase('Campaign windows and awards', (target) => {
  const h = harness(target, '2026-11-25T12:00:00Z');

  beforeAll(async () => {
    await h.member('W-1');
    // Created before its first day, so the version holding it is in force all through its window.
    await h.createCampaign({
      name: 'Coffee Club',
      starts_on: '2026-12-01',
      ends_on: '2026-12-31',
      award: { type: 'item_points', points_per_unit: 10, item_ids: ['LATTE'], categories: ['beans'] },
      tier_qualifying: true,
    });
  });

  it('Double Points Days: nothing at 23:59 on 26 November New York time, ×2 from 00:00 on the 27th, nothing from 00:00 on 1 December', async () => {
    await h.t.setNow('2026-12-02T12:00:00Z');
    const hundred = [line('1', 'SHIRT', 1, 100)];
    const before = await h.sell({
      member: 'W-1',
      transactionId: 'T-DPD-0',
      openTime: '2026-11-26T23:59:59',
      items: hundred,
    });
    expect(before.campaigns).toEqual([]);
    expect(byName(before.points_awarded)).toEqual({ [SPEND_ESCROW]: 100, [TIER_ESCROW]: 100 });

    const first = await h.sell({
      member: 'W-1',
      transactionId: 'T-DPD-1',
      openTime: '2026-11-27T00:00:00',
      items: hundred,
    });
    expect(first.campaigns).toEqual([
      { campaign_id: expect.any(String), name: 'Double Points Days', points: 100, tier_qualifying: false },
    ]);
    // Not tier-qualifying: the bonus goes to Spendable Escrow only.
    expect(byName(first.points_awarded)).toEqual({ [SPEND_ESCROW]: 200, [TIER_ESCROW]: 100 });

    const last = await h.sell({
      member: 'W-1',
      transactionId: 'T-DPD-2',
      openTime: '2026-11-30T23:59:59',
      items: hundred,
    });
    expect(last.campaigns.map((c) => c.name)).toEqual(['Double Points Days']);

    const after = await h.sell({
      member: 'W-1',
      transactionId: 'T-DPD-3',
      openTime: '2026-12-01T00:00:00',
      items: hundred,
    });
    expect(after.campaigns).toEqual([]);
    expect(byName(after.points_awarded)).toEqual({ [SPEND_ESCROW]: 100, [TIER_ESCROW]: 100 });
    await h.verified();
  });

  it('Item points by item id and by category (or pos_cat_key), from 00:00 on its first day, tier-qualifying in both escrow accounts', async () => {
    const items = [
      line('1', 'LATTE', 3, 5),
      line('2', 'ARABICA', 2, 15, { category: 'beans' }),
      line('3', 'DECAF', 1, 12, { pos_cat_key: 'beans' }),
      line('4', 'MUG', 4, 10, { category: 'cups' }),
    ];
    const outside = await h.sell({
      member: 'W-1',
      transactionId: 'T-ITEM-0',
      openTime: '2026-11-30T23:59:59',
      items,
    });
    expect(outside.campaigns.map((c) => c.name)).toEqual(['Double Points Days']);

    const inside = await h.sell({
      member: 'W-1',
      transactionId: 'T-ITEM-1',
      openTime: '2026-12-01T00:00:00',
      items,
    });
    // 3 lattes + 2 bags of beans + 1 decaf listed by pos_cat_key = 6 units × 10; the mugs do not count.
    expect(inside.base_points).toBe(97);
    expect(inside.campaigns).toEqual([
      { campaign_id: expect.any(String), name: 'Coffee Club', points: 60, tier_qualifying: true },
    ]);
    expect(byName(inside.points_awarded)).toEqual({ [SPEND_ESCROW]: 157, [TIER_ESCROW]: 157 });

    // A partial return takes back the item points of the returned units only.
    const returned = await h.sell({
      member: 'W-1',
      transactionId: 'T-ITEM-1',
      openTime: '2026-12-01T00:00:00',
      items: items.map((l) => (l.line_id === '1' ? { ...l, quantity: 1 } : l)),
    });
    expect(returned.campaigns[0]!.points).toBe(40);
    expect(byName(returned.points_awarded)).toEqual({ [SPEND_ESCROW]: -30, [TIER_ESCROW]: -30 });
    await h.verified();
  });

  it('Big Basket Bonus: +500 at exactly 250.00 USD of eligible spend, nothing at 249.99, nothing from 00:00 on 1 January', async () => {
    await h.t.setNow('2026-12-10T20:00:00Z');
    const at250 = await h.sell({
      member: 'W-1',
      transactionId: 'T-BIG-250',
      openTime: '2026-12-10T12:00:00',
      items: [line('1', 'COAT', 1, 250)],
    });
    expect(at250.campaigns).toEqual([
      { campaign_id: expect.any(String), name: 'Big Basket Bonus', points: 500, tier_qualifying: false },
    ]);
    expect(byName(at250.points_awarded)).toEqual({ [SPEND_ESCROW]: 750, [TIER_ESCROW]: 250 });

    const below = await h.sell({
      member: 'W-1',
      transactionId: 'T-BIG-249',
      openTime: '2026-12-10T12:00:00',
      items: [line('1', 'COAT', 1, 249.99)],
    });
    expect(below.campaigns).toEqual([]);
    expect(byName(below.points_awarded)).toEqual({ [SPEND_ESCROW]: 249, [TIER_ESCROW]: 249 });

    await h.t.setNow('2027-01-02T12:00:00Z');
    const lastDay = await h.sell({
      member: 'W-1',
      transactionId: 'T-BIG-LAST',
      openTime: '2026-12-31T23:59:59',
      items: [line('1', 'COAT', 1, 300)],
    });
    expect(lastDay.campaigns.map((c) => c.name)).toEqual(['Big Basket Bonus']);
    const newYear = await h.sell({
      member: 'W-1',
      transactionId: 'T-BIG-NEW',
      openTime: '2027-01-01T00:00:00',
      items: [line('1', 'COAT', 1, 300), line('2', 'LATTE', 2, 5)],
    });
    expect(newYear.campaigns).toEqual([]);
    expect(newYear.base_points).toBe(310);
    await h.verified();
  });
});

describeEachDatabase('Campaign targeting by tier, store and channel', (target) => {
  const h = harness(target, '2026-06-01T12:00:00Z');
  let gold: string;

  beforeAll(async () => {
    for (const id of ['BASE-1', 'GOLD-1', 'LATE-GOLD-1']) await h.member(id);
    const program = (await h.admin('GET', '/program')).body.program_version.program;
    gold = program.tier_system.levels.find((l: { name: string }) => l.name === 'GOLD').id;
    await h.createCampaign({
      name: 'Gold Triple',
      starts_on: '2026-06-01',
      ends_on: '2026-10-31',
      award: { type: 'multiplier', factor: 3 },
      targeting: { tiers: ['GOLD'] },
      tier_qualifying: false,
    });
    await h.createCampaign({
      name: 'Boston Bonus',
      starts_on: '2026-06-01',
      ends_on: '2026-10-31',
      award: { type: 'threshold_bonus', min_eligible_spend: 10, points: 50 },
      targeting: { store_ids: ['BOSTON-01'] },
      tier_qualifying: false,
    });
    await h.createCampaign({
      name: 'App Exclusive',
      starts_on: '2026-06-01',
      ends_on: '2026-10-31',
      award: { type: 'item_points', points_per_unit: 25, categories: ['shoes'] },
      targeting: { channels: ['Mobile'] },
      tier_qualifying: false,
    });
  });

  const moveToGold = async (externalId: string) => {
    const user = (await h.t.request('GET', `${h.t.core}/external/users/${externalId}`)).body.user;
    const res = await h.t.request('POST', '/incentives/api/1.0/movement/move_user', {
      body: {
        retailer_id: h.t.tenant.retailer_id,
        tier_system_id: (await h.admin('GET', '/program')).body.program_version.program.tier_system.id,
        user_id: user.id,
        tier_level_id: gold,
        process_intermediate_levels: false,
        evaluate_qualifying_rules: false,
        reason: 'campaign test',
      },
    });
    expect(res.status).toBe(200);
  };

  it('a GOLD-only campaign gives a GOLD member its bonus and a BASE member nothing', async () => {
    await h.t.setNow('2026-06-02T12:00:00Z');
    await moveToGold('GOLD-1');
    await h.t.setNow('2026-06-02T16:00:00Z');
    const sale = (member: string, transactionId: string) =>
      h.sell({
        member,
        transactionId,
        openTime: '2026-06-02T10:00:00',
        items: [line('1', 'LAMP', 1, 100)],
        store: 'NYC-02',
      });
    const goldSale = await sale('GOLD-1', 'T-GOLD');
    expect(goldSale.campaigns).toEqual([
      { campaign_id: expect.any(String), name: 'Gold Triple', points: 200, tier_qualifying: false },
    ]);
    expect(byName(goldSale.points_awarded)).toEqual({ [SPEND_ESCROW]: 300, [TIER_ESCROW]: 100 });
    const baseSale = await sale('BASE-1', 'T-BASE');
    expect(baseSale.campaigns).toEqual([]);
    expect(byName(baseSale.points_awarded)).toEqual({ [SPEND_ESCROW]: 100, [TIER_ESCROW]: 100 });
    await h.verified();
  });

  it('judges the tier at the purchase time, and keeps that judgement for returns', async () => {
    // Moved to GOLD at 12:00Z, 08:00 in New York.
    await h.t.setNow('2026-06-03T12:00:00Z');
    await moveToGold('LATE-GOLD-1');
    await h.t.setNow('2026-06-03T14:00:00Z');
    const afterMove = await h.sell({
      member: 'LATE-GOLD-1',
      transactionId: 'T-LG-AFTER',
      openTime: '2026-06-03T09:00:00',
      items: [line('1', 'LAMP', 2, 50)],
      store: 'NYC-02',
    });
    expect(afterMove.campaigns.map((c) => c.name)).toEqual(['Gold Triple']);
    // Rung up before the move, sent after it: the member was BASE at the purchase time.
    const beforeMove = await h.sell({
      member: 'LATE-GOLD-1',
      transactionId: 'T-LG-BEFORE',
      openTime: '2026-06-03T07:59:00',
      items: [line('1', 'LAMP', 2, 50)],
      store: 'NYC-02',
    });
    expect(beforeMove.campaigns).toEqual([]);
    // A return on the GOLD purchase recomputes the bonus it was found eligible for at the first send.
    const ret = await h.sell({
      member: 'LATE-GOLD-1',
      transactionId: 'T-LG-AFTER',
      openTime: '2026-06-03T09:00:00',
      items: [line('1', 'LAMP', 1, 50)],
      store: 'NYC-02',
    });
    expect(ret.campaigns).toEqual([expect.objectContaining({ name: 'Gold Triple', points: 100 })]);
    expect(byName(ret.points_awarded)).toEqual({ [SPEND_ESCROW]: -150, [TIER_ESCROW]: -50 });
    // The tier used is stored with the purchase.
    const [row] = await h.t.db.query<{ award: { tier: string; eligible_campaigns: string[] } }>(
      "SELECT award FROM purchases WHERE transaction_id = 'T-LG-AFTER'",
    );
    expect(row!.award.tier).toBe('GOLD');
    expect(row!.award.eligible_campaigns).toHaveLength(1);
    await h.verified();
  });

  it('a store-targeted bonus goes to purchases at that store only', async () => {
    const at = (store: string, transactionId: string) =>
      h.sell({
        member: 'BASE-1',
        transactionId,
        openTime: '2026-06-03T09:00:00',
        items: [line('1', 'PEN', 1, 10)],
        store,
      });
    expect((await at('BOSTON-01', 'T-BOS')).campaigns).toEqual([
      expect.objectContaining({ name: 'Boston Bonus', points: 50 }),
    ]);
    expect((await at('NYC-02', 'T-NYC')).campaigns).toEqual([]);
    await h.verified();
  });

  it('a channel-targeted bonus goes to purchases in that channel (any case); a re-send keeps the first channel', async () => {
    const shoes = (n: number) => [line('1', 'RUNNER', n, 80, { category: 'shoes' })];
    const sale = (transactionId: string, channel: string | undefined, n = 2) =>
      h.sell({
        member: 'BASE-1',
        transactionId,
        openTime: '2026-06-03T09:30:00',
        items: shoes(n),
        store: 'NYC-02',
        ...(channel !== undefined ? { channel } : {}),
      });
    const mobile = await sale('T-APP', 'mobile');
    expect(mobile.campaigns).toEqual([expect.objectContaining({ name: 'App Exclusive', points: 50 })]);
    expect((await sale('T-WEB', 'web')).campaigns).toEqual([]);
    expect((await sale('T-NOCHANNEL', undefined)).campaigns).toEqual([]);
    // The till re-sends the mobile purchase without a channel, one pair returned: the bonus follows
    // the units, its eligibility is not decided again.
    const ret = await sale('T-APP', undefined, 1);
    expect(ret.campaigns).toEqual([expect.objectContaining({ name: 'App Exclusive', points: 25 })]);
    expect(byName(ret.points_awarded)).toEqual({ [SPEND_ESCROW]: -105, [TIER_ESCROW]: -80 });
    await h.verified();
  });
});

describeEachDatabase('Per-member campaign limit', (target) => {
  const h = harness(target, '2026-06-01T12:00:00Z');
  let welcome: string;

  beforeAll(async () => {
    await h.member('LIM-1');
    await h.member('LIM-2');
    welcome = await h.createCampaign({
      name: 'Welcome Bonus',
      starts_on: '2026-06-01',
      ends_on: '2026-08-31',
      award: { type: 'threshold_bonus', min_eligible_spend: 0, points: 100 },
      max_awards_per_member: 1,
      tier_qualifying: false,
    });
    await h.t.setNow('2026-06-05T12:00:00Z');
  });

  const sale = (member: string, transactionId: string, quantity = 1, voided = false) =>
    h.sell({
      member,
      transactionId,
      openTime: '2026-06-05T08:00:00',
      items: [line('1', 'BOOK', quantity, 20)],
      voided,
    });

  it('gives the first purchase the bonus and the second nothing, saying so', async () => {
    const first = await sale('LIM-1', 'T-L1');
    expect(first.campaigns).toEqual([
      { campaign_id: welcome, name: 'Welcome Bonus', points: 100, tier_qualifying: false },
    ]);
    expect(first.limited_campaigns).toEqual([]);
    const second = await sale('LIM-1', 'T-L2');
    expect(second.campaigns).toEqual([]);
    expect(second.limited_campaigns).toEqual([{ campaign_id: welcome, name: 'Welcome Bonus' }]);
    expect(byName(second.points_awarded)).toEqual({ [SPEND_ESCROW]: 20, [TIER_ESCROW]: 20 });
    // Another member has their own count.
    expect((await sale('LIM-2', 'T-L2-OTHER')).campaigns).toHaveLength(1);
    // A partial return keeps the first purchase holding the bonus: an edit of the second still gets nothing.
    expect((await sale('LIM-1', 'T-L1', 2)).campaigns).toHaveLength(1);
    const edited = await sale('LIM-1', 'T-L2', 2);
    expect(edited.campaigns).toEqual([]);
    expect(edited.limited_campaigns).toHaveLength(1);
    await h.verified();
  });

  it('a fully returned purchase frees its slot: a new purchase gets the bonus, then an edit of a limited one does not', async () => {
    const voided = await sale('LIM-1', 'T-L1', 2, true);
    expect(voided.campaigns).toEqual([]);
    expect(byName(voided.points_awarded)).toEqual({ [SPEND_ESCROW]: -140, [TIER_ESCROW]: -40 });
    const third = await sale('LIM-1', 'T-L3');
    expect(third.campaigns.map((c) => c.name)).toEqual(['Welcome Bonus']);
    expect((await sale('LIM-1', 'T-L2', 3)).limited_campaigns).toHaveLength(1);
    await h.verified();
  });

  it('a re-send that would newly hold the bonus gets it once the slot is free', async () => {
    await sale('LIM-1', 'T-L3', 1, true);
    const raised = await sale('LIM-1', 'T-L2', 1);
    expect(raised.campaigns.map((c) => c.name)).toEqual(['Welcome Bonus']);
    expect(raised.limited_campaigns).toEqual([]);
    // From 3 books (60 points) to 1 book with the bonus (20 + 100).
    expect(byName(raised.points_awarded)).toEqual({ [SPEND_ESCROW]: 60, [TIER_ESCROW]: -40 });
    await h.verified();
  });
});

describeEachDatabase('Per-member limit under concurrent tills', (target) => {
  const h = harness(target, '2026-06-05T12:00:00Z');

  beforeAll(async () => {
    await h.member('RUSH-1');
    await h.createCampaign({
      name: 'Twice Only',
      starts_on: '2026-06-01',
      ends_on: '2026-08-31',
      award: { type: 'threshold_bonus', min_eligible_spend: 1, points: 100 },
      max_awards_per_member: 2,
      tier_qualifying: false,
    });
  });

  it('12 first sends at once for one member: exactly 2 hold the bonus', async () => {
    // On PostgreSQL these race for the member's lock; on PGlite they run one at a time.
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        h.sell({
          member: 'RUSH-1',
          transactionId: `T-RUSH-${i}`,
          openTime: '2026-06-05T08:00:00',
          items: [line('1', 'BOOK', 1, 20)],
        }),
      ),
    );
    expect(answers.filter((a) => a.campaigns.length === 1)).toHaveLength(2);
    expect(answers.filter((a) => a.limited_campaigns.length === 1)).toHaveLength(10);
    const balances = await h.balances('RUSH-1');
    expect(balances[SPEND_ESCROW]).toBe(12 * 20 + 2 * 100);
    await h.verified();
  });
});

describeEachDatabase('Returns take back the right bonus, named in the audit log', (target) => {
  const h = harness(target, '2026-11-25T12:00:00Z');
  let userId: string;

  beforeAll(async () => {
    userId = await h.member('RET-1');
  });

  it('a partial return of a Double Points Days purchase takes back the base and the bonus of the returned lines', async () => {
    await h.t.setNow('2026-11-28T20:00:00Z');
    const items = [line('1', 'JACKET', 1, 100), line('2', 'SOCKS', 2, 20)];
    const bought = await h.sell({
      member: 'RET-1',
      transactionId: 'T-DPD',
      openTime: '2026-11-28T10:00:00',
      items,
    });
    expect(bought.base_points).toBe(140);
    expect(byName(bought.points_awarded)).toEqual({ [SPEND_ESCROW]: 280, [TIER_ESCROW]: 140 });
    const ret = await h.sell({
      member: 'RET-1',
      transactionId: 'T-DPD',
      openTime: '2026-11-28T10:00:00',
      items: items.map((l) => (l.line_id === '2' ? { ...l, quantity: 1 } : l)),
    });
    expect(ret.campaigns).toEqual([expect.objectContaining({ name: 'Double Points Days', points: 120 })]);
    expect(byName(ret.points_awarded)).toEqual({ [SPEND_ESCROW]: -40, [TIER_ESCROW]: -20 });
    expect(await h.balances('RET-1')).toMatchObject({
      [SPEND]: 0,
      [SPEND_ESCROW]: 240,
      [TIER]: 0,
      [TIER_ESCROW]: 120,
    });

    const rows = (await h.auditRows(userId)).filter((r) => r.transaction_id === 'T-DPD');
    expect(
      rows.map((r) => [r.modification_type, r.account_name, r.modification, r.reason, r.campaigns]),
    ).toEqual([
      [
        'return',
        SPEND_ESCROW,
        -40,
        'Return on T-DPD (base -20; Double Points Days -20)',
        ['Double Points Days'],
      ],
      ['return', TIER_ESCROW, -20, 'Return on T-DPD', undefined],
      [
        'purchase',
        SPEND_ESCROW,
        280,
        'Purchase T-DPD earned 280 points (base 140; Double Points Days +140)',
        ['Double Points Days'],
      ],
      ['purchase', TIER_ESCROW, 140, 'Purchase T-DPD earned 140 points', undefined],
    ]);
    await h.verified();
  });

  it('a return that drops eligible spend below 250 USD loses the Big Basket Bonus', async () => {
    await h.t.setNow('2026-12-10T20:00:00Z');
    const items = [line('1', 'BOOTS', 1, 200), line('2', 'SCARF', 1, 60)];
    const bought = await h.sell({
      member: 'RET-1',
      transactionId: 'T-BIG',
      openTime: '2026-12-10T10:00:00',
      items,
    });
    expect(bought.campaigns).toEqual([expect.objectContaining({ name: 'Big Basket Bonus', points: 500 })]);
    expect(byName(bought.points_awarded)).toEqual({ [SPEND_ESCROW]: 760, [TIER_ESCROW]: 260 });

    await h.t.setNow('2026-12-12T20:00:00Z');
    const ret = await h.sell({
      member: 'RET-1',
      transactionId: 'T-BIG',
      openTime: '2026-12-10T10:00:00',
      items: items.map((l) => (l.line_id === '2' ? { ...l, quantity: 0 } : l)),
    });
    expect(ret.campaigns).toEqual([]);
    expect(ret.base_points).toBe(200);
    expect(byName(ret.points_awarded)).toEqual({ [SPEND_ESCROW]: -560, [TIER_ESCROW]: -60 });
    const rows = (await h.auditRows(userId)).filter(
      (r) => r.transaction_id === 'T-BIG' && r.modification_type === 'return',
    );
    expect(rows.map((r) => [r.account_name, r.modification, r.reason, r.campaigns])).toEqual([
      [SPEND_ESCROW, -560, 'Return on T-BIG (base -60; Big Basket Bonus -500)', ['Big Basket Bonus']],
      [TIER_ESCROW, -60, 'Return on T-BIG', undefined],
    ]);
    await h.verified();
  });

  it('tier-qualifying campaign points reach the Tier-Qualifying Escrow Account, the others do not, and roll over to match', async () => {
    await h.createCampaign({
      name: 'TQ Sprint',
      starts_on: '2026-12-12',
      ends_on: '2026-12-12',
      award: { type: 'threshold_bonus', min_eligible_spend: 50, points: 300 },
      tier_qualifying: true,
    });
    await h.t.setNow('2026-12-12T21:30:00Z');
    const before = await h.balances('RET-1');
    const sale = await h.sell({
      member: 'RET-1',
      transactionId: 'T-TQ',
      openTime: '2026-12-12T16:00:00',
      items: [line('1', 'HAT', 1, 50)],
    });
    expect(sale.campaigns).toEqual([
      expect.objectContaining({ name: 'TQ Sprint', points: 300, tier_qualifying: true }),
    ]);
    expect(byName(sale.points_awarded)).toEqual({ [SPEND_ESCROW]: 350, [TIER_ESCROW]: 350 });
    const after = await h.balances('RET-1');
    expect(after[SPEND_ESCROW]! - before[SPEND_ESCROW]!).toBe(350);
    expect(after[TIER_ESCROW]! - before[TIER_ESCROW]!).toBe(350);
    const rows = (await h.auditRows(userId)).filter((r) => r.transaction_id === 'T-TQ');
    expect(rows.map((r) => [r.account_name, r.reason, r.campaigns])).toEqual([
      [SPEND_ESCROW, 'Purchase T-TQ earned 350 points (base 50; TQ Sprint +300)', ['TQ Sprint']],
      [TIER_ESCROW, 'Purchase T-TQ earned 350 points (base 50; TQ Sprint +300)', ['TQ Sprint']],
    ]);
    await h.verified();
  });
});

describeEachDatabase('Campaign admin API', (target) => {
  const h = harness(target, '2026-11-25T12:00:00Z');
  let created: string;
  const versions = async () =>
    ((await h.admin('GET', '/program/versions')).body.versions as { version: number }[]).map(
      (v) => v.version,
    );
  const weekend = {
    name: 'Weekend Boost',
    starts_on: '2026-11-25',
    ends_on: '2026-11-26',
    award: { type: 'multiplier', factor: 1.5 },
    tier_qualifying: false,
  };

  beforeAll(async () => {
    await h.member('ADM-1');
  });

  it('lists the demo campaigns of version 1 with their status as of now', async () => {
    const res = await h.admin('GET', '/campaigns');
    expect(res.status).toBe(200);
    expect(res.body.program_version).toBe(1);
    expect(res.body.campaigns.map((c: { name: string; status: string }) => [c.name, c.status])).toEqual([
      ['Double Points Days', 'scheduled'],
      ['Big Basket Bonus', 'scheduled'],
    ]);
    const one = await h.admin('GET', `/campaigns/${res.body.campaigns[0].id}`);
    expect(one.body).toMatchObject({
      status: 'ok',
      program_version: 1,
      campaign: { name: 'Double Points Days', award: { type: 'multiplier', factor: 2 }, status: 'scheduled' },
    });
  });

  it('creates a campaign as a new program version in force from now', async () => {
    const res = await h.admin('POST', '/campaigns', { campaign: weekend });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ program_version: 2, campaign: { ...weekend, status: 'active' } });
    created = res.body.campaign.id;
    expect(created).toMatch(/^[0-9a-f-]{36}$/);
    expect(await versions()).toEqual([1, 2]);
    const program = (await h.admin('GET', '/program')).body.program_version;
    expect(program.version).toBe(2);
    expect(program.program.campaigns.map((c: { name: string }) => c.name)).toEqual([
      'Double Points Days',
      'Big Basket Bonus',
      'Weekend Boost',
    ]);
    await h.t.setNow('2026-11-25T13:00:00Z');
    const sale = await h.sell({
      member: 'ADM-1',
      transactionId: 'T-A',
      openTime: '2026-11-25T08:00:00',
      items: [line('1', 'X', 2, 50)],
    });
    expect(sale.campaigns).toEqual([
      { campaign_id: created, name: 'Weekend Boost', points: 50, tier_qualifying: false },
    ]);
    await h.verified();
  });

  it('changes a campaign as a new version; a purchase from before the change is re-priced by the old rules', async () => {
    await h.t.setNow('2026-11-25T15:00:00Z');
    const res = await h.admin('PUT', `/campaigns/${created}`, {
      campaign: { ...weekend, award: { type: 'multiplier', factor: 3 } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ program_version: 3, campaign: { id: created, award: { factor: 3 } } });
    // The same body again changes nothing.
    const same = await h.admin('PUT', `/campaigns/${created}`, {
      campaign: { ...weekend, award: { type: 'multiplier', factor: 3 } },
    });
    expect(same.body.program_version).toBe(3);
    expect(await versions()).toEqual([1, 2, 3]);

    await h.t.setNow('2026-11-25T15:30:00Z');
    const now = await h.sell({
      member: 'ADM-1',
      transactionId: 'T-B',
      openTime: '2026-11-25T10:30:00',
      items: [line('1', 'X', 2, 50)],
    });
    expect(now.campaigns[0]).toMatchObject({ name: 'Weekend Boost', points: 200 });
    // T-A (bought under version 2, ×1.5) returns one of two: 50 base, +25 by version 2, not ×3.
    const ret = await h.sell({
      member: 'ADM-1',
      transactionId: 'T-A',
      openTime: '2026-11-25T08:00:00',
      items: [line('1', 'X', 1, 50)],
    });
    expect(ret.campaigns).toEqual([expect.objectContaining({ name: 'Weekend Boost', points: 25 })]);
    expect(byName(ret.points_awarded)).toEqual({ [SPEND_ESCROW]: -75, [TIER_ESCROW]: -50 });
    await h.verified();
  });

  it('ends a campaign now: later purchases get nothing, earlier ones keep it; ending again changes nothing', async () => {
    await h.t.setNow('2026-11-25T16:00:00Z');
    const res = await h.admin('POST', `/campaigns/${created}/end`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      program_version: 4,
      campaign: { id: created, ended_at: '2026-11-25T16:00:00.000Z', status: 'ended' },
    });
    const again = await h.admin('POST', `/campaigns/${created}/end`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ program_version: 4, campaign: { status: 'ended' } });
    expect(await versions()).toEqual([1, 2, 3, 4]);

    await h.t.setNow('2026-11-25T16:30:00Z');
    const later = await h.sell({
      member: 'ADM-1',
      transactionId: 'T-C',
      openTime: '2026-11-25T11:00:00',
      items: [line('1', 'X', 2, 50)],
    });
    expect(later.campaigns).toEqual([]);
    const lateArrival = await h.sell({
      member: 'ADM-1',
      transactionId: 'T-D',
      openTime: '2026-11-25T10:59:59',
      items: [line('1', 'X', 2, 50)],
    });
    expect(lateArrival.campaigns[0]).toMatchObject({ name: 'Weekend Boost', points: 200 });

    // An ended campaign stays ended.
    const change = await h.admin('PUT', `/campaigns/${created}`, { campaign: weekend });
    expect(change.status).toBe(400);
    expect(change.body.errors.code).toBe('validation');
    expect((await h.admin('GET', '/campaigns')).body.campaigns[2]).toMatchObject({ status: 'ended' });
    await h.verified();
  });

  it('refuses bad campaigns with a validation error and writes nothing', async () => {
    const before = await versions();
    const bad: [string, unknown, string][] = [
      ['duplicate name', { ...weekend, name: 'Double Points Days' }, 'campaign.name'],
      [
        'unknown tier',
        { ...weekend, name: 'N1', targeting: { tiers: ['PLATINUM'] } },
        'campaign.targeting.tiers',
      ],
      [
        'item_points listing nothing',
        { ...weekend, name: 'N2', award: { type: 'item_points', points_per_unit: 1 } },
        'campaign.award',
      ],
      [
        'empty item list',
        { ...weekend, name: 'N3', award: { type: 'item_points', points_per_unit: 1, item_ids: [] } },
        'campaign.award.item_ids',
      ],
      ['dates out of order', { ...weekend, name: 'N4', starts_on: '2026-12-02' }, 'campaign.ends_on'],
      ['no such date', { ...weekend, name: 'N5', ends_on: '2026-02-30' }, 'campaign.ends_on'],
      [
        'factor 1',
        { ...weekend, name: 'N6', award: { type: 'multiplier', factor: 1 } },
        'campaign.award.factor',
      ],
      [
        'threshold without points',
        { ...weekend, name: 'N11', award: { type: 'threshold_bonus', min_eligible_spend: 10 } },
        'campaign.award.points',
      ],
      [
        'a field of another award type',
        { ...weekend, name: 'N12', award: { type: 'multiplier', factor: 2, points: 5 } },
        'campaign.award.points',
      ],
      [
        'unknown award type',
        { ...weekend, name: 'N13', award: { type: 'cashback', factor: 2 } },
        'campaign.award.type',
      ],
      ['limit 0', { ...weekend, name: 'N7', max_awards_per_member: 0 }, 'campaign.max_awards_per_member'],
      ['unknown field', { ...weekend, name: 'N8', surprise: true }, 'campaign'],
      ['ended_at given', { ...weekend, name: 'N9', ended_at: '2026-11-25T16:00:00Z' }, 'campaign'],
    ];
    for (const [what, campaign, field] of bad) {
      const res = await h.admin('POST', '/campaigns', { campaign });
      expect(res.status, what).toBe(400);
      expect(res.body.errors.code, what).toBe('validation');
      expect(String(res.body.errors.field).startsWith(field), `${what}: ${res.body.errors.field}`).toBe(true);
    }
    const missing = await h.admin('POST', '/campaigns', { campaign: { name: 'N10' } });
    expect(missing.status).toBe(400);
    const dpd = (await h.admin('GET', '/campaigns')).body.campaigns[0];
    const otherId = await h.admin('PUT', `/campaigns/${dpd.id}`, {
      campaign: { ...weekend, name: dpd.name, id: '00000000-0000-4000-8000-000000000000' },
    });
    expect(otherId.status).toBe(400);
    expect(otherId.body.errors.field).toBe('campaign.id');
    const takenName = await h.admin('PUT', `/campaigns/${dpd.id}`, {
      campaign: { ...weekend, name: 'Big Basket Bonus' },
    });
    expect(takenName.body.errors.field).toBe('campaign.name');
    expect(await versions()).toEqual(before);
  });

  it('a NUL or a lone surrogate in a campaign name or channel answers 400 and writes nothing (bug: 500)', async () => {
    const before = await versions();
    const bad: [unknown, string][] = [
      [{ ...weekend, name: 'Weekend\u0000Boost' }, 'campaign.name'],
      [{ ...weekend, name: 'Weekend \ud800' }, 'campaign.name'],
      [{ ...weekend, name: 'N14', targeting: { channels: ['web\u0000'] } }, 'campaign.targeting.channels.0'],
      [{ ...weekend, name: 'N15', targeting: { channels: ['\udfff'] } }, 'campaign.targeting.channels.0'],
    ];
    for (const [campaign, field] of bad) {
      const res = await h.admin('POST', '/campaigns', { campaign });
      expect(res.status, field).toBe(400);
      expect(res.body.errors).toMatchObject({ code: 'validation', field });
    }
    expect(await versions()).toEqual(before);
  });

  it('answers 404 in the error envelope for an unknown campaign, 401 without an admin token', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const [method, url, body] of [
      ['GET', `/campaigns/${unknown}`, undefined],
      ['GET', '/campaigns/not-a-uuid', undefined],
      ['GET', `/campaigns/${'x'.repeat(300)}`, undefined],
      ['PUT', `/campaigns/${unknown}`, { campaign: weekend }],
      ['POST', `/campaigns/${unknown}/end`, undefined],
    ] as const) {
      const res = await h.admin(method, url, body);
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body).toEqual({
        status: 'error',
        errors: { code: 'not_found', message: expect.any(String) },
      });
    }
    expect((await h.t.request('GET', '/admin/v1/campaigns', { auth: 'none' })).status).toBe(401);
    expect((await h.t.request('GET', '/admin/v1/campaigns', { auth: 'app' })).status).toBe(401);
    // Another retailer sees its own campaigns only.
    const other = await h.t.newTenant();
    const theirs = await h.t.request('GET', `/admin/v1/campaigns/${created}`, {
      auth: { bearer: other.admin_token },
    });
    expect(theirs.status).toBe(404);
  });
});

describeEachDatabase('Core campaign listing', (target) => {
  const h = harness(target, '2026-11-28T12:00:00Z');
  const list = (query = '') => h.t.request('GET', `${h.t.core}/campaigns${query}`);

  beforeAll(async () => {
    const program = (await h.admin('GET', '/program')).body.program_version.program;
    const extra = Array.from({ length: 24 }, (_, i) => ({
      name: `Flash ${String(i + 1).padStart(2, '0')}`,
      starts_on: '2026-11-28',
      ends_on: '2026-11-29',
      award: { type: 'threshold_bonus', min_eligible_spend: 10 + i, points: 5 },
      targeting: { channels: ['web'] },
      max_awards_per_member: 2,
      tier_qualifying: i % 2 === 0,
    }));
    const ended = {
      name: 'Was Ended',
      starts_on: '2026-11-01',
      ends_on: '2026-11-30',
      ended_at: '2026-11-20T00:00:00Z',
      award: { type: 'multiplier', factor: 2 },
      tier_qualifying: false,
    };
    const res = await h.admin('PUT', '/program', {
      program: { ...program, campaigns: [...program.campaigns, ...extra, ended] },
    });
    expect(res.status).toBe(200);
  });

  it('lists the campaigns active now, page by page, with the paging fields', async () => {
    const first = await list('?page=1&page_size=10&sections=behaviors,progress&creatives=tiles');
    expect(first.status).toBe(200);
    // Double Points Days and 24 flash campaigns; Big Basket Bonus is scheduled, Was Ended ended.
    expect(first.body).toMatchObject({ status: 'ok', page: 1, page_size: 10, number_of_pages: 3 });
    // Grouped as SessionM's tiles and promotions (issue #14 item 9); all of these are tiles.
    expect(first.body.campaigns.promotions).toEqual([]);
    expect(first.body.campaigns.tiles).toHaveLength(10);
    expect(first.body.campaigns.tiles[0]).toEqual({
      id: expect.any(String),
      campaign_id: expect.any(String),
      name: 'Double Points Days',
      start_time: '2026-11-27 05:00:00',
      end_time: '2026-12-01 05:00:00',
      custom_payload: {},
      start_date: '2026-11-27',
      end_date: '2026-11-30',
      award: { type: 'multiplier', factor: 2 },
      targeting: { tiers: [], store_ids: [], channels: [] },
      tier_qualifying: false,
      max_awards_per_member: null,
    });
    expect(first.body.campaigns.tiles[1]).toMatchObject({
      name: 'Flash 01',
      targeting: { tiers: [], store_ids: [], channels: ['web'] },
      max_awards_per_member: 2,
      tier_qualifying: true,
    });
    const pages = [first.body.campaigns.tiles];
    for (const page of [2, 3]) pages.push((await list(`?page=${page}&page_size=10`)).body.campaigns.tiles);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    const names = pages.flat().map((c: { name: string }) => c.name);
    expect(new Set(names).size).toBe(25);
    expect(names).not.toContain('Big Basket Bonus');
    expect(names).not.toContain('Was Ended');
    // Defaults: page 1 of 20; a page past the end is empty.
    const defaults = await list();
    expect(defaults.body).toMatchObject({ page: 1, page_size: 20, number_of_pages: 2 });
    expect(defaults.body.campaigns.tiles).toHaveLength(20);
    expect((await list('?page=4&page_size=10')).body).toMatchObject({
      number_of_pages: 3,
      campaigns: { tiles: [], promotions: [] },
    });
  });

  it('follows the clock: on 1 December only the Big Basket Bonus is active', async () => {
    await h.t.setNow('2026-12-01T05:00:00Z');
    const res = await list();
    expect(res.body).toMatchObject({ page: 1, page_size: 20, number_of_pages: 1 });
    expect(res.body.campaigns.tiles.map((c: { name: string }) => c.name)).toEqual(['Big Basket Bonus']);
    await h.verified();
  });

  it('refuses bad paging with a validation error, and wrong credentials with 401', async () => {
    for (const query of ['?page=0', '?page=abc', '?page_size=0', '?page_size=101', '?page=1.5']) {
      const res = await list(query);
      expect(res.status, query).toBe(400);
      expect(res.body.errors.code, query).toBe('validation');
    }
    expect((await h.t.request('GET', `${h.t.core}/campaigns`, { auth: 'none' })).status).toBe(401);
    expect((await h.t.request('GET', `${h.t.core}/campaigns`, { auth: 'admin' })).status).toBe(401);
  });
});

describeEachDatabase('Campaign points are exact', (target) => {
  const h = harness(target, '2026-11-25T12:00:00Z');

  it('a campaign past 5×10^8 points is floored, not rounded up (issue #13: exact points)', async () => {
    await h.member('X-1');
    await h.createCampaign({
      name: 'Per tonne',
      starts_on: '2026-12-01',
      ends_on: '2026-12-31',
      award: { type: 'item_points', points_per_unit: 700_000.0006, item_ids: ['ORE'] },
      tier_qualifying: false,
    });
    await h.t.setNow('2026-12-02T12:00:00Z');
    // 1,000 units × 700,000.0006 is 700,000,000.6 points: 700,000,000, never 700,000,001.
    const sale = await h.sell({
      member: 'X-1',
      transactionId: 'T-ORE',
      openTime: '2026-12-02T06:00:00',
      items: [line('1', 'ORE', 1000, 0.01)],
    });
    expect(sale.campaigns).toMatchObject([{ name: 'Per tonne', points: 700_000_000 }]);
    expect(byName(sale.points_awarded)).toEqual({ [SPEND_ESCROW]: 700_000_010, [TIER_ESCROW]: 10 });
    await h.verified();
  });
});
