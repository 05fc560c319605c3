import type { Database, Queryable } from '../db/database.js';
import type { UserRow } from '../customers/customer.repository.js';
import { getUser, type UserRef } from '../customers/customer.service.js';
import {
  campaignSpan,
  campaignStatus,
  memberMayJoin,
  targetsTiers,
  type CampaignStatus,
} from '../domain/campaigns.js';
import { coreTime } from '../domain/time.js';
import { memberStandingAt } from '../tiers/tier.service.js';
import { sameJson } from '../domain/canonical.js';
import { isUuid, newId } from '../domain/ids.js';
import type { Campaign, ProgramDocument } from '../domain/program.js';
import { LaurelError, validationError } from '../errors.js';
import type { ProgramVersionRow } from '../program/program.repository.js';
import type { CampaignInput, ProgramInput } from '../program/program.schema.js';
import { getProgramAt, getProgramVersionAt, reviseProgram } from '../program/program.service.js';

/**
 * Campaigns managed one at a time (issue #5). They live in the program document, so every change is
 * a new program version in force from now, validated like `PUT /admin/v1/program`; purchases keep
 * the version of their purchase time (DESIGN §2, §4). See docs/campaigns.md.
 */

export interface CampaignView extends Campaign {
  status: CampaignStatus;
}

export interface CampaignAnswer {
  program_version: number;
  campaign: CampaignView;
}

const view = (c: Campaign, program: ProgramDocument, now: Date): CampaignView => ({
  ...c,
  status: campaignStatus(c, now, program.time_zone),
});

const notFound = (id: string) => new LaurelError('not_found', `No campaign ${id} in the program`);

/** The index of a campaign in a program, or `not_found`; an id that cannot exist answers the same. */
function indexOf(program: ProgramDocument, campaignId: string): number {
  const id = campaignId.toLowerCase();
  const i = isUuid(id) ? program.campaigns.findIndex((c) => c.id === id) : -1;
  if (i < 0) throw notFound(campaignId);
  return i;
}

function refuseDuplicateName(program: ProgramDocument, name: string, except: number): void {
  if (program.campaigns.some((c, i) => i !== except && c.name === name)) {
    throw validationError(`a campaign named ${name} already exists`, 'campaign.name');
  }
}

/**
 * Runs an edit of one campaign as a new program version. Validation errors about that campaign
 * name the request's field (`campaign.…`) rather than its place in the program document.
 */
async function reviseCampaign(
  db: Database,
  retailerId: string,
  now: Date,
  edit: (program: ProgramDocument) => { index: number; input: ProgramInput | null },
): Promise<{ row: ProgramVersionRow; index: number }> {
  let index = -1;
  try {
    const { row } = await reviseProgram(db, retailerId, now, (program) => {
      const e = edit(program);
      index = e.index;
      return e.input;
    });
    return { row, index };
  } catch (err) {
    const prefix = `campaigns[${index}]`;
    if (err instanceof LaurelError && err.code === 'validation') {
      const field = err.details?.field;
      if (typeof field === 'string' && field.startsWith(prefix)) {
        throw validationError(err.message, `campaign${field.slice(prefix.length)}`);
      }
    }
    throw err;
  }
}

const answer = (row: ProgramVersionRow, index: number, now: Date): CampaignAnswer => ({
  program_version: row.version,
  campaign: view(row.document.campaigns[index]!, row.document, now),
});

/** The campaigns of the version in force now, each with its status as of now. */
export async function listCampaigns(
  db: Database,
  retailerId: string,
  now: Date,
): Promise<{ program_version: number; campaigns: CampaignView[] }> {
  const row = await getProgramVersionAt(db, retailerId, now);
  return {
    program_version: row.version,
    campaigns: row.document.campaigns.map((c) => view(c, row.document, now)),
  };
}

/** One campaign of the version in force now, or `not_found`. */
export async function getCampaign(
  db: Database,
  retailerId: string,
  campaignId: string,
  now: Date,
): Promise<CampaignAnswer> {
  const row = await getProgramVersionAt(db, retailerId, now);
  return answer(row, indexOf(row.document, campaignId), now);
}

/**
 * Adds a campaign. Its id is new unless the body gives one: a campaign created again under an old
 * name is another campaign, and does not inherit the old one's per-member counts.
 */
export async function createCampaign(
  db: Database,
  retailerId: string,
  input: CampaignInput,
  now: Date,
): Promise<CampaignAnswer> {
  const { row, index } = await reviseCampaign(db, retailerId, now, (program) => {
    refuseDuplicateName(program, input.name, -1);
    const id = (input.id ?? newId(now.getTime())).toLowerCase();
    if (program.campaigns.some((c) => c.id === id)) {
      throw validationError(`a campaign with id ${id} already exists`, 'campaign.id');
    }
    return {
      index: program.campaigns.length,
      input: { ...program, campaigns: [...program.campaigns, { ...input, id }] },
    };
  });
  return answer(row, index, now);
}

/**
 * Changes a campaign (the body is the whole campaign; its id stays). A campaign ended by the end
 * action stays ended and cannot be changed; a body equal to the campaign writes nothing.
 */
export async function updateCampaign(
  db: Database,
  retailerId: string,
  campaignId: string,
  input: CampaignInput,
  now: Date,
): Promise<CampaignAnswer> {
  const { row, index } = await reviseCampaign(db, retailerId, now, (program) => {
    const index = indexOf(program, campaignId);
    const current = program.campaigns[index]!;
    if (current.ended_at !== undefined) {
      throw validationError(
        `campaign ${current.name} was ended at ${current.ended_at}; an ended campaign stays ended (create a new one)`,
        'campaign_id',
      );
    }
    if (input.id !== undefined && input.id.toLowerCase() !== current.id) {
      throw validationError(`campaign.id must be the id in the path, ${current.id}`, 'campaign.id');
    }
    refuseDuplicateName(program, input.name, index);
    const changed = { ...input, id: current.id };
    if (sameJson(changed, current)) return { index, input: null };
    const campaigns = program.campaigns.map((c, i) => (i === index ? changed : c));
    return { index, input: { ...program, campaigns } };
  });
  return answer(row, index, now);
}

/**
 * Ends a campaign now: purchases at or after this instant get nothing from it, earlier ones keep
 * their version. Ending a campaign that has already ended (by this action or its last day) changes
 * nothing and answers as it stands, so a retried end is safe.
 */
export async function endCampaign(
  db: Database,
  retailerId: string,
  campaignId: string,
  now: Date,
): Promise<CampaignAnswer> {
  const { row, index } = await reviseCampaign(db, retailerId, now, (program) => {
    const index = indexOf(program, campaignId);
    const current = program.campaigns[index]!;
    if (campaignStatus(current, now, program.time_zone) === 'ended') return { index, input: null };
    const campaigns = program.campaigns.map((c, i) =>
      i === index ? { ...c, ended_at: now.toISOString() } : c,
    );
    return { index, input: { ...program, campaigns } };
  });
  return answer(row, index, now);
}

/**
 * Core's listing (reference §7): the campaigns active now, by first day then name, one page of
 * them with the page count (0 when none is active). A page past the end is empty.
 */
export async function activeCampaignsPage(
  db: Database,
  retailerId: string,
  now: Date,
  page: number,
  pageSize: number,
) {
  const row = await getProgramVersionAt(db, retailerId, now);
  const program = row.document;
  const active = program.campaigns
    .filter((c) => campaignStatus(c, now, program.time_zone) === 'active')
    .sort(byStart);
  return {
    page,
    page_size: pageSize,
    number_of_pages: Math.ceil(active.length / pageSize),
    campaigns: coreGroups(active.slice((page - 1) * pageSize, page * pageSize), program),
  };
}

const byStart = (a: Campaign, b: Campaign) =>
  a.starts_on.localeCompare(b.starts_on) || a.name.localeCompare(b.name);

/**
 * Campaigns as Core lists them (reference §7, issue #14 item 9): grouped as `tiles` and
 * `promotions` by their creative, each with `id`, `name`, `start_time`, `end_time` and the
 * program's `custom_payload` (clients read `custom_payload.offer_id`), beside Laurel's own fields.
 */
function coreGroups(campaigns: Campaign[], program: ProgramDocument) {
  const entries = campaigns.map((c) => ({ creative: c.creative ?? 'tile', entry: coreEntry(c, program) }));
  return {
    tiles: entries.filter((e) => e.creative === 'tile').map((e) => e.entry),
    promotions: entries.filter((e) => e.creative === 'promotion').map((e) => e.entry),
  };
}

function coreEntry(c: Campaign, program: ProgramDocument) {
  const span = campaignSpan(c, program.time_zone);
  return {
    id: c.id,
    campaign_id: c.id,
    name: c.name,
    start_time: coreTime(span.start),
    end_time: coreTime(span.end),
    custom_payload: c.custom_payload ?? {},
    start_date: c.starts_on,
    end_date: c.ends_on,
    award: c.award,
    targeting: {
      tiers: c.targeting?.tiers ?? [],
      store_ids: c.targeting?.store_ids ?? [],
      channels: c.targeting?.channels ?? [],
    },
    tier_qualifying: c.tier_qualifying,
    max_awards_per_member: c.max_awards_per_member ?? null,
  };
}

/**
 * Core's `users/:id/campaigns` (reference §7): the campaigns the member may join now — active,
 * the member enrolled, the tier targeting (if any) admitting the member's tier as of now.
 */
export async function memberCampaigns(db: Database, retailerId: string, ref: UserRef, now: Date) {
  const user = await getUser(db, retailerId, ref);
  const program = await getProgramAt(db, retailerId, now);
  const tier = await memberTierName(db, program, user, now);
  const joinable = program.campaigns
    .filter((c) => memberMayJoin(c, now, program.time_zone, { enrolled: user.opted_in, tier }))
    .sort(byStart);
  return { campaigns: coreGroups(joinable, program) };
}

/** The member's tier level name as of now, null when unenrolled; read only when a campaign needs it. */
async function memberTierName(
  db: Queryable,
  program: ProgramDocument,
  user: UserRow,
  now: Date,
): Promise<string | null> {
  if (!user.opted_in || !program.campaigns.some(targetsTiers)) return null;
  const level = (await memberStandingAt(db, program, user, now)).tier?.level_id;
  return program.tier_system.levels.find((l) => l.id === level)?.name ?? null;
}

/**
 * The campaign a member sends events to, or 404 `no_active_campaign_found` when it is not one the
 * member may join now (not in the program, not active, or not for the member).
 */
export async function getJoinableCampaign(
  db: Queryable,
  program: ProgramDocument,
  user: UserRow,
  campaignId: string,
  now: Date,
): Promise<Campaign> {
  const id = campaignId.toLowerCase();
  const c = isUuid(id) ? program.campaigns.find((x) => x.id === id) : undefined;
  const tier = c ? await memberTierName(db, program, user, now) : null;
  if (!c || !memberMayJoin(c, now, program.time_zone, { enrolled: user.opted_in, tier })) {
    throw new LaurelError('no_active_campaign_found', `No active campaign ${campaignId} for this member`);
  }
  return c;
}
