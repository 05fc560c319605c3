import { localDate, startOfLocalDay } from './calendar.js';
import type { Campaign, ProgramDocument } from './program.js';

/**
 * When a campaign runs and whom it is for (issue #5, DESIGN §2, §4): pure. What it adds to a basket
 * is in `earning.ts`. Documented in docs/campaigns.md.
 */

export type CampaignStatus = 'scheduled' | 'active' | 'ended';

/** What a campaign's targeting looks at, as of the purchase time (fixed at the first send). */
export interface PurchaseFacts {
  store_id: string | null;
  channel: string | null;
  /** The member's tier level name at the purchase time; null when not computed or unenrolled. */
  tier: string | null;
}

const endedBy = (c: Campaign, at: Date): boolean =>
  c.ended_at !== undefined && Date.parse(c.ended_at) <= at.getTime();

/**
 * Whether a campaign runs at `at`: its window holds the program-local day of `at` (so its edges are
 * program-time midnights) and it was not ended at or before `at`.
 */
export function campaignRunsAt(c: Campaign, at: Date, timeZone: string): boolean {
  const day = localDate(at, timeZone);
  return c.starts_on <= day && day <= c.ends_on && !endedBy(c, at);
}

/** The campaigns of a program version that run at `at`, in the document's order. */
export function runningCampaigns(program: ProgramDocument, at: Date): Campaign[] {
  return program.campaigns.filter((c) => campaignRunsAt(c, at, program.time_zone));
}

/** `scheduled` before its first day, `ended` after its last day or once ended, else `active`. */
export function campaignStatus(c: Campaign, now: Date, timeZone: string): CampaignStatus {
  if (endedBy(c, now)) return 'ended';
  const day = localDate(now, timeZone);
  if (day < c.starts_on) return 'scheduled';
  if (day > c.ends_on) return 'ended';
  return 'active';
}

/** Whether a campaign looks at the member's tier: only then is the tier at purchase time computed. */
export const targetsTiers = (c: Campaign): boolean => (c.targeting?.tiers?.length ?? 0) > 0;

const channelKey = (s: string): string => s.trim().toLowerCase();

function listAdmits(list: readonly string[] | undefined, value: string | null, key = (s: string) => s) {
  if (!list?.length) return true;
  return value !== null && list.some((x) => key(x) === key(value));
}

/** Whether a purchase with these facts is one the campaign targets; an absent or empty list admits all. */
export function targetingAdmits(c: Campaign, f: PurchaseFacts): boolean {
  const t = c.targeting;
  if (!t) return true;
  return (
    listAdmits(t.tiers, f.tier) &&
    listAdmits(t.store_ids, f.store_id) &&
    listAdmits(t.channels, f.channel, channelKey)
  );
}

/**
 * The ids of the campaigns a purchase at `at` qualifies for: running then and targeting it. Decided
 * once, at the first send; a re-send prices only these (DESIGN §4: the rules of the purchase time).
 */
export function eligibleCampaignIds(program: ProgramDocument, at: Date, facts: PurchaseFacts): string[] {
  return runningCampaigns(program, at)
    .filter((c) => targetingAdmits(c, facts))
    .map((c) => c.id);
}

/** The day after a `YYYY-MM-DD` date. */
function dayAfter(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/**
 * The instants a campaign runs between (issue #14 item 9): program-local midnight of its first
 * day, and the first instant it no longer runs — midnight after its last day, or when it was ended
 * if that came first.
 */
export function campaignSpan(c: Campaign, timeZone: string): { start: Date; end: Date } {
  const start = startOfLocalDay(c.starts_on, timeZone);
  const after = startOfLocalDay(dayAfter(c.ends_on), timeZone);
  const ended = c.ended_at !== undefined ? new Date(c.ended_at) : null;
  return { start, end: ended && ended < after ? ended : after };
}

/**
 * Whether a member may join a campaign now: it is active, the member is enrolled (unenrolled
 * members earn nothing, DESIGN §4) and its tier targeting, if any, admits the member's tier.
 * Store and channel targeting are properties of a purchase, not of a member, so they do not exclude.
 */
export function memberMayJoin(
  c: Campaign,
  now: Date,
  timeZone: string,
  member: { enrolled: boolean; tier: string | null },
): boolean {
  if (!member.enrolled || campaignStatus(c, now, timeZone) !== 'active') return false;
  return listAdmits(c.targeting?.tiers, member.tier);
}
