import { describe, expect, it } from 'vitest';
import { bodyProblem, MAX_BODY_DEPTH, storableText } from './body-guards.js';

describe('storableText', () => {
  it('accepts any well-formed text without NUL, other control characters and astral symbols included', () => {
    for (const s of ['', 'Ada', 'tab\there', '\u0007', '😀', '👨‍👩‍👧', 'a\ufeffb', '\uffff', 'שלום']) {
      expect(storableText(s), JSON.stringify(s)).toBe(true);
    }
  });

  it('refuses NUL and lone surrogates, high or low, anywhere in the string', () => {
    for (const s of ['\u0000', 'a\u0000b', '\ud800', '\udfff', 'a\ud83db', '\udc00\ud800', 'x😀\ud800']) {
      expect(storableText(s), JSON.stringify(s)).toBe(false);
    }
  });
});

describe('bodyProblem', () => {
  it('names the path of the first value or key the database cannot store', () => {
    expect(bodyProblem({ user: { first_name: 'Ada', last_name: 'a\u0000' } })?.field).toBe('user.last_name');
    expect(bodyProblem({ deposit_details: [{ reference_id: '\ud800' }] })?.field).toBe(
      'deposit_details.0.reference_id',
    );
    expect(bodyProblem({ user_profile: { 'k\u0000': 1 } })?.field).toBe('user_profile.k\u0000');
    expect(bodyProblem('\udfff')?.field).toBe('body');
  });

  it('finds nothing wrong in ordinary bodies, including no body at all', () => {
    for (const body of [undefined, null, 1, 'x', [], {}, { a: [{ b: ['c', 1, null, true] }] }]) {
      expect(bodyProblem(body)).toBeUndefined();
    }
  });

  it(`allows ${MAX_BODY_DEPTH} levels of nesting and refuses one more, without recursing itself`, () => {
    const nest = (depth: number) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown;
    expect(bodyProblem(nest(MAX_BODY_DEPTH))).toBeUndefined();
    expect(bodyProblem(nest(MAX_BODY_DEPTH + 1))?.message).toMatch(/nests deeper than 32 levels/);
    expect(bodyProblem(nest(100_000))?.field).toBe(Array(MAX_BODY_DEPTH).fill('0').join('.'));
  });
});
