import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.js';
import { describeEachDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Issue #14 item 8: `trigger_user_event` as SessionM clients send it (a registration bonus fired
 * right after sign-up with `is_session_m: "true"`, a tier move event, an external id), behaviours
 * managed through the admin API with versions, per-member limits and windows on the product's
 * simulated clock, idempotency on `idempotency_id`, and `movement/move_user` under 2.0. The ledger
 * is verified after every test.
 */

const TRIGGER = '/incentives/api/1.0/user_events/trigger_user_event';

describeEachDatabase('trigger_user_event and behaviours (issue #14 item 8)', (target) => {
  let t: TestApp;
  let seq = 0;
  beforeAll(async () => {
    t = await startTestApp(target, new Date('2026-12-02T15:00:00Z'));
  });
  afterAll(async () => t.close());
  afterEach(async () => expect((await verifyLedger(t.db)).problems).toEqual([]));

  const admin = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) =>
    t.request(method, `/admin/v1${url}`, { auth: 'admin', ...(body !== undefined ? { body } : {}) });
  const member = async (opts: Record<string, unknown> = {}) => {
    const res = await t.request('POST', `${t.core}/users`, {
      body: { user: { external_id: `beh-${++seq}`, opted_in: 'true', ...opts } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.user as { id: string; external_id: string };
  };
  const trigger = (body: Record<string, unknown>, version = '1.0') =>
    t.request('POST', TRIGGER.replace('1.0', version), {
      body: { retailer_id: t.tenant.retailer_id, culture: 'en-US', ...body },
    });
  const user = async (id: string) =>
    (await t.request('GET', `${t.core}/users/${id}?expand_incentives=true`)).body.user;
  const createBehaviour = async (behaviour: Record<string, unknown>) => {
    const res = await admin('POST', '/behaviours', { behaviour });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as { program_version: number; behaviour: { id: string; outcomes: { id: string }[] } };
  };

  it('a registration bonus fired as the LTS app sends it credits points through the ledger', async () => {
    const created = await createBehaviour({
      event: 'REGISTERS_ONLINE_ACCOUNT',
      name: 'Registration bonus',
      outcomes: [{ type: 'award_points', points: 250, limit: { max: 1, window: 'lifetime' } }],
    });
    const m = await member();
    // The exact body of the LTS fetcher: include_progress and is_session_m as sent in the field.
    const res = await trigger({
      user_id: m.id,
      event_lookup: 'REGISTERS_ONLINE_ACCOUNT',
      include_progress: true,
      is_session_m: 'true',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe('ok');
    const p = res.body.payload;
    expect(p.event_saved_successfully).toBe(true);
    expect(p.rules_processed_successfully).toBe(true);
    expect(p.user_event).toMatchObject({
      retailer_id: t.tenant.retailer_id,
      event_lookup: 'REGISTERS_ONLINE_ACCOUNT',
      user_id: m.id,
      is_session_m: true,
      time_of_occurrence: '2026-12-02T15:00:00.000Z',
    });
    expect(p.outcomes).toEqual([
      {
        is_outcome_applied: true,
        discriminator: 'award_points',
        points_awarded: 250,
        behaviour_id: created.behaviour.id,
        outcome_id: created.behaviour.outcomes[0]!.id,
      },
    ]);
    expect((await user(m.id)).available_points).toBe(250);

    // The audit log names the journal: issued (1), its own modification type, a plain reason.
    const audit = await t.request('POST', '/incentives/api/2.0/user_points/fetch_point_audit_logs', {
      body: {
        retailer_id: t.tenant.retailer_id,
        user_id: m.id,
        exclude_specified_modification_types: ['tier_change'],
      },
    });
    expect(audit.body.payload.results).toEqual([
      expect.objectContaining({
        account_name: 'ACME Spendable Account',
        modification: 250,
        audit_type: 1,
        modification_type: 'behaviour',
        reference_type: 'Behavior',
        reference_id: 'REGISTERS_ONLINE_ACCOUNT',
        reason: 'Event REGISTERS_ONLINE_ACCOUNT earned 250 points',
      }),
    ]);

    // The lifetime limit: a second registration event is saved and applies nothing.
    const again = await trigger({
      user_id: m.id,
      event_lookup: 'REGISTERS_ONLINE_ACCOUNT',
      is_session_m: false,
    });
    expect(again.status).toBe(200);
    expect(again.body.payload.user_event.is_session_m).toBe(false);
    expect(again.body.payload.outcomes).toEqual([
      expect.objectContaining({
        is_outcome_applied: false,
        points_awarded: 0,
        outcome_message: 'Limit reached: 1 per member',
      }),
    ]);
    expect((await user(m.id)).available_points).toBe(250);
  });

  it('an unknown event is saved with no outcome', async () => {
    const m = await member();
    const res = await trigger({ user_id: m.id, event_lookup: 'NOBODY_DECLARED_THIS', is_session_m: true });
    expect(res.status).toBe(200);
    expect(res.body.payload).toMatchObject({
      event_saved_successfully: true,
      rules_processed_successfully: true,
      outcomes: [],
      user_event: { event_lookup: 'NOBODY_DECLARED_THIS', user_id: m.id, is_session_m: true },
    });
    const rows = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM user_events WHERE user_id = $1 AND event_lookup = $2',
      [m.id, 'NOBODY_DECLARED_THIS'],
    );
    expect(Number(rows[0]!.n)).toBe(1);
  });

  it('names the member by external id with user_id_type, in any casing', async () => {
    await createBehaviour({ event: 'APP_DOWNLOAD', outcomes: [{ type: 'add_tag', tag: 'app-user' }] });
    const m = await member();
    const res = await trigger({
      user_id: m.external_id,
      user_id_type: 'External_ID',
      event_lookup: 'APP_DOWNLOAD',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.payload.user_event.user_id).toBe(m.id);
    expect(res.body.payload.outcomes).toEqual([
      expect.objectContaining({ is_outcome_applied: true, discriminator: 'add_tag', points_awarded: 0 }),
    ]);
    const tags = await t.request('GET', `${t.core}/users/${m.id}/tags`);
    expect(JSON.stringify(tags.body)).toContain('app-user');

    const missing = await trigger({
      user_id: 'nobody',
      user_id_type: 'external_id',
      event_lookup: 'APP_DOWNLOAD',
    });
    expect(missing.status).toBe(404);
    expect(missing.body.errors.code).toBe('user_not_found');
    const badType = await trigger({ user_id: m.id, user_id_type: 'phone', event_lookup: 'APP_DOWNLOAD' });
    expect(badType.status).toBe(400);
    expect(badType.body.errors.field).toBe('user_id_type');
  });

  it('a tag outcome keeps the bound of 200 live tags a member holds', async () => {
    const m = await member();
    for (let batch = 0; batch < 4; batch++) {
      const tags = Array.from({ length: 50 }, (_, i) => `t${batch * 50 + i}`);
      const added = await t.request('POST', `${t.core}/users/${m.id}/tags`, { body: { tags } });
      expect(added.status, JSON.stringify(added.body)).toBe(200);
    }
    const res = await trigger({ user_id: m.id, event_lookup: 'APP_DOWNLOAD' });
    expect(res.status).toBe(200);
    expect(res.body.payload.outcomes).toEqual([
      expect.objectContaining({
        is_outcome_applied: false,
        outcome_message: 'The member holds the most tags allowed (200)',
      }),
    ]);
    const held = await t.request('GET', `${t.core}/users/${m.id}/tags`);
    expect(JSON.stringify(held.body)).not.toContain('app-user');
  });

  it('a tier outcome moves the member through the manual move, once', async () => {
    await createBehaviour({ event: 'MOVE_TIER_B', outcomes: [{ type: 'move_tier', tier_level: 'SILVER' }] });
    const m = await member();
    expect((await user(m.id)).tier).toBe('BASE');
    const res = await trigger({ user_id: m.id, event_lookup: 'MOVE_TIER_B', is_session_m: 'true' });
    expect(res.body.payload.outcomes).toEqual([
      expect.objectContaining({ is_outcome_applied: true, discriminator: 'move_tier' }),
    ]);
    expect((await user(m.id)).tier).toBe('SILVER');
    const moves = await t.db.query<{ actor: string; reason: string }>(
      'SELECT actor, reason FROM tier_moves WHERE user_id = $1',
      [m.id],
    );
    expect(moves).toEqual([{ actor: expect.stringMatching(/^behaviour:/), reason: 'event MOVE_TIER_B' }]);
    const again = await trigger({ user_id: m.id, event_lookup: 'MOVE_TIER_B' });
    expect(again.body.payload.outcomes[0]).toMatchObject({
      is_outcome_applied: false,
      outcome_message: 'The member is already SILVER',
    });
  });

  it('an unenrolled member has the event saved and no outcome applied', async () => {
    const m = await member({ opted_in: false });
    const res = await trigger({ user_id: m.id, event_lookup: 'REGISTERS_ONLINE_ACCOUNT' });
    expect(res.status).toBe(200);
    expect(res.body.payload.outcomes).toEqual([
      expect.objectContaining({ is_outcome_applied: false, outcome_message: 'The member is not enrolled' }),
    ]);
    expect((await user(m.id)).available_points).toBe(0);
  });

  it('a daily limit opens again at program-local midnight; a rolling window after N days', async () => {
    await createBehaviour({
      event: 'DAILY_CHECK_IN',
      outcomes: [
        { type: 'award_points', points: 10, limit: { max: 2, window: 'day' } },
        { type: 'award_points', points: 5, account: 'tier', limit: { max: 1, window: 'rolling_days:3' } },
      ],
    });
    const m = await member();
    const checkIn = async () =>
      (
        (await trigger({ user_id: m.id, event_lookup: 'DAILY_CHECK_IN' })).body.payload.outcomes as {
          is_outcome_applied: boolean;
        }[]
      ).map((o) => o.is_outcome_applied);

    await t.setNow('2026-12-03T04:30:00Z'); // 23:30 on 2 December in New York
    expect(await checkIn()).toEqual([true, true]);
    expect(await checkIn()).toEqual([true, false]);
    expect(await checkIn()).toEqual([false, false]);
    await t.setNow('2026-12-03T04:59:59Z'); // still 2 December in New York
    expect(await checkIn()).toEqual([false, false]);
    await t.setNow('2026-12-03T05:00:00Z'); // midnight: a new day opens, the 3 days do not
    expect(await checkIn()).toEqual([true, false]);
    await t.setNow('2026-12-06T04:29:59Z');
    expect(await checkIn()).toEqual([true, false]);
    await t.setNow('2026-12-06T04:30:00Z'); // three days after the first tier award
    expect(await checkIn()).toEqual([true, true]);
    const u = await user(m.id);
    expect(u.available_points).toBe(50); // 2 on 2 December, 1 on the 3rd, 2 on the 5th
    expect(u.tier_points).toBe(10);
  });

  it('is idempotent on idempotency_id; the id reused with another body answers 409 and changes nothing', async () => {
    await createBehaviour({ event: 'SURVEY_DONE', outcomes: [{ type: 'award_points', points: 75 }] });
    const m = await member();
    const body = { user_id: m.id, event_lookup: 'SURVEY_DONE', idempotency_id: 'survey-1' };
    const first = await trigger(body);
    expect(first.status).toBe(200);
    const repeat = await trigger(body);
    expect(repeat.status).toBe(200);
    expect(repeat.body).toEqual(first.body);
    expect((await user(m.id)).available_points).toBe(75);

    const conflict = await trigger({ ...body, event_lookup: 'DAILY_CHECK_IN' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.errors.code).toBe('idempotency_conflict');
    expect((await user(m.id)).available_points).toBe(75);
    const events = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM user_events WHERE user_id = $1',
      [m.id],
    );
    expect(Number(events[0]!.n)).toBe(1);

    // The constraint, not only the read, holds the key: a second row with it is refused.
    await expect(
      t.db.query(
        `INSERT INTO user_events (retailer_id, user_id, id, event_lookup, source, is_session_m, program_version,
           idempotency_key, response, occurred_at)
         VALUES ($1, $2, gen_random_uuid(), 'X', 'trigger_user_event', false, 1, 'survey-1', '{}', now())`,
        [t.tenant.retailer_id, m.id],
      ),
    ).rejects.toThrow(/user_events_idempotency_uq/);
  });

  it('refuses another retailer, a missing event_lookup and a malformed is_session_m, changing nothing', async () => {
    const m = await member();
    const other = await t.newTenant();
    const wrong = await trigger({
      user_id: m.id,
      event_lookup: 'SURVEY_DONE',
      retailer_id: other.retailer_id,
    });
    expect(wrong.status).toBe(403);
    const missing = await trigger({ user_id: m.id });
    expect(missing.status).toBe(400);
    const malformed = await trigger({ user_id: m.id, event_lookup: 'SURVEY_DONE', is_session_m: 'yes' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.status).toBe('error');
    expect((await user(m.id)).available_points).toBe(0);
  });

  it('answers under 2.0 as under 1.0', async () => {
    const m = await member();
    const res = await trigger({ user_id: m.id, event_lookup: 'SURVEY_DONE', is_session_m: 'TRUE' }, '2.0');
    expect(res.status).toBe(200);
    expect(res.body.payload.outcomes).toEqual([
      expect.objectContaining({ is_outcome_applied: true, points_awarded: 75 }),
    ]);
  });

  it('the admin API versions behaviours like campaigns; a removed one applies nothing from then', async () => {
    const before = await admin('GET', '/behaviours');
    expect(before.status).toBe(200);
    const survey = (before.body.behaviours as { id: string; event: string }[]).find(
      (b) => b.event === 'SURVEY_DONE',
    )!;
    const changed = await admin('PUT', `/behaviours/${survey.id}`, {
      behaviour: { event: 'SURVEY_DONE', outcomes: [{ type: 'award_points', points: 80 }] },
    });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body.program_version).toBe(before.body.program_version + 1);
    expect(changed.body.behaviour.outcomes[0].points).toBe(80);

    const dup = await admin('POST', '/behaviours', { behaviour: { event: 'SURVEY_DONE', outcomes: [] } });
    expect(dup.status).toBe(400);
    expect(dup.body.errors.field).toBe('behaviour.event');
    const badTier = await admin('POST', '/behaviours', {
      behaviour: { event: 'X', outcomes: [{ type: 'move_tier', tier_level: 'PLATINUM' }] },
    });
    expect(badTier.status).toBe(400);
    expect(badTier.body.errors.field).toBe('behaviour.outcomes[0].tier_level');
    const wrongField = await admin('POST', '/behaviours', {
      behaviour: { event: 'X', outcomes: [{ type: 'add_tag', tag: 'a', points: 5 }] },
    });
    expect(wrongField.status).toBe(400);
    expect(wrongField.body.errors.field).toBe('behaviour.outcomes[0].points');

    const removed = await admin('DELETE', `/behaviours/${survey.id}`);
    expect(removed.status).toBe(200);
    expect(removed.body.program_version).toBe(changed.body.program_version + 1);
    expect((await admin('GET', `/behaviours/${survey.id}`)).status).toBe(404);
    const m = await member();
    const res = await trigger({ user_id: m.id, event_lookup: 'SURVEY_DONE' });
    expect(res.body.payload.outcomes).toEqual([]);

    // The program document carries them, and a program PUT without behaviours keeps them.
    const program = (await admin('GET', '/program')).body.program_version.program;
    expect((program.behaviours as { event: string }[]).map((b) => b.event)).toContain('DAILY_CHECK_IN');
    const { behaviours: _kept, ...withoutBehaviours } = program;
    const put = await admin('PUT', '/program', { program: withoutBehaviours });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect((put.body.program_version.program.behaviours as unknown[]).length).toBe(program.behaviours.length);
  });

  it('movement/move_user answers under 2.0 as under 1.0', async () => {
    const m = await member();
    const program = (await admin('GET', '/program')).body.program_version.program;
    const gold = program.tier_system.levels.find((l: { name: string }) => l.name === 'GOLD');
    const res = await t.request('POST', '/incentives/api/2.0/movement/move_user', {
      body: {
        retailer_id: t.tenant.retailer_id,
        tier_system_id: program.tier_system.id,
        tier_level_id: gold.id,
        user_id: m.id,
        process_intermediate_levels: false,
        evaluate_qualifying_rules: false,
        culture: 'en-US',
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.payload.tier).toBe('GOLD');
    expect((await user(m.id)).tier).toBe('GOLD');
  });
});
