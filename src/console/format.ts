import { wallTime } from '../domain/calendar.js';

/**
 * How the console shows numbers and times: pure. Times are shown in the program's time zone
 * (DESIGN §2: all calendar rules are in that zone), so an agent reads "Dec 31" where the program
 * says the quarter ends, wherever the agent sits.
 */

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();
const dateFormats = new Map<string, Intl.DateTimeFormat>();
const dayMonthFormats = new Map<string, Intl.DateTimeFormat>();

function cached(
  map: Map<string, Intl.DateTimeFormat>,
  timeZone: string,
  opts: Intl.DateTimeFormatOptions,
): Intl.DateTimeFormat {
  let f = map.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, ...opts });
    map.set(timeZone, f);
  }
  return f;
}

/** `Dec 25, 2026, 7:00 AM EST`. */
export function formatInstant(d: Date, timeZone: string): string {
  return cached(dateTimeFormats, timeZone, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(d);
}

/** `Dec 25, 2026`. */
export function formatDate(d: Date, timeZone: string): string {
  return cached(dateFormats, timeZone, { year: 'numeric', month: 'short', day: 'numeric' }).format(d);
}

/**
 * An instant a rule ends at. Tier expiry and cash-out happen at midnight in the program's zone,
 * "the end of" the day before: shown as `end of Dec 31, 2027`, not as a time on 1 January.
 */
export function formatEnd(d: Date, timeZone: string): string {
  const w = wallTime(d, timeZone);
  if (w.hour === 0 && w.minute === 0 && w.second === 0 && d.getUTCMilliseconds() === 0) {
    return `end of ${formatDate(new Date(d.getTime() - 1), timeZone)}`;
  }
  return formatInstant(d, timeZone);
}

/**
 * The last day before an instant a rule ends at, as `31 Dec` (issue #20: "N points to keep GOLD by
 * 31 Dec"): a tier expiring at 00:00 on 1 January must be kept by the end of 31 December.
 */
export function formatKeepBy(d: Date, timeZone: string): string {
  const w = wallTime(d, timeZone);
  const midnight = w.hour === 0 && w.minute === 0 && w.second === 0 && d.getUTCMilliseconds() === 0;
  const parts = cached(dayMonthFormats, timeZone, { day: 'numeric', month: 'short' }).formatToParts(
    midnight ? new Date(d.getTime() - 1) : d,
  );
  const part = (type: string) => parts.find((x) => x.type === type)?.value ?? '';
  return `${part('day')} ${part('month')}`;
}

/** `12,345`. */
export const formatPoints = (n: number): string => n.toLocaleString('en-US');

/** `+250` or `−120` (a real minus sign, read as one by screen readers). */
export const formatSigned = (n: number): string =>
  n > 0 ? `+${formatPoints(n)}` : n < 0 ? `\u2212${formatPoints(-n)}` : '0';

/** `25.00 USD`. */
export const formatMoney = (value: number, currency: string): string =>
  `${value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency}`;

/** Share of the way from 0 to `target`, as a whole percent from 0 to 100. */
export function progressPercent(points: number, target: number): number {
  if (target <= 0) return 100;
  return Math.max(0, Math.min(100, Math.floor((points / target) * 100)));
}
