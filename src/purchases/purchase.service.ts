import type { Database, Queryable, Tx } from '../db/database.js';
import { TurnReads } from '../db/turn-reads.js';
import { readBasket } from '../domain/basket.js';
import { localDate, parseZonedTime, startOfLocalDay, startOfLocalYearAt } from '../domain/calendar.js';
import { jsonHash, sameJson } from '../domain/canonical.js';
import { runningCampaigns, targetingAdmits, targetsTiers } from '../domain/campaigns.js';
import {
  assertAwardWithinBounds,
  computeAward,
  eligibleCents,
  escrowMinor,
  inPrecision,
  type Award,
  type AwardTerms,
  type Basket,
  type CampaignAward,
} from '../domain/earning.js';
import { planAwardChange, SETTLED_OF, type EscrowRole, type SettledRole } from '../domain/escrow.js';
import { isUuid, newId } from '../domain/ids.js';
import type { AccountRole, ProgramDocument } from '../domain/program.js';
import { precisionOf, sumMajor, toMajor, type Precision } from '../domain/precision.js';
import { LaurelError, validationError } from '../errors.js';
import { lockOwner, type LockedMember, type UserRow } from '../customers/customer.repository.js';
import { balanceOf, tierYearBalance, type LotRow, type Posting } from '../ledger/ledger.repository.js';
import {
  groupCommitOf,
  type GroupCommit,
  type BatchContext,
  type BatchReader,
  type BatchWriter,
} from '../ledger/group-commit.js';
import { settleMember, settleMembersInBulk } from '../ledger/ledger.service.js';
import type { ProgramVersionRow } from '../program/program.repository.js';
import { getProgramVersion, getProgramVersionAt } from '../program/program.service.js';
import { findOpeningCutover, OPENING_KEY } from '../ledger/opening.service.js';
import { tierStandingAt } from '../tiers/tier.service.js';
import {
  claimTransaction,
  countPurchasesHoldingCampaign,
  findPosRequest,
  lockPurchasesWithDue,
  lockPurchaseWithDue,
  memberOf,
  readSendContext,
  readSendContexts,
  writePurchase,
  writePurchases,
  type LockedPurchase,
  type PurchaseToLock,
  type SendContext,
  type SendToRead,
  type MemberKey,
  type PosRequestRow,
  type PurchaseRow,
  type PurchaseWrite,
  type TransactionClaim,
} from './purchase.repository.js';
import type { SendTransactionBody, TransactionResult } from './purchase.schema.js';
import { eventOf } from '../events/event.service.js';
import type { EventInput } from '../events/outbox.repository.js';

/** How far in the future a till's clock may run before its purchase time is refused. */
export const CLOCK_SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;
const ESCROW_ROLES: readonly EscrowRole[] = ['spendable_escrow', 'tier_escrow'];

export type NotAwardedReason = 'member_not_found' | 'member_not_enrolled';

interface MemberRef {
  id: string;
  type: 'SessionM_ID' | 'external_id' | 'email';
}

/** The member a transaction names: top-level `user_id`, else the first payment that names one. */
function memberRef(p: SendTransactionBody['request_payload']): MemberRef | null {
  const source = p.user_id ? p : p.payments?.find((pay) => pay.user_id);
  if (!source?.user_id) return null;
  const raw = (source.user_id_type ?? 'SessionM_ID').toLowerCase();
  const type =
    raw === 'sessionm_id' || raw === 'user_id'
      ? 'SessionM_ID'
      : raw === 'external_id'
        ? 'external_id'
        : raw === 'email'
          ? 'email'
          : null;
  if (!type) {
    throw validationError(
      `user_id_type ${source.user_id_type} is not one of SessionM_ID, external_id, email`,
      'request_payload.user_id_type',
    );
  }
  return { id: source.user_id.trim(), type };
}

const EMPTY_AWARD: Award = { eligible_cents: 0, base: 0, campaigns: [], spendable: 0, tier_qualifying: 0 };

/** What an award puts in an escrow account, in the ledger's minor units (issue #14 item 3). */
const awardFor = (award: Award, role: EscrowRole): number => escrowMinor(award, role);

/**
 * The precision a purchase's points were posted in, per account (issue #14 item 3): the award
 * records it for the Spendable pair; the Tier Qualifying pair holds whole points.
 */
const postedPrecision = (award: Award, role: string): Precision =>
  role === 'spendable' || role === 'spendable_escrow' ? (award.spendable_precision ?? 0) : 0;

/**
 * Amounts per account, answered in points: from the ledger's minor units when `award` says in which
 * precision they were posted, else already in points.
 */
function accountAmounts(
  program: ProgramDocument,
  amounts: Partial<Record<AccountRole, number>>,
  award?: Award,
) {
  return program.point_accounts
    .filter((a) => (amounts[a.role] ?? 0) !== 0)
    .map((a) => ({
      account_name: a.name,
      point_account_id: a.id,
      amount: award ? toMajor(amounts[a.role]!, postedPrecision(award, a.role)) : amounts[a.role]!,
    }));
}

/** Points per role from minor units: events and answers speak points (issue #14 item 3). */
const majorAmounts = (award: Award, amounts: Partial<Record<AccountRole, number>>) =>
  Object.fromEntries(
    Object.entries(amounts).map(([role, minor]) => [role, toMajor(minor ?? 0, postedPrecision(award, role))]),
  ) as Partial<Record<AccountRole, number>>;

/**
 * What a clawback may take from a settled account: the Spendable balance, or the Tier Qualifying
 * balance of the current qualifying year only (DESIGN §6 reset; §4 "down to zero").
 */
async function settledBalance(
  tx: Tx,
  userId: string,
  role: 'spendable' | 'tier',
  program: ProgramDocument,
  now: Date,
): Promise<number> {
  if (role === 'spendable') return balanceOf(tx, userId, role);
  return tierYearBalance(tx, userId, startOfLocalYearAt(now, program.time_zone));
}

/** When a purchase's escrow lots roll over: the purchase time plus the escrow period (DESIGN §2). */
const maturesAt = (p: PurchaseRow, program: ProgramDocument): Date =>
  new Date(p.purchase_time.getTime() + program.escrow_days * DAY_MS);

interface Outcome {
  purchase: PurchaseRow;
  program: ProgramDocument;
  changed: Partial<Record<AccountRole, number>>;
  shortfall: number;
  /** Points of this change that repaid the purchase's earlier shortfall instead of crediting. */
  repaid: number;
}

function result(o: Outcome): TransactionResult {
  const { purchase: p, program } = o;
  return {
    transaction_id: p.transaction_id,
    user_id: memberOf(p),
    awarded: p.not_awarded_reason === null,
    reason: p.not_awarded_reason,
    purchase_time: p.purchase_time.toISOString(),
    matures_at: maturesAt(p, program).toISOString(),
    eligible_spend: p.award.eligible_cents / 100,
    base_points: p.award.base,
    campaigns: p.award.campaigns,
    limited_campaigns: p.award.limited_campaigns ?? [],
    points_awarded: accountAmounts(program, o.changed, p.award),
    purchase_points: accountAmounts(program, {
      spendable_escrow: p.award.spendable,
      tier_escrow: p.award.tier_qualifying,
    }),
    shortfall: o.shortfall,
    shortfall_repaid: o.repaid,
    revision: p.revision,
  };
}

/** What a change of award writes: its lots and its journal (`writePurchase` writes them). */
type AwardWrites = Pick<PurchaseWrite, 'lotInserts' | 'lotChanges' | 'journal'>;

/** A send that moves no points writes no lots and no journal. */
const noAwardWrites = (): AwardWrites => ({ lotInserts: [], lotChanges: [] });

/**
 * The difference between a purchase's old and new award (DESIGN §4): into its escrow lots while
 * they wait, and after maturity by the late-return policy. One journal for the change. Reads what
 * a clawback may take; the writes are returned, for the send's one write statement.
 */
async function postAwardChange(
  tx: Tx,
  p: PurchaseRow,
  purchaseLots: readonly LotRow[],
  program: ProgramDocument,
  before: Award,
  after: Award,
  now: Date,
  requestId: string,
): Promise<{
  changed: Partial<Record<AccountRole, number>>;
  shortfall: number;
  repaid: number;
  owed: PurchaseRow['shortfall'];
  writes: AwardWrites;
}> {
  const userId = p.user_id;
  const lots = new Map(purchaseLots.map((l) => [l.account, l]));
  const writes = noAwardWrites();
  const lotMaturesAt = maturesAt(p, program);
  const postings: Posting[] = [];
  const changed: Partial<Record<AccountRole, number>> = {};
  const shortfall: Partial<Record<SettledRole, number>> = {};
  const repaid: Partial<Record<SettledRole, number>> = {};
  const owed = { ...p.shortfall };
  let issued = 0;
  let returned = 0;
  let owing = 0;
  for (const role of ESCROW_ROLES) {
    const delta = awardFor(after, role) - awardFor(before, role);
    if (delta === 0) continue;
    const lot = lots.get(role);
    const state = lot
      ? { remaining: lot.remaining, matured: lot.rolled_over_at !== null }
      : // A first award always passes through escrow, even when already due (an import, a till
        // that was offline): the rollover then carries its own effective time, as tiers need.
        // A purchase of the old platform's history has its points in the opening balance, settled
        // (issue #16): a return takes them back as from a matured lot (DESIGN §4).
        (p.revision > 1 && lotMaturesAt <= now) || p.earned_elsewhere
        ? { remaining: 0, matured: true }
        : undefined;
    const settled = SETTLED_OF[role];
    // A decrease the waiting lot covers takes nothing from the settled account: no read then.
    const coveredByLot = state !== undefined && !state.matured && state.remaining >= -delta;
    const plan = planAwardChange(
      delta,
      state,
      delta < 0 && !coveredByLot ? await settledBalance(tx, userId, settled, program, now) : 0,
      owed[settled] ?? 0,
    );
    if (plan.lot !== 0) {
      postings.push({ account: role, amount: plan.lot });
      changed[role] = plan.lot;
      if (lot) writes.lotChanges.push({ id: lot.id, delta: plan.lot });
      else {
        writes.lotInserts.push({
          id: newId(now.getTime()),
          retailer_id: p.retailer_id,
          user_id: userId,
          purchase_id: p.id,
          account: role,
          amount: plan.lot,
          matures_at: lotMaturesAt,
          created_at: now,
        });
      }
    }
    if (plan.settled !== 0) {
      postings.push({ account: settled, amount: plan.settled });
      changed[settled] = (changed[settled] ?? 0) + plan.settled;
    }
    if (plan.shortfall) shortfall[settled] = plan.shortfall;
    if (plan.repaid) repaid[settled] = plan.repaid;
    const left = (owed[settled] ?? 0) + plan.shortfall - plan.repaid;
    if (left) owed[settled] = left;
    else delete owed[settled];
    // The program side records the whole change of award: what was issued or returned, and what
    // the purchase owes (a shortfall, a receivable on `program:shortfall`) or repaid of it. So the
    // ledger alone replays every award change, and `verify` can check the rule (issue #13).
    if (delta > 0) issued += delta;
    else returned -= delta;
    owing += plan.shortfall - plan.repaid;
  }
  if (issued) postings.push({ account: 'program:issued', amount: -issued });
  if (returned) postings.push({ account: 'program:returned', amount: returned });
  if (owing) postings.push({ account: 'program:shortfall', amount: -owing });
  if (postings.length) {
    const isReturn = returned > 0;
    writes.journal = {
      id: newId(now.getTime()),
      retailer_id: p.retailer_id,
      user_id: userId,
      kind: isReturn ? 'return' : 'purchase',
      // A first award counts from the purchase time; a change from when the till sent it.
      effective_at: p.revision === 1 && !isReturn ? p.purchase_time : now,
      recorded_at: now,
      purchase_id: p.id,
      request_id: requestId,
      reference_id: p.transaction_id,
      reference_type: 'POS Transaction',
      details: {
        transaction_id: p.transaction_id,
        revision: p.revision,
        base_points: after.base,
        campaigns: after.campaigns,
        award_change: awardChange(before, after),
        ...(Object.keys(shortfall).length ? { shortfall } : {}),
        ...(Object.keys(repaid).length ? { repaid } : {}),
      },
      postings,
    };
  }
  // Answered in points: an exact sum over the settled accounts' precisions (issue #14 item 3).
  const sum = (r: Partial<Record<SettledRole, number>>) =>
    sumMajor(
      Object.entries(r).map(([role, minor]) => ({
        minor: minor ?? 0,
        precision: postedPrecision(after, role),
      })),
    );
  return { changed, shortfall: sum(shortfall), repaid: sum(repaid), owed, writes };
}

/**
 * A send's outbox rows (issue #17): `purchase.posted` for a first send, effective at the purchase
 * time; `purchase.adjusted` for a re-send that changed the basket (a return, an edit, a void, a
 * re-ring), effective now; nothing for a re-send that changed nothing.
 */
function purchaseEvents(o: Sent, answer: TransactionResult, now: Date): EventInput[] {
  const p = o.purchase;
  const first = o.writes.insert !== undefined;
  if (!first && !o.writes.update) return [];
  const data = {
    purchase_id: p.id,
    transaction_id: p.transaction_id,
    store_id: p.store_id,
    purchase_time: p.purchase_time.toISOString(),
    revision: p.revision,
    voided: p.basket.voided,
    awarded: answer.awarded,
    ...(answer.reason ? { reason: answer.reason } : {}),
    eligible_cents: p.award.eligible_cents,
    points: { spendable: p.award.spendable, tier_qualifying: p.award.tier_qualifying },
    matures_at: answer.matures_at,
    ...(first
      ? {}
      : {
          points_changed: majorAmounts(p.award, o.changed),
          shortfall: o.shortfall,
          shortfall_repaid: o.repaid,
        }),
  };
  return [
    first
      ? eventOf('purchase.posted', p.retailer_id, memberOf(p), now, data, p.purchase_time)
      : eventOf('purchase.adjusted', p.retailer_id, memberOf(p), now, data),
  ];
}

/** How the bulk import sends (issue #16); the API's sends give none of these. */
export interface SendOptions {
  /** The old platform's history: a new purchase is recorded, earning nothing again. */
  historyOnly?: boolean;
  /** Refuse a new purchase whose points the member's opening position holds (`BeforeOpeningError`). */
  refuseBeforeOpening?: boolean;
  /**
   * A first send's claim is written with its purchase, in the batch's statement (issue #15): on
   * one PostgreSQL server, where that statement may write both. Otherwise it is written first,
   * in a statement of its own, on the lookup table's shard (issue #19).
   */
  claimWithPurchase?: boolean;
  /** Called when the request was answered before and its stored answer is given again (an import counts it present). */
  onReplay?: () => void;
  /**
   * The group commit to batch in: an import's own, sized to its rows in flight (issue #16), so its
   * batches neither take the till's window nor hold its requests. Default: the database handle's.
   */
  batches?: GroupCommit;
  /**
   * Reads the send's context together with those of the sends prepared beside it (an import's,
   * issue #16), in one statement; default: a statement of its own. One server only.
   */
  contexts?: SendContextReader;
}

/** A group of sends' context reads: one retailer, the latest instant of its reads. */
interface ContextGroup {
  retailerId: string;
  at: Date;
  openingKey: string | undefined;
}

/**
 * Gathers the context reads of sends prepared in the same turn of the event loop, and reads them
 * with one statement per retailer (`readSendContexts`), as a batch of the group commit
 * gathers their writes: an import prepares its rows in flight together, and each read alone would
 * cost a round trip per row (issue #16).
 */
export class SendContextReader {
  private readonly reads: TurnReads<ContextGroup, SendToRead, SendContext>;

  constructor(db: Queryable, maxSize = 500) {
    this.reads = new TurnReads(
      (g, sends) => readSendContexts(db, g.retailerId, g.at, sends, g.openingKey),
      maxSize,
    );
  }

  read(retailerId: string, send: SendToRead, at: Date, openingKey: string | undefined): Promise<SendContext> {
    return this.reads.read(
      `${retailerId}\u0000${openingKey ?? ''}`,
      () => ({ retailerId, at, openingKey }),
      // On the system clock each send has its own instant, a few ms apart: the program is read at
      // the latest of them. A version stored in between is then the one read, as if the earlier
      // sends had come that much later: a purchase is still priced by the version in force at its
      // own time (a version starting after it is not in force there, and the send reads the one
      // that is), and everything else of the send keeps its own instant.
      (g) => {
        if (at > g.at) g.at = at;
      },
      send,
    );
  }
}

const contextReaders = new WeakMap<Database, SendContextReader>();

/** The context reader of a database handle, made on first use (one server only). */
function contextReaderOf(db: Database): SendContextReader {
  let r = contextReaders.get(db);
  if (!r) contextReaders.set(db, (r = new SendContextReader(db)));
  return r;
}

/**
 * A new purchase whose points are in the member's opening position already, imported to earn
 * (issue #16): the import refuses it rather than award them twice.
 */
export class BeforeOpeningError extends LaurelError {
  constructor(message: string) {
    super('validation', message, { field: 'request_payload.open_time' });
  }
}

/**
 * The opening position holds the settled accounts at the cut-over (Spendable, Tier Qualifying): a
 * purchase whose escrow period ended by then is in it. One still in its return period then had its
 * points in escrow, not in the position, so it earns here, into lots maturing at its own time.
 */
async function refuseBeforeOpening(
  db: Queryable,
  retailerId: string,
  memberId: string,
  current: ProgramVersionRow,
  purchaseTime: Date,
  /** The cut-over, when the context read has read it (on one server); else read here. */
  read: { cutover: Date | undefined } | undefined,
): Promise<void> {
  const cutover = read ? read.cutover : await findOpeningCutover(db, memberId);
  if (!cutover || purchaseTime >= cutover) return;
  const inForce = current.effective_from === null || current.effective_from <= purchaseTime;
  const program = (inForce ? current : await getProgramVersionAt(db, retailerId, purchaseTime)).document;
  const matured = new Date(purchaseTime.getTime() + program.escrow_days * DAY_MS);
  if (matured <= cutover) {
    throw new BeforeOpeningError(
      `the purchase at ${purchaseTime.toISOString()} matured at ${matured.toISOString()}, by the member's ` +
        `opening balance at the cut-over ${cutover.toISOString()}, which holds its points already: ` +
        'import it with --history-only',
    );
  }
}

/**
 * The lookup key of the member a transaction names, or none. A SessionM id that is not a UUID
 * names nobody: the purchase is recorded as not awarded. Throws on an unknown `user_id_type`.
 */
export function memberKeyOf(payload: SendTransactionBody['request_payload']): MemberKey | undefined {
  const ref = memberRef(payload);
  return ref && (ref.type !== 'SessionM_ID' || isUuid(ref.id))
    ? { type: ref.type, id: ref.type === 'SessionM_ID' ? ref.id.toLowerCase() : ref.id }
    : undefined;
}

/** A send checked and read before its transaction: what `applySend` needs under the member's lock. */
export interface PreparedSend {
  retailerId: string;
  body: SendTransactionBody;
  hash: string;
  transactionId: string;
  key: MemberKey | undefined;
  /** The transaction id's claim: the purchase's id and owner (issue #19). */
  claim: TransactionClaim;
  /** The claim is new and not yet written: it is written with the purchase (issue #15). */
  claimPending?: boolean;
  current: ProgramVersionRow;
  purchaseTime: Date;
  basket: Basket;
  now: Date;
  /**
   * An import of the old platform's history (issue #16): a new purchase is recorded with the award
   * it earned there, for later returns, and earns nothing again.
   */
  historyOnly: boolean;
}

/**
 * Everything a send checks and reads before its transaction: the program in force, the member
 * through its lookup table and the claim of the transaction id in one statement (issue #8), then
 * the stored answer of a repeated request on the owner's shard (then `answer`), the checks of the
 * payload that need no lock, and a first send's claim (issue #19). `db` may be the transaction of
 * a batch (issue #15), which then sees the batch's own writes.
 */
export async function prepareSend(
  db: Queryable,
  retailerId: string,
  body: SendTransactionBody,
  now: Date,
  opts: SendOptions = {},
): Promise<{ answer: TransactionResult } | { send: PreparedSend }> {
  const hash = jsonHash(body);
  const payload = body.request_payload;
  const transactionId = String(payload.transaction_id).trim();
  const key = memberKeyOf(payload);
  // On one server (where the claim rides with the purchase) an import's opening check reads the
  // member's cut-over in the context's statement: one round trip fewer per imported purchase.
  const openingInContext = opts.refuseBeforeOpening === true && opts.claimWithPurchase === true;
  for (let attempt = 0; ; attempt++) {
    const openingKey = openingInContext ? OPENING_KEY : undefined;
    const ctx = opts.contexts
      ? await opts.contexts.read(retailerId, { transactionId, key }, now, openingKey)
      : openingKey
        ? (await readSendContexts(db, retailerId, now, [{ transactionId, key }], openingKey))[0]!
        : await readSendContext(db, retailerId, transactionId, key, now);
    // A re-sent request answers as it did: its stored answer is on the owner's shard (issue #19).
    if (ctx.claim) {
      const prior = await findPosRequest(db, ctx.claim.user_id, retailerId, body.request_id, transactionId);
      if (prior) {
        const answer = replayed(prior, body.request_id, transactionId, hash);
        opts.onReplay?.();
        return { answer };
      }
    }
    if (!transactionId) throw validationError('request_payload.transaction_id must not be empty');
    const current = ctx.program;
    if (!current) throw new Error(`retailer ${retailerId} has no program`);
    const purchaseTime = parseZonedTime(payload.open_time, current.document.time_zone);
    if (!purchaseTime) {
      throw validationError(
        'request_payload.open_time must be an ISO-8601 time',
        'request_payload.open_time',
      );
    }
    if (purchaseTime.getTime() > now.getTime() + CLOCK_SKEW_MS) {
      throw validationError('request_payload.open_time is in the future', 'request_payload.open_time');
    }
    const basket = readBasket(
      payload.items,
      payload.discounts ?? [],
      payload.is_voided ?? false,
      payload.channel,
    );
    if (opts.refuseBeforeOpening && !ctx.claim && ctx.memberId) {
      await refuseBeforeOpening(
        db,
        retailerId,
        ctx.memberId,
        current,
        purchaseTime,
        openingInContext ? { cutover: ctx.openingAt } : undefined,
      );
    }
    const claimedBy = ctx.claim && !isAnonymous(ctx.claim) ? ctx.claim.user_id : undefined;
    if (claimedBy && ctx.memberId && claimedBy !== ctx.memberId) {
      throw validationError(
        `transaction ${transactionId} belongs to another member`,
        'request_payload.user_id',
      );
    }
    let claim = ctx.claim;
    const claimPending = !claim && opts.claimWithPurchase === true;
    if (!claim) {
      // A first send claims its transaction id for its purchase and owner, in a statement of its
      // own (issue #19): the rest of the send then runs on the owner's shard. A purchase of no
      // known member owns itself, so anonymous purchases spread over the shards. On one server
      // the claim is written with the purchase instead: one commit fewer (issue #15).
      const id = newId(now.getTime());
      claim = { user_id: ctx.memberId ?? id, purchase_id: id };
      if (!claimPending && !(await claimTransaction(db, retailerId, transactionId, claim, now))) {
        // Claimed concurrently: the next context read finds that claim.
        if (attempt < 3) continue;
        throw new Error(`transaction ${transactionId} was claimed but its claim cannot be read`);
      }
    }
    return {
      send: {
        retailerId,
        body,
        hash,
        transactionId,
        key,
        claim,
        ...(claimPending ? { claimPending } : {}),
        current,
        purchaseTime,
        basket,
        now,
        historyOnly: opts.historyOnly ?? false,
      },
    };
  }
}

/** The member whose lock a prepared send takes: the owner its transaction id was claimed for. */
export const sendOwner = (s: PreparedSend): string | undefined =>
  isAnonymous(s.claim) ? undefined : s.claim.user_id;

/**
 * A prepared send under its locks, in the caller's transaction: settle what is due to the owner,
 * price the purchase or its change, write it all in one statement, on the owner's shard (issue
 * #19). `beforeWrite` is called just before the first statement that writes the send itself: until
 * then a failure has written nothing but settlement, which any writer of the member would have
 * written (DESIGN §5), so a batch may answer the failure and go on (issue #15).
 */
export async function applySend(
  tx: Tx,
  s: PreparedSend,
  beforeWrite?: () => void,
  batch?: BatchContext,
): Promise<TransactionResult> {
  const { retailerId, transactionId, body, now, claim } = s;
  const existing =
    batch?.prefetched !== undefined && batch.owners
      ? lockedInBatch(s, batch.owners, batch.prefetched as LockedPurchase)
      : await lockPurchaseAndOwner(tx, retailerId, transactionId, claim, now);
  // Start from the as-of state: lots matured by now roll over before anything is priced.
  let purchaseLots = existing.locked.lots;
  if (existing.ownerId) {
    await settleMember(tx, retailerId, existing.ownerId, now, existing.locked.due);
    const rolled = new Set(existing.locked.due.lots.map((l) => l.id));
    purchaseLots = purchaseLots.map((l) =>
      rolled.has(l.id) ? { ...l, remaining: 0, rolled_over_at: now } : l,
    );
  }
  const purchase = existing.locked.purchase;
  const outcome = purchase
    ? await resend(tx, purchase, purchaseLots, existing.ownerId !== undefined, s.basket, now, body.request_id)
    : await firstSend(tx, {
        retailerId,
        transactionId,
        claim,
        storeId: body.store_id,
        purchaseTime: s.purchaseTime,
        basket: s.basket,
        member: existing.member,
        now,
        requestId: body.request_id,
        current: s.current,
        historyOnly: s.historyOnly,
      });
  const answer = result(outcome);
  beforeWrite?.();
  // An old purchase (an import, a till that was offline) may have matured already: settled after
  // its write, so that write cannot wait for the batch's.
  const member = memberOf(outcome.purchase);
  const settleAfter = member && existing.ownerId && maturesAt(outcome.purchase, outcome.program) <= now;
  const write: PurchaseWrite = {
    ...outcome.writes,
    ...(s.claimPending && outcome.writes.insert
      ? { claim: { ...claim, retailer_id: retailerId, transaction_id: transactionId, created_at: now } }
      : {}),
    events: purchaseEvents(outcome, answer, now),
    request: {
      user_id: claim.user_id,
      retailer_id: retailerId,
      request_id: body.request_id,
      transaction_id: transactionId,
      body_hash: s.hash,
      response: answer,
      created_at: now,
    },
  };
  if (batch) {
    await batch.defer(writeBatchedPurchases, write);
    // Its member settles right after the batch writes it (the writers run in the order the job
    // deferred to them), before any later job of the member and before COMMIT: one set-based
    // settlement for every such member of the batch (issue #16: an import's matured history).
    if (settleAfter) await batch.defer(settleBatchedMembers, { retailerId, userId: member, now });
    return answer;
  }
  await writePurchase(tx, write);
  if (settleAfter) await settleMember(tx, retailerId, member, now);
  return answer;
}

/**
 * A purchase from the till (issue #3): new, re-sent unchanged, or re-sent changed (a return or an
 * edit), alone in its own transaction (imports, the demo, and a batch's fallback; the API batches
 * through `sendTransactionBatched`). One transaction under the member's lock, on the member's shard
 * (issue #19); idempotent on (`request_id`, `transaction_id`) by constraint. What the send needs
 * (program, member, claim; the stored answer; a first send's claim), then BEGIN, the owner's lock,
 * the purchase's lock with what is due to the owner, one statement for everything it writes, and
 * COMMIT.
 */
export async function sendTransaction(
  db: Database,
  retailerId: string,
  body: SendTransactionBody,
  now: Date,
  opts: SendOptions = {},
): Promise<TransactionResult> {
  for (let attempt = 0; ; attempt++) {
    const prepared = await prepareSend(db, retailerId, body, now, opts);
    if ('answer' in prepared) return prepared.answer;
    try {
      return await db.transaction((tx) => applySend(tx, prepared.send));
    } catch (err) {
      const e = err as { code?: string; constraint?: string; message?: string };
      if (e.code !== '23505' || attempt >= 2) throw err;
      // A concurrent request with the same request id or transaction id won: the next context
      // read answers as it did, or finds its purchase.
    }
  }
}

/** A claim of no known member: the purchase owns itself. */
const isAnonymous = (c: TransactionClaim): boolean => c.user_id === c.purchase_id;

/**
 * A purchase from the till through the group commit (issue #15): checked and read alone, then
 * written in a batch with the sends of other members that arrive within the window, in one
 * transaction with one commit, and answered after it. A send of a member that already has one in
 * the batch runs after it, over what it left.
 */
export async function sendTransactionBatched(
  db: Database,
  retailerId: string,
  body: SendTransactionBody,
  now: Date,
  opts: SendOptions = {},
): Promise<TransactionResult> {
  const batches = opts.batches ?? groupCommitOf(db);
  const oneServer = await batches.oneServer();
  // On one server the sends prepared together read their contexts in one statement: the till's
  // concurrent requests as an import's rows (issue #15).
  const contexts = opts.contexts ?? (oneServer ? contextReaderOf(db) : undefined);
  const prepared = await prepareSend(db, retailerId, body, now, {
    ...opts,
    claimWithPurchase: oneServer,
    ...(contexts ? { contexts } : {}),
  });
  if ('answer' in prepared) return prepared.answer;
  const s = prepared.send;
  const owner = sendOwner(s);
  return batches.submit({
    members: owner ? [owner] : [],
    // A purchase of nobody is locked by its transaction id: in that order within a batch.
    key: owner ?? `purchase:${s.transactionId}`,
    prefetch: {
      read: readBatchedPurchases,
      item: {
        retailerId: s.retailerId,
        transactionId: s.transactionId,
        ownerId: s.claim.user_id,
        at: s.now,
      } satisfies PurchaseToLock,
    },
    apply: (tx, beforeWrite, shared, batch) => applyInBatch(tx, s, beforeWrite, shared, batch, opts),
    alone: () => sendTransaction(db, retailerId, body, now, opts),
  });
}

const requestKey = (s: PreparedSend) => `send:${s.retailerId}:${s.body.request_id}:${s.transactionId}`;
const transactionKey = (s: PreparedSend) => `transaction:${s.retailerId}:${s.transactionId}`;

/**
 * A send inside a batch. When an earlier send of the batch stored an answer for the same request,
 * the read before the batch missed it: read again in the batch's transaction, which sees that write,
 * and answer as it did. So too a first send of a transaction id an earlier send of the batch wrote:
 * the claim it would write is that send's already, and it answers as it would alone after it (a
 * re-send to that purchase, or another member's transaction refused), instead of failing the
 * batch's write on the claim's key. A send of a transaction an earlier send of the batch wrote
 * finds that purchase under its lock, as the claim names it (issue #19).
 */
async function applyInBatch(
  tx: Tx,
  first: PreparedSend,
  beforeWrite: () => void,
  shared: Map<string, unknown>,
  batch: BatchContext,
  opts: SendOptions,
): Promise<TransactionResult> {
  let s = first;
  if (shared.has(requestKey(s)) || (s.claimPending && shared.has(transactionKey(s)))) {
    // The earlier send may be of another key (another member, or anonymous): its write first.
    await batch.flush();
    // Prepared again as it was the first time (an import's options too), in the batch's transaction.
    const again = await prepareSend(tx, s.retailerId, s.body, s.now, {
      ...opts,
      claimWithPurchase: s.claimPending === true,
      // Read in the batch's transaction, which sees what the earlier send wrote.
      contexts: undefined,
    });
    if ('answer' in again) return again.answer;
    s = again.send;
    // Read again too: the claim may name what the earlier send wrote.
    batch = { ...batch, prefetched: undefined };
  }
  const answer = await applySend(tx, s, beforeWrite, batch);
  shared.set(requestKey(s), true);
  shared.set(transactionKey(s), true);
  return answer;
}

/**
 * The stored answer of a repeated (`request_id`, `transaction_id`), or 409 when the body differs
 * from the first. The same request id on another transaction is another request (DESIGN §4).
 */
function replayed(
  prior: PosRequestRow,
  requestId: string,
  transactionId: string,
  hash: string,
): TransactionResult {
  if (prior.body_hash !== hash) {
    throw new LaurelError(
      'idempotency_conflict',
      `request_id ${requestId} was already used for transaction ${transactionId} with a different body`,
    );
  }
  return prior.response as TransactionResult;
}

/**
 * Locks in a fixed order, owner first, then purchase, so concurrent requests for one member
 * serialise without deadlock (DESIGN §9), all on the owner's shard. The claim names the owner. A
 * member owner is locked even if the profile was deleted since: the ledger keeps its member
 * (DESIGN §3), and a purchase's award must stay what the ledger holds; a deleted member earns
 * nothing new. A purchase that owns itself has no owner row: its own row is the lock.
 */
async function lockPurchaseAndOwner(
  tx: Tx,
  retailerId: string,
  transactionId: string,
  claim: TransactionClaim,
  now: Date,
): Promise<{ locked: LockedPurchase; member: UserRow | undefined; ownerId: string | undefined }> {
  let member: UserRow | undefined;
  let ownerId: string | undefined;
  if (!isAnonymous(claim)) {
    const owner = await lockOwner(tx, retailerId, claim.user_id);
    if (owner) {
      ownerId = claim.user_id;
      member = owner.deleted ? undefined : owner.row;
    }
  }
  const locked = await lockPurchaseWithDue(tx, retailerId, transactionId, claim.user_id, now);
  return { locked, member, ownerId };
}

/** The sends of a batch locked and read in one statement (issue #15): the batch's prefetch. */
const readBatchedPurchases: BatchReader = (tx, items) => lockPurchasesWithDue(tx, items as PurchaseToLock[]);

/** The sends of a batch written in one statement (issue #15): the batch's deferred write. */
const writeBatchedPurchases: BatchWriter = (tx, items) => writePurchases(tx, items as PurchaseWrite[]);

/** A member to settle once the batch has written a purchase of theirs that has matured already. */
interface MemberToSettle {
  retailerId: string;
  userId: string;
  now: Date;
}

/**
 * The members whose purchases the batch wrote matured, settled as a sweep batch settles them
 * (`settleMembersInBulk`: one set-based rollover, the tier engine only where a tier can move), one
 * call per instant; a lone member (on Citus every deferred item is written alone) as `settleMember`.
 */
const settleBatchedMembers: BatchWriter = async (tx, items) => {
  const byInstant = new Map<number, MemberToSettle[]>();
  for (const m of items as MemberToSettle[]) {
    const list = byInstant.get(m.now.getTime());
    if (list) list.push(m);
    else byInstant.set(m.now.getTime(), [m]);
  }
  for (const members of byInstant.values()) {
    const ids = [...new Set(members.map((m) => m.userId))];
    if (ids.length === 1) await settleMember(tx, members[0]!.retailerId, ids[0]!, members[0]!.now);
    else await settleMembersInBulk(tx, ids, members[0]!.now, { oneServer: true });
  }
};

/**
 * What `lockPurchaseAndOwner` answers, from what the batch locked and read: the owner's row from
 * the batch's lock of its members, the purchase from its prefetch.
 */
function lockedInBatch(
  s: PreparedSend,
  owners: ReadonlyMap<string, LockedMember>,
  locked: LockedPurchase,
): { locked: LockedPurchase; member: UserRow | undefined; ownerId: string | undefined } {
  const owner = isAnonymous(s.claim) ? undefined : owners.get(s.claim.user_id);
  return {
    locked,
    member: owner && !owner.deleted ? owner.row : undefined,
    ownerId: owner ? s.claim.user_id : undefined,
  };
}

interface Sent extends Outcome {
  writes: Omit<PurchaseWrite, 'request'>;
}

/**
 * Whether the member's current enrollment began after the purchase's day (DESIGN §4: unenrolled
 * customers earn nothing; §6: only the current enrollment counts). A purchase of the day the member
 * enrolled earns, in the program's time zone: a customer who joins at the register earns for the
 * basket the till opened before, and the till's clock is not Laurel's.
 */
function enrolledAfter(member: UserRow, purchaseTime: Date, timeZone: string): boolean {
  // The usual case, a purchase after the enrollment, needs no calendar.
  if (!member.opted_in_at || purchaseTime >= member.opted_in_at) return false;
  return purchaseTime < startOfLocalDay(localDate(member.opted_in_at, timeZone), timeZone);
}

async function firstSend(
  tx: Tx,
  a: {
    retailerId: string;
    transactionId: string;
    /** The purchase's id and owner, as claimed. */
    claim: TransactionClaim;
    storeId: string;
    purchaseTime: Date;
    basket: ReturnType<typeof readBasket>;
    member: UserRow | undefined;
    now: Date;
    requestId: string;
    /** The version in force now, already read to parse the purchase time. */
    current: ProgramVersionRow;
    historyOnly: boolean;
  },
): Promise<Sent> {
  // A version starts when it is stored, never later than now, so the version in force now is the
  // newest and is also in force at any purchase time from its start: no second read then.
  const inForce = a.current.effective_from === null || a.current.effective_from <= a.purchaseTime;
  const version = inForce ? a.current : await getProgramVersionAt(tx, a.retailerId, a.purchaseTime);
  const program = version.document;
  const reason: NotAwardedReason | null = !a.member
    ? 'member_not_found'
    : !a.member.opted_in || enrolledAfter(a.member, a.purchaseTime, program.time_zone)
      ? 'member_not_enrolled'
      : null;
  const id = a.claim.purchase_id;
  // Posted in the precision in force now, not the pricing version's: a stored amount keeps the units
  // the Spendable pair had when it was written (issue #14 item 3).
  const award = reason
    ? { ...EMPTY_AWARD, eligible_cents: eligibleCents(a.basket) }
    : inPrecision(
        await limitedAward(tx, program, a.basket, await firstSendTerms(tx, program, a), a.member!.id, id, []),
        precisionOf(a.current.document, 'spendable'),
      );
  const purchase: PurchaseRow = {
    id,
    retailer_id: a.retailerId,
    transaction_id: a.transactionId,
    user_id: a.claim.user_id,
    store_id: a.storeId,
    purchase_time: a.purchaseTime,
    program_version: version.version,
    basket: a.basket,
    award,
    not_awarded_reason: reason,
    revision: 1,
    shortfall: {},
    created_at: a.now,
    updated_at: a.now,
  };
  if (!reason && a.historyOnly) {
    purchase.earned_elsewhere = { spendable: award.spendable, tier: award.tier_qualifying };
  }
  if (reason || a.historyOnly)
    return {
      purchase,
      program,
      changed: {},
      shortfall: 0,
      repaid: 0,
      writes: { insert: purchase, ...noAwardWrites() },
    };
  const {
    writes,
    owed: _none,
    ...posted
  } = await postAwardChange(tx, purchase, [], program, EMPTY_AWARD, award, a.now, a.requestId);
  return { purchase, program, ...posted, writes: { insert: purchase, ...writes } };
}

async function resend(
  tx: Tx,
  purchase: PurchaseRow,
  purchaseLots: readonly LotRow[],
  ownerLocked: boolean,
  sent: Basket,
  now: Date,
  requestId: string,
): Promise<Sent> {
  // Priced with the rules in force at the original purchase time (DESIGN §4), over the campaigns
  // the first send found eligible: targeting is never decided again. The channel stays the first's.
  const program = await getProgramVersion(tx, purchase.retailer_id, purchase.program_version);
  const { channel: _resent, ...lines } = sent;
  const basket: Basket =
    purchase.basket.channel !== undefined ? { ...lines, channel: purchase.basket.channel } : lines;
  if (sameJson(basket, purchase.basket))
    return { purchase, program, changed: {}, shortfall: 0, repaid: 0, writes: noAwardWrites() };
  const prior = purchase.award;
  const terms: AwardTerms = {
    // Awards from before targeting existed: the campaigns running at the purchase time, as then.
    campaign_ids:
      prior.eligible_campaigns ?? runningCampaigns(program, purchase.purchase_time).map((c) => c.id),
    ...(prior.tier !== undefined ? { tier: prior.tier } : {}),
  };
  const award = purchase.not_awarded_reason
    ? { ...EMPTY_AWARD, eligible_cents: eligibleCents(basket) }
    : inPrecision(
        await limitedAward(
          tx,
          program,
          basket,
          terms,
          purchase.user_id,
          purchase.id,
          prior.campaigns.map((c) => c.campaign_id),
        ),
        prior.spendable_precision ?? 0,
      );
  const next: PurchaseRow = { ...purchase, basket, award, revision: purchase.revision + 1, updated_at: now };
  const update = {
    id: purchase.id,
    basket,
    award,
    revision: next.revision,
    shortfall: purchase.shortfall,
    updated_at: now,
  };
  if (purchase.not_awarded_reason || !ownerLocked)
    return {
      purchase: next,
      program,
      changed: {},
      shortfall: 0,
      repaid: 0,
      writes: { ...noAwardWrites(), update },
    };
  const { writes, owed, ...posted } = await postAwardChange(
    tx,
    next,
    purchaseLots,
    program,
    purchase.award,
    award,
    now,
    requestId,
  );
  return {
    purchase: { ...next, shortfall: owed },
    program,
    ...posted,
    writes: { update: { ...update, shortfall: owed }, ...writes },
  };
}

/**
 * The campaigns a first send qualifies for (issue #5): running at the purchase time and targeting
 * its store, channel and the member's tier then. The tier is computed only when a running campaign
 * targets tiers, inside the member's lock, as of the purchase time.
 */
export async function firstSendTerms(
  tx: Tx,
  program: ProgramDocument,
  a: { storeId: string; purchaseTime: Date; basket: Basket; member: UserRow | undefined },
): Promise<AwardTerms> {
  const running = runningCampaigns(program, a.purchaseTime);
  const tier =
    a.member && running.some(targetsTiers)
      ? ((await tierStandingAt(tx, program, a.member, a.purchaseTime)).tier.level?.name ?? null)
      : undefined;
  const facts = { store_id: a.storeId, channel: a.basket.channel ?? null, tier: tier ?? null };
  return {
    campaign_ids: running.filter((c) => targetingAdmits(c, facts)).map((c) => c.id),
    ...(tier !== undefined ? { tier } : {}),
  };
}

/**
 * The award with the per-member limits applied (issue #5): a limited campaign that would newly give
 * this purchase points (it holds none from it yet: `held`) gives nothing when the member's other
 * purchases already hold its `max_awards_per_member`. Runs under the member's lock.
 */
export async function limitedAward(
  tx: Tx,
  program: ProgramDocument,
  basket: Basket,
  terms: AwardTerms,
  userId: string,
  purchaseId: string,
  held: readonly string[],
): Promise<Award> {
  const award = assertAwardWithinBounds(computeAward(program, basket, terms));
  const limits = new Map(program.campaigns.map((c) => [c.id, c.max_awards_per_member]));
  const withheld: string[] = [];
  for (const c of award.campaigns) {
    const limit = limits.get(c.campaign_id);
    if (limit === undefined || held.includes(c.campaign_id)) continue;
    if ((await countPurchasesHoldingCampaign(tx, userId, c.campaign_id, purchaseId)) >= limit) {
      withheld.push(c.campaign_id);
    }
  }
  return withheld.length ? computeAward(program, basket, { ...terms, withheld }) : award;
}

/**
 * What a change of award moved, for the journal's details and the audit log's sentence: base points
 * and each campaign's points, signed, campaigns that did not change left out.
 */
function awardChange(before: Award, after: Award) {
  const old = new Map(before.campaigns.map((c) => [c.campaign_id, c]));
  const campaigns: CampaignAward[] = after.campaigns
    .map((c) => ({ ...c, points: c.points - (old.get(c.campaign_id)?.points ?? 0) }))
    .concat(
      before.campaigns
        .filter((c) => !after.campaigns.some((a) => a.campaign_id === c.campaign_id))
        .map((c) => ({ ...c, points: -c.points })),
    )
    .filter((c) => c.points !== 0);
  return { base: after.base - before.base, campaigns };
}
