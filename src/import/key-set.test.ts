import { describe, expect, it } from 'vitest';
import { KeySet } from './key-set.js';

describe('KeySet', () => {
  it('remembers the first line of every key through growth', () => {
    const keys = new KeySet(4);
    for (let i = 1; i <= 5000; i++) {
      expect(keys.lineOf(`k${i}`)).toBeUndefined();
      keys.add(`k${i}`, i);
    }
    expect(keys.size).toBe(5000);
    for (let i = 1; i <= 5000; i++) expect(keys.lineOf(`k${i}`)).toBe(i);
    expect(keys.lineOf('k5001')).toBeUndefined();
  });

  it('keeps the first line when a key is added again', () => {
    const keys = new KeySet();
    keys.add('x', 3);
    keys.add('x', 9);
    expect(keys.lineOf('x')).toBe(3);
    expect(keys.size).toBe(1);
  });
});
