import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Issue #14 item 9: campaign events and member campaigns as SessionM clients call them — the
 * Skechers profile service posts `{"events":{"<behavior_key>":1}}` to
 * `external/users/:external_id/campaigns/:campaign_id/events`; the RWS middleware lists
 * `users/:id/campaigns` and reads `custom_payload.offer_id`; Core's `campaigns` listing answers
 * `campaigns: {tiles, promotions}`. Limits and windows run on the simulated clock; the ledger is
 * verified after every test.
 */

describeEachDatabase('campaign events and member campaigns (issue #14 item 9)', (target) => {
  let t: TestApp;
  let seq = 0;
  let reviewCampaign: string;
  let goldCampaign: string;
  beforeAll(async () => {
    t = await startTestApp(target, new Date('2026-12-02T15:00:00Z'));
    const created = async (campaign: Record<string, unknown>) => {
      const res = await admin('POST', '/campaigns', { campaign });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.campaign.id as string;
    };
    reviewCampaign = await created({
      name: 'Review Rewards',
      starts_on: '2026-12-01',
      ends_on: '2026-12-10',
      award: { type: 'multiplier', factor: 2 },
      targeting: { channels: ['never-a-channel'] },
      tier_qualifying: false,
      custom_payload: { offer_id: 'OFFER-123', type: 'review' },
    });
    goldCampaign = await created({
      name: 'Gold Lounge',
      starts_on: '2026-12-01',
      ends_on: '2026-12-31',
      award: { type: 'threshold_bonus', min_eligible_spend: 1000, points: 1 },
      targeting: { tiers: ['GOLD'] },
      tier_qualifying: false,
      creative: 'promotion',
      custom_payload: { offer_id: 'OFFER-GOLD' },
    });
    const behaviour = async (b: Record<string, unknown>) => {
      const res = await admin('POST', '/behaviours', { behaviour: b });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    };
    await behaviour({
      event: 'WRITE_REVIEW',
      campaign_id: reviewCampaign,
      outcomes: [{ type: 'award_points', points: 20, limit: { max: 3, window: 'month' } }],
    });
    await behaviour({ event: 'WRITE_REVIEW', outcomes: [{ type: 'add_tag', tag: 'reviewer' }] });
  });
  afterAll(async () => t.close());
  afterEach(async () => expect((await verifyLedger(t.db)).problems).toEqual([]));

  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) =>
    t.request(method, `/admin/v1${url}`, { auth: 'admin', ...(body !== undefined ? { body } : {}) });
  const member = async (opts: Record<string, unknown> = {}) => {
    const res = await t.request('POST', `${t.core}/users`, {
      body: { user: { external_id: `camp-${++seq}`, ...opts } },
    });
    expect(res.status).toBe(200);
    return res.body.user as { id: string; external_id: string };
  };
  const points = async (id: string) =>
    (await t.request('GET', `${t.core}/users/${id}`)).body.user.available_points as number;
  const applied = (res: { body: { events: { outcomes: { is_outcome_applied: boolean }[] }[] } }) =>
    res.body.events.map((e) => e.outcomes.map((o) => o.is_outcome_applied));

  it('Core campaigns answers tiles and promotions with id, name, times and custom_payload', async () => {
    const res = await t.request(
      'GET',
      `${t.core}/campaigns?sections=behaviors,progress,offers&creatives=tiles,promotion&page=1`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', page: 1, page_size: 20, number_of_pages: 1 });
    const tiles = res.body.campaigns.tiles as { id: string; name: string }[];
    expect(tiles.map((c) => c.name)).toEqual(['Big Basket Bonus', 'Review Rewards']);
    expect(res.body.campaigns.tiles[1]).toMatchObject({
      id: reviewCampaign,
      name: 'Review Rewards',
      start_time: '2026-12-01 05:00:00',
      end_time: '2026-12-11 05:00:00',
      custom_payload: { offer_id: 'OFFER-123', type: 'review' },
    });
    expect(res.body.campaigns.tiles[0].custom_payload).toEqual({});
    expect(res.body.campaigns.promotions).toEqual([
      expect.objectContaining({
        id: goldCampaign,
        name: 'Gold Lounge',
        start_time: '2026-12-01 05:00:00',
        end_time: '2027-01-01 05:00:00',
        custom_payload: { offer_id: 'OFFER-GOLD' },
      }),
    ]);
  });

  it("a member's campaigns are those they may join, by id and by external id", async () => {
    const m = await member();
    for (const url of [
      `${t.core}/users/${m.id}/campaigns`,
      `${t.core}/external/users/${m.external_id}/campaigns`,
    ]) {
      const res = await t.request('GET', url);
      expect(res.status, url).toBe(200);
      expect(res.body.status).toBe('ok');
      // The middleware reads custom_payload.offer_id of each tile.
      expect(
        res.body.campaigns.tiles.map(
          (c: { custom_payload: { offer_id?: string } }) => c.custom_payload.offer_id,
        ),
      ).toEqual([undefined, 'OFFER-123']);
      // Gold Lounge targets GOLD: not for a BASE member.
      expect(res.body.campaigns.promotions).toEqual([]);
    }
    const program = (await admin('GET', '/program')).body.program_version.program;
    const gold = program.tier_system.levels.find((l: { name: string }) => l.name === 'GOLD');
    await t.request('POST', '/incentives/api/1.0/movement/move_user', {
      body: {
        retailer_id: t.tenant.retailer_id,
        tier_system_id: program.tier_system.id,
        tier_level_id: gold.id,
        user_id: m.id,
      },
    });
    const asGold = await t.request('GET', `${t.core}/users/${m.id}/campaigns`);
    expect(asGold.body.campaigns.promotions.map((c: { id: string }) => c.id)).toEqual([goldCampaign]);

    const unenrolled = await member({ opted_in: false });
    const none = await t.request('GET', `${t.core}/users/${unenrolled.id}/campaigns`);
    expect(none.body.campaigns).toEqual({ tiles: [], promotions: [] });
    const missing = await t.request('GET', `${t.core}/external/users/nobody/campaigns`);
    expect(missing.status).toBe(404);
    expect(missing.body.errors.code).toBe('user_not_found');
  });

  it("the Skechers request feeds the campaign's behaviours and the general ones", async () => {
    const m = await member();
    const res = await t.request(
      'POST',
      `${t.core}/external/users/${m.external_id}/campaigns/${reviewCampaign}/events`,
      {
        body: { events: { WRITE_REVIEW: 1 } },
      },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.campaign_id).toBe(reviewCampaign);
    expect(res.body.events).toHaveLength(1);
    expect(res.body.events[0]).toMatchObject({
      event_saved_successfully: true,
      rules_processed_successfully: true,
      user_event: { event_lookup: 'WRITE_REVIEW', user_id: m.id, is_session_m: false },
    });
    expect(res.body.events[0].outcomes).toEqual([
      expect.objectContaining({
        discriminator: 'award_points',
        is_outcome_applied: true,
        points_awarded: 20,
      }),
      expect.objectContaining({ discriminator: 'add_tag', is_outcome_applied: true }),
    ]);
    expect(await points(m.id)).toBe(20);

    // Outside the campaign (trigger_user_event) only the general behaviour applies.
    const plain = await t.request('POST', '/incentives/api/1.0/user_events/trigger_user_event', {
      body: { retailer_id: t.tenant.retailer_id, user_id: m.id, event_lookup: 'WRITE_REVIEW' },
    });
    expect(plain.body.payload.outcomes.map((o: { discriminator: string }) => o.discriminator)).toEqual([
      'add_tag',
    ]);
    expect(await points(m.id)).toBe(20);
  });

  it('counts run each occurrence; the monthly limit opens at program-local midnight of the 1st', async () => {
    const m = await member();
    const send = (events: Record<string, number>) =>
      t.request('POST', `${t.core}/users/${m.id}/campaigns/${reviewCampaign}/events`, { body: { events } });
    await t.setNow('2026-12-05T15:00:00Z');
    const first = await send({ WRITE_REVIEW: 2, UNKNOWN_EVENT: 1 });
    expect(first.status).toBe(200);
    expect(applied(first)).toEqual([[true, true], [true, true], []]);
    const second = await send({ WRITE_REVIEW: 2 });
    expect(applied(second)).toEqual([
      [true, true],
      [false, true],
    ]);
    expect(second.body.events[1].outcomes[0].outcome_message).toBe('Limit reached: 3 per month');
    expect(await points(m.id)).toBe(60);

    // A new campaign month: Review Rewards ends on 10 December, so extend it to January first.
    const campaign = (await admin('GET', `/campaigns/${reviewCampaign}`)).body.campaign;
    const { id: _id, status: _status, ...body } = campaign;
    const extended = await admin('PUT', `/campaigns/${reviewCampaign}`, {
      campaign: { ...body, ends_on: '2027-01-31' },
    });
    expect(extended.status, JSON.stringify(extended.body)).toBe(200);
    await t.setNow('2027-01-01T04:59:59Z'); // still 31 December in New York
    expect(applied(await send({ WRITE_REVIEW: 1 }))).toEqual([[false, true]]);
    await t.setNow('2027-01-01T05:00:00Z');
    expect(applied(await send({ WRITE_REVIEW: 1 }))).toEqual([[true, true]]);
    expect(await points(m.id)).toBe(80);
  });

  it('a blank event name answered 404 for a campaign the member may not join: 400 first (fuzzer seed 260653105)', async () => {
    const m = await member();
    for (const [campaign, name] of [
      [goldCampaign, '  '],
      [reviewCampaign, '  '],
      [goldCampaign, '\r\nX-Injected: 1'], // seed 1582698368
    ] as const) {
      const res = await t.request('POST', `${t.core}/users/${m.id}/campaigns/${campaign}/events`, {
        body: { events: { [name]: 1 } },
      });
      expect(res.status, campaign).toBe(400);
      expect(res.body.errors).toMatchObject({ code: 'validation', field: 'events' });
    }
    expect(await points(m.id)).toBe(0);
  });

  it('a campaign the member may not join answers 404 no_active_campaign_found and saves nothing', async () => {
    const m = await member();
    const post = (campaign: string) =>
      t.request('POST', `${t.core}/users/${m.id}/campaigns/${campaign}/events`, {
        body: { events: { WRITE_REVIEW: 1 } },
      });
    for (const campaign of [goldCampaign, '00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const res = await post(campaign);
      expect(res.status, campaign).toBe(404);
      expect(res.body).toMatchObject({ status: 'error', errors: { code: 'no_active_campaign_found' } });
    }
    const events = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM user_events WHERE user_id = $1',
      [m.id],
    );
    expect(Number(events[0]!.n)).toBe(0);

    const bad = await t.request('POST', `${t.core}/users/${m.id}/campaigns/${reviewCampaign}/events`, {
      body: { events: { WRITE_REVIEW: 0 } },
    });
    expect(bad.status).toBe(400);
    const tooMany = await t.request('POST', `${t.core}/users/${m.id}/campaigns/${reviewCampaign}/events`, {
      body: { events: { WRITE_REVIEW: 100, OTHER: 1 } },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors.field).toBe('events');
    expect(await points(m.id)).toBe(0);
  });
});
