/**
 * The outbox distributes by member like the rest of a member's rows (issue #19, issue #17): the
 * events table keeps no foreign key to the retailer-wide `retailers`, which Citus keeps as a
 * reference table (docs/scaling.md). Its rows still carry `retailer_id`; nothing else changes.
 */
export const name = 'events_by_member';

export const sql = `
ALTER TABLE events DROP CONSTRAINT events_retailer_id_fkey;
`;
