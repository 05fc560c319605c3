import type { Database } from '../../src/db/database.js';
import { groupCommitOf } from '../../src/ledger/group-commit.js';

/**
 * Waits, without a deadline of its own (the test's timeout is one), until `n` requests wait in the
 * database's group commit: a test sends its next request only then, so a batch holds them in the
 * order sent.
 */
export async function waitingIs(db: Database, n: number): Promise<void> {
  while (groupCommitOf(db).waiting < n) await new Promise((r) => setTimeout(r, 2));
}
