import type { Database, Tx } from '../db/database.js';
import { getJoinableCampaign } from '../campaigns/campaign.service.js';
import type { UserRow } from '../customers/customer.repository.js';
import { findUserIdByExternalId, listTags, upsertTags } from '../customers/customer.repository.js';
import { MAX_TAGS_PER_MEMBER } from '../customers/customer.service.js';
import {
  behavioursForEvent,
  limitText,
  outcomeDiscriminator,
  windowStart,
  withinLimit,
} from '../domain/behaviours.js';
import { jsonHash } from '../domain/canonical.js';
import { isUuid, newId } from '../domain/ids.js';
import type { Behaviour, BehaviourOutcome, ProgramDocument } from '../domain/program.js';
import { LaurelError, validationError } from '../errors.js';
import { underMemberLock } from '../incentives/incentives.service.js';
import { insertJournals, type JournalInput } from '../ledger/ledger.repository.js';
import { precisionOf, toMinor } from '../domain/precision.js';
import { eventOf, tierChangeEvents } from '../events/event.service.js';
import { insertEvents } from '../events/outbox.repository.js';
import type { ProgramVersionRow } from '../program/program.repository.js';
import { getProgramVersionAt } from '../program/program.service.js';
import { insertTierMove } from '../tiers/tier.repository.js';
import { memberStandingAt } from '../tiers/tier.service.js';
import {
  countAppliedOutcomes,
  findUserEventByKey,
  insertAppliedOutcomes,
  insertUserEvent,
  type AppliedOutcomeRow,
} from './behaviour.repository.js';

/**
 * Member events and the behaviours they feed (issue #14 items 8 and 9, reference §5
 * `trigger_user_event`). An event runs in one transaction under the member's lock: each outcome of
 * each behaviour the event names is applied or not (enrollment, per-member limit), points through
 * the ledger, tier moves through the manual move, tags as the tags API adds them; then the event is
 * saved with its answer. See docs/behaviours.md.
 */

const UNIQUE_VIOLATION = '23505';

/** How a request names its member: Laurel's id, or an external id with `user_id_type`. */
export interface MemberRef {
  user_id: string;
  user_id_type?: string | undefined;
}

export interface OutcomeAnswer {
  is_outcome_applied: boolean;
  discriminator: string;
  points_awarded: number;
  outcome_message?: string;
  behaviour_id: string;
  outcome_id: string;
}

export interface EventPayload {
  user_event: {
    id: string;
    time_of_occurrence: string;
    retailer_id: string;
    event_lookup: string;
    user_id: string;
    is_session_m: boolean;
  };
  event_saved_successfully: true;
  rules_processed_successfully: true;
  outcomes: OutcomeAnswer[];
}

/**
 * The member's id: `user_id` is Laurel's id unless `user_id_type` says it is an external id
 * (`external_id`, in any casing); `SessionM_ID` and `user_id` name Laurel's id. A member that
 * cannot be found answers `user_not_found`.
 */
export async function resolveMember(db: Database, retailerId: string, ref: MemberRef): Promise<string> {
  const type = (ref.user_id_type ?? 'sessionm_id').trim().toLowerCase();
  if (type === 'external_id') {
    const id = ref.user_id.includes('\u0000')
      ? undefined
      : await findUserIdByExternalId(db, retailerId, ref.user_id);
    if (!id) throw new LaurelError('user_not_found');
    return id;
  }
  if (type !== 'sessionm_id' && type !== 'user_id') {
    throw validationError(
      `user_id_type ${ref.user_id_type} is not one of SessionM_ID, user_id, external_id`,
      'user_id_type',
    );
  }
  if (!isUuid(ref.user_id)) throw new LaurelError('user_not_found');
  return ref.user_id.toLowerCase();
}

/** What one event is, as processed. */
export interface EventInput {
  event: string;
  source: 'trigger_user_event' | 'campaign_event';
  campaignId: string | null;
  isSessionM: boolean;
}

/** What stays the same for the events of one request. */
interface EventContext {
  tx: Tx;
  program: ProgramVersionRow;
  user: UserRow;
  now: Date;
  /** Applications per outcome within its window so far, kept current across a request's events. */
  counts: Map<string, number>;
  /** The member's current tier level id, read once when a tier outcome needs it. */
  level?: string | null;
}

/**
 * Processes one event for the locked member: applies each outcome it may, saves the event with
 * its answer and the outcomes applied, and answers the payload.
 */
async function processEvent(
  ctx: EventContext,
  input: EventInput,
  idempotency: { key: string; hash: string } | null,
): Promise<EventPayload> {
  const { tx, user, now } = ctx;
  const program = ctx.program.document;
  const eventId = newId(now.getTime());
  const applied: AppliedOutcomeRow[] = [];
  const outcomes: OutcomeAnswer[] = [];
  for (const behaviour of behavioursForEvent(program, input.event, input.campaignId)) {
    for (const outcome of behaviour.outcomes) {
      const answer = await applyOutcome(ctx, program, behaviour, outcome, input.event, eventId);
      outcomes.push(answer.answer);
      if (answer.row) {
        applied.push(answer.row);
        ctx.counts.set(outcome.id, (ctx.counts.get(outcome.id) ?? 0) + 1);
      }
    }
  }
  const payload: EventPayload = {
    user_event: {
      id: eventId,
      time_of_occurrence: now.toISOString(),
      retailer_id: user.retailer_id,
      event_lookup: input.event,
      user_id: user.id,
      is_session_m: input.isSessionM,
    },
    event_saved_successfully: true,
    rules_processed_successfully: true,
    outcomes,
  };
  await insertUserEvent(tx, {
    retailer_id: user.retailer_id,
    user_id: user.id,
    id: eventId,
    event_lookup: input.event,
    source: input.source,
    campaign_id: input.campaignId,
    is_session_m: input.isSessionM,
    program_version: ctx.program.version,
    idempotency_key: idempotency?.key ?? null,
    body_hash: idempotency?.hash ?? null,
    response: payload,
    occurred_at: now,
  });
  await insertAppliedOutcomes(tx, applied);
  return payload;
}

/** One outcome for the member: applied (with the row the limits count) or not, and why not. */
async function applyOutcome(
  ctx: EventContext,
  program: ProgramDocument,
  behaviour: Behaviour,
  outcome: BehaviourOutcome,
  event: string,
  eventId: string,
): Promise<{ answer: OutcomeAnswer; row?: AppliedOutcomeRow }> {
  const { tx, user, now } = ctx;
  const answer = (applied: boolean, message?: string, points = 0): OutcomeAnswer => ({
    is_outcome_applied: applied,
    discriminator: outcomeDiscriminator(outcome),
    points_awarded: points,
    ...(message !== undefined ? { outcome_message: message } : {}),
    behaviour_id: behaviour.id,
    outcome_id: outcome.id,
  });
  // Unenrolled members earn nothing (DESIGN §4): the event is saved, its outcomes are not applied.
  if (!user.opted_in) return { answer: answer(false, 'The member is not enrolled') };
  if (!withinLimit(outcome.limit, ctx.counts.get(outcome.id) ?? 0)) {
    return { answer: answer(false, `Limit reached: ${limitText(outcome.limit!)}`) };
  }
  const row: AppliedOutcomeRow = {
    retailer_id: user.retailer_id,
    user_id: user.id,
    event_id: eventId,
    behaviour_id: behaviour.id,
    outcome_id: outcome.id,
    applied_at: now,
    journal_id: null,
    tier_move_id: null,
  };
  switch (outcome.type) {
    case 'award_points': {
      const journalId = newId(now.getTime());
      // Stated in points, posted in the account's minor units (issue #14 item 3).
      const minor = toMinor(outcome.points, precisionOf(program, outcome.account));
      const journal: JournalInput = {
        id: journalId,
        retailer_id: user.retailer_id,
        user_id: user.id,
        kind: 'behaviour',
        effective_at: now,
        recorded_at: now,
        idempotency_key: `behaviour:${eventId}:${outcome.id}`,
        // SessionM's audit rows name behaviour points `Behavior` (reference §4).
        reference_id: event,
        reference_type: 'Behavior',
        point_source_id: `behaviour:${behaviour.id}`,
        details: { event_id: eventId, behaviour_id: behaviour.id, outcome_id: outcome.id },
        postings: [
          { account: outcome.account, amount: minor },
          { account: 'program:issued', amount: -minor },
        ],
      };
      // Issue #17: behaviour points are a deposit too, written with their event; Tier Qualifying
      // ones may move the tier now, read once the journal is written.
      await insertJournals(
        tx,
        [journal],
        [
          eventOf('points.deposited', user.retailer_id, user.id, now, {
            account: outcome.account,
            amount: outcome.points,
            source: 'behaviour',
            behaviour_id: behaviour.id,
            event: event,
          }),
        ],
      );
      if (outcome.account === 'tier') {
        await insertEvents(tx, await tierChangeEvents(tx, user.retailer_id, user.id, [now], now));
      }
      return { answer: answer(true, undefined, outcome.points), row: { ...row, journal_id: journalId } };
    }
    case 'move_tier': {
      const level = program.tier_system.levels.find((l) => l.name === outcome.tier_level);
      if (!level) return { answer: answer(false, `The program has no tier level ${outcome.tier_level}`) };
      ctx.level ??= (await memberStandingAt(tx, program, user, now)).tier?.level_id ?? null;
      if (ctx.level === level.id) return { answer: answer(false, `The member is already ${level.name}`) };
      const moveId = newId(now.getTime());
      await insertTierMove(tx, {
        id: moveId,
        retailer_id: user.retailer_id,
        user_id: user.id,
        tier_system_id: program.tier_system.id,
        tier_level_id: level.id,
        effective_at: now,
        recorded_at: now,
        actor: `behaviour:${behaviour.id}`,
        reason: `event ${event}`,
      });
      ctx.level = level.id;
      await insertEvents(tx, await tierChangeEvents(tx, user.retailer_id, user.id, [now], now));
      return { answer: answer(true), row: { ...row, tier_move_id: moveId } };
    }
    case 'add_tag': {
      // The tags API's bound holds here too (issue #13 item 7): a new tag beyond it is not added.
      const held = await listTags(tx, user.id, now);
      if (held.length >= MAX_TAGS_PER_MEMBER && !held.some((h) => h.tag === outcome.tag)) {
        return { answer: answer(false, `The member holds the most tags allowed (${MAX_TAGS_PER_MEMBER})`) };
      }
      const expiresAt =
        outcome.ttl_seconds === undefined ? null : new Date(now.getTime() + outcome.ttl_seconds * 1000);
      await upsertTags(tx, user.retailer_id, user.id, [outcome.tag], expiresAt, now);
      return { answer: answer(true), row };
    }
  }
}

/** Reads, for the outcomes the events may apply, how often each applied within its window. */
async function limitCounts(
  tx: Tx,
  program: ProgramDocument,
  userId: string,
  inputs: readonly EventInput[],
  now: Date,
): Promise<Map<string, number>> {
  const windows = new Map<string, Date | null>();
  for (const input of inputs) {
    for (const b of behavioursForEvent(program, input.event, input.campaignId)) {
      for (const o of b.outcomes) {
        if (o.limit) windows.set(o.id, windowStart(o.limit.window, now, program.time_zone));
      }
    }
  }
  return countAppliedOutcomes(
    tx,
    userId,
    [...windows].map(([outcome_id, since]) => ({ outcome_id, since })),
  );
}

/**
 * `trigger_user_event`: one event for one member, idempotent on an optional `idempotency_id` (a
 * repeat answers the stored answer; a reuse with another body answers 409 `idempotency_conflict`).
 */
export async function triggerUserEvent(
  db: Database,
  retailerId: string,
  member: MemberRef,
  input: EventInput,
  idempotency: { id: string; body: unknown } | null,
  now: Date,
): Promise<EventPayload> {
  const userId = await resolveMember(db, retailerId, member);
  const program = await getProgramVersionAt(db, retailerId, now);
  const key = idempotency ? { key: idempotency.id, hash: jsonHash(idempotency.body) } : null;
  try {
    return await underMemberLock(db, retailerId, userId, now, async (tx, user) => {
      if (key) {
        const earlier = await findUserEventByKey(tx, user.id, key.key);
        if (earlier) {
          if (earlier.body_hash !== key.hash) throw idempotencyConflict(key.key);
          return earlier.response as EventPayload;
        }
      }
      const counts = await limitCounts(tx, program.document, user.id, [input], now);
      return processEvent({ tx, program, user, now, counts }, input, key);
    });
  } catch (err) {
    // underMemberLock retried once; a second violation of the key means a conflicting writer.
    if ((err as { code?: string }).code === UNIQUE_VIOLATION && key) throw idempotencyConflict(key.key);
    throw err;
  }
}

const idempotencyConflict = (id: string) =>
  new LaurelError('idempotency_conflict', `idempotency_id ${id} was already used with a different event`, {
    field: 'idempotency_id',
  });

/**
 * Several events for one member in one transaction (a campaign's events, issue #14 item 9), each
 * processed and saved on its own, in order; limits count the earlier ones.
 */
export async function processEvents(
  db: Database,
  retailerId: string,
  userId: string,
  now: Date,
  /** Checks the request against the locked member and answers the events to process. */
  prepare: (tx: Tx, user: UserRow, program: ProgramVersionRow) => Promise<EventInput[]>,
): Promise<EventPayload[]> {
  const program = await getProgramVersionAt(db, retailerId, now);
  return underMemberLock(db, retailerId, userId, now, async (tx, user) => {
    const inputs = await prepare(tx, user, program);
    const ctx: EventContext = {
      tx,
      program,
      user,
      now,
      counts: await limitCounts(tx, program.document, user.id, inputs, now),
    };
    const out: EventPayload[] = [];
    for (const input of inputs) out.push(await processEvent(ctx, input, null));
    return out;
  });
}

/** Most events one request to a campaign may carry, counts included. */
export const MAX_CAMPAIGN_EVENTS = 100;

/**
 * A campaign's events for a member (reference §7 `campaigns/:campaign_id/events`, issue #14 item
 * 9): `{"<event>": count}`, each occurrence processed as one event against the behaviours of that
 * name (the campaign's own and the general ones), in order, in one transaction. The campaign must
 * be one the member may join now, else 404 `no_active_campaign_found` and nothing is saved.
 */
export async function campaignEvents(
  db: Database,
  retailerId: string,
  member: MemberRef,
  campaignId: string,
  events: Record<string, number>,
  now: Date,
): Promise<{ campaign_id: string; events: EventPayload[] }> {
  // The body is checked before the campaign is looked up: a bad request is 400 whatever it names.
  // eslint-disable-next-line no-control-regex
  if (Object.keys(events).some((name) => name.trim() === '' || /[\u0000-\u001f\u007f]/.test(name))) {
    throw validationError('events must name each event in printable characters, none blank', 'events');
  }
  const total = Object.values(events).reduce((n, c) => n + c, 0);
  if (total > MAX_CAMPAIGN_EVENTS) {
    throw validationError(
      `events count at most ${MAX_CAMPAIGN_EVENTS} occurrences in all, not ${total}`,
      'events',
    );
  }
  const userId = await resolveMember(db, retailerId, member);
  let campaign = '';
  const processed = await processEvents(db, retailerId, userId, now, async (tx, user, program) => {
    campaign = (await getJoinableCampaign(tx, program.document, user, campaignId, now)).id;
    return Object.entries(events).flatMap(([event, count]) =>
      Array.from({ length: count }, (): EventInput => ({
        event,
        source: 'campaign_event',
        campaignId: campaign,
        isSessionM: false,
      })),
    );
  });
  return { campaign_id: campaign, events: processed };
}
