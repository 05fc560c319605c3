/**
 * How a ledger posting reads in the point audit log (`fetch_point_audit_logs`, reference §4): pure.
 * The mapping is documented in docs/audit-log.md; change both together.
 */

/** Why points moved: the journal kind, shown as `modification_type`. */
export type ModificationType = 'purchase' | 'return' | 'rollover' | 'deposit' | 'spend';

/** SessionM's `audit_type` bitmask (reference §4): 1 issued, 2 redeemed or deducted, 4 expired, 16 adjustment. */
export const AUDIT_TYPE = { issued: 1, deducted: 2, expired: 4, adjustment: 16 } as const;

/**
 * A deposit is a manual adjustment (16); otherwise a credit is an issue (1) and a debit a deduction
 * (2), so a rollover shows as 1 on the settled account and 2 on the escrow account it left.
 */
export function auditType(kind: ModificationType, modification: number): number {
  if (kind === 'deposit') return AUDIT_TYPE.adjustment;
  return modification > 0 ? AUDIT_TYPE.issued : AUDIT_TYPE.deducted;
}

export interface AuditFacts {
  kind: ModificationType;
  modification: number;
  reference_id: string | null;
  reference_type: string | null;
  /** The till's transaction id, for purchases and returns. */
  transaction_id: string | null;
  /** Points of this posting's account a late return could not take back. */
  shortfall: number;
}

/** "reference_type/reference_id", whichever of the two is given, or null. */
function referenceLabel(f: AuditFacts): string | null {
  const parts = [f.reference_type, f.reference_id].filter((p): p is string => !!p);
  return parts.length ? parts.join('/') : null;
}

/** A plain sentence saying why a posting happened, for people reading the log. */
export function auditReason(f: AuditFacts): string {
  const points = Math.abs(f.modification);
  const transaction = f.transaction_id ?? f.reference_id ?? 'a transaction';
  switch (f.kind) {
    case 'purchase':
      return `Purchase ${transaction} earned ${points} points`;
    case 'return':
      return f.shortfall > 0
        ? `Return on ${transaction}; ${f.shortfall} points could not be taken back`
        : `Return on ${transaction}`;
    case 'rollover':
      return 'Escrow period ended: rolled over';
    case 'deposit':
      return `Adjustment: ${referenceLabel(f) ?? `${points} points deposited`}`;
    case 'spend':
      return `Spent: ${referenceLabel(f) ?? `${points} points`}`;
  }
}
