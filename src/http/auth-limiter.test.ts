import { describe, expect, it } from 'vitest';
import { AddressLanes, FailedAuthLimiter } from './auth-limiter.js';

describe('FailedAuthLimiter', () => {
  const limits = { perKey: 3, perAddress: 5, windowMs: 60_000 };

  it('refuses a key from an address after its limit of failures until the oldest leaves the window', () => {
    let now = 1_000_000;
    const l = new FailedAuthLimiter(limits, () => now);
    for (let i = 0; i < 3; i++) {
      expect(l.retryAfter('10.0.0.1', 'k1')).toBe(0);
      l.fail('10.0.0.1', 'k1');
      now += 1000;
    }
    // Failures at 0 s, 1 s, 2 s; now 3 s: the first leaves the window at 60 s.
    expect(l.retryAfter('10.0.0.1', 'k1')).toBe(57);
    // A stranger cannot lock a client out (issue #13 item 4): the key is free from other addresses.
    expect(l.retryAfter('10.0.0.2', 'k1')).toBe(0);
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

  it('past the global ceiling of one key, failures are slowed, never refused elsewhere', () => {
    const l = new FailedAuthLimiter({ ...limits, perKeyGlobal: 6 }, () => 0);
    for (let i = 0; i < 6; i++) {
      expect(l.slowFailures('k1')).toBe(false);
      l.fail(`10.0.1.${i}`, 'k1');
    }
    expect(l.slowFailures('k1')).toBe(true);
    expect(l.slowFailures('k2')).toBe(false);
    expect(l.retryAfter('10.0.2.1', 'k1')).toBe(0);
  });
});

describe('AddressLanes', () => {
  it('runs one task at a time per address, in arrival order, and others at once', async () => {
    const lanes = new AddressLanes();
    const order: string[] = [];
    const task = (name: string, ms: number) => async () => {
      await new Promise((r) => setTimeout(r, ms));
      order.push(name);
      return name;
    };
    const flood = [0, 1, 2].map((i) => lanes.run('10.0.0.1', task(`bad-${i}`, 20)));
    const other = lanes.run('10.0.0.2', task('good', 1));
    expect(lanes.size).toBe(2);
    await Promise.all([...flood, other]);
    expect(order).toEqual(['good', 'bad-0', 'bad-1', 'bad-2']);
    expect(lanes.size).toBe(0);
  });

  it('a failing task does not stop the next one of its address', async () => {
    const lanes = new AddressLanes();
    await expect(lanes.run('a', async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await expect(lanes.run('a', async () => 'yes')).resolves.toBe('yes');
  });
});
