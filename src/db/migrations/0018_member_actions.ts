/**
 * What an agent or an app changed about a member that no ledger, tier or enrollment table records
 * (issue #18 items 10 and 12): a profile's fields edited (contact details among them), a gift card resent. Each row names who did
 * it (`actor`: `Dana Whitfield (console, token lat_…)` or `app:<api_key>`), so the member's history
 * shows it beside the points and tier changes.
 *
 * Customer-owned, so keyed by the member (issue #19): the primary key leads with `user_id` and every
 * statement filters by it. No personal data is kept here, only which fields changed, so erasing a
 * member (which blanks the profile) leaves nothing to erase in this table. Rows are never updated.
 */
export const name = 'member_actions';

export const sql = `
CREATE TABLE member_actions (
  user_id      uuid NOT NULL REFERENCES users (id),
  id           uuid NOT NULL,
  retailer_id  uuid NOT NULL,
  at           timestamptz NOT NULL,
  actor        text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('profile_changed', 'gift_card_resent')),
  details      jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (user_id, id)
);
`;
