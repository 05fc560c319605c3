import type { Database, Queryable } from '../db/database.js';
import { TurnReads } from '../db/turn-reads.js';
import { sameJson } from '../domain/canonical.js';
import { isUuid, newId } from '../domain/ids.js';
import { openingPostings, type OpeningPosition } from '../domain/opening.js';
import { precisionOf, scaleOf } from '../domain/precision.js';
import { MAX_LEDGER_AMOUNT } from '../domain/bounds.js';
import type { ProgramDocument, TierLevel } from '../domain/program.js';
import { tierAt, type TierStanding } from '../domain/tiers.js';
import { LaurelError, validationError } from '../errors.js';
import { lockUserById, type UserRow } from '../customers/customer.repository.js';
import { getProgramAt } from '../program/program.service.js';
import { findMemberId, type MemberKey } from '../purchases/purchase.repository.js';
import { insertTierMove, type MemberLedger } from '../tiers/tier.repository.js';
import { tierInputsOf, tierStandingAt } from '../tiers/tier.service.js';
import type { BatchReader, BatchWriter, GroupCommit } from './group-commit.js';
import { insertJournal, type JournalInput } from './ledger.repository.js';
import {
  readOpeningContexts,
  readOpeningStates,
  writeOpenings,
  type OpeningState,
  type OpeningToRead,
  type OpeningWrite,
} from './opening.repository.js';

/**
 * Opening balances (issue #16 item 2): the positions a member brings from another platform, as
 * that platform showed them at the cut-over, posted as one `opening` journal effective at the
 * cut-over (against `program:opening`) and, for a tier above the floor, a tier move from the
 * instant the member entered it, held until the expiry the old platform gave it. Later purchases
 * and returns continue from there. One opening per member, by constraint (the journal's
 * idempotency key), so a re-run imports nothing twice.
 */

export interface OpeningRequest {
  member: MemberKey;
  /** The account the balance is of, as the file names it (the program's Spendable account). */
  account?: string | undefined;
  balance: number;
  life_time_value: number;
  tier?: string | undefined;
  tier_entered_at?: Date | undefined;
  tier_expires_at?: Date | undefined;
  tier_points: number;
}

export type OpeningOutcome = { status: 'imported' } | { status: 'present' };

/** How a row's work is tried again after a transient database error (the import's `retried`). */
export type Retry = <T>(work: () => Promise<T>) => Promise<T>;

export const OPENING_KEY = 'opening';
/** Who the tier history names for an opening tier. */
export const OPENING_ACTOR = 'import';

/** The program's Spendable account, named by name, id or role; or why not. */
function checkAccount(program: ProgramDocument, account: string | undefined): void {
  if (account === undefined) return;
  const spendable = program.point_accounts.find((a) => a.role === 'spendable')!;
  const a = account.toLowerCase();
  if (a === 'spendable' || a === spendable.name.toLowerCase() || a === spendable.id.toLowerCase()) return;
  throw validationError(
    `account ${JSON.stringify(account)} is not the program's Spendable account (${spendable.name}); ` +
      'tier-qualifying points go in tier_points',
  );
}

/** The level a row names, by name or id; undefined when the row names none. */
function levelOf(program: ProgramDocument, tier: string | undefined) {
  if (tier === undefined) return undefined;
  const t = tier.toLowerCase();
  const level = program.tier_system.levels.find((l) => l.name.toLowerCase() === t || l.id === t);
  if (!level) {
    throw validationError(
      `tier ${JSON.stringify(tier)} is not a level of ${program.tier_system.name} ` +
        `(${program.tier_system.levels.map((l) => l.name).join(', ')})`,
    );
  }
  return level;
}

/** What a row is checked by before its batch: the programs and its member. */
interface OpeningContext {
  /** The program in force at the cut-over. */
  program: ProgramDocument;
  /** The program in force at the import's clock (`program` when that is the cut-over). */
  programNow: ProgramDocument;
  memberId: string | undefined;
}

/** A row checked before any lock: the position to post and what posting it needs. */
interface CheckedOpening {
  memberId: string;
  position: OpeningPosition;
  /** The file's tier level, if it names one. */
  level: TierLevel | undefined;
  /** The level is above the floor: the opening moves the member there. */
  moved: boolean;
  scale: number;
}

/** The checks of a row against the programs, in the order rows have always been checked. */
function checkFigures(program: ProgramDocument, programNow: ProgramDocument, r: OpeningRequest) {
  checkAccount(program, r.account);
  // Posted in the precision in force now, whichever version the cut-over falls in: a stored amount
  // keeps the units its account had when written (issue #14 item 3).
  const scale = scaleOf(precisionOf(programNow, 'spendable'));
  if (r.life_time_value * scale > MAX_LEDGER_AMOUNT) {
    throw validationError(
      `life_time_value ${r.life_time_value} is beyond what the Spendable account holds in hundredths ` +
        `(at most ${(MAX_LEDGER_AMOUNT / scale).toLocaleString('en-US')} points)`,
    );
  }
  // The program side takes both credits in one posting (`openingPostings`), held to the bound of
  // every posting (decision 0004), which `verify` checks.
  if (r.life_time_value * scale + r.tier_points > MAX_LEDGER_AMOUNT) {
    throw validationError(
      `life_time_value ${r.life_time_value} and tier_points ${r.tier_points} together are beyond what an ` +
        `opening posts (at most ${MAX_LEDGER_AMOUNT.toLocaleString('en-US')}` +
        `${scale > 1 ? ', life_time_value counted in hundredths' : ' points'})`,
    );
  }
  const level = levelOf(program, r.tier);
  const floor = [...program.tier_system.levels].sort((a, b) => a.rank - b.rank)[0]!;
  return { scale, level, moved: level !== undefined && level.id !== floor.id };
}

/** The row checked against the programs (`checkFigures`) and its member found: what to post. */
function checkMember(
  figures: ReturnType<typeof checkFigures>,
  memberId: string | undefined,
  r: OpeningRequest,
  cutover: Date,
): CheckedOpening {
  if (!memberId) {
    throw new LaurelError(
      'user_not_found',
      `no member with ${r.member.type} ${r.member.id}: import customers first`,
    );
  }
  return {
    ...figures,
    memberId,
    position: {
      cutover: cutover.toISOString(),
      balance: r.balance,
      life_time_value: r.life_time_value,
      tier_points: r.tier_points,
      tier_level_id: figures.level?.id ?? null,
      tier_entered_at: r.tier_entered_at?.toISOString() ?? null,
      tier_expires_at: r.tier_expires_at?.toISOString() ?? null,
    },
  };
}

/** A SessionM id that is not a UUID names nobody, as in a till's transaction (`memberKeyOf`). */
const namesSomeone = (key: MemberKey) => key.type !== 'SessionM_ID' || isUuid(key.id);

/**
 * The checks under the member's lock, before anything is written: an opening already posted
 * (present with the same data, a conflict with other data; undefined: none yet), then the
 * member's enrollment.
 */
function checkUnderLock(
  c: CheckedOpening,
  r: OpeningRequest,
  member: UserRow,
  { prior, held }: Pick<OpeningState, 'prior' | 'held'>,
  program: ProgramDocument,
  cutover: Date,
): OpeningOutcome | undefined {
  const { position } = c;
  if (prior) {
    if (sameJson(prior, position)) return { status: 'present' };
    const diffs = Object.entries(position)
      .filter(([k, v]) => !sameJson(v, (prior as unknown as Record<string, unknown>)[k]))
      .map(
        ([k, v]) =>
          `${k} (stored ${JSON.stringify((prior as unknown as Record<string, unknown>)[k])}, in the file ${JSON.stringify(v)})`,
      );
    throw new LaurelError(
      'idempotency_conflict',
      `the member's opening balance was already imported with other data: ${diffs.join('; ')}`,
    );
  }
  if (!member.opted_in || !member.opted_in_at) {
    throw validationError('the member is not enrolled: an opening balance needs an enrolled member');
  }
  // DESIGN §6: a tier counts the current enrollment only, so the positions must lie inside it.
  if (member.opted_in_at > cutover) {
    throw validationError(
      `the member enrolled at ${member.opted_in_at.toISOString()}, after the cut-over ${cutover.toISOString()}: ` +
        'import the customer with enrolled_at (docs/import.md)',
    );
  }
  if (c.moved && r.tier_entered_at && r.tier_entered_at < member.opted_in_at) {
    throw validationError(
      `tier_entered_at ${r.tier_entered_at.toISOString()} is before the member enrolled (${member.opted_in_at.toISOString()}): ` +
        'import the customer with an enrolled_at no later than it',
    );
  }
  checkHeldBound(c, held, program);
  return undefined;
}

/**
 * The opening adds to what the member's accounts already hold (points imported or earned before
 * it): each balance and its sum of credits stay within the bound `verify` holds every balance to
 * (decision 0004). Bug: an opening onto a member holding points was only checked on its own, and
 * could leave a balance past 10^15.
 */
function checkHeldBound(c: CheckedOpening, held: OpeningState['held'], program: ProgramDocument): void {
  const { position, scale } = c;
  const adds = [
    ['spendable', position.balance * scale, position.life_time_value * scale],
    ['tier', position.tier_points, position.tier_points],
  ] as const;
  for (const [role, balance, credits] of adds) {
    const h = held[role];
    if (!h) continue;
    const over = h.balance + balance > MAX_LEDGER_AMOUNT || h.life_time_value + credits > MAX_LEDGER_AMOUNT;
    if (!over) continue;
    const name = program.point_accounts.find((a) => a.role === role)!.name;
    const unit = role === 'spendable' && scale > 1 ? 'hundredths of points' : 'points';
    throw validationError(
      `the member's ${name} already holds ${h.balance.toLocaleString('en-US')} ${unit} ` +
        `(${h.life_time_value.toLocaleString('en-US')} credited in all): with this opening it would be beyond ` +
        `${MAX_LEDGER_AMOUNT.toLocaleString('en-US')}`,
    );
  }
}

/** The opening's journal and, for a tier above the floor, its tier move. */
function openingWrite(
  c: CheckedOpening,
  r: OpeningRequest,
  retailerId: string,
  program: ProgramDocument,
  cutover: Date,
  now: Date,
): OpeningWrite {
  const journal: JournalInput = {
    id: newId(cutover.getTime()),
    retailer_id: retailerId,
    user_id: c.memberId,
    kind: 'opening',
    effective_at: cutover,
    recorded_at: now,
    idempotency_key: OPENING_KEY,
    reference_id: cutover.toISOString(),
    reference_type: 'Opening balance',
    details: { position: c.position },
    // The file's points, in the Spendable account's minor units (issue #14 item 3).
    postings: openingPostings(c.position, c.scale),
  };
  if (!c.moved) return { journal, move: undefined };
  const entered = r.tier_entered_at ?? cutover;
  return {
    journal,
    move: {
      id: newId(entered.getTime()),
      retailer_id: retailerId,
      user_id: c.memberId,
      tier_system_id: program.tier_system.id,
      tier_level_id: c.level!.id,
      effective_at: entered,
      recorded_at: now,
      actor: OPENING_ACTOR,
      reason: `tier held on the previous platform at the cut-over ${cutover.toISOString()}`,
      holds_until: r.tier_expires_at ?? null,
    },
  };
}

/**
 * The tier the member reads at the cut-over must be the one the file gives: the program's
 * thresholds may put the tier points higher (the engine keeps the highest level held).
 */
function checkTier(tier: TierStanding, r: OpeningRequest, level: TierLevel): void {
  if (tier.level?.id !== level.id) {
    // What the engine counted: the file's tier points and those the member's ledger already holds
    // this period (bug: the message quoted the file's alone, which could not explain the level).
    const held = tier.qualifying_balance - r.tier_points;
    const counted =
      held > 0
        ? `${tier.qualifying_balance.toLocaleString('en-US')} tier points this period: ` +
          `${r.tier_points.toLocaleString('en-US')} in the file, ${held.toLocaleString('en-US')} already held`
        : `${r.tier_points.toLocaleString('en-US')} tier points this period`;
    throw validationError(
      `at the cut-over the program puts the member at ${tier.level?.name ?? 'no tier'} (${counted}), not ${level.name}`,
    );
  }
}

/**
 * The member's ledger at the cut-over as it reads once `w` is written (`readMemberLedger` after
 * the write), from the ledger read before it: the journal's Tier Qualifying postings at the
 * cut-over, and the tier move in the order the read gives moves (effective instant, then id).
 */
function withOpening(ledger: MemberLedger, w: OpeningWrite, cutover: Date): MemberLedger {
  const tq = w.journal.postings
    .filter((p) => p.account === 'tier')
    .map((p) => ({ at: w.journal.effective_at, points: p.amount }));
  const moves =
    w.move && w.move.effective_at <= cutover
      ? [...ledger.moves, w.move].sort(
          (a, b) =>
            a.effective_at.getTime() - b.effective_at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
        )
      : ledger.moves;
  return { ...ledger, tqChanges: [...ledger.tqChanges, ...tq], moves };
}

/**
 * Posts one member's opening position as of `cutover`, alone, in a transaction of its own; the
 * import's clock is `now`. The tier check reads the ledger after the write, under the lock.
 */
export async function importOpening(
  db: Database,
  retailerId: string,
  r: OpeningRequest,
  cutover: Date,
  now: Date,
  /** Rows running side by side (several in flight on Citus): a member's keep the order asked. */
  turns?: MemberTurns,
  /** Tries the row again after a transient error, inside its turn (never behind later rows). */
  retry: Retry = (work) => work(),
): Promise<OpeningOutcome> {
  if (!turns) return retry(() => postOpening(db, retailerId, r, cutover, now));
  const member = namesSomeone(r.member)
    ? retry(() => findMemberId(db, retailerId, r.member))
    : Promise.resolve(undefined);
  // Asked before the first await: the rows' turns are taken in file order.
  const release = await turns.take(member);
  try {
    return await retry(() => postOpening(db, retailerId, r, cutover, now, member));
  } finally {
    release();
  }
}

/** `importOpening` once its turn has come; `member` is the member's lookup, if begun. */
async function postOpening(
  db: Database,
  retailerId: string,
  r: OpeningRequest,
  cutover: Date,
  now: Date,
  member?: Promise<string | undefined>,
): Promise<OpeningOutcome> {
  const program = await getProgramAt(db, retailerId, cutover);
  const figures = checkFigures(program, cutover < now ? await getProgramAt(db, retailerId, now) : program, r);
  const memberId = member
    ? await member
    : namesSomeone(r.member)
      ? await findMemberId(db, retailerId, r.member)
      : undefined;
  const c = checkMember(figures, memberId, r, cutover);
  return db.transaction(async (tx) => {
    const member = await lockUserById(tx, retailerId, c.memberId);
    if (!member) throw new LaurelError('user_not_found');
    const [state] = await readOpeningStates(tx, [{ userId: member.id, ledgerAt: null }], OPENING_KEY);
    const done = checkUnderLock(c, r, member, state!, program, cutover);
    if (done) return done;
    const w = openingWrite(c, r, retailerId, program, cutover, now);
    await insertJournal(tx, w.journal);
    if (w.move) await insertTierMove(tx, w.move);
    if (c.level) checkTier((await tierStandingAt(tx, program, member, cutover)).tier, r, c.level);
    return { status: 'imported' };
  });
}

/**
 * The rows' contexts read before their batch, gathered: the rows prepared in the same turn of the
 * event loop read the programs and their members in one statement (`readOpeningContexts`), as
 * `SendContextReader` does for purchases (issue #16).
 */
export class OpeningContextReader {
  private readonly reads: TurnReads<ContextsGroup, MemberKey | undefined, ReadContext>;

  constructor(db: Queryable, maxSize = 500) {
    this.reads = new TurnReads(async (g, keys) => {
      const { program, programNow, memberIds } = await readOpeningContexts(
        db,
        g.retailerId,
        g.cutover,
        g.now,
        keys,
      );
      return memberIds.map((memberId) => ({ program, programNow, memberId }));
    }, maxSize);
  }

  /** The programs at the cut-over and at `now`, and the member `key` names. */
  async read(retailerId: string, key: MemberKey, cutover: Date, now: Date): Promise<OpeningContext> {
    const c = await this.reads.read(
      `${retailerId}\u0000${cutover.getTime()}`,
      () => ({ retailerId, cutover, now }),
      // On the system clock each row has its own instant, a few ms apart: the program is read at
      // the latest of them, as if the earlier rows had come that much later.
      (g) => {
        if (now > g.now) g.now = now;
      },
      namesSomeone(key) ? key : undefined,
    );
    if (!c.program || !c.programNow) throw new Error(`retailer ${retailerId} has no program`);
    return { program: c.program.document, programNow: c.programNow.document, memberId: c.memberId };
  }
}

interface ContextsGroup {
  retailerId: string;
  cutover: Date;
  now: Date;
}

type OpeningContexts = Awaited<ReturnType<typeof readOpeningContexts>>;

/** One row's share of its group's read. */
type ReadContext = Pick<OpeningContexts, 'program' | 'programNow'> & { memberId: string | undefined };

/**
 * Rows of one member in the order they were asked, whichever key names the member (an external id
 * in one row, an email in the next): the member is known only once the row's context is read, and
 * two batches run at once, so a later row's batch could commit first and take the member's one
 * opening. Each row waits until every row asked before it knows its member, then for the earlier
 * rows of its own member to finish; rows of other members do not wait for each other.
 */
export class MemberTurns {
  private known: Promise<void> = Promise.resolve();
  private readonly last = new Map<string, Promise<void>>();

  /** Waits for the turn of the member `member` resolves to (undefined: nobody); answers its release. */
  async take(member: Promise<string | undefined>): Promise<() => void> {
    const asked = this.known;
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    // Known once every row asked before is: answers (boxed, not to be awaited with it) the finish
    // of the member's previous row.
    const known = (async () => {
      const id = await member.catch(() => undefined);
      await asked;
      if (id === undefined) return {};
      const previous = this.last.get(id);
      this.last.set(id, done);
      void done.then(() => {
        if (this.last.get(id) === done) this.last.delete(id);
      });
      return { previous };
    })();
    this.known = known.then(() => undefined);
    const { previous } = await known;
    if (previous) await previous;
    return release;
  }
}

/** What a batched import of openings shares: its group commit, its context reader and its members' turns. */
export interface OpeningBatching {
  batches: GroupCommit;
  contexts: OpeningContextReader;
  turns: MemberTurns;
}

const readBatch: BatchReader = (tx, items) => readOpeningStates(tx, items as OpeningToRead[], OPENING_KEY);
const writeBatch: BatchWriter = (tx, items) => writeOpenings(tx, items as OpeningWrite[]);

/**
 * `importOpening` through a group commit (issue #16), on one PostgreSQL server: the row's context
 * is read with those of the rows prepared beside it, and in its batch one statement locks the
 * members, one reads their openings and ledgers, and one writes every opening with its postings,
 * balances and tier move. Every check is `importOpening`'s, in its order and words; the tier the
 * program gives at the cut-over is computed by the tier engine from the ledger read before the
 * write and the opening about to be written (what the read after it answers), so a row refused
 * there writes nothing. A batch that fails runs each row alone through `importOpening`. Rows of
 * one member, whichever keys name it, run in the order they are asked (`MemberTurns`).
 */
export async function importOpeningBatched(
  db: Database,
  batching: OpeningBatching,
  retailerId: string,
  r: OpeningRequest,
  cutover: Date,
  now: Date,
  /** Tries the row again after a transient error, inside its turn (never behind later rows). */
  retry: Retry = (work) => work(),
): Promise<OpeningOutcome> {
  const read = retry(() => batching.contexts.read(retailerId, r.member, cutover, now));
  // Asked before the first await: the rows' turns are taken in file order.
  const release = await batching.turns.take(read.then((ctx) => ctx.memberId));
  try {
    const ctx = await read;
    return await retry(() => submitOpening(db, batching, retailerId, r, ctx, cutover, now));
  } finally {
    release();
  }
}

async function submitOpening(
  db: Database,
  batching: OpeningBatching,
  retailerId: string,
  r: OpeningRequest,
  ctx: OpeningContext,
  cutover: Date,
  now: Date,
): Promise<OpeningOutcome> {
  const c = checkMember(checkFigures(ctx.program, ctx.programNow, r), ctx.memberId, r, cutover);
  const item: OpeningToRead = { userId: c.memberId, ledgerAt: c.level ? cutover : null };
  return batching.batches.submit<OpeningOutcome>({
    members: [c.memberId],
    key: c.memberId,
    prefetch: { read: readBatch, item },
    apply: async (tx, beforeWrite, _shared, batch) => {
      let member: UserRow | undefined;
      if (batch.owners) {
        const locked = batch.owners.get(c.memberId);
        member = locked && !locked.deleted && locked.row.retailer_id === retailerId ? locked.row : undefined;
      } else member = await lockUserById(tx, retailerId, c.memberId);
      if (!member) throw new LaurelError('user_not_found');
      // A later row of the same member in the batch reads its own, after the earlier one's write.
      const state =
        (batch.prefetched as OpeningState | undefined) ??
        (await readOpeningStates(tx, [item], OPENING_KEY))[0]!;
      const done = checkUnderLock(c, r, member, state, ctx.program, cutover);
      if (done) return done;
      const w = openingWrite(c, r, retailerId, ctx.program, cutover, now);
      if (c.level) {
        const ledger = withOpening(state.ledger!, w, cutover);
        checkTier(
          tierAt(ctx.program, tierInputsOf(ctx.program, member, ledger, cutover), cutover),
          r,
          c.level,
        );
      }
      beforeWrite();
      await batch.defer(writeBatch, w);
      return { status: 'imported' };
    },
    alone: () => importOpening(db, retailerId, r, cutover, now),
  });
}

/**
 * The instant of the member's opening position, if one was imported: the member's purchases before
 * it earned their points on the old platform and are in that position (docs/import.md).
 */
export async function findOpeningCutover(db: Queryable, userId: string): Promise<Date | undefined> {
  const rows = await db.query<{ effective_at: Date | string }>(
    `SELECT effective_at FROM journals WHERE user_id = $1 AND idempotency_key = $2`,
    [userId, OPENING_KEY],
  );
  const at = rows[0]?.effective_at;
  return at === undefined ? undefined : new Date(at);
}
