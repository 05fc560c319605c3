/**
 * Ledger integrity (issue #13).
 *
 * `purchases.shortfall`: what a late return of the purchase could not take back, per settled
 * account (`{"spendable": n, "tier": n}`), still outstanding. A later credit of the same purchase (a
 * re-ring after a void, an edit upwards) repays it first (DESIGN §4, amended 2026-12-04), so what
 * a purchase's journals posted, less what it still owes, is always its award. Existing purchases
 * owe the shortfalls their journals recorded; one that the old rule let credit a re-ring in full
 * while it owed shows in `laurel verify`.
 *
 * `cash_out_runs.failures` and `last_error`: a run that cannot complete says why (issue #13 item 2).
 */
export const name = 'ledger_integrity';

export const sql = `
ALTER TABLE purchases ADD COLUMN shortfall jsonb NOT NULL DEFAULT '{}';

UPDATE purchases p SET shortfall = s.shortfall
FROM (
  SELECT j.purchase_id AS id, jsonb_strip_nulls(jsonb_build_object(
    'spendable', nullif(sum(coalesce((j.details->'shortfall'->>'spendable')::bigint, 0)), 0),
    'tier', nullif(sum(coalesce((j.details->'shortfall'->>'tier')::bigint, 0)), 0)
  )) AS shortfall
  FROM journals j
  WHERE j.purchase_id IS NOT NULL AND j.kind IN ('purchase', 'return') AND j.details ? 'shortfall'
  GROUP BY j.purchase_id
) s
WHERE s.id = p.id AND s.shortfall <> '{}'::jsonb;

ALTER TABLE cash_out_runs ADD COLUMN failures integer NOT NULL DEFAULT 0;
ALTER TABLE cash_out_runs ADD COLUMN last_error text;
`;
