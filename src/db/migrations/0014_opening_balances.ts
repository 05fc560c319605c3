/**
 * Opening balances and history-only purchases (issue #16 item 2).
 *
 * `journals.kind` gains `opening`: the positions a member brings from another platform at the
 * cut-over, posted against `program:opening` (its own audit type and reason, docs/audit-log.md).
 * `tier_moves.holds_until`: an opening tier holds until the expiry the old platform gave it, not
 * the one the program would compute from its entry (null: the level's own expiry, issue #4).
 * `purchases.earned_elsewhere`: a purchase imported with `--history-only` earned its points on the
 * old platform (they are in the opening balance): `{"spendable": n, "tier": n}` as its award then,
 * so a return claws back from the settled accounts (DESIGN §4) and `verify` knows the journals of
 * such a purchase posted only the change since.
 */
export const name = 'opening_balances';

export const sql = `
ALTER TABLE journals DROP CONSTRAINT journals_kind_check;
ALTER TABLE journals ADD CONSTRAINT journals_kind_check
  CHECK (kind IN ('purchase', 'return', 'rollover', 'deposit', 'spend', 'cash_out', 'behaviour', 'opening'));

ALTER TABLE tier_moves ADD COLUMN holds_until timestamptz;
ALTER TABLE purchases ADD COLUMN earned_elsewhere jsonb;
`;
