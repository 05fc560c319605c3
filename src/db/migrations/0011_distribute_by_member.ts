/**
 * The schema distributes by member (issue #19, DESIGN §9, docs/scaling.md).
 *
 * Every customer-owned table is keyed by `(user_id, …)`: its primary key, its unique keys and its
 * foreign keys among customer-owned tables include the member, so a hash distribution by member
 * (Citus, or PostgreSQL's own partitioning, which enforces the same rule) keeps each key whole on
 * one shard. `users` is the member itself: its distribution column is `id`.
 *
 * - Ledger keys and foreign keys become composite with `user_id` (journals, postings, lots,
 *   gift cards, tier moves, enrollment events, behaviour outcomes).
 * - Uniqueness that is not about one member moves to lookup tables keyed by their own key and
 *   pointing at the member: `member_emails` (lower-cased email), `member_external_ids`,
 *   `member_phones` (not unique: a phone may name several members), `member_referrer_codes`
 *   and `transaction_keys` (a retailer's transaction id, with its purchase). A lookup is one step
 *   to the member's id; the work then runs on the member's shard.
 * - `purchases.user_id` is never NULL: a purchase of no known member owns itself (`user_id = id`),
 *   so anonymous purchases spread over the shards like members do. `not_awarded_reason`
 *   `member_not_found` still says nobody earned it.
 * - `pos_requests` (a till's stored answer) lives on the shard of its transaction's owner; its
 *   uniqueness per (`request_id`, `transaction_id`) holds because a transaction id has one owner
 *   (`transaction_keys`).
 * - Customer-owned tables keep no foreign key to retailer-wide tables (`retailers` …), which stay
 *   reference tables; nothing retailer-wide points into customer-owned tables.
 * - The `*_immutable` triggers go (Citus refuses triggers on distributed tables). The ledger stays
 *   insert-only by privilege: the role `laurel_app` may insert and read the ledger tables but never
 *   update or delete them; `laurel verify` reports a database where it can (docs/operations.md).
 *
 * Existing data is carried over: anonymous purchases take their own id as owner, stored answers
 * their purchase's owner, and the lookup tables are filled from the members' rows.
 */
export const name = 'distribute_by_member';

export const sql = `
DROP TRIGGER journals_immutable ON journals;
DROP TRIGGER postings_immutable ON postings;
DROP TRIGGER tier_moves_immutable ON tier_moves;
DROP TRIGGER enrollment_events_immutable ON enrollment_events;
DROP TRIGGER user_events_immutable ON user_events;
DROP TRIGGER behaviour_outcomes_immutable ON behaviour_outcomes;
DROP FUNCTION laurel_ledger_is_immutable();

-- Foreign keys that change shape, and those to retailer-wide tables, go first.
ALTER TABLE users DROP CONSTRAINT users_retailer_id_fkey;
ALTER TABLE purchases DROP CONSTRAINT purchases_retailer_id_fkey;
ALTER TABLE purchases DROP CONSTRAINT purchases_user_id_fkey;
ALTER TABLE console_recent_views DROP CONSTRAINT console_recent_views_retailer_id_fkey;
ALTER TABLE journals DROP CONSTRAINT journals_purchase_id_fkey;
ALTER TABLE postings DROP CONSTRAINT postings_journal_id_fkey;
ALTER TABLE lots DROP CONSTRAINT lots_purchase_id_fkey;
ALTER TABLE gift_cards DROP CONSTRAINT gift_cards_journal_id_fkey;
ALTER TABLE behaviour_outcomes DROP CONSTRAINT behaviour_outcomes_journal_id_fkey;
ALTER TABLE behaviour_outcomes DROP CONSTRAINT behaviour_outcomes_tier_move_id_fkey;

-- Purchases: an anonymous purchase owns itself.
UPDATE purchases SET user_id = id WHERE user_id IS NULL;
ALTER TABLE purchases ALTER COLUMN user_id SET NOT NULL;
ALTER TABLE purchases DROP CONSTRAINT purchases_pkey;
ALTER TABLE purchases ADD CONSTRAINT purchases_pkey PRIMARY KEY (user_id, id);
ALTER TABLE purchases DROP CONSTRAINT purchases_transaction_uq;
ALTER TABLE purchases ADD CONSTRAINT purchases_transaction_uq UNIQUE (user_id, retailer_id, transaction_id);

-- A retailer's transaction id, claimed once, with the purchase and owner it belongs to.
CREATE TABLE transaction_keys (
  retailer_id     uuid NOT NULL,
  transaction_id  text NOT NULL,
  user_id         uuid NOT NULL,
  purchase_id     uuid NOT NULL,
  created_at      timestamptz NOT NULL,
  CONSTRAINT transaction_keys_uq PRIMARY KEY (transaction_id, retailer_id)
);
INSERT INTO transaction_keys (retailer_id, transaction_id, user_id, purchase_id, created_at)
SELECT retailer_id, transaction_id, user_id, id, created_at FROM purchases;

-- Stored answers live with their transaction's owner.
ALTER TABLE pos_requests ADD COLUMN user_id uuid;
UPDATE pos_requests r SET user_id = k.user_id
FROM transaction_keys k WHERE k.retailer_id = r.retailer_id AND k.transaction_id = r.transaction_id;
-- An answer is stored with its purchase, in one statement: one without a purchase answers nothing.
DELETE FROM pos_requests WHERE user_id IS NULL;
ALTER TABLE pos_requests ALTER COLUMN user_id SET NOT NULL;
ALTER TABLE pos_requests DROP CONSTRAINT pos_requests_pkey;
ALTER TABLE pos_requests ADD CONSTRAINT pos_requests_pkey PRIMARY KEY (user_id, retailer_id, request_id, transaction_id);

-- The ledger: keys with the member.
ALTER TABLE journals DROP CONSTRAINT journals_pkey;
ALTER TABLE journals ADD CONSTRAINT journals_pkey PRIMARY KEY (user_id, id);
ALTER TABLE postings DROP CONSTRAINT postings_pkey;
ALTER TABLE postings ADD CONSTRAINT postings_pkey PRIMARY KEY (user_id, journal_id, line);
ALTER TABLE lots DROP CONSTRAINT lots_pkey;
ALTER TABLE lots ADD CONSTRAINT lots_pkey PRIMARY KEY (user_id, id);
ALTER TABLE lots DROP CONSTRAINT lots_purchase_account_uq;
ALTER TABLE lots ADD CONSTRAINT lots_purchase_account_uq UNIQUE (user_id, purchase_id, account);
ALTER TABLE tier_moves DROP CONSTRAINT tier_moves_pkey;
ALTER TABLE tier_moves ADD CONSTRAINT tier_moves_pkey PRIMARY KEY (user_id, id);
ALTER TABLE enrollment_events DROP CONSTRAINT enrollment_events_pkey;
ALTER TABLE enrollment_events ADD CONSTRAINT enrollment_events_pkey PRIMARY KEY (user_id, id);
ALTER TABLE gift_cards DROP CONSTRAINT gift_cards_pkey;
ALTER TABLE gift_cards ADD CONSTRAINT gift_cards_pkey PRIMARY KEY (user_id, id);

ALTER TABLE journals ADD CONSTRAINT journals_purchase_fkey
  FOREIGN KEY (user_id, purchase_id) REFERENCES purchases (user_id, id);
ALTER TABLE postings ADD CONSTRAINT postings_journal_fkey
  FOREIGN KEY (user_id, journal_id) REFERENCES journals (user_id, id);
ALTER TABLE lots ADD CONSTRAINT lots_purchase_fkey
  FOREIGN KEY (user_id, purchase_id) REFERENCES purchases (user_id, id);
ALTER TABLE gift_cards ADD CONSTRAINT gift_cards_journal_fkey
  FOREIGN KEY (user_id, journal_id) REFERENCES journals (user_id, id);
ALTER TABLE behaviour_outcomes ADD CONSTRAINT behaviour_outcomes_journal_fkey
  FOREIGN KEY (user_id, journal_id) REFERENCES journals (user_id, id);
ALTER TABLE behaviour_outcomes ADD CONSTRAINT behaviour_outcomes_tier_move_fkey
  FOREIGN KEY (user_id, tier_move_id) REFERENCES tier_moves (user_id, id);

-- A member's identifiers are the member's rows; their uniqueness moves to member_external_ids.
ALTER TABLE user_identifiers DROP CONSTRAINT user_identifiers_uq;
ALTER TABLE user_identifiers ADD CONSTRAINT user_identifiers_pkey PRIMARY KEY (user_id, external_id);
DROP INDEX user_identifiers_user_idx;
DROP INDEX users_email_uq;
DROP INDEX users_referrer_code_uq;

-- Lookup tables: keyed by their own key, each row names its member.
CREATE TABLE member_emails (
  retailer_id  uuid NOT NULL,
  email_key    text NOT NULL,
  user_id      uuid NOT NULL,
  CONSTRAINT member_emails_uq PRIMARY KEY (email_key, retailer_id)
);
INSERT INTO member_emails (retailer_id, email_key, user_id)
SELECT retailer_id, lower(email), id FROM users WHERE email IS NOT NULL;

CREATE TABLE member_external_ids (
  retailer_id  uuid NOT NULL,
  external_id  text NOT NULL,
  user_id      uuid NOT NULL,
  CONSTRAINT member_external_ids_uq PRIMARY KEY (external_id, retailer_id)
);
INSERT INTO member_external_ids (retailer_id, external_id, user_id)
SELECT retailer_id, external_id, user_id FROM user_identifiers;

CREATE TABLE member_phones (
  retailer_id  uuid NOT NULL,
  phone_key    text NOT NULL,
  user_id      uuid NOT NULL,
  PRIMARY KEY (phone_key, retailer_id, user_id)
);
INSERT INTO member_phones (retailer_id, phone_key, user_id)
SELECT DISTINCT retailer_id, phone_key, user_id FROM user_phones;

CREATE TABLE member_referrer_codes (
  retailer_id    uuid NOT NULL,
  referrer_code  text NOT NULL,
  user_id        uuid NOT NULL,
  CONSTRAINT member_referrer_codes_uq PRIMARY KEY (referrer_code, retailer_id)
);
INSERT INTO member_referrer_codes (retailer_id, referrer_code, user_id)
SELECT retailer_id, referrer_code, id FROM users;

-- The ledger is insert-only for the application's role (docs/operations.md): granted when this
-- migration may create roles, skipped (with a notice) where it may not.
DO $grant$
DECLARE
  s text := quote_ident(current_schema());
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'laurel_app') THEN
    CREATE ROLE laurel_app NOLOGIN;
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA %s TO laurel_app', s);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %s TO laurel_app', s);
  EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %s TO laurel_app', s);
  REVOKE UPDATE, DELETE, TRUNCATE ON journals, postings, tier_moves, enrollment_events, user_events,
    behaviour_outcomes FROM laurel_app;
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO laurel_app', s);
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %s GRANT USAGE, SELECT ON SEQUENCES TO laurel_app', s);
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'laurel_app not set up (%): the ledger is insert-only by convention only', SQLERRM;
END
$grant$;
`;
