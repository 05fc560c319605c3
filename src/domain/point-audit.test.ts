import { describe, expect, it } from 'vitest';
import { auditReason, auditType, type AuditFacts } from './point-audit.js';

const facts = (f: Partial<AuditFacts>): AuditFacts => ({
  kind: 'purchase',
  modification: 0,
  reference_id: null,
  reference_type: null,
  transaction_id: null,
  shortfall: 0,
  ...f,
});

describe('point audit rows', () => {
  it('maps kinds and signs onto the audit_type bitmask', () => {
    expect(auditType('purchase', 2000)).toBe(1);
    expect(auditType('return', -100)).toBe(2);
    expect(auditType('return', 50)).toBe(1);
    expect(auditType('rollover', 2000)).toBe(1);
    expect(auditType('rollover', -2000)).toBe(2);
    expect(auditType('deposit', 500)).toBe(16);
    expect(auditType('spend', -200)).toBe(2);
    expect(auditType('behaviour', 100)).toBe(1);
  });

  it("says which event earned a behaviour's points", () => {
    expect(
      auditReason(facts({ kind: 'behaviour', modification: 100, reference_id: 'REGISTERS_ONLINE_ACCOUNT' })),
    ).toBe('Event REGISTERS_ONLINE_ACCOUNT earned 100 points');
  });

  it('says why in a plain sentence', () => {
    expect(auditReason(facts({ modification: 2000, transaction_id: 'T-1' }))).toBe(
      'Purchase T-1 earned 2000 points',
    );
    expect(auditReason(facts({ kind: 'return', modification: -5, transaction_id: 'T-1' }))).toBe(
      'Return on T-1',
    );
    expect(
      auditReason(facts({ kind: 'return', modification: -200, transaction_id: 'T-1', shortfall: 1800 })),
    ).toBe('Return on T-1; 1800 points could not be taken back');
    expect(auditReason(facts({ kind: 'spend', modification: -200 }))).not.toContain('(');
    expect(auditReason(facts({ kind: 'rollover', modification: 10 }))).toBe(
      'Escrow period ended: rolled over',
    );
    expect(auditReason(facts({ kind: 'rollover', modification: 10, transaction_id: 'T-7' }))).toBe(
      'Escrow period ended for purchase T-7: rolled over',
    );
    expect(
      auditReason(
        facts({ kind: 'deposit', modification: 5, reference_type: 'Goodwill', reference_id: 'CS-9' }),
      ),
    ).toBe('Adjustment: Goodwill/CS-9');
    expect(auditReason(facts({ kind: 'deposit', modification: 5 }))).toBe('Adjustment: 5 points deposited');
    expect(auditReason(facts({ kind: 'spend', modification: -200, reference_id: 'ORDER-1' }))).toBe(
      'Spent: ORDER-1',
    );
    expect(auditReason(facts({ kind: 'spend', modification: -200 }))).toBe('Spent: 200 points');
  });

  it("says an agent's adjustment with its sign and reason, credit or debit (bug: a debit read 'Spent')", () => {
    const agent = { reference_type: 'Agent adjustment', reference_id: 'Goodwill: late delivery' };
    expect(auditReason(facts({ kind: 'deposit', modification: 150, ...agent }))).toBe(
      'Agent adjustment: +150 points (Goodwill: late delivery)',
    );
    expect(auditReason(facts({ kind: 'spend', modification: -40, ...agent }))).toBe(
      'Agent adjustment: −40 points (Goodwill: late delivery)',
    );
    expect(auditReason(facts({ kind: 'spend', modification: -40, reference_id: 'ORDER-9' }))).toBe(
      'Spent: ORDER-9',
    );
  });

  it('names the agent who made an adjustment (issue #18 item 10)', () => {
    const agent = {
      reference_type: 'Agent adjustment',
      reference_id: 'Goodwill',
      actor: 'Dana Whitfield (console, token lat_0123456789abcdef)',
    };
    expect(auditReason(facts({ kind: 'deposit', modification: 25, ...agent }))).toBe(
      'Agent adjustment by Dana Whitfield (console, token lat_0123456789abcdef): +25 points (Goodwill)',
    );
    expect(auditReason(facts({ kind: 'spend', modification: -5, ...agent }))).toBe(
      'Agent adjustment by Dana Whitfield (console, token lat_0123456789abcdef): −5 points (Goodwill)',
    );
  });

  it('names each campaign bonus of a purchase, and each one a return took back', () => {
    const change = { base: 60, campaigns: [{ name: 'Double Points Days', points: 60 }] };
    expect(auditReason(facts({ modification: 120, transaction_id: 'T1', award_change: change }))).toBe(
      'Purchase T1 earned 120 points (base 60; Double Points Days +60)',
    );
    expect(
      auditReason(
        facts({ modification: 60, transaction_id: 'T1', award_change: { base: 60, campaigns: [] } }),
      ),
    ).toBe('Purchase T1 earned 60 points');
    const taken = {
      base: -10,
      campaigns: [
        { name: 'Big Basket Bonus', points: -500 },
        { name: 'Coffee Club', points: -2 },
      ],
    };
    expect(
      auditReason(facts({ kind: 'return', modification: -512, transaction_id: 'T2', award_change: taken })),
    ).toBe('Return on T2 (base -10; Big Basket Bonus -500; Coffee Club -2)');
    expect(
      auditReason(
        facts({
          kind: 'return',
          modification: -12,
          transaction_id: 'T2',
          award_change: taken,
          shortfall: 500,
        }),
      ),
    ).toBe(
      'Return on T2 (base -10; Big Basket Bonus -500; Coffee Club -2); 500 points could not be taken back',
    );
  });
});
