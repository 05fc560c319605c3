/**
 * The one way a write marks a member's stored standing stale (issue #15,
 * docs/decisions/0006-standing-row.md): an upsert that bumps the row's version and drops its body,
 * written as a part of the writer's own statement, so it commits or rolls back with the write on
 * every database and for every server process. A reader stores a standing only over the version it
 * read, so a standing computed before the write can never land after it.
 *
 * `members` is a query giving `user_id` and `retailer_id` of the members written (repeats allowed).
 */
export function standingInvalidation(members: string): string {
  return `INSERT INTO member_standings AS s (user_id, retailer_id, version)
       SELECT DISTINCT m.user_id, m.retailer_id, 1 FROM (${members}) m
       ON CONFLICT (user_id) DO UPDATE SET version = s.version + 1, body = NULL`;
}
