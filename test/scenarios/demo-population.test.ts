import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDemoPopulation } from '../../src/demo/simulate.js';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { basic, startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The demo population (issue #6 item 5): months of purchases, returns, redemptions and opt-outs
 * simulated through the engine itself, so what the console shows on a first start is real: the
 * ledger verifies, members climbed tiers, quarters cashed out.
 */
describeEachDatabase('Demo population', (target) => {
  let t: TestApp;
  const end = new Date('2026-12-15T17:00:00Z');

  beforeAll(async () => {
    t = await startTestApp(target, end);
  });
  afterAll(() => t.close());

  it('simulates a believable population through the same engine, reproducibly', async () => {
    const demo = await createDemoPopulation(t.db, end, 16, 8, { seed: 7 });
    expect(demo.history).toMatchObject({ members: 16 });
    expect(demo.history!.purchases).toBeGreaterThan(60);
    expect(demo.history!.returns).toBeGreaterThan(0);
    expect((await verifyLedger(t.db)).problems).toEqual([]);

    const auth = basic(demo.api_key, demo.secret);
    const core = `/priv/v1/apps/${demo.api_key}`;
    const tiers: string[] = [];
    let cards = 0;
    for (let i = 2; i <= 16; i++) {
      const external = `DEMO${String(i).padStart(6, '0')}`;
      const res = await t.request('GET', `${core}/external/users/${external}`, {
        auth: { key: demo.api_key, secret: demo.secret },
      });
      expect(res.status, external).toBe(200);
      tiers.push(res.body.user.tier);
      const gift = await t.request('GET', `${core}/users/${res.body.user.id}/gift_cards`, {
        headers: { authorization: auth },
        auth: 'none',
      });
      cards += gift.body.gift_cards.length;
    }
    expect(
      tiers.some((x) => x === 'SILVER' || x === 'GOLD'),
      tiers.join(),
    ).toBe(true);
    expect(cards).toBeGreaterThan(0);

    // The seed's member (the README's example) has the richest history of all (issue #18), and
    // is listed first among the members to look at, before the two busiest others.
    const seed = await t.request('GET', `${core}/users/search?external_id=eutest17&expand_incentives=true`, {
      auth: { key: demo.api_key, secret: demo.secret },
    });
    expect(seed.body.user.email).toBe('test@example.com');
    expect(seed.body.user.available_points).toBeGreaterThan(0);
    expect(seed.body.user.tier).not.toBe('BASE');
    const [showcase, ...others] = demo.members_with_history;
    expect(showcase).toMatchObject({ email: 'test@example.com', external_id: 'eutest17' });
    expect(showcase!.returns).toBeGreaterThan(0);
    expect(showcase!.spends).toBeGreaterThan(0);
    expect(others).toHaveLength(2);
    for (const m of others) expect(m.purchases).toBeLessThan(showcase!.purchases);

    // The same seed gives the same population.
    const other = await startTestApp(target, end);
    try {
      const twin = await createDemoPopulation(other.db, end, 16, 8, { seed: 7 });
      expect(twin.history).toEqual(demo.history);
    } finally {
      await other.close();
    }
  }, 120_000);
});
