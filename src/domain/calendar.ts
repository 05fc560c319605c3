/**
 * Calendar rules in the program's time zone (DESIGN §2: "time zone (all calendar rules)"). Pure,
 * on the platform's Intl time-zone data; no I/O.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA zone this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall-clock reading of `instant` in `timeZone`. */
export function wallTime(instant: Date, timeZone: string): WallTime {
  const seconds = Math.floor(instant.getTime() / 1000) * 1000;
  const w = new Date(seconds + offsetAt(instant, timeZone));
  return {
    year: w.getUTCFullYear(),
    month: w.getUTCMonth() + 1,
    day: w.getUTCDate(),
    hour: w.getUTCHours(),
    minute: w.getUTCMinutes(),
    second: w.getUTCSeconds(),
  };
}

/** The offset of `timeZone` at the whole second `t` (epoch ms), as the platform's Intl data reads it. */
function intlOffset(t: number, timeZone: string): number {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(new Date(t))
      .filter((p) => p.type !== 'literal')
      .map((p) => [p.type, Number(p.value)]),
  ) as Record<string, number>;
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!) - t;
}

/**
 * Offsets known per zone and 15-minute slot of UTC time. `Intl`'s `formatToParts` costs several
 * µs, and a purchase asked it five times or more (the enrollment day, the qualifying year): a slot
 * whose first and last second read the same offset holds it throughout, since no zone changes its
 * offset twice in 15 minutes. A slot with a transition inside is asked of Intl each time.
 */
const SLOT_MS = 15 * 60_000;
const MAX_SLOTS_PER_ZONE = 100_000;
const offsets = new Map<string, Map<number, number>>();

/** Offset of `timeZone` from UTC at `instant`, in milliseconds. */
function offsetAt(instant: Date, timeZone: string): number {
  const t = Math.floor(instant.getTime() / 1000) * 1000;
  const slot = Math.floor(t / SLOT_MS);
  let zone = offsets.get(timeZone);
  const known = zone?.get(slot);
  if (known !== undefined) return known;
  const first = intlOffset(slot * SLOT_MS, timeZone);
  if (first !== intlOffset((slot + 1) * SLOT_MS - 1000, timeZone)) return intlOffset(t, timeZone);
  if (!zone) offsets.set(timeZone, (zone = new Map()));
  if (zone.size >= MAX_SLOTS_PER_ZONE) zone.clear();
  zone.set(slot, first);
  return first;
}

/**
 * The instant a wall-clock time in `timeZone` denotes. In a DST gap the time is read with the
 * offset before the gap (so 02:30 on a spring-forward day is 03:30 local); in an overlap, the
 * earlier of the two instants.
 */
export function zonedInstant(
  timeZone: string,
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
  ms = 0,
): Date {
  const guess = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Offsets a day either side bracket any transition (zones never change twice in a day).
  const before = guess - offsetAt(new Date(guess - 86_400_000), timeZone);
  const after = guess - offsetAt(new Date(guess + 86_400_000), timeZone);
  const reads = (t: number): boolean => {
    const w = wallTime(new Date(t), timeZone);
    return w.year === year && w.month === month && w.day === day && w.hour === hour && w.minute === minute;
  };
  const valid = [before, after].filter(reads);
  // Overlap: both read right, take the earlier. Gap: neither does, read with the offset before it.
  return new Date(valid.length ? Math.min(...valid) : before);
}

/** `YYYY-MM-DD` of `instant` in `timeZone`. */
export function localDate(instant: Date, timeZone: string): string {
  const w = wallTime(instant, timeZone);
  return `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
}

/** Midnight at the start of a `YYYY-MM-DD` day in `timeZone`. */
export function startOfLocalDay(date: string, timeZone: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return zonedInstant(timeZone, y, m, d);
}

/** Midnight on 1 January of `year` in `timeZone`. */
export function startOfLocalYear(year: number, timeZone: string): Date {
  return zonedInstant(timeZone, year, 1, 1);
}

/** Midnight on 1 January of the year `instant` falls in, in `timeZone`: the current qualifying year. */
export function startOfLocalYearAt(instant: Date, timeZone: string): Date {
  return startOfLocalYear(wallTime(instant, timeZone).year, timeZone);
}

/**
 * Parses a purchase time: an ISO-8601 instant with an offset, or a local time without one, which
 * is read in `timeZone` (issue #3: "a time without an offset is read in the program's time zone").
 * Accepts `T` or a space between date and time, as POS systems send both.
 */
export function parseZonedTime(s: string, timeZone: string): Date | null {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(
      s.trim(),
    );
  if (!m) return null;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as number[];
  const second = Number(m[6] ?? 0);
  const ms = Number(((m[7] ?? '') + '000').slice(0, 3));
  if (month! < 1 || month! > 12 || day! < 1 || day! > 31 || hour! > 23 || minute! > 59 || second > 59)
    return null;
  const check = new Date(Date.UTC(year!, month! - 1, day!));
  if (check.getUTCDate() !== day) return null;
  if (m[8]) {
    const offset = m[8].toUpperCase() === 'Z' ? 0 : parseOffset(m[8]);
    return new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second, ms) - offset);
  }
  return zonedInstant(timeZone, year!, month!, day!, hour!, minute!, second, ms);
}

function parseOffset(o: string): number {
  const sign = o.startsWith('-') ? -1 : 1;
  const digits = o.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
}
