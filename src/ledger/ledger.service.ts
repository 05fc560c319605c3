import type { Queryable, Tx } from '../db/database.js';
import { SETTLED_OF } from '../domain/escrow.js';
import { newId } from '../domain/ids.js';
import type { AccountBalance } from '../domain/loyalty-view.js';
import type { AccountRole } from '../domain/program.js';
import { insertJournal, lockDueLots, markRolledOver, readBalances } from './ledger.repository.js';

export interface MemberBalances {
  balances: Partial<Record<AccountRole, AccountBalance>>;
  /** Accounts the member has used (shown with a user point account id). */
  used: Set<AccountRole>;
}

/**
 * A member's balances as of `at` (DESIGN §5): the materialised balances, with every lot that has
 * matured by `at` shown as rolled over whether or not a sweep has written it yet. Reads never write.
 */
export async function balancesAsOf(db: Queryable, userId: string, at: Date): Promise<MemberBalances> {
  const { balances, due } = await readBalances(db, userId, at);
  const out: Partial<Record<AccountRole, AccountBalance>> = {};
  const used = new Set<AccountRole>();
  for (const b of balances) {
    out[b.account as AccountRole] = { balance: b.balance, life_time_value: b.life_time_value };
    used.add(b.account as AccountRole);
  }
  for (const d of due) {
    const escrow = out[d.account] ?? { balance: 0, life_time_value: 0 };
    out[d.account] = { ...escrow, balance: escrow.balance - d.due };
    const role = SETTLED_OF[d.account];
    const settled = out[role] ?? { balance: 0, life_time_value: 0 };
    out[role] = { balance: settled.balance + d.due, life_time_value: settled.life_time_value + d.due };
    used.add(role);
  }
  return { balances: out, used };
}

/**
 * Writes the rollover of every lot of the member that matured by `now` (DESIGN §4 rollover), each
 * effective at its maturation instant. Runs inside the member's lock before any other change, so
 * every mutation starts from the as-of state. Idempotent: a rolled lot is never rolled again.
 */
export async function settleMember(tx: Tx, retailerId: string, userId: string, now: Date): Promise<number> {
  const lots = await lockDueLots(tx, userId, now);
  if (!lots.length) return 0;
  for (const lot of lots) {
    if (lot.remaining <= 0) continue;
    await insertJournal(tx, {
      id: newId(lot.matures_at.getTime()),
      retailer_id: retailerId,
      user_id: userId,
      kind: 'rollover',
      effective_at: lot.matures_at,
      recorded_at: now,
      purchase_id: lot.purchase_id,
      lot_id: lot.id,
      details: { reason: 'escrow period ended' },
      postings: [
        { account: lot.account, amount: -lot.remaining },
        { account: SETTLED_OF[lot.account], amount: lot.remaining },
      ],
    });
  }
  await markRolledOver(
    tx,
    lots.map((l) => l.id),
    now,
  );
  return lots.length;
}
