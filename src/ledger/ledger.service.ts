import type { Queryable, Tx } from '../db/database.js';
import {
  giftCardId,
  mayCrossPeriodEnd,
  periodEndsBetween,
  planCashOuts,
  type CashOutPeriod,
  type MaturingLot,
  type PlannedCashOut,
} from '../domain/cashout.js';
import { SETTLED_OF } from '../domain/escrow.js';
import { majorOf, precisionOf, scaleOf, toMajor } from '../domain/precision.js';
import { newId } from '../domain/ids.js';
import type { AccountBalance } from '../domain/loyalty-view.js';
import type { AccountRole, ProgramDocument } from '../domain/program.js';
import { insertGiftCard } from '../cashout/cashout.repository.js';
import { eventOf, tierChangeEvents, tierChangeEventsOf } from '../events/event.service.js';
import { insertEvents, type EventInput } from '../events/outbox.repository.js';
import { getProgramAt } from '../program/program.service.js';
import {
  balanceOf,
  insertJournals,
  lockLedgerOwners,
  lockLedgerOwnersAtOnce,
  rollOverDueLots,
  writeRollovers,
  readBalances,
  readDueState,
  setCashedOutThrough,
  type CashOutState,
  type DueState,
  type LedgerRead,
  type LotRow,
  type JournalInput,
  type LockedOwner,
} from './ledger.repository.js';

export interface MemberBalances {
  balances: Partial<Record<AccountRole, AccountBalance>>;
  /** Accounts the member has used (shown with a user point account id). */
  used: Set<AccountRole>;
  /** Cash-outs due by the read's instant that no writer has recorded yet, oldest first. */
  pending_cash_outs: PendingCashOut[];
}

/** A cash-out as the plan gives it, with the currency of the program in force at its period end. */
export interface PendingCashOut extends PlannedCashOut {
  currency: string;
}

/** Who a ledger belongs to, as far as its balances are concerned. */
export interface LedgerOwner {
  id: string;
  retailer_id: string;
}

/**
 * A member's balances as of `at` (DESIGN §5): the materialised balances, with every lot that has
 * matured by `at` shown as rolled over and every period that has ended by `at` shown as cashed out
 * (DESIGN §7), whether or not a writer has recorded them yet. Reads never write. `program` is the
 * version in force at `at`: its zone places the period ends.
 */
export async function balancesAsOf(
  db: Queryable,
  owner: LedgerOwner,
  program: ProgramDocument,
  at: Date,
  /** The member's ledger as already read at `at` (`readMemberLedger`), to save the round trip. */
  read?: LedgerRead,
): Promise<MemberBalances> {
  const { balances, due, cashOut } = read ?? (await readBalances(db, owner.id, at));
  const out: Partial<Record<AccountRole, AccountBalance>> = {};
  const used = new Set<AccountRole>();
  for (const b of balances) {
    out[b.account as AccountRole] = { balance: b.balance, life_time_value: b.life_time_value };
    used.add(b.account as AccountRole);
  }
  const spendableBefore = out.spendable?.balance ?? 0;
  for (const d of due) {
    const escrow = out[d.account] ?? { balance: 0, life_time_value: 0 };
    out[d.account] = { ...escrow, balance: escrow.balance - d.due };
    const role = SETTLED_OF[d.account];
    const settled = out[role] ?? { balance: 0, life_time_value: 0 };
    out[role] = { balance: settled.balance + d.due, life_time_value: settled.life_time_value + d.due };
    used.add(role);
  }
  const pending = await planPending(db, owner.retailer_id, program, cashOut, at, spendableBefore, due);
  if (pending.length) {
    const spendable = out.spendable!;
    const converted = pending.reduce((n, c) => n + c.points, 0);
    out.spendable = { ...spendable, balance: spendable.balance - converted };
  }
  return { balances: out, used, pending_cash_outs: pending };
}

/** The periods after `state.since` that end by `at`, in the program's zone; none for an erased member. */
function periodsDue(state: CashOutState | undefined, program: ProgramDocument, at: Date): CashOutPeriod[] {
  if (!state || state.deleted || !mayCrossPeriodEnd(state.since, at)) return [];
  return periodEndsBetween(program.time_zone, state.since, at);
}

/**
 * Plans the cash-outs of the periods due, each by the rules of the program version in force at its
 * end (DESIGN §2: a rule applies by the version in force at its own time).
 */
async function planPending(
  db: Queryable,
  retailerId: string,
  program: ProgramDocument,
  state: CashOutState | undefined,
  at: Date,
  spendable: number,
  due: ReadonlyArray<{ account: string; matures_at: Date; due: number }>,
): Promise<PendingCashOut[]> {
  const periods = periodsDue(state, program, at);
  if (!periods.length) return [];
  const lots: MaturingLot[] = due
    .filter((d) => d.account === 'spendable_escrow')
    .map((d) => ({ matures_at: d.matures_at, remaining: d.due }));
  // Nothing to convert at any of the periods: no program versions to read.
  if (spendable + lots.reduce((n, l) => n + l.remaining, 0) <= 0) return [];
  const rules = new Map<string, ProgramDocument>();
  for (const p of periods) rules.set(p.period, await getProgramAt(db, retailerId, p.ends_at));
  // The rate is stated in points; the balance is in the Spendable pair's minor units, so the rate is
  // scaled by the precision in force (issue #14 item 3): 100 points = 1 USD is 10,000 hundredths.
  const scale = scaleOf(precisionOf(program, 'spendable'));
  const ruleOf = (p: CashOutPeriod) => {
    const rule = rules.get(p.period)!.cash_out;
    return scale === 1 ? rule : { ...rule, points_per_currency_unit: rule.points_per_currency_unit * scale };
  };
  return planCashOuts(spendable, lots, periods, ruleOf).map((c) => ({
    ...c,
    currency: rules.get(c.period.period)!.currency,
  }));
}

/**
 * Writes what has come due for the member by `now`, in the member's lock before any other change,
 * so every mutation starts from the as-of state: the rollover of every matured lot, each effective
 * at its maturation instant (DESIGN §4), and the cash-out of every period that has ended, effective
 * at the period end, with its gift card (DESIGN §7). Idempotent: a rolled lot is never rolled again,
 * a settled period never settled again (`cashed_out_through`, and the gift card's unique member and
 * period). Answers how many lots it rolled over and how many periods it settled.
 */
export async function settleMember(
  tx: Tx,
  retailerId: string,
  userId: string,
  now: Date,
  /** What is due, when the caller read it under the member's lock already (`readDueState`). */
  pre?: DueState,
): Promise<{ lots: number; periods: number }> {
  const { lots, cashOut: state } = pre ?? (await readDueState(tx, userId, now));
  let periods: CashOutPeriod[] = [];
  let program: ProgramDocument | undefined;
  if (state && !state.deleted && mayCrossPeriodEnd(state.since, now)) {
    program = await getProgramAt(tx, retailerId, now);
    periods = periodEndsBetween(program.time_zone, state.since, now);
  }
  if (!lots.length && !periods.length) return { lots: 0, periods: 0 };
  // Planned from the state before this settlement's rollovers, exactly as a read plans it.
  const cashOuts = periods.length
    ? await planPending(
        tx,
        retailerId,
        program!,
        state,
        now,
        await balanceOf(tx, userId, 'spendable'),
        lots.map((l) => ({ account: l.account, matures_at: l.matures_at, due: l.remaining })),
      )
    : [];
  if (lots.length)
    await writeRollovers(
      tx,
      lots.map((l) => ({ id: l.id, user_id: userId })),
      rolloversOf(lots, retailerId, userId, now),
      now,
      rolledOverEvents(lots, retailerId, userId, now),
      userId,
    );
  for (const c of cashOuts) await writeCashOut(tx, retailerId, userId, c, now, program!);
  if (periods.length) await setCashedOutThrough(tx, userId, periods[periods.length - 1]!.ends_at);
  // What this settlement made real may have moved the tier: crossings at maturation instants,
  // expiries at period ends (issue #17), each emitted with its own instant.
  await insertEvents(
    tx,
    await tierChangeEvents(
      tx,
      retailerId,
      userId,
      [...tierInstants(lots), ...periods.map((p) => p.ends_at)],
      now,
    ),
  );
  return { lots: lots.length, periods: periods.length };
}

/**
 * The rollover of each purchase's lots that still hold points (issue #16: one journal per
 * purchase, not per lot), effective at their maturation instant (DESIGN §4), from each escrow
 * account to its settled one, as `rollOverDueLots` writes them for a sweep.
 */
function rolloversOf(lots: readonly LotRow[], retailerId: string, userId: string, now: Date): JournalInput[] {
  const byPurchase = new Map<string, LotRow[]>();
  for (const l of lots) {
    if (l.remaining <= 0) continue;
    const key = `${l.purchase_id}\u0000${l.matures_at.getTime()}`;
    byPurchase.set(key, [...(byPurchase.get(key) ?? []), l]);
  }
  const order: Record<string, number> = { spendable_escrow: 0, tier_escrow: 1 };
  return [...byPurchase.values()].map((group) => {
    const first = group[0]!;
    return {
      id: newId(first.matures_at.getTime()),
      retailer_id: retailerId,
      user_id: userId,
      kind: 'rollover',
      effective_at: first.matures_at,
      recorded_at: now,
      purchase_id: first.purchase_id,
      details: { reason: 'escrow period ended' },
      postings: [...group]
        .sort((a, b) => order[a.account]! - order[b.account]!)
        .flatMap((l) => [
          { account: l.account, amount: -l.remaining },
          { account: SETTLED_OF[l.account], amount: l.remaining },
        ]),
    };
  });
}

/** The maturation instants of the Tier-Qualifying lots that rolled over points. */
const tierInstants = (lots: readonly LotRow[]): Date[] =>
  lots.filter((l) => l.account === 'tier_escrow' && l.remaining > 0).map((l) => l.matures_at);

/**
 * One `points.rolled_over` event per purchase whose escrow matured (issue #17), not per lot:
 * effective at the maturation instant, with what rolled into each settled account.
 */
function rolledOverEvents(
  lots: readonly LotRow[],
  retailerId: string,
  userId: string,
  now: Date,
): EventInput[] {
  const byPurchase = new Map<string, { matured_at: Date; spendable: number; tier_qualifying: number }>();
  for (const l of lots) {
    if (l.remaining <= 0) continue;
    const p = byPurchase.get(l.purchase_id) ?? { matured_at: l.matures_at, spendable: 0, tier_qualifying: 0 };
    // In points: the purchase's recorded precision says what the lot holds (issue #14 item 3).
    if (l.account === 'spendable_escrow')
      p.spendable += toMajor(l.remaining, l.spendable_precision === 2 ? 2 : 0);
    else p.tier_qualifying += l.remaining;
    byPurchase.set(l.purchase_id, p);
  }
  return [...byPurchase].map(([purchaseId, p]) =>
    eventOf(
      'points.rolled_over',
      retailerId,
      userId,
      now,
      {
        purchase_id: purchaseId,
        matured_at: p.matured_at.toISOString(),
        points: { spendable: p.spendable, tier_qualifying: p.tier_qualifying },
      },
      p.matured_at,
    ),
  );
}

export interface BulkSettlement {
  /** Members whose lots were rolled over, and how many lots. */
  members: number;
  lots: number;
  /** Members of the batch without a user row (the foreign key of `lots` rules it out). */
  missing: string[];
}

/**
 * A sweep batch (DESIGN §5, issue #8): what `settleMember` writes for each member, for many members
 * in one transaction of a few statements, under every member's lock. The rollovers of members with
 * no period end since their last settlement (most members, most days) are written together by one
 * set-based statement (`rollOverDueLots`, issue #16), one journal per purchase as `settleMember`
 * writes it; a member whose cash-out may be due goes through `settleMember` itself, in the same
 * transaction.
 */
export async function settleMembersInBulk(
  tx: Tx,
  userIds: readonly string[],
  now: Date,
  /**
   * The members live whole on one server (`isOneServer`): the batch is locked in one statement, and
   * its rollovers reach each row through its key, not through the batch's shards.
   */
  opts: { oneServer?: boolean } = {},
): Promise<BulkSettlement> {
  const owners = await (opts.oneServer ? lockLedgerOwnersAtOnce : lockLedgerOwners)(tx, userIds);
  const found = new Set(owners.map((o) => o.id));
  const missing = userIds.filter((id) => !found.has(id));
  const together: LockedOwner[] = [];
  const alone: LockedOwner[] = [];
  for (const o of owners) (o.deleted || !mayCrossPeriodEnd(o.since, now) ? together : alone).push(o);
  let members = 0;
  let lots = 0;
  for (const o of alone) {
    const settled = await settleMember(tx, o.retailer_id, o.id, now);
    if (settled.lots > 0) {
      members += 1;
      lots += settled.lots;
    }
  }
  if (!together.length) return { members, lots, missing };
  const rolled = await rollOverDueLots(
    tx,
    together.map((o) => o.id),
    now,
    { oneServer: opts.oneServer },
  );
  // What the rollovers made real may have moved tiers: crossings at maturation instants (issue #17).
  const instants = new Map<string, { retailerId: string; userId: string; instants: Date[] }>();
  const lowest = new Map<string, number>();
  for (const r of rolled.tier) {
    // A member whose tier points never reached the lowest threshold above the floor, and who was
    // never moved, has only ever been at the floor: no rollover moves them (DESIGN §6), so their
    // ledger is not read nor the tier engine run (issue #16: half the sweep's Node time).
    if (!r.moved) {
      let threshold = lowest.get(r.retailer_id);
      if (threshold === undefined) {
        threshold = lowestThreshold(await getProgramAt(tx, r.retailer_id, now));
        lowest.set(r.retailer_id, threshold);
      }
      if (Number(r.tier_credits) < threshold) continue;
    }
    const m = instants.get(r.user_id) ?? { retailerId: r.retailer_id, userId: r.user_id, instants: [] };
    m.instants.push(new Date(Number(r.at_ms)));
    instants.set(r.user_id, m);
  }
  await insertEvents(tx, await tierChangeEventsOf(tx, [...instants.values()], now));
  return { members: members + rolled.members, lots: lots + rolled.lots, missing };
}

/** The lowest tier-point figure at which a member could stand above the floor (DESIGN §6). */
function lowestThreshold(program: ProgramDocument): number {
  const above = [...program.tier_system.levels].sort((a, b) => a.rank - b.rank).slice(1);
  return Math.min(...above.map((l) => Math.min(l.threshold, l.maintenance_threshold ?? l.threshold)));
}

/** One period's cash-out: a journal from Spendable to the cashed-out account, and its gift card. */
async function writeCashOut(
  tx: Tx,
  retailerId: string,
  userId: string,
  c: PendingCashOut,
  now: Date,
  /** The version in force now: its precision says what the points are (issue #14 item 3). */
  program: ProgramDocument,
): Promise<void> {
  const journalId = newId(c.period.ends_at.getTime());
  const cardId = giftCardId(userId, c.period.period);
  const journal: JournalInput = {
    id: journalId,
    retailer_id: retailerId,
    user_id: userId,
    kind: 'cash_out',
    effective_at: c.period.ends_at,
    recorded_at: now,
    reference_id: cardId,
    reference_type: 'Gift Card',
    details: {
      period: c.period.period,
      gift_card_id: cardId,
      value_cents: c.value_cents,
      currency: c.currency,
      balance: c.balance,
      points_left: c.left,
    },
    postings: [
      { account: 'spendable', amount: -c.points },
      { account: 'program:cashed_out', amount: c.points },
    ],
  };
  // The gift card's event is written with its journal (issue #17), one round trip.
  await insertJournals(
    tx,
    [journal],
    [
      eventOf(
        'gift_card.issued',
        retailerId,
        userId,
        now,
        {
          gift_card_id: cardId,
          period: c.period.period,
          points: majorOf(program, 'spendable', c.points),
          value_cents: c.value_cents,
          currency: c.currency,
        },
        c.period.ends_at,
      ),
    ],
  );
  await insertGiftCard(tx, {
    id: cardId,
    retailer_id: retailerId,
    user_id: userId,
    period: c.period.period,
    period_end: c.period.ends_at,
    journal_id: journalId,
    points: c.points,
    value_cents: c.value_cents,
    currency: c.currency,
    points_left: c.left,
    status: 'active',
    issued_at: c.period.ends_at,
    recorded_at: now,
  });
}
