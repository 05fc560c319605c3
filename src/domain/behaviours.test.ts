import { describe, expect, it } from 'vitest';
import { behavioursForEvent, limitText, windowStart, withinLimit } from './behaviours.js';
import { acmeProgram, type Behaviour } from './program.js';

const NY = 'America/New_York';
const base = acmeProgram('66f9b3f2-7770-4dca-ac8e-2a1ef7e8e54b');
const campaignId = base.campaigns[0]!.id;
const behaviour = (id: string, event: string, campaign?: string): Behaviour => ({
  id,
  event,
  ...(campaign ? { campaign_id: campaign } : {}),
  outcomes: [],
});
const program = {
  ...base,
  behaviours: [behaviour('a', 'SIGN_UP'), behaviour('b', 'SIGN_UP', campaignId), behaviour('c', 'REVIEW')],
};
const at = (iso: string) => new Date(iso);

describe('behaviours', () => {
  it('an event feeds the behaviours of its name; campaign behaviours only through their campaign', () => {
    expect(behavioursForEvent(program, 'SIGN_UP', null).map((b) => b.id)).toEqual(['a']);
    expect(behavioursForEvent(program, 'SIGN_UP', campaignId).map((b) => b.id)).toEqual(['a', 'b']);
    expect(behavioursForEvent(program, 'sign_up', null)).toEqual([]);
    expect(behavioursForEvent(base, 'SIGN_UP', null)).toEqual([]);
  });

  it('windows start at program-local midnight of the day, month and year, or N days back', () => {
    const now = at('2026-12-04T03:00:00Z'); // 22:00 on 3 December in New York
    expect(windowStart('lifetime', now, NY)).toBeNull();
    expect(windowStart('day', now, NY)).toEqual(at('2026-12-03T05:00:00Z'));
    expect(windowStart('month', now, NY)).toEqual(at('2026-12-01T05:00:00Z'));
    expect(windowStart('year', now, NY)).toEqual(at('2026-01-01T05:00:00Z'));
    expect(windowStart('rolling_days:7', now, NY)).toEqual(at('2026-11-27T03:00:00.001Z'));
  });

  it('a limit admits applications until its maximum', () => {
    expect(withinLimit(undefined, 1000)).toBe(true);
    expect(withinLimit({ max: 2, window: 'day' }, 1)).toBe(true);
    expect(withinLimit({ max: 2, window: 'day' }, 2)).toBe(false);
    expect(limitText({ max: 1, window: 'lifetime' })).toBe('1 per member');
    expect(limitText({ max: 3, window: 'rolling_days:30' })).toBe('3 per 30 days');
    expect(limitText({ max: 2, window: 'day' })).toBe('2 per day');
  });
});
