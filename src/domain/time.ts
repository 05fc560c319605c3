/** Wire formats of time (reference §3): Core `YYYY-MM-DD HH:MM:SS` in UTC; `join_date` ISO without zone. */

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `2019-03-22 18:12:02` (UTC), the Core API's timestamp format. */
export function coreTime(d: Date): string;
export function coreTime(d: Date | null | undefined): string | null;
export function coreTime(d: Date | null | undefined): string | null {
  if (!d) return null;
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  );
}

/** `2019-03-22T18:12:02.78` (UTC, no zone, fraction without trailing zeros), as tier `join_date`. */
export function isoLocalTime(d: Date): string {
  const base = d.toISOString().slice(0, 19);
  const frac = pad(d.getUTCMilliseconds(), 3).replace(/0+$/, '');
  return frac ? `${base}.${frac}` : base;
}

/**
 * Parses an ISO-8601 instant. A time without an offset is rejected here; callers that accept
 * program-local times convert them with the program's zone first.
 */
export function parseInstant(s: string): Date | null {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(:(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i.exec(s);
  // Date() would roll 2026-02-30 into March and T24:00 into the next day; refuse them instead.
  if (!m || !isCalendarDate(m[1]!) || Number(m[2]) > 23 || Number(m[3]) > 59 || Number(m[5] ?? 0) > 59)
    return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** A calendar date `YYYY-MM-DD` that exists (no 2023-02-30). */
export function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const dt = new Date(Date.UTC(y, mo - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === mo - 1 && dt.getUTCDate() === d;
}

/** Whole years between a `YYYY-MM-DD` birth date and `now` (UTC calendar). */
export function ageInYears(dob: string, now: Date): number {
  const [y, m, d] = dob.split('-').map(Number) as [number, number, number];
  let age = now.getUTCFullYear() - y;
  const beforeBirthday = now.getUTCMonth() + 1 < m || (now.getUTCMonth() + 1 === m && now.getUTCDate() < d);
  if (beforeBirthday) age -= 1;
  return age;
}
