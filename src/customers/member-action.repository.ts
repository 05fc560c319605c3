import type { Queryable, Tx } from '../db/database.js';

/**
 * What an agent or an app changed about a member outside the ledger, tier and enrollment tables
 * (issue #18 item 10, migration 0018): profile edits and gift-card resends, each with who did it.
 */
export type MemberActionKind = 'profile_changed' | 'gift_card_resent';

export interface MemberActionRow {
  user_id: string;
  id: string;
  retailer_id: string;
  at: Date;
  actor: string;
  kind: MemberActionKind;
  /** `profile_changed`: `{fields: [...]}` (names only, no values); `gift_card_resent`: `{gift_card_id, period}`. */
  details: Record<string, unknown>;
}

export async function insertMemberAction(tx: Tx, a: MemberActionRow): Promise<void> {
  await tx.query(
    `INSERT INTO member_actions (user_id, id, retailer_id, at, actor, kind, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
    [a.user_id, a.id, a.retailer_id, a.at, a.actor, a.kind, JSON.stringify(a.details)],
  );
}

/** A member's actions up to `at`, newest first. */
export async function listMemberActions(
  db: Queryable,
  retailerId: string,
  userId: string,
  at: Date,
): Promise<MemberActionRow[]> {
  return db.query<MemberActionRow>(
    `SELECT user_id, id, retailer_id, at, actor, kind, details FROM member_actions
     WHERE user_id = $1 AND retailer_id = $2 AND at <= $3 ORDER BY at DESC, id DESC`,
    [userId, retailerId, at],
  );
}
