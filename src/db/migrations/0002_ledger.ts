/**
 * The ledger, purchases and escrow lots (issue #3, DESIGN §3–§4).
 * Journals and postings are insert-only: triggers refuse UPDATE and DELETE, so an entry once
 * written stays as written. Balances and lots are materialised state kept beside them in the same
 * transaction; `laurel verify` checks they agree with the postings.
 */
export const name = 'ledger';

export const sql = `
CREATE TABLE purchases (
  id                  uuid PRIMARY KEY,
  retailer_id         uuid NOT NULL REFERENCES retailers (id),
  transaction_id      text NOT NULL,
  user_id             uuid REFERENCES users (id),
  store_id            text,
  purchase_time       timestamptz NOT NULL,
  program_version     integer NOT NULL,
  basket              jsonb NOT NULL,
  award               jsonb NOT NULL,
  not_awarded_reason  text,
  revision            integer NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  CONSTRAINT purchases_transaction_uq UNIQUE (retailer_id, transaction_id)
);
CREATE INDEX purchases_user_idx ON purchases (user_id, purchase_time);

-- POS request ids: a repeat answers the stored response (DESIGN §4 idempotency, by constraint).
CREATE TABLE pos_requests (
  retailer_id  uuid NOT NULL,
  request_id   text NOT NULL,
  body_hash    text NOT NULL,
  response     jsonb NOT NULL,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (retailer_id, request_id)
);

CREATE TABLE journals (
  id               uuid PRIMARY KEY,
  retailer_id      uuid NOT NULL,
  user_id          uuid NOT NULL REFERENCES users (id),
  kind             text NOT NULL CHECK (kind IN ('purchase', 'return', 'rollover', 'deposit', 'spend')),
  effective_at     timestamptz NOT NULL,
  recorded_at      timestamptz NOT NULL,
  purchase_id      uuid REFERENCES purchases (id),
  lot_id           uuid,
  idempotency_key  text,
  request_id       text,
  reference_id     text,
  reference_type   text,
  point_source_id  text,
  details          jsonb NOT NULL DEFAULT '{}',
  CONSTRAINT journals_idempotency_uq UNIQUE (user_id, idempotency_key)
);
CREATE INDEX journals_user_idx ON journals (user_id, effective_at, id);

-- account: a member account role (spendable, spendable_escrow, tier, tier_escrow) or a program
-- account (program:issued, program:returned, program:redeemed, program:adjusted).
CREATE TABLE postings (
  journal_id   uuid NOT NULL REFERENCES journals (id),
  line         smallint NOT NULL,
  retailer_id  uuid NOT NULL,
  user_id      uuid NOT NULL,
  account      text NOT NULL,
  amount       bigint NOT NULL CHECK (amount <> 0),
  PRIMARY KEY (journal_id, line)
);
CREATE INDEX postings_user_account_idx ON postings (user_id, account);

CREATE TABLE balances (
  user_id          uuid NOT NULL REFERENCES users (id),
  account          text NOT NULL,
  retailer_id      uuid NOT NULL,
  balance          bigint NOT NULL,
  life_time_value  bigint NOT NULL CHECK (life_time_value >= 0),
  first_used_at    timestamptz NOT NULL,
  PRIMARY KEY (user_id, account),
  CHECK (balance >= 0)
);

-- Escrow lots: pending transfers that roll over to the settled account at matures_at (DESIGN §3).
CREATE TABLE lots (
  id              uuid PRIMARY KEY,
  retailer_id     uuid NOT NULL,
  user_id         uuid NOT NULL REFERENCES users (id),
  purchase_id     uuid NOT NULL REFERENCES purchases (id),
  account         text NOT NULL CHECK (account IN ('spendable_escrow', 'tier_escrow')),
  amount          bigint NOT NULL CHECK (amount >= 0),
  remaining       bigint NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
  matures_at      timestamptz NOT NULL,
  rolled_over_at  timestamptz,
  created_at      timestamptz NOT NULL,
  CONSTRAINT lots_purchase_account_uq UNIQUE (purchase_id, account)
);
CREATE INDEX lots_due_idx ON lots (matures_at) WHERE rolled_over_at IS NULL;
CREATE INDEX lots_user_open_idx ON lots (user_id, matures_at) WHERE rolled_over_at IS NULL;

CREATE FUNCTION laurel_ledger_is_immutable() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'the ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME;
END
$fn$;
CREATE TRIGGER journals_immutable BEFORE UPDATE OR DELETE ON journals
  FOR EACH ROW EXECUTE FUNCTION laurel_ledger_is_immutable();
CREATE TRIGGER postings_immutable BEFORE UPDATE OR DELETE ON postings
  FOR EACH ROW EXECUTE FUNCTION laurel_ledger_is_immutable();
`;
