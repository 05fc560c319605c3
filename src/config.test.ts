import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_DB_POOL, envDbPool } from './config.js';

describe('LAUREL_DB_POOL', () => {
  const saved = process.env.LAUREL_DB_POOL;
  afterEach(() => {
    if (saved === undefined) delete process.env.LAUREL_DB_POOL;
    else process.env.LAUREL_DB_POOL = saved;
  });

  it('is 10 connections per process unless set, and refuses what is not a whole number from 1 to 1000', () => {
    delete process.env.LAUREL_DB_POOL;
    expect(envDbPool()).toBe(DEFAULT_DB_POOL);
    process.env.LAUREL_DB_POOL = ' 4 ';
    expect(envDbPool()).toBe(4);
    for (const bad of ['0', '-1', '2.5', 'ten', '1001']) {
      process.env.LAUREL_DB_POOL = bad;
      expect(() => envDbPool()).toThrow(/^LAUREL_DB_POOL must be a whole number from 1 to 1000/);
    }
  });
});
