import { describe, expect, it } from 'vitest';
import { FailedAuthLimiter } from './auth-limiter.js';

describe('FailedAuthLimiter', () => {
  const limits = { perKey: 3, perAddress: 5, windowMs: 60_000 };

  it('refuses a key after its limit of failures until the oldest leaves the window', () => {
    let now = 1_000_000;
    const l = new FailedAuthLimiter(limits, () => now);
    for (let i = 0; i < 3; i++) {
      expect(l.retryAfter('10.0.0.1', 'k1')).toBe(0);
      l.fail('10.0.0.1', 'k1');
      now += 1000;
    }
    // Failures at 0 s, 1 s, 2 s; now 3 s: the first leaves the window at 60 s.
    expect(l.retryAfter('10.0.0.1', 'k1')).toBe(57);
    expect(l.retryAfter('10.0.0.2', 'k1')).toBe(57);
    expect(l.retryAfter('10.0.0.1', 'k2')).toBe(0);
    now = 1_000_000 + 60_000;
    expect(l.retryAfter('10.0.0.1', 'k1')).toBe(0);
  });

  it('refuses an address after its limit whatever the key', () => {
    let now = 0;
    const l = new FailedAuthLimiter(limits, () => now);
    for (let i = 0; i < 5; i++) l.fail('10.0.0.9', `key-${i}`);
    expect(l.retryAfter('10.0.0.9', 'fresh')).toBe(60);
    expect(l.retryAfter('10.0.0.9', null)).toBe(60);
    expect(l.retryAfter('10.0.0.8', 'fresh')).toBe(0);
    now = 59_999;
    expect(l.retryAfter('10.0.0.9', null)).toBe(1);
    now = 60_000;
    expect(l.retryAfter('10.0.0.9', null)).toBe(0);
  });

  it('stays bounded under a flood of distinct addresses', () => {
    const l = new FailedAuthLimiter(limits, () => 0);
    for (let i = 0; i < 120_000; i++) l.fail(`addr-${i}`, null);
    // The oldest were dropped; the newest are still counted.
    expect(l.retryAfter('addr-0', null)).toBe(0);
    for (let i = 0; i < 4; i++) l.fail('addr-119999', null);
    expect(l.retryAfter('addr-119999', null)).toBe(60);
  });
});
