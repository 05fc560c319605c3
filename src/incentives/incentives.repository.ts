import type { Queryable, Tx } from '../db/database.js';
import type { ModificationType } from '../domain/point-audit.js';

export interface IdempotentJournalRow {
  id: string;
  idempotency_key: string;
  details: Record<string, unknown>;
}

/**
 * The member's journals already written under any of `keys`, in one round trip. Read under the
 * member lock, so nothing can slip in between this read and the insert; the unique constraint
 * `journals_idempotency_uq` stays the guarantee (DESIGN §4: by constraint, not by reads).
 */
export async function findIdempotentJournals(
  tx: Tx,
  userId: string,
  keys: readonly string[],
): Promise<IdempotentJournalRow[]> {
  if (!keys.length) return [];
  return tx.query<IdempotentJournalRow>(
    `SELECT id, idempotency_key, details FROM journals WHERE user_id = $1 AND idempotency_key = ANY($2::text[])`,
    [userId, keys],
  );
}

/** One member-account posting with its journal, as the point audit log shows it. */
export interface AuditPostingRow {
  journal_id: string;
  line: number;
  account: string;
  amount: number;
  kind: ModificationType;
  effective_at: Date;
  recorded_at: Date;
  purchase_id: string | null;
  point_source_id: string | null;
  reference_id: string | null;
  reference_type: string | null;
  request_id: string | null;
  idempotency_key: string | null;
  /** The till's transaction id: from the journal, else from the purchase it belongs to. */
  transaction_id: string | null;
  details: Record<string, unknown>;
  total: number;
}

const AUDIT_WHERE = `p.user_id = $1 AND j.user_id = $1 AND p.account NOT LIKE 'program:%' AND j.kind <> ALL($2::text[])`;

/**
 * A page of the member's postings to member accounts, newest first by (effective_at, journal id),
 * lines in order; `total` counts every row the filter keeps (the same on each row).
 */
export async function readAuditPage(
  db: Queryable,
  userId: string,
  page: { skip: number; take: number; excludeKinds: readonly string[] },
): Promise<AuditPostingRow[]> {
  return db.query<AuditPostingRow>(
    `SELECT j.id AS journal_id, p.line, p.account, p.amount, j.kind, j.effective_at, j.recorded_at,
            j.purchase_id, j.point_source_id, j.reference_id, j.reference_type, j.request_id,
            j.idempotency_key, coalesce(j.details->>'transaction_id', pu.transaction_id) AS transaction_id,
            j.details, count(*) OVER ()::int AS total
     FROM postings p JOIN journals j ON j.user_id = p.user_id AND j.id = p.journal_id
     LEFT JOIN purchases pu ON pu.user_id = j.user_id AND pu.id = j.purchase_id
     WHERE ${AUDIT_WHERE}
     ORDER BY j.effective_at DESC, j.id DESC, p.line
     LIMIT $3 OFFSET $4`,
    [userId, page.excludeKinds, page.take, page.skip],
  );
}
