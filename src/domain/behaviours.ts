import { localDate, startOfLocalDay, startOfLocalYearAt, wallTime, zonedInstant } from './calendar.js';
import type {
  Behaviour,
  BehaviourOutcome,
  BehaviourWindow,
  OutcomeLimit,
  ProgramDocument,
} from './program.js';

/**
 * Behaviours (issue #14 item 8): which of a program's behaviours an event feeds, and how far back
 * a per-member limit counts. Pure; what an outcome does to a member is in
 * src/behaviours/behaviour.service.ts. Documented in docs/behaviours.md.
 */

const DAY_MS = 86_400_000;

/** The behaviours of a program; versions written before behaviours existed have none. */
export const behavioursOf = (program: ProgramDocument): Behaviour[] => program.behaviours ?? [];

/**
 * The behaviours an event feeds: those named by the event and not tied to a campaign, and, for an
 * event sent to a campaign (`campaignId`), also that campaign's own. Event names compare exactly.
 */
export function behavioursForEvent(
  program: ProgramDocument,
  event: string,
  campaignId: string | null,
): Behaviour[] {
  return behavioursOf(program).filter(
    (b) => b.event === event && (b.campaign_id === undefined || b.campaign_id === campaignId),
  );
}

/**
 * Where a limit's window starts at `now`: program-local midnight of the day, the first of the
 * month or 1 January, just after N days ago for `rolling_days:N`, or null for `lifetime` (everything counts).
 */
export function windowStart(window: BehaviourWindow, now: Date, timeZone: string): Date | null {
  if (window === 'lifetime') return null;
  if (window === 'day') return startOfLocalDay(localDate(now, timeZone), timeZone);
  if (window === 'year') return startOfLocalYearAt(now, timeZone);
  if (window === 'month') {
    const w = wallTime(now, timeZone);
    return zonedInstant(timeZone, w.year, w.month, 1);
  }
  // Applications count from this instant on; one made exactly N days ago no longer counts, so
  // `1 per 3 days` opens again 72 hours after the last one.
  const days = Number(window.slice('rolling_days:'.length));
  return new Date(now.getTime() - days * DAY_MS + 1);
}

/** `1 per day`, `3 per 30 days`, `1 per member`: a limit as a sentence fragment. */
export function limitText(limit: OutcomeLimit): string {
  const w = limit.window;
  const per =
    w === 'lifetime'
      ? 'member'
      : w.startsWith('rolling_days:')
        ? `${w.slice('rolling_days:'.length)} days`
        : w;
  return `${limit.max} per ${per}`;
}

/** Whether one more application fits a limit, given how often it applied within its window. */
export const withinLimit = (limit: OutcomeLimit | undefined, appliedInWindow: number): boolean =>
  limit === undefined || appliedInWindow < limit.max;

/** The SessionM-style `discriminator` of an outcome in the trigger answer: its type. */
export const outcomeDiscriminator = (o: BehaviourOutcome): string => o.type;
