import { describe, expect, it } from 'vitest';
import { LaurelError } from '../errors.js';
import { mergeCustomAttributes, normalizeProfile, phoneKey } from './profile.js';

const now = new Date('2026-11-25T12:00:00Z');
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return err instanceof LaurelError ? err.code : 'other';
  }
  return undefined;
};

describe('profile rules', () => {
  it('normalises: trims, upper-cases the country, reads "true" as true, empty text as null', () => {
    const p = normalizeProfile(
      { email: ' a@b.co ', country: 'usa', opted_in: 'false', city: '  ', gender: 'F' },
      now,
    );
    expect(p).toEqual({ email: 'a@b.co', country: 'USA', opted_in: false, city: null, gender: 'f' });
  });

  it('refuses members younger than 13, impossible dates and unknown countries', () => {
    expect(code(() => normalizeProfile({ dob: '2013-11-26' }, now))).toBe('validation');
    expect(code(() => normalizeProfile({ dob: '2013-11-25' }, now))).toBeUndefined();
    expect(code(() => normalizeProfile({ dob: '1999-02-30' }, now))).toBe('validation');
    expect(code(() => normalizeProfile({ country: 'XXX' }, now))).toBe('validation');
    expect(code(() => normalizeProfile({ country: 'US' }, now))).toBe('validation');
    expect(code(() => normalizeProfile({ email: 'not-an-email' }, now))).toBe('validation');
    expect(code(() => normalizeProfile({ first_name: 'a\u0000b' }, now))).toBe('validation');
    expect(code(() => normalizeProfile({ phone_numbers: [{ phone_number: '12' }] }, now))).toBe('validation');
  });

  it('compares phones on their last ten digits', () => {
    expect(phoneKey('+1 (508) 995-9991')).toBe('5089959991');
    expect(phoneKey('508.995.9991')).toBe('5089959991');
    expect(phoneKey('995-9991')).toBe('9959991');
  });

  it('merges custom attributes: null removes, at most 200', () => {
    expect(mergeCustomAttributes({ a: 1, b: 2 }, { b: null, c: 3 })).toEqual({ a: 1, c: 3 });
    const many = Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`k${i}`, i]));
    expect(code(() => mergeCustomAttributes({}, many))).toBe('validation');
    expect(code(() => mergeCustomAttributes({}, { _version: 3 }))).toBe('validation');
  });
});
