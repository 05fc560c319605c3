import { describe, expect, it } from 'vitest';
import { openingPostings, type OpeningPosition } from './opening.js';

const position = (p: Partial<OpeningPosition>): OpeningPosition => ({
  cutover: '2026-12-15T05:00:00.000Z',
  balance: 0,
  life_time_value: 0,
  tier_points: 0,
  tier_level_id: null,
  tier_entered_at: null,
  tier_expires_at: null,
  ...p,
});

describe('opening postings (issue #16)', () => {
  it('credit the lifetime value, debit what was used, credit the tier points, and balance', () => {
    const postings = openingPostings(position({ balance: 1500, life_time_value: 4200, tier_points: 800 }));
    expect(postings).toEqual([
      { account: 'spendable', amount: 4200 },
      { account: 'spendable', amount: -2700 },
      { account: 'tier', amount: 800 },
      { account: 'program:opening', amount: -5000 },
      { account: 'program:opening', amount: 2700 },
    ]);
    expect(postings.reduce((n, p) => n + p.amount, 0)).toBe(0);
  });

  it('leave out what is zero: a balance never used is one credit', () => {
    expect(openingPostings(position({ balance: 300, life_time_value: 300 }))).toEqual([
      { account: 'spendable', amount: 300 },
      { account: 'program:opening', amount: -300 },
    ]);
    expect(openingPostings(position({}))).toEqual([]);
  });
});
