import { describe, expect, it } from 'vitest';
import { planAwardChange, type LotState } from './escrow.js';
import { prng } from './prng.js';

describe('award changes against escrow', () => {
  it('puts a new award into the lot', () => {
    expect(planAwardChange(2000, undefined, 0)).toEqual({ lot: 2000, settled: 0, shortfall: 0, repaid: 0 });
  });

  it('takes a return from the purchase lot while it waits', () => {
    expect(planAwardChange(-150, { remaining: 2000, matured: false }, 0)).toEqual({
      lot: -150,
      settled: 0,
      shortfall: 0,
      repaid: 0,
    });
  });

  it('after maturity claws back from the settled account down to zero and records the shortfall', () => {
    expect(planAwardChange(-2000, { remaining: 0, matured: true }, 5000)).toEqual({
      lot: 0,
      settled: -2000,
      shortfall: 0,
      repaid: 0,
    });
    expect(planAwardChange(-2000, { remaining: 0, matured: true }, 300)).toEqual({
      lot: 0,
      settled: -300,
      shortfall: 1700,
      repaid: 0,
    });
  });

  it('adds points of a later edit to the settled account once the lot has matured', () => {
    expect(planAwardChange(40, { remaining: 0, matured: true }, 10)).toEqual({
      lot: 0,
      settled: 40,
      shortfall: 0,
      repaid: 0,
    });
  });

  it('repays the outstanding shortfall before crediting a re-ring (issue #13: void and re-ring mints points)', () => {
    // 100 matured and spent; a void takes nothing and owes 100; the re-ring repays it and credits nothing.
    const voided = planAwardChange(-100, { remaining: 0, matured: true }, 0);
    expect(voided).toEqual({ lot: 0, settled: 0, shortfall: 100, repaid: 0 });
    expect(planAwardChange(100, { remaining: 0, matured: true }, 0, 100)).toEqual({
      lot: 0,
      settled: 0,
      shortfall: 0,
      repaid: 100,
    });
    // An edit upwards past what is owed credits only the rest.
    expect(planAwardChange(150, { remaining: 0, matured: true }, 0, 100)).toEqual({
      lot: 0,
      settled: 50,
      shortfall: 0,
      repaid: 100,
    });
  });

  // Issue #13's property: what a purchase credited, less what was taken back and what it still owes
  // (a shortfall is a take-back that found the points spent), is its award at every instant.
  it('keeps credited − taken back − owed equal to the award over random re-sends', () => {
    const seed = Number(process.env.LAUREL_SEED ?? 20261204);
    const rand = prng(seed);
    for (let run = 0; run < 200; run++) {
      let award = 0;
      let net = 0; // points the purchase credited, net of what was taken back
      let owed = 0;
      let settled = 0; // the member's settled balance (spends take from it)
      let lot: LotState | undefined;
      for (let step = 0; step < 30; step++) {
        const r = rand();
        if (r < 0.15 && lot && !lot.matured) {
          settled += lot.remaining;
          lot = { remaining: 0, matured: true };
        } else if (r < 0.3) {
          settled -= Math.floor(rand() * (settled + 1)); // a spend of other points
        } else {
          const next = Math.floor(rand() * 4) * 50;
          const delta = next - award;
          const plan = planAwardChange(delta, lot, settled, owed);
          // Every point of the change is moved, owed or repaid: nothing else.
          expect(plan.lot + plan.settled - plan.shortfall + plan.repaid, `seed ${seed}`).toBe(delta);
          net += plan.lot + plan.settled;
          settled += plan.settled;
          owed += plan.shortfall - plan.repaid;
          lot = lot
            ? { ...lot, remaining: lot.remaining + plan.lot }
            : { remaining: plan.lot, matured: false };
          award = next;
        }
        expect(net - owed, `seed ${seed} run ${run} step ${step}`).toBe(award);
        expect(owed).toBeGreaterThanOrEqual(0);
        expect(settled).toBeGreaterThanOrEqual(0);
      }
    }
  });
});
