import { describe, expect, it } from 'vitest';
import { ageInYears, coreTime, isCalendarDate, isoLocalTime, parseInstant } from './time.js';

describe('time formats', () => {
  it('formats Core timestamps in UTC as YYYY-MM-DD HH:MM:SS', () => {
    expect(coreTime(new Date('2019-03-22T18:12:02.780Z'))).toBe('2019-03-22 18:12:02');
    expect(coreTime(null)).toBeNull();
  });

  it('formats join_date without zone and without trailing zeros', () => {
    expect(isoLocalTime(new Date('2019-03-22T18:12:02.780Z'))).toBe('2019-03-22T18:12:02.78');
    expect(isoLocalTime(new Date('2019-03-22T18:12:02.000Z'))).toBe('2019-03-22T18:12:02');
  });

  it('parses instants only with an offset', () => {
    expect(parseInstant('2026-12-01T05:00:00Z')?.toISOString()).toBe('2026-12-01T05:00:00.000Z');
    expect(parseInstant('2026-12-01T00:00:00-05:00')?.toISOString()).toBe('2026-12-01T05:00:00.000Z');
    expect(parseInstant('2026-12-01T00:00:00')).toBeNull();
    expect(parseInstant('tomorrow')).toBeNull();
    expect(parseInstant('2026-13-01T00:00:00Z')).toBeNull();
    expect(parseInstant('2026-02-30T00:00:00Z')).toBeNull();
    expect(parseInstant('2026-02-01T24:00:00Z')).toBeNull();
  });

  it('knows real calendar dates', () => {
    expect(isCalendarDate('2024-02-29')).toBe(true);
    expect(isCalendarDate('2023-02-29')).toBe(false);
    expect(isCalendarDate('1999-7-1')).toBe(false);
  });

  it('counts whole years of age, turning a year older on the birthday', () => {
    const now = new Date('2026-11-25T12:00:00Z');
    expect(ageInYears('2013-11-25', now)).toBe(13);
    expect(ageInYears('2013-11-26', now)).toBe(12);
    expect(ageInYears('2008-02-29', new Date('2026-02-28T12:00:00Z'))).toBe(17);
  });
});
