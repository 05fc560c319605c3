/**
 * Tenancy, customer profiles, program versions and the simulated clock (issue #2).
 * Every table carries retailer_id, and customer-owned tables carry user_id, so the schema can be
 * distributed by customer (DESIGN §9, docs/decisions/0001-storage.md). Written to PostgreSQL 15.
 */
export const name = 'foundation';

export const sql = `
CREATE TABLE retailers (
  id          uuid PRIMARY KEY,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL
);

CREATE TABLE apps (
  api_key      text PRIMARY KEY CHECK (api_key ~ '^[0-9a-f]{40}$'),
  retailer_id  uuid NOT NULL REFERENCES retailers (id),
  name         text NOT NULL,
  secret_hash  text NOT NULL,
  created_at   timestamptz NOT NULL,
  revoked_at   timestamptz
);
CREATE INDEX apps_retailer_idx ON apps (retailer_id);

CREATE TABLE admin_tokens (
  id           text PRIMARY KEY,
  retailer_id  uuid NOT NULL REFERENCES retailers (id),
  name         text NOT NULL,
  secret_hash  text NOT NULL,
  created_at   timestamptz NOT NULL,
  revoked_at   timestamptz
);
CREATE INDEX admin_tokens_retailer_idx ON admin_tokens (retailer_id);

-- A version with effective_from NULL is the retailer's first: in force for all earlier times.
CREATE TABLE program_versions (
  retailer_id     uuid NOT NULL REFERENCES retailers (id),
  version         integer NOT NULL CHECK (version > 0),
  effective_from  timestamptz,
  document        jsonb NOT NULL,
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (retailer_id, version),
  CHECK ((version = 1) = (effective_from IS NULL))
);

CREATE TABLE users (
  id                    uuid PRIMARY KEY,
  retailer_id           uuid NOT NULL REFERENCES retailers (id),
  external_id           text,
  external_id_type      text,
  email                 text,
  opted_in              boolean NOT NULL,
  opted_in_at           timestamptz,
  activated             boolean NOT NULL DEFAULT false,
  suspended             boolean NOT NULL DEFAULT false,
  test_account          boolean NOT NULL DEFAULT false,
  account_status        text NOT NULL DEFAULT 'good',
  first_name            text,
  last_name             text,
  gender                text,
  dob                   date,
  address               text,
  address2              text,
  city                  text,
  state                 text,
  zip                   text,
  dma                   text,
  country               text,
  locale                text,
  phone_numbers         jsonb NOT NULL DEFAULT '[]',
  user_profile          jsonb NOT NULL DEFAULT '{}',
  user_profile_version  integer NOT NULL DEFAULT 0,
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL,
  registered_at         timestamptz NOT NULL,
  deleted_at            timestamptz,
  CHECK (deleted_at IS NOT NULL OR email IS NOT NULL OR external_id IS NOT NULL)
);
CREATE INDEX users_retailer_idx ON users (retailer_id, id);
-- One email per retailer, compared case-insensitively (reference §3).
CREATE UNIQUE INDEX users_email_uq ON users (retailer_id, lower(email)) WHERE email IS NOT NULL;

-- Every external id of a user, the primary one included; unique within a retailer.
CREATE TABLE user_identifiers (
  retailer_id       uuid NOT NULL,
  external_id       text NOT NULL,
  user_id           uuid NOT NULL REFERENCES users (id),
  external_id_type  text,
  is_primary        boolean NOT NULL,
  created_at        timestamptz NOT NULL,
  CONSTRAINT user_identifiers_uq PRIMARY KEY (retailer_id, external_id)
);
CREATE INDEX user_identifiers_user_idx ON user_identifiers (user_id);

-- Phone numbers by search key (last ten digits; see phoneKey), for search. Not unique (reference §3).
CREATE TABLE user_phones (
  retailer_id  uuid NOT NULL,
  user_id      uuid NOT NULL REFERENCES users (id),
  position     integer NOT NULL,
  phone_key    text NOT NULL,
  PRIMARY KEY (user_id, position)
);
CREATE INDEX user_phones_key_idx ON user_phones (retailer_id, phone_key);

-- Counter tags (count) or expiring tags (expires_at), never both (reference §3).
CREATE TABLE user_tags (
  retailer_id  uuid NOT NULL,
  user_id      uuid NOT NULL REFERENCES users (id),
  tag          text NOT NULL,
  count        integer,
  expires_at   timestamptz,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (user_id, tag),
  CHECK ((count IS NULL) <> (expires_at IS NULL))
);

-- The simulated clock (DESIGN §5): one row, shared by every server process on this database.
CREATE TABLE simulated_clock (
  id      boolean PRIMARY KEY DEFAULT true CHECK (id),
  now_at  timestamptz NOT NULL
);
`;
