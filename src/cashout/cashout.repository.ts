import type { Queryable, Tx } from '../db/database.js';

/** A gift card as stored: one per member and period (DESIGN §7); its code is never stored. */
export interface GiftCardRow {
  id: string;
  retailer_id: string;
  user_id: string;
  period: string;
  period_end: Date;
  journal_id: string;
  points: number;
  value_cents: number;
  currency: string;
  points_left: number;
  status: 'active' | 'redeemed' | 'void';
  issued_at: Date;
  recorded_at: Date;
}

const CARD_COLUMNS =
  'id, retailer_id, user_id, period, period_end, journal_id, points, value_cents, currency, points_left, status, issued_at, recorded_at';

/** Inserts a member's gift card of a period; the unique (user, period) refuses a second one. */
export async function insertGiftCard(tx: Tx, card: GiftCardRow): Promise<void> {
  await tx.query(
    `INSERT INTO gift_cards (${CARD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      card.id,
      card.retailer_id,
      card.user_id,
      card.period,
      card.period_end,
      card.journal_id,
      card.points,
      card.value_cents,
      card.currency,
      card.points_left,
      card.status,
      card.issued_at,
      card.recorded_at,
    ],
  );
}

/** A member's gift cards, newest period first. */
export async function listGiftCards(
  db: Queryable,
  retailerId: string,
  userId: string,
): Promise<GiftCardRow[]> {
  return db.query<GiftCardRow>(
    `SELECT ${CARD_COLUMNS} FROM gift_cards WHERE retailer_id = $1 AND user_id = $2 ORDER BY period_end DESC`,
    [retailerId, userId],
  );
}

export interface PeriodTotals {
  period: string;
  period_end: Date;
  currency: string;
  members: number;
  points_converted: number;
  value_cents: number;
  points_left: number;
}

/** The cash-out report of one period, or of every period when `period` is undefined (newest first). */
export async function periodTotals(
  db: Queryable,
  retailerId: string,
  period?: string,
): Promise<PeriodTotals[]> {
  return db.query<PeriodTotals>(
    `SELECT period, max(period_end) AS period_end, min(currency) AS currency, count(*)::int AS members,
            sum(points)::bigint AS points_converted, sum(value_cents)::bigint AS value_cents,
            sum(points_left)::bigint AS points_left
     FROM gift_cards WHERE retailer_id = $1 AND ($2::text IS NULL OR period = $2)
     GROUP BY period ORDER BY max(period_end) DESC`,
    [retailerId, period ?? null],
  );
}

export interface CashOutRunRow {
  retailer_id: string;
  period: string;
  period_end: Date;
  started_at: Date;
  completed_at: Date | null;
  last_user_id: string | null;
  members: number;
  /** Member settlements that failed in this run, and the last failure's message (issue #13). */
  failures: number;
  last_error: string | null;
}

const RUN_COLUMNS =
  'retailer_id, period, period_end, started_at, completed_at, last_user_id, members, failures, last_error';

export async function findRun(
  db: Queryable,
  retailerId: string,
  period: string,
): Promise<CashOutRunRow | undefined> {
  const rows = await db.query<CashOutRunRow>(
    `SELECT ${RUN_COLUMNS} FROM cash_out_runs WHERE retailer_id = $1 AND period = $2`,
    [retailerId, period],
  );
  return rows[0];
}

export async function listRuns(db: Queryable, retailerId: string): Promise<CashOutRunRow[]> {
  return db.query<CashOutRunRow>(
    `SELECT ${RUN_COLUMNS} FROM cash_out_runs WHERE retailer_id = $1 ORDER BY period_end DESC`,
    [retailerId],
  );
}

/** Starts the run of a period once; a run already there is kept as it is. */
export async function startRun(
  db: Queryable,
  retailerId: string,
  period: string,
  periodEnd: Date,
  now: Date,
): Promise<void> {
  await db.query(
    `INSERT INTO cash_out_runs (retailer_id, period, period_end, started_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (retailer_id, period) DO NOTHING`,
    [retailerId, period, periodEnd, now],
  );
}

/**
 * Records a run's progress: members are visited in id order, so a restart resumes after the last;
 * a null `lastUserId` starts the next pass from the first member again.
 */
export async function advanceRun(
  db: Queryable,
  retailerId: string,
  period: string,
  lastUserId: string | null,
  members: number,
  completedAt: Date | null,
  failed: { count: number; lastError: string | null } = { count: 0, lastError: null },
): Promise<void> {
  await db.query(
    `UPDATE cash_out_runs SET last_user_id = $3, members = members + $4, completed_at = $5,
       failures = failures + $6, last_error = coalesce($7, last_error)
     WHERE retailer_id = $1 AND period = $2`,
    [retailerId, period, lastUserId, members, completedAt, failed.count, failed.lastError],
  );
}

/**
 * The next members of a retailer, in id order after `after`, that a period ending at `periodEnd`
 * may cash out: not erased, not settled through it, and holding Spendable points or Spendable
 * Escrow that has matured by it. Everyone else has nothing to convert for the period.
 */
export async function findCashOutCandidates(
  db: Queryable,
  retailerId: string,
  periodEnd: Date,
  after: string | null,
  limit: number,
): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT u.id FROM users u
     WHERE u.retailer_id = $1 AND u.deleted_at IS NULL AND ($3::uuid IS NULL OR u.id > $3)
       AND coalesce(u.cashed_out_through, u.created_at) < $2
       AND (EXISTS (SELECT 1 FROM balances b WHERE b.user_id = u.id AND b.account = 'spendable' AND b.balance > 0)
         OR EXISTS (SELECT 1 FROM lots l WHERE l.user_id = u.id AND l.account = 'spendable_escrow'
                      AND l.rolled_over_at IS NULL AND l.matures_at <= $2 AND l.remaining > 0))
     ORDER BY u.id LIMIT $4`,
    [retailerId, periodEnd, after, limit],
  );
  return rows.map((r) => r.id);
}
