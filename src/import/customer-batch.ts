import type { Tx } from '../db/database.js';
import { findTakenKeys } from '../customers/customer.repository.js';
import { insertNewMembers, type NewMember } from '../customers/customer.service.js';
import type { BatchReader, BatchWriter, GroupCommit } from '../ledger/group-commit.js';
import { LaurelError } from '../errors.js';
import type { Outcome } from './import.types.js';

/**
 * New customers of an import written a batch at a time (issue #16), through the import's own group
 * commit: a batch is BEGIN, one read of which of its rows' keys are taken, one statement that
 * writes every new member (`insertNewMembers`, what `createUser` writes for one), and COMMIT. One
 * PostgreSQL server only: on Citus each row is created alone (issue #19).
 */

/** A row whose email or external id a member holds already; the code a create would fail with. */
class KeyTaken extends Error {
  constructor(readonly code: 'email_taken' | 'external_id_taken') {
    super(code);
  }
}

type Taken = KeyTaken['code'] | null;

/**
 * Which members' keys are taken, for a batch in one statement per retailer, as the create would
 * find them: the email first (docs/import.md). A re-run of a file imported before finds every
 * row's keys taken: those rows leave the batch before it writes, so they neither fail it nor make
 * its other rows run alone, and skip the create that would fail.
 */
async function findTaken(tx: Tx, members: readonly NewMember[]): Promise<Taken[]> {
  const byRetailer = new Map<string, NewMember[]>();
  for (const m of members) {
    const list = byRetailer.get(m.row.retailer_id);
    if (list) list.push(m);
    else byRetailer.set(m.row.retailer_id, [m]);
  }
  const taken = new Map<NewMember, Taken>();
  const externalIds = (m: NewMember) => [
    ...(m.row.external_id === null ? [] : [m.row.external_id]),
    ...m.identifiers.map((i) => i.external_id),
  ];
  for (const [retailerId, list] of byRetailer) {
    const found = await findTakenKeys(
      tx,
      retailerId,
      list.flatMap((m) => (m.row.email === null ? [] : [m.row.email])),
      list.flatMap(externalIds),
    );
    for (const m of list) {
      taken.set(
        m,
        m.row.email !== null && found.emails.has(m.row.email)
          ? 'email_taken'
          : externalIds(m).some((x) => found.externalIds.has(x))
            ? 'external_id_taken'
            : null,
      );
    }
  }
  return members.map((m) => taken.get(m) ?? null);
}

const readTaken: BatchReader = (tx, items) => findTaken(tx, items as NewMember[]);

const writeMembers: BatchWriter = async (tx, items) => {
  await insertNewMembers(tx, items as NewMember[]);
};

/**
 * Creates a new customer in the import's next batch. A row whose key a member holds already (a
 * re-run, a resume) leaves the batch before it writes: `existing` compares it with that customer
 * (present, or rejected with the code a create would fail with). `alone` is the row through
 * `createUser` in a transaction of its own, as before batches, which runs for every row of a batch
 * that fails (a key taken in between, by another row of the batch or another writer).
 */
export async function createInBatch(
  batches: GroupCommit,
  member: NewMember,
  alone: () => Promise<Outcome>,
  existing: (taken: LaurelError) => Promise<Outcome>,
): Promise<Outcome> {
  try {
    return await batches.submit<Outcome>({
      // A new customer has no row to lock yet; its keys are claimed by the write itself.
      members: [],
      key: member.row.id,
      prefetch: { read: readTaken, item: member },
      async apply(tx, beforeWrite, _shared, batch) {
        // A batch of one reads its own (the group commit reads only for batches of several).
        const [taken] =
          batch.prefetched === undefined ? await findTaken(tx, [member]) : [batch.prefetched as Taken];
        if (taken) throw new KeyTaken(taken);
        beforeWrite();
        await batch.defer(writeMembers, member);
        return { status: 'imported' };
      },
      alone,
    });
  } catch (err) {
    if (err instanceof KeyTaken) return existing(new LaurelError(err.code));
    throw err;
  }
}
