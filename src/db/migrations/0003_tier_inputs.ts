/**
 * What the tier engine reads besides the ledger (issue #4), insert-only like the ledger:
 * manual tier moves (`movement/move_user`: who moved whom to which level, when and why), held
 * until the level's own expiry; and enrollment changes (opt-in and opt-out instants), which start
 * and end tier episodes and appear in the member's tier history.
 */
export const name = 'tier_inputs';

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

CREATE TABLE enrollment_events (
  id           uuid PRIMARY KEY,
  retailer_id  uuid NOT NULL,
  user_id      uuid NOT NULL REFERENCES users (id),
  opted_in     boolean NOT NULL,
  at           timestamptz NOT NULL,
  cause        text NOT NULL CHECK (cause IN ('created', 'profile_update', 'deleted'))
);
CREATE INDEX enrollment_events_user_idx ON enrollment_events (user_id, at);

CREATE TRIGGER enrollment_events_immutable BEFORE UPDATE OR DELETE ON enrollment_events
  FOR EACH ROW EXECUTE FUNCTION laurel_ledger_is_immutable();
`;
