import { describe, expect, it } from 'vitest';
import { parseBehaviourForm } from './behaviours.service.js';
import { FormError } from './console.service.js';

/** The console's add-behaviour form (issue #14 item 8), checked as the admin API checks its body. */
describe('parseBehaviourForm', () => {
  const fieldOf = (form: Parameters<typeof parseBehaviourForm>[0]): string => {
    try {
      parseBehaviourForm(form);
    } catch (err) {
      if (err instanceof FormError) return err.field;
      throw err;
    }
    return 'none';
  };

  it('builds one outcome with its limit; a tag lasts whole days', () => {
    expect(
      parseBehaviourForm({
        event: ' JOINED_CLUB ',
        name: '',
        outcome: 'add_tag',
        tag: 'club',
        ttl_days: '30',
        limit_max: '2',
        limit_window: 'month',
      }),
    ).toEqual({
      event: 'JOINED_CLUB',
      outcomes: [
        { type: 'add_tag', tag: 'club', ttl_seconds: 30 * 86_400, limit: { max: 2, window: 'month' } },
      ],
    });
  });

  it('names the field a bad value is in', () => {
    expect(fieldOf({ event: '', outcome: 'award_points', points: '5', account: 'spendable' })).toBe('event');
    expect(fieldOf({ event: 'E', outcome: 'award_points', points: '2.5', account: 'spendable' })).toBe(
      'points',
    );
    expect(fieldOf({ event: 'E', outcome: 'award_points', points: '5', account: 'tier_escrow' })).toBe(
      'account',
    );
    expect(fieldOf({ event: 'E', outcome: 'award_points', points: '99999999', account: 'tier' })).toBe(
      'points',
    );
    expect(fieldOf({ event: 'x'.repeat(129), outcome: 'move_tier', tier_level: 'GOLD' })).toBe('event');
    expect(fieldOf({ event: 'E', outcome: 'move_tier', tier_level: 'GOLD', limit_max: '1' })).toBe(
      'limit_window',
    );
    expect(fieldOf({ event: 'E', outcome: 'sideways' })).toBe('outcome');
  });
});
