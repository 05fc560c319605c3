import type { Queryable } from '../db/database.js';
import { MAX_LEDGER_AMOUNT, MAX_PURCHASE_POINTS } from '../domain/bounds.js';

/**
 * The ledger's invariants (DESIGN §3), checked by `laurel verify` and after every scenario test:
 * each journal sums to zero; each materialised balance and lifetime value equals its postings;
 * each escrow balance equals the points still waiting in unmatured lots; each cash-out has its
 * gift card, worth what it took. And the rules, not only the arithmetic (issue #13): each
 * purchase's journals replay as the award rules say (a credit never while the purchase owes a
 * shortfall; what it posted, less what it owes, is its award); each lot holds what its journals
 * put in it; no settled balance is negative; no amount is beyond the bounds.
 */
export interface VerifyReport {
  journals: number;
  postings: number;
  balances: number;
  lots: number;
  problems: string[];
}

const LIMIT = 20;

export async function verifyLedger(db: Queryable): Promise<VerifyReport> {
  const problems: string[] = [];
  const [counts] = await db.query<{ journals: number; postings: number; balances: number; lots: number }>(
    `SELECT (SELECT count(*) FROM journals)::int AS journals, (SELECT count(*) FROM postings)::int AS postings,
            (SELECT count(*) FROM balances)::int AS balances, (SELECT count(*) FROM lots)::int AS lots`,
  );

  // An opening of an empty position (every figure 0) is the one journal of no postings: it records
  // the member's cut-over and position all the same (issue #16, docs/import.md).
  const unbalanced = await db.query<{ journal_id: string; total: number; n: number }>(
    `SELECT j.id AS journal_id, coalesce(sum(p.amount), 0)::bigint AS total, count(p.*)::int AS n
     FROM journals j LEFT JOIN postings p ON p.user_id = j.user_id AND p.journal_id = j.id
     GROUP BY j.user_id, j.id, j.kind
     HAVING coalesce(sum(p.amount), 0) <> 0 OR (count(p.*) < 2 AND NOT (j.kind = 'opening' AND count(p.*) = 0))
     LIMIT ${LIMIT}`,
  );
  for (const r of unbalanced) {
    problems.push(`journal ${r.journal_id} does not balance: ${r.n} postings summing to ${r.total}`);
  }

  const drift = await db.query<{
    user_id: string;
    account: string;
    balance: number | null;
    posted: number | null;
    life_time_value: number | null;
    credited: number | null;
  }>(
    `WITH posted AS (
       SELECT user_id, account, sum(amount)::bigint AS posted, sum(greatest(amount, 0))::bigint AS credited
       FROM postings WHERE account NOT LIKE 'program:%' GROUP BY user_id, account
     )
     SELECT coalesce(b.user_id, p.user_id) AS user_id, coalesce(b.account, p.account) AS account,
            b.balance, p.posted, b.life_time_value, p.credited
     FROM balances b FULL JOIN posted p ON p.user_id = b.user_id AND p.account = b.account
     WHERE b.balance IS DISTINCT FROM p.posted OR b.life_time_value IS DISTINCT FROM p.credited
     LIMIT ${LIMIT}`,
  );
  for (const r of drift) {
    problems.push(
      `balance of ${r.account} for user ${r.user_id} is ${r.balance ?? 'missing'} (lifetime ${r.life_time_value ?? 'missing'}) ` +
        `but its postings sum to ${r.posted ?? 0} (credits ${r.credited ?? 0})`,
    );
  }

  const escrow = await db.query<{ user_id: string; account: string; balance: number; waiting: number }>(
    `WITH waiting AS (
       SELECT user_id, account, sum(remaining)::bigint AS waiting FROM lots
       WHERE rolled_over_at IS NULL GROUP BY user_id, account
     ), held AS (
       SELECT user_id, account, balance FROM balances WHERE account IN ('spendable_escrow', 'tier_escrow')
     )
     SELECT coalesce(h.user_id, w.user_id) AS user_id, coalesce(h.account, w.account) AS account,
            coalesce(h.balance, 0) AS balance, coalesce(w.waiting, 0) AS waiting
     FROM held h FULL JOIN waiting w ON w.user_id = h.user_id AND w.account = h.account
     WHERE coalesce(h.balance, 0) <> coalesce(w.waiting, 0)
     LIMIT ${LIMIT}`,
  );
  for (const r of escrow) {
    problems.push(
      `${r.account} of user ${r.user_id} holds ${r.balance} but its unmatured lots hold ${r.waiting}`,
    );
  }

  const rolled = await db.query<{ id: string }>(
    `SELECT id FROM lots WHERE rolled_over_at IS NOT NULL AND remaining <> 0 LIMIT ${LIMIT}`,
  );
  for (const r of rolled) problems.push(`lot ${r.id} rolled over but still holds points`);

  // Each cash-out journal has exactly its gift card, worth the points it took (DESIGN §7).
  const cards = await db.query<{
    journal_id: string | null;
    card_id: string | null;
    taken: number | null;
    points: number | null;
  }>(
    `WITH taken AS (
       SELECT j.user_id, j.id, -sum(p.amount)::bigint AS taken
       FROM journals j JOIN postings p ON p.user_id = j.user_id AND p.journal_id = j.id
       WHERE j.kind = 'cash_out' AND p.account = 'spendable' GROUP BY j.user_id, j.id
     )
     SELECT t.id AS journal_id, g.id AS card_id, t.taken, g.points
     FROM taken t FULL JOIN gift_cards g ON g.user_id = t.user_id AND g.journal_id = t.id
     WHERE t.id IS NULL OR g.id IS NULL OR t.taken <> g.points
     LIMIT ${LIMIT}`,
  );
  for (const r of cards) {
    problems.push(
      r.card_id === null
        ? `cash-out journal ${r.journal_id} has no gift card`
        : r.journal_id === null
          ? `gift card ${r.card_id} has no cash-out journal`
          : `gift card ${r.card_id} holds ${r.points} points but its journal took ${r.taken}`,
    );
  }

  // Each purchase's award changes, replayed in revision order per settled account (DESIGN §4 amended
  // 2026-12-04): a change that credits points must first have repaid all the purchase owed.
  const replay = await db.query<{ purchase_id: string; role: string; rev: number; owed: number; rp: number }>(
    `WITH pj AS (
       SELECT j.user_id, j.purchase_id, j.id, (j.details->>'revision')::int AS rev, r.role,
              coalesce((j.details->'shortfall'->>r.role)::bigint, 0) AS sf,
              coalesce((j.details->'repaid'->>r.role)::bigint, 0) AS rp,
              coalesce(sum(p.amount) FILTER (WHERE p.account IN (r.role, r.role || '_escrow')), 0) AS moved
       FROM journals j
       CROSS JOIN (VALUES ('spendable'), ('tier')) AS r(role)
       JOIN postings p ON p.user_id = j.user_id AND p.journal_id = j.id
       WHERE j.kind IN ('purchase', 'return') AND j.purchase_id IS NOT NULL
       GROUP BY j.user_id, j.purchase_id, j.id, r.role
     ), w AS (
       SELECT *, coalesce(sum(sf - rp) OVER (PARTITION BY user_id, purchase_id, role ORDER BY rev, id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS owed
       FROM pj
     )
     SELECT purchase_id, role, rev, owed, rp FROM w
     WHERE sf < 0 OR rp < 0 OR rp > owed OR (moved > 0 AND owed - rp > 0)
     ORDER BY purchase_id, role, rev LIMIT ${LIMIT}`,
  );
  for (const r of replay) {
    problems.push(
      r.rp > r.owed
        ? `purchase ${r.purchase_id} revision ${r.rev} repaid ${r.rp} ${r.role} points but owed ${r.owed}`
        : `purchase ${r.purchase_id} revision ${r.rev} credited ${r.role} points while it owed ${r.owed - r.rp} ` +
            'from an earlier return (a re-ring must repay its shortfall first)',
    );
  }

  // What each purchase's journals posted, less what it still owes, is its award.
  const awards = await db.query<{ id: string; role: string; award: number; net: number; owed: number }>(
    `WITH net AS (
       SELECT j.user_id, j.purchase_id,
              sum(p.amount) FILTER (WHERE p.account IN ('spendable', 'spendable_escrow')) AS spendable,
              sum(p.amount) FILTER (WHERE p.account IN ('tier', 'tier_escrow')) AS tier
       FROM journals j JOIN postings p ON p.user_id = j.user_id AND p.journal_id = j.id
       WHERE j.purchase_id IS NOT NULL GROUP BY j.user_id, j.purchase_id
     ), cmp AS (
       SELECT pu.id, r.role,
              -- A purchase of imported history (issue #16) earned its points elsewhere: its journals
              -- post only the change of award since.
              -- The award is in points; a Spendable pair of precision 2 posted it in hundredths
              -- (issue #14 item 3: the award records the precision it was posted in).
              CASE WHEN pu.not_awarded_reason IS NOT NULL THEN 0
                   ELSE (coalesce((pu.award->>(CASE r.role WHEN 'spendable' THEN 'spendable' ELSE 'tier_qualifying' END))::bigint, 0)
                        - coalesce((pu.earned_elsewhere->>r.role)::bigint, 0))
                        * CASE WHEN r.role = 'spendable' AND pu.award->>'spendable_precision' = '2' THEN 100 ELSE 1 END
              END AS award,
              coalesce(CASE r.role WHEN 'spendable' THEN n.spendable ELSE n.tier END, 0) AS net,
              coalesce((pu.shortfall->>r.role)::bigint, 0) AS owed
       FROM purchases pu CROSS JOIN (VALUES ('spendable'), ('tier')) AS r(role)
       LEFT JOIN net n ON n.user_id = pu.user_id AND n.purchase_id = pu.id
     )
     SELECT id, role, award, net, owed FROM cmp
     WHERE net - owed <> award OR owed < 0 OR award < -${MAX_PURCHASE_POINTS} OR award > ${MAX_PURCHASE_POINTS}
     ORDER BY id, role LIMIT ${LIMIT}`,
  );
  for (const r of awards) {
    problems.push(
      `purchase ${r.id} awards ${r.award} ${r.role} points but its journals posted ${r.net} ` +
        `and it owes ${r.owed} (posted − owed must equal the award, within 0..${MAX_PURCHASE_POINTS})`,
    );
  }

  // Each lot holds what its purchase's journals put into its escrow account and did not roll over.
  const lots = await db.query<{ id: string; remaining: number; posted: number; amount: number }>(
    `WITH posted AS (
       SELECT j.user_id, j.purchase_id, p.account, sum(p.amount) AS posted,
              sum(p.amount) FILTER (WHERE p.amount > 0 AND j.kind <> 'rollover') AS credited
       FROM journals j JOIN postings p ON p.user_id = j.user_id AND p.journal_id = j.id
       WHERE j.purchase_id IS NOT NULL AND p.account IN ('spendable_escrow', 'tier_escrow')
       GROUP BY j.user_id, j.purchase_id, p.account
     )
     SELECT l.id, l.remaining, coalesce(x.posted, 0) AS posted, l.amount
     FROM lots l LEFT JOIN posted x ON x.user_id = l.user_id AND x.purchase_id = l.purchase_id AND x.account = l.account
     WHERE l.remaining <> coalesce(x.posted, 0) OR l.amount < coalesce(x.credited, 0)
     LIMIT ${LIMIT}`,
  );
  for (const r of lots) {
    problems.push(
      `lot ${r.id} holds ${r.remaining} (of ${r.amount}) but its journals left ${r.posted} in escrow`,
    );
  }

  const negative = await db.query<{ user_id: string; account: string; balance: number }>(
    `SELECT user_id, account, balance FROM balances
     WHERE balance < 0 OR balance > ${MAX_LEDGER_AMOUNT} OR life_time_value > ${MAX_LEDGER_AMOUNT} LIMIT ${LIMIT}`,
  );
  for (const r of negative) {
    problems.push(
      `balance of ${r.account} for user ${r.user_id} is ${r.balance}, outside 0..${MAX_LEDGER_AMOUNT}`,
    );
  }
  const huge = await db.query<{ journal_id: string; line: number; amount: number }>(
    `SELECT journal_id, line, amount FROM postings WHERE abs(amount) > ${MAX_LEDGER_AMOUNT} LIMIT ${LIMIT}`,
  );
  for (const r of huge) {
    problems.push(`posting ${r.line} of journal ${r.journal_id} moves ${r.amount} points, beyond the bounds`);
  }

  return { ...counts!, problems };
}
