import { describe, expect, it } from 'vitest';
import {
  isTimeZone,
  localDate,
  parseZonedTime,
  startOfLocalDay,
  startOfLocalYear,
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

  it('knows IANA zones', () => {
    expect(isTimeZone(NY)).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
