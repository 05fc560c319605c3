/**
 * An opening position (issue #16 item 2): what a member brings from another platform at the
 * cut-over, and the postings that make the ledger read it (DESIGN §3): pure.
 */

export interface OpeningPosition {
  /** ISO instant the position is of. */
  cutover: string;
  balance: number;
  /** Points ever credited to the Spendable account; at least `balance`. */
  life_time_value: number;
  /** Tier-qualifying points of the period the cut-over lies in. */
  tier_points: number;
  tier_level_id: string | null;
  tier_entered_at: string | null;
  tier_expires_at: string | null;
}

/**
 * The postings of an opening journal: Spendable credited its lifetime value and debited what was
 * used of it (so its balance and `life_time_value`, the sum of its credits, read as the old
 * platform's), and the Tier Qualifying Account credited this period's points, all against
 * `program:opening`. The position is in points; a Spendable account of precision 2 is posted its
 * hundredths (`spendableScale` 100; issue #14 item 3).
 */
export function openingPostings(
  p: OpeningPosition,
  spendableScale = 1,
): { account: string; amount: number }[] {
  const lifetime = p.life_time_value * spendableScale;
  const used = (p.life_time_value - p.balance) * spendableScale;
  const postings = [
    { account: 'spendable', amount: lifetime },
    { account: 'spendable', amount: -used },
    { account: 'tier', amount: p.tier_points },
    { account: 'program:opening', amount: -(lifetime + p.tier_points) },
    { account: 'program:opening', amount: used },
  ];
  return postings.filter((x) => x.amount !== 0);
}
