import { describe, expect, it } from 'vitest';
import {
  isTimeZone,
  localDate,
  parseZonedTime,
  startOfLocalDay,
  startOfLocalYear,
  wallTime,
  zonedInstant,
} from './calendar.js';

const NY = 'America/New_York';

describe('calendar in the program time zone', () => {
  it('finds local midnight in winter and summer', () => {
    expect(startOfLocalYear(2027, NY).toISOString()).toBe('2027-01-01T05:00:00.000Z');
    expect(startOfLocalDay('2026-07-04', NY).toISOString()).toBe('2026-07-04T04:00:00.000Z');
  });

  it('reads the local date of an instant', () => {
    expect(localDate(new Date('2027-01-01T04:59:59Z'), NY)).toBe('2026-12-31');
    expect(localDate(new Date('2027-01-01T05:00:00Z'), NY)).toBe('2027-01-01');
  });

  it('handles the DST gap and overlap', () => {
    // 2026-03-08 02:30 does not exist in New York; read with the offset before the gap.
    expect(zonedInstant(NY, 2026, 3, 8, 2, 30).toISOString()).toBe('2026-03-08T07:30:00.000Z');
    // 2026-11-01 01:30 happens twice; the earlier instant (EDT) is taken.
    expect(zonedInstant(NY, 2026, 11, 1, 1, 30).toISOString()).toBe('2026-11-01T05:30:00.000Z');
  });

  it('parses purchase times with or without an offset', () => {
    expect(parseZonedTime('2026-11-27T10:00:00', NY)?.toISOString()).toBe('2026-11-27T15:00:00.000Z');
    expect(parseZonedTime('2026-11-27 10:00:00.250', NY)?.toISOString()).toBe('2026-11-27T15:00:00.250Z');
    expect(parseZonedTime('2026-11-27T10:00:00Z', NY)?.toISOString()).toBe('2026-11-27T10:00:00.000Z');
    expect(parseZonedTime('2026-11-27T10:00:00+01:00', NY)?.toISOString()).toBe('2026-11-27T09:00:00.000Z');
    expect(parseZonedTime('2026-02-30T10:00:00', NY)).toBeNull();
    expect(parseZonedTime('yesterday', NY)).toBeNull();
  });

  it('reads the wall clock as Intl does, across transitions, odd offsets and old local mean times', () => {
    // The offsets are kept per 15-minute slot; every reading must still be Intl's own.
    const formats = new Map<string, Intl.DateTimeFormat>();
    const format = (timeZone: string) =>
      formats.get(timeZone) ??
      formats
        .set(
          timeZone,
          new Intl.DateTimeFormat('en-US', {
            timeZone,
            hourCycle: 'h23',
            year: 'numeric',
            month: 'numeric',
            day: 'numeric',
            hour: 'numeric',
            minute: 'numeric',
            second: 'numeric',
          }),
        )
        .get(timeZone)!;
    const intl = (t: number, timeZone: string) => {
      const parts = Object.fromEntries(
        format(timeZone)
          .formatToParts(new Date(t))
          .filter((p) => p.type !== 'literal')
          .map((p) => [p.type, Number(p.value)]),
      );
      return {
        year: parts.year,
        month: parts.month,
        day: parts.day,
        hour: parts.hour,
        minute: parts.minute,
        second: parts.second,
      };
    };
    const zones = [
      NY,
      'Europe/Paris',
      'Asia/Kathmandu',
      'Australia/Lord_Howe',
      'Pacific/Chatham',
      'America/St_Johns',
      'Europe/Amsterdam',
      'Africa/Monrovia',
      'UTC',
    ];
    // Around New York's and Lord Howe's transitions second by second, and random instants from
    // 1900 (local mean times with odd seconds) to 2100.
    const instants: number[] = [];
    for (const edge of [
      '2026-03-08T07:00:00Z',
      '2026-11-01T06:00:00Z',
      '2026-04-04T15:00:00Z',
      '2026-10-03T15:30:00Z',
    ]) {
      for (let s = -90; s <= 90; s++) instants.push(Date.parse(edge) + s * 1000 + 499);
    }
    let seed = 15;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const from = Date.parse('1900-01-01T00:00:00Z');
    const to = Date.parse('2100-01-01T00:00:00Z');
    for (let i = 0; i < 2_000; i++) instants.push(Math.floor(from + next() * (to - from)));
    for (const zone of zones) {
      for (const t of instants) {
        // Twice: the first reading fills the slot, the second reads it.
        expect(wallTime(new Date(t), zone), `${zone} ${new Date(t).toISOString()}`).toEqual(intl(t, zone));
        expect(wallTime(new Date(t), zone)).toEqual(intl(t, zone));
      }
    }
  });

  it('knows IANA zones', () => {
    expect(isTimeZone(NY)).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
