/**
 * Behaviours (issue #14 items 8 and 9): member events and the outcomes they applied.
 *
 * `user_events`: every event a member sent (`trigger_user_event`, or a campaign's events), with
 * the answer it got, insert-only. An `idempotency_key` is unique per member by constraint, so a
 * repeat answers the stored answer and a reuse with another body is refused (DESIGN §4).
 * `behaviour_outcomes`: each outcome an event applied, by outcome id and instant, for the
 * per-member limits; points outcomes name their journal (kind `behaviour`), tier outcomes their
 * tier move. Both are customer-owned: `user_id` leads every key, for distribution by member
 * (DESIGN §9).
 */
export const name = 'behaviours';

export const sql = `
ALTER TABLE journals DROP CONSTRAINT journals_kind_check;
ALTER TABLE journals ADD CONSTRAINT journals_kind_check
  CHECK (kind IN ('purchase', 'return', 'rollover', 'deposit', 'spend', 'cash_out', 'behaviour'));

CREATE TABLE user_events (
  retailer_id      uuid NOT NULL,
  user_id          uuid NOT NULL REFERENCES users (id),
  id               uuid NOT NULL,
  event_lookup     text NOT NULL,
  source           text NOT NULL CHECK (source IN ('trigger_user_event', 'campaign_event')),
  campaign_id      uuid,
  is_session_m     boolean NOT NULL,
  program_version  integer NOT NULL,
  idempotency_key  text,
  body_hash        text,
  response         jsonb NOT NULL,
  occurred_at      timestamptz NOT NULL,
  PRIMARY KEY (user_id, id),
  CONSTRAINT user_events_idempotency_uq UNIQUE (user_id, idempotency_key)
);
CREATE INDEX user_events_user_time_idx ON user_events (user_id, occurred_at);

CREATE TABLE behaviour_outcomes (
  retailer_id   uuid NOT NULL,
  user_id       uuid NOT NULL,
  event_id      uuid NOT NULL,
  behaviour_id  uuid NOT NULL,
  outcome_id    uuid NOT NULL,
  applied_at    timestamptz NOT NULL,
  journal_id    uuid REFERENCES journals (id),
  tier_move_id  uuid REFERENCES tier_moves (id),
  PRIMARY KEY (user_id, event_id, outcome_id),
  FOREIGN KEY (user_id, event_id) REFERENCES user_events (user_id, id)
);
CREATE INDEX behaviour_outcomes_limit_idx ON behaviour_outcomes (user_id, outcome_id, applied_at);

CREATE TRIGGER user_events_immutable BEFORE UPDATE OR DELETE ON user_events
  FOR EACH ROW EXECUTE FUNCTION laurel_ledger_is_immutable();
CREATE TRIGGER behaviour_outcomes_immutable BEFORE UPDATE OR DELETE ON behaviour_outcomes
  FOR EACH ROW EXECUTE FUNCTION laurel_ledger_is_immutable();
`;
