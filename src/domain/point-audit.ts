/**
 * How a ledger posting reads in the point audit log (`fetch_point_audit_logs`, reference §4): pure.
 * The mapping is documented in docs/audit-log.md; change both together.
 */

/** Why points moved: the journal kind, shown as `modification_type`. */
export type ModificationType =
  'purchase' | 'return' | 'rollover' | 'deposit' | 'spend' | 'cash_out' | 'behaviour' | 'opening';

/** SessionM's `audit_type` bitmask (reference §4): 1 issued, 2 redeemed or deducted, 4 expired, 16 adjustment. */
export const AUDIT_TYPE = { issued: 1, deducted: 2, expired: 4, adjustment: 16 } as const;

/**
 * A deposit is a manual adjustment (16); otherwise a credit is an issue (1) and a debit a deduction
 * (2), so a rollover shows as 1 on the settled account and 2 on the escrow account it left.
 */
export function auditType(kind: ModificationType, modification: number): number {
  if (kind === 'deposit') return AUDIT_TYPE.adjustment;
  // An opening balance (issue #16) was issued on another platform: an adjustment here, like a
  // deposit; what the member had already used there is deducted.
  if (kind === 'opening') return modification > 0 ? AUDIT_TYPE.adjustment : AUDIT_TYPE.deducted;
  return modification > 0 ? AUDIT_TYPE.issued : AUDIT_TYPE.deducted;
}

/**
 * `point_source_name` of an audit row (issue #14 item 13; reference §4 point sources). Laurel keeps
 * no catalogue of point sources (`point_source_id` is free text), so the name says where the points
 * came from or went, by kind; a behaviour's names its event.
 */
export function pointSourceName(
  kind: ModificationType | 'tier_change',
  referenceType: string | null,
  referenceId: string | null,
): string {
  switch (kind) {
    case 'purchase':
      return 'Purchase';
    case 'return':
      return 'Return';
    case 'rollover':
      return 'Escrow Rollover';
    case 'deposit':
      return referenceType === AGENT_ADJUSTMENT ? 'Agent Adjustment' : 'Manual Adjustment';
    case 'spend':
      return referenceType === AGENT_ADJUSTMENT ? 'Agent Adjustment' : 'Spend';
    case 'cash_out':
      return 'Cash-out';
    case 'behaviour':
      return referenceId ? `Behavior: ${referenceId}` : 'Behavior';
    case 'opening':
      return 'Opening Balance';
    case 'tier_change':
      return 'Tier Change';
  }
}

/**
 * `amount_spent` of an audit row (issue #14 item 13): the points a spend or a cash-out redeemed
 * from the account, unsigned; 0 on every other row. `amount_expired` is always 0: points do not
 * expire in Laurel (audit type 4 is never written).
 */
export const amountSpent = (kind: ModificationType, modification: number): number =>
  (kind === 'spend' || kind === 'cash_out') && modification < 0 ? -modification : 0;

export interface AuditFacts {
  kind: ModificationType;
  modification: number;
  reference_id: string | null;
  reference_type: string | null;
  /** The till's transaction id, for purchases and returns. */
  transaction_id: string | null;
  /** Who made a deposit or spend (issue #18 item 10): a console agent, `app:<api_key>`; else absent. */
  actor?: string | null | undefined;
  /** Points of this posting's account a late return could not take back. */
  shortfall: number;
  /**
   * For purchases and returns that moved campaign points (issue #5): how the award changed for this
   * account's pair (Spendable or Tier Qualifying), base and each campaign signed.
   */
  award_change?: AwardChangeFacts | undefined;
  /** For a cash-out: its period and the gift card's value and currency. */
  cash_out?: { period: string; value: number; currency: string } | undefined;
}

export interface AwardChangeFacts {
  base: number;
  campaigns: { name: string; points: number }[];
}

const signed = (n: number): string => (n > 0 ? `+${n}` : String(n));

/** ` (base 60; Double Points Days +60)`, or nothing when no campaign points moved. */
function breakdown(change: AwardChangeFacts | undefined, purchase: boolean): string {
  if (!change?.campaigns.length) return '';
  const base = purchase ? `base ${change.base}` : `base ${signed(change.base)}`;
  return ` (${[base, ...change.campaigns.map((c) => `${c.name} ${signed(c.points)}`)].join('; ')})`;
}

/** What the console records as `reference_type` of an agent's adjustment; the reason is the reference id. */
export const AGENT_ADJUSTMENT = 'Agent adjustment';

/**
 * `Agent adjustment by Dana Whitfield (console, token lat_…): +150 points (Goodwill: coupon did not
 * scan)`, a credit or a debit alike; adjustments made before agents were named leave the name out.
 */
const agentAdjustment = (f: AuditFacts, signed: string): string =>
  `${AGENT_ADJUSTMENT}${f.actor ? ` by ${f.actor}` : ''}: ${signed} points${f.reference_id ? ` (${f.reference_id})` : ''}`;

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
      return `Purchase ${transaction} earned ${points} points${breakdown(f.award_change, true)}`;
    case 'return': {
      const what = `Return on ${transaction}${breakdown(f.award_change, false)}`;
      return f.shortfall > 0 ? `${what}; ${f.shortfall} points could not be taken back` : what;
    }
    case 'rollover':
      // Names the purchase (issue #18 item 11): a member with several purchases maturing needs to
      // know which one's points arrived.
      return f.transaction_id
        ? `Escrow period ended for purchase ${f.transaction_id}: rolled over`
        : 'Escrow period ended: rolled over';
    case 'deposit':
      if (f.reference_type === AGENT_ADJUSTMENT) return agentAdjustment(f, `+${points}`);
      return `Adjustment: ${referenceLabel(f) ?? `${points} points deposited`}`;
    case 'spend':
      if (f.reference_type === AGENT_ADJUSTMENT) return agentAdjustment(f, `−${points}`);
      return `Spent: ${referenceLabel(f) ?? `${points} points`}`;
    case 'behaviour':
      // A behaviour's points (issue #14 item 8): reference_id is the event, issued (audit type 1).
      return `Event ${f.reference_id ?? 'a behaviour'} earned ${points} points`;
    case 'opening':
      return f.modification > 0
        ? `Opening balance from the previous platform${f.reference_id ? ` at ${f.reference_id}` : ''}: +${points} points`
        : `Opening balance from the previous platform: ${points} points already used there`;
    case 'cash_out':
      return f.cash_out
        ? `Cash-out ${f.cash_out.period}: ${points} points became a ${f.cash_out.value.toFixed(2)} ${f.cash_out.currency} gift card`
        : `Cash-out: ${points} points became a gift card`;
  }
}
