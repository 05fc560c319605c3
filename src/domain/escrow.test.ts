import { describe, expect, it } from 'vitest';
import { planAwardChange } from './escrow.js';

describe('award changes against escrow', () => {
  it('puts a new award into the lot', () => {
    expect(planAwardChange(2000, undefined, 0)).toEqual({ lot: 2000, settled: 0, shortfall: 0 });
  });

  it('takes a return from the purchase lot while it waits', () => {
    expect(planAwardChange(-150, { remaining: 2000, matured: false }, 0)).toEqual({
      lot: -150,
      settled: 0,
      shortfall: 0,
    });
  });

  it('after maturity claws back from the settled account down to zero and records the shortfall', () => {
    expect(planAwardChange(-2000, { remaining: 0, matured: true }, 5000)).toEqual({
      lot: 0,
      settled: -2000,
      shortfall: 0,
    });
    expect(planAwardChange(-2000, { remaining: 0, matured: true }, 300)).toEqual({
      lot: 0,
      settled: -300,
      shortfall: 1700,
    });
  });

  it('adds points of a later edit to the settled account once the lot has matured', () => {
    expect(planAwardChange(40, { remaining: 0, matured: true }, 10)).toEqual({
      lot: 0,
      settled: 40,
      shortfall: 0,
    });
  });
});
