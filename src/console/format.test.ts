import { describe, expect, it } from 'vitest';
import { formatEnd, formatInstant, formatMoney, formatSigned, progressPercent } from './format.js';

const NY = 'America/New_York';

describe('console formats', () => {
  it('shows instants in the program zone, with the zone named', () => {
    expect(formatInstant(new Date('2026-12-28T16:15:00Z'), NY)).toBe('Dec 28, 2026, 11:15 AM EST');
    expect(formatInstant(new Date('2026-08-18T18:05:00Z'), NY)).toBe('Aug 18, 2026, 2:05 PM EDT');
    expect(formatInstant(new Date('2026-08-18T18:05:00Z'), 'Europe/Paris')).toBe(
      'Aug 18, 2026, 8:05 PM GMT+2',
    );
  });

  it('a rule ending at local midnight ends at the end of the day before', () => {
    // SILVER reached in 2026 ends at 00:00 on 1 January 2028, New York time.
    expect(formatEnd(new Date('2028-01-01T05:00:00Z'), NY)).toBe('end of Dec 31, 2027');
    // The Q3 cash-out instant: midnight starting 1 October (EDT).
    expect(formatEnd(new Date('2026-10-01T04:00:00Z'), NY)).toBe('end of Sep 30, 2026');
    // Midnight UTC is not midnight in New York: shown as a time.
    expect(formatEnd(new Date('2028-01-01T00:00:00Z'), NY)).toBe('Dec 31, 2027, 7:00 PM EST');
  });

  it('signs, money and progress', () => {
    expect(formatSigned(1250)).toBe('+1,250');
    expect(formatSigned(-85)).toBe('\u221285');
    expect(formatSigned(0)).toBe('0');
    expect(formatMoney(20, 'USD')).toBe('20.00 USD');
    expect(progressPercent(2445, 10000)).toBe(24);
    expect(progressPercent(12000, 10000)).toBe(100);
    expect(progressPercent(-5, 10000)).toBe(0);
    expect(progressPercent(5, 0)).toBe(100);
  });
});
