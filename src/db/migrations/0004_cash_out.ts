/**
 * Cash-out to gift cards (issue #5, DESIGN §7). A cash-out is a ledger journal (kind `cash_out`,
 * Spendable to `program:cashed_out`) and one gift card per member and period, unique by
 * constraint, so a period is cashed out once per member however often the job runs.
 * `users.cashed_out_through` is the last period end settled for the member: reads plan the periods
 * after it (as-of correctness, DESIGN §5) and the writer settles them in order.
 * `cash_out_runs` is the sweeper's progress through a retailer's members for a period.
 */
export const name = 'cash_out';

export const sql = `
ALTER TABLE journals DROP CONSTRAINT journals_kind_check;
ALTER TABLE journals ADD CONSTRAINT journals_kind_check
  CHECK (kind IN ('purchase', 'return', 'rollover', 'deposit', 'spend', 'cash_out'));

ALTER TABLE users ADD COLUMN cashed_out_through timestamptz;

CREATE TABLE gift_cards (
  id           uuid PRIMARY KEY,
  retailer_id  uuid NOT NULL,
  user_id      uuid NOT NULL REFERENCES users (id),
  period       text NOT NULL,
  period_end   timestamptz NOT NULL,
  journal_id   uuid NOT NULL REFERENCES journals (id),
  points       bigint NOT NULL CHECK (points > 0),
  value_cents  bigint NOT NULL CHECK (value_cents > 0),
  currency     text NOT NULL,
  points_left  bigint NOT NULL CHECK (points_left >= 0),
  status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'redeemed', 'void')),
  issued_at    timestamptz NOT NULL,
  recorded_at  timestamptz NOT NULL,
  CONSTRAINT gift_cards_member_period_uq UNIQUE (user_id, period)
);
CREATE INDEX gift_cards_period_idx ON gift_cards (retailer_id, period);

CREATE TABLE cash_out_runs (
  retailer_id   uuid NOT NULL REFERENCES retailers (id),
  period        text NOT NULL,
  period_end    timestamptz NOT NULL,
  started_at    timestamptz NOT NULL,
  completed_at  timestamptz,
  last_user_id  uuid,
  members       integer NOT NULL DEFAULT 0,
  PRIMARY KEY (retailer_id, period)
);
`;
