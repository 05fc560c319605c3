/**
 * Sessions of the customer-care console (issue #6). An agent signs in with an admin token; the
 * browser then holds only a random session id in a cookie. The table keeps a SHA-256 hash of that
 * id, never the id itself, so a copy of the database cannot be replayed as a cookie. A session
 * acts for the token that opened it and ends with it: every read joins `admin_tokens` and ignores
 * revoked tokens. `idle_expires_at` moves forward with use; `expires_at` never does.
 */
export const name = 'console_sessions';

export const sql = `
CREATE TABLE console_sessions (
  id_hash          text PRIMARY KEY,
  retailer_id      uuid NOT NULL REFERENCES retailers (id),
  token_id         text NOT NULL REFERENCES admin_tokens (id),
  csrf_secret      text NOT NULL,
  created_at       timestamptz NOT NULL,
  last_seen_at     timestamptz NOT NULL,
  idle_expires_at  timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL
);
CREATE INDEX console_sessions_token_idx ON console_sessions (token_id);
CREATE INDEX console_sessions_expiry_idx ON console_sessions (idle_expires_at);
`;
