/**
 * A member's standing as one row (issue #15, docs/decisions/0006-standing-row.md): the loyalty
 * part of the user object as computed at `computed_at`, true until `valid_until` (the next instant
 * it changes by time alone), from the ledger as of `version` and the retailer's program as of
 * `program_version` (its newest version then). Every write of what a standing is computed from
 * bumps `version` and clears `body` in its own statement; reads recompute and store only when the
 * body is missing, stale or computed for another instant.
 *
 * Keyed by the member (issue #19), no triggers; no foreign key to users, so a reader storing a
 * standing never waits for the member lock a writer holds.
 */
export const name = 'member_standings';

export const sql = `
CREATE TABLE member_standings (
  user_id          uuid PRIMARY KEY,
  retailer_id      uuid NOT NULL,
  version          bigint NOT NULL DEFAULT 0,
  body             jsonb,
  computed_at      timestamptz,
  valid_until      timestamptz,
  program_version  integer
);
`;
