import type { Queryable } from '../db/database.js';

/**
 * The ledger's invariants (DESIGN §3), checked by `laurel verify` and after every scenario test:
 * each journal sums to zero; each materialised balance and lifetime value equals its postings;
 * each escrow balance equals the points still waiting in unmatured lots; each cash-out has its
 * gift card, worth what it took.
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

  const unbalanced = await db.query<{ journal_id: string; total: number; n: number }>(
    `SELECT j.id AS journal_id, coalesce(sum(p.amount), 0)::bigint AS total, count(p.*)::int AS n
     FROM journals j LEFT JOIN postings p ON p.journal_id = j.id
     GROUP BY j.id HAVING coalesce(sum(p.amount), 0) <> 0 OR count(p.*) < 2 LIMIT ${LIMIT}`,
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
       SELECT j.id, -sum(p.amount)::bigint AS taken FROM journals j JOIN postings p ON p.journal_id = j.id
       WHERE j.kind = 'cash_out' AND p.account = 'spendable' GROUP BY j.id
     )
     SELECT t.id AS journal_id, g.id AS card_id, t.taken, g.points
     FROM taken t FULL JOIN gift_cards g ON g.journal_id = t.id
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

  return { ...counts!, problems };
}
