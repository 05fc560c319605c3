/**
 * Manual tier moves (issue #4, `movement/move_user`): who moved whom to which level, when and why.
 * Insert-only, like the ledger; the tier engine reads them as holds until the level's own expiry.
 */
export const name = 'tier_moves';

export const sql = `
CREATE TABLE tier_moves (
  id              uuid PRIMARY KEY,
  retailer_id     uuid NOT NULL,
  user_id         uuid NOT NULL REFERENCES users (id),
  tier_system_id  uuid NOT NULL,
  tier_level_id   uuid NOT NULL,
  effective_at    timestamptz NOT NULL,
  recorded_at     timestamptz NOT NULL,
  actor           text NOT NULL,
  reason          text NOT NULL
);
CREATE INDEX tier_moves_user_idx ON tier_moves (user_id, effective_at);

CREATE TRIGGER tier_moves_immutable BEFORE UPDATE OR DELETE ON tier_moves
  FOR EACH ROW EXECUTE FUNCTION laurel_ledger_is_immutable();
`;
