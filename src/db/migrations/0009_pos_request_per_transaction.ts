/**
 * POS request ids are idempotent per transaction (issue #14 item 6, DESIGN §4 and §8 amended
 * 2026-12-04): tills in the field send one `request_id` (often "1") for every sale, so the stored
 * answer is keyed by (`request_id`, `transaction_id`) and a second sale with the same request id is
 * a new request, not a 409. A repeat of both with another body still answers 409.
 *
 * Existing rows take the transaction id of the answer they stored (every stored answer names it);
 * they were unique by request id alone, so they stay unique under the wider key.
 */
export const name = 'pos_request_per_transaction';

export const sql = `
ALTER TABLE pos_requests ADD COLUMN transaction_id text;
UPDATE pos_requests SET transaction_id = coalesce(response->>'transaction_id', '');
ALTER TABLE pos_requests ALTER COLUMN transaction_id SET NOT NULL;
ALTER TABLE pos_requests DROP CONSTRAINT pos_requests_pkey;
ALTER TABLE pos_requests ADD PRIMARY KEY (retailer_id, request_id, transaction_id);
`;
