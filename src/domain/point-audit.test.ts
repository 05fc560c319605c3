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
    expect(auditReason(facts({ kind: 'rollover', modification: 10 }))).toBe(
      'Escrow period ended: rolled over',
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
});
