import type { Database, Tx } from '../db/database.js';
import type { UserRow } from '../customers/customer.repository.js';
import { eventOf, tierChangeEvents } from '../events/event.service.js';
import { insertEvents, type EventInput } from '../events/outbox.repository.js';
import { lockUserById, lockUserWithProgramAt } from '../customers/customer.repository.js';
import { getUserStanding } from '../customers/customer.service.js';
import { jsonHash } from '../domain/canonical.js';
import { isUuid, newId } from '../domain/ids.js';
import { pointAccountBalances, userPointAccountId } from '../domain/loyalty-view.js';
import {
  amountSpent,
  auditReason,
  auditType,
  pointSourceName,
  type AwardChangeFacts,
} from '../domain/point-audit.js';
import {
  accountByRole,
  type AccountRole,
  type PointAccount,
  type ProgramDocument,
} from '../domain/program.js';
import {
  formatMajor,
  parseAmount,
  precisionOf,
  sumMajor,
  toMajor,
  type Precision,
} from '../domain/precision.js';
import { LaurelError, validationError } from '../errors.js';
import {
  insertJournals,
  readBalances,
  tierYearBalance,
  type JournalInput,
} from '../ledger/ledger.repository.js';
import { startOfLocalYearAt } from '../domain/calendar.js';
import { groupCommitOf } from '../ledger/group-commit.js';
import { settleMember } from '../ledger/ledger.service.js';
import { getProgramAt, heldProgramVersion, programOfRead } from '../program/program.service.js';
import { tierHistoryAt, type TierHistoryEntry } from '../tiers/tier.service.js';
import { findIdempotentJournals, readAuditPage, type AuditPostingRow } from './incentives.repository.js';
import type {
  AuditLogBody,
  AuditLogPayload,
  AuditRow,
  BalanceBody,
  DepositBody,
  DepositPayload,
  DepositResult,
  SpendBody,
  SpendPayload,
  SpendResult,
} from './incentives.schema.js';
import { SPEND_LINE_ERROR } from './incentives.schema.js';

/** What an idempotency id binds: the line's account, amount, reference, source and transaction. */
function lineHash(
  account: PointAccount,
  l: {
    amount: number;
    reference_id?: string | undefined;
    reference_type?: string | undefined;
    point_source_id?: string | undefined;
    transaction_id?: string | undefined;
  },
): string {
  return jsonHash({
    point_account_id: account.id,
    amount: l.amount,
    reference_id: l.reference_id ?? null,
    reference_type: l.reference_type ?? null,
    // "" is a client's default for none (issue #14).
    point_source_id: l.point_source_id || null,
    transaction_id: l.transaction_id ?? null,
  });
}

/**
 * An idempotency id binds the line it first came with (DESIGN §4; issue #13 item 3): the line's
 * hash is stored with its journal, and a repeat whose line differs is refused whole with 409.
 * Journals written before lines were hashed bind nothing.
 */
function assertSameLine(
  field: string,
  id: string,
  prior: Record<string, unknown> | undefined,
  hash: string,
): void {
  const before = prior?.line_hash;
  if (typeof before === 'string' && before !== hash) {
    throw new LaurelError(
      'idempotency_conflict',
      `${field}: idempotency id ${id} was already used with a different line; nothing was changed`,
      { field },
    );
  }
}

/**
 * The Incentives points API (reference §4, issue #3 item 6): balances, manual deposits, spends and
 * the point audit log. Every change runs in one transaction under the member's lock, after the
 * member's due rollovers (DESIGN §4, §9); idempotency ids are unique per member by constraint.
 */

/** Accounts points can be deposited to or spent from: escrow moves only by purchases and rollovers. */
const SETTLED_ROLES: readonly AccountRole[] = ['spendable', 'tier'];
const DEPOSIT_KEY = 'deposit:';
const SPEND_KEY = 'spend:';
const UNIQUE_VIOLATION = '23505';

/** A well-formed user id, or `user_not_found`: an id that cannot exist answers like a missing one. */
function memberId(userId: string): string {
  if (!isUuid(userId)) throw new LaurelError('user_not_found');
  return userId.toLowerCase();
}

function accountById(program: ProgramDocument, id: string, field: string): PointAccount {
  const account = program.point_accounts.find((a) => a.id === id.toLowerCase());
  if (!account) throw validationError(`${field} ${id} is not a point account of this program`, field);
  return account;
}

/**
 * A line's amount in the account's minor units (issue #14 item 3): exact from its decimal text,
 * refused whole (400 validation naming the field) when it has more decimals than the account holds.
 */
function minorAmount(account: PointAccount, amount: number, field: string): number {
  const parsed = parseAmount(amount, account.precision ?? 0);
  if ('error' in parsed) throw validationError(`${field}: ${parsed.error} (${account.name})`, field);
  return parsed.minor;
}

function settledAccountById(program: ProgramDocument, id: string, field: string, verb: string): PointAccount {
  const account = accountById(program, id, field);
  if (!SETTLED_ROLES.includes(account.role)) {
    throw validationError(
      `${field} names ${account.name}; only the settled accounts can be ${verb} (escrow moves by purchases and rollovers)`,
      field,
    );
  }
  return account;
}

/** What a deposit's or spend's line gives its journal. */
interface JournalLine {
  key: string | null;
  reference_id?: string | null | undefined;
  reference_type?: string | null | undefined;
  point_source_id?: string | null | undefined;
  hash: string;
  rank?: number | undefined;
  account: PointAccount;
  minor: number;
}

/**
 * One line's journal: a deposit credits the member's account from `program:adjusted`, a spend
 * debits it to `program:redeemed`, keyed by the line's idempotency id; `details` come first, then
 * the line's hash, rank and actor.
 */
function lineJournal(
  kind: 'deposit' | 'spend',
  id: string,
  retailerId: string,
  userId: string,
  now: Date,
  actor: string | null,
  l: JournalLine,
  details: Record<string, unknown>,
): JournalInput {
  const member = kind === 'deposit' ? l.minor : -l.minor;
  const program = kind === 'deposit' ? 'program:adjusted' : 'program:redeemed';
  return {
    id,
    retailer_id: retailerId,
    user_id: userId,
    kind,
    effective_at: now,
    recorded_at: now,
    idempotency_key: l.key,
    reference_id: l.reference_id ?? null,
    reference_type: l.reference_type ?? null,
    point_source_id: l.point_source_id || null,
    details: {
      ...details,
      line_hash: l.hash,
      ...(l.rank === undefined ? {} : { rank: l.rank }),
      ...(actor ? { actor } : {}),
    },
    postings: [
      { account: l.account.role, amount: member },
      { account: program, amount: -member },
    ],
  };
}

/** Retries once on the unique key: a writer that skipped the lock won it, and the second run sees its row. */
async function retriedOnUnique<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION || attempt >= 1) throw err;
    }
  }
}

/**
 * Runs `fn` in one transaction holding the member's lock, after writing the member's due rollovers,
 * so every change starts from the as-of state (DESIGN §5). The idempotency reads inside `fn` are
 * exact under the lock; should the unique constraint still fire (a writer that skipped the lock),
 * the request runs once more and then sees the stored journal.
 */
export async function underMemberLock<T>(
  db: Database,
  retailerId: string,
  userId: string,
  now: Date,
  fn: (tx: Tx, user: UserRow) => Promise<T>,
): Promise<T> {
  return retriedOnUnique(() =>
    db.transaction(async (tx) => {
      const user = await lockUserById(tx, retailerId, userId);
      if (!user) throw new LaurelError('user_not_found');
      await settleMember(tx, retailerId, user.id, now);
      return fn(tx, user);
    }),
  );
}

/** A request on a member's points: checked against the program in force, then applied under the lock. */
interface MemberRequest<P, T> {
  /** Checks the request against the program in force now; a refusal here has written nothing. */
  check(program: ProgramDocument): P;
  /** The request under the member's lock, after the member's due rollovers (DESIGN §5). */
  apply(tx: Tx, user: UserRow, checked: P): Promise<T>;
}

/**
 * A member request's lock, its check and the member's due rollovers, in the caller's transaction.
 * The program in force comes with the lock, in one statement (issue #15: a round trip of its own
 * before), and the request is checked against it before the member is known to exist, as it was
 * when the program was read first.
 */
async function lockChecked<P, T>(
  tx: Tx,
  retailerId: string,
  userId: string,
  now: Date,
  request: MemberRequest<P, T>,
): Promise<T> {
  const read = await lockUserWithProgramAt(tx, retailerId, userId, now, heldProgramVersion(retailerId));
  const checked = request.check(await programOfRead(tx, retailerId, read.program));
  if (!read.user) throw new LaurelError('user_not_found');
  await settleMember(tx, retailerId, read.user.id, now);
  return request.apply(tx, read.user, checked);
}

/**
 * A member request through the group commit (issue #15): it runs in a batch with the till's sends
 * and other deposits and spends that arrive within the window, in one transaction with one commit,
 * inside a savepoint of its own (a spend may be refused whole after writing a line, and a request
 * is checked under the lock, where the program is read). Answered after the batch commits.
 */
export async function inMemberBatch<P, T>(
  db: Database,
  retailerId: string,
  userId: string,
  now: Date,
  request: MemberRequest<P, T>,
): Promise<T> {
  const alone = () =>
    retriedOnUnique(() => db.transaction((tx) => lockChecked(tx, retailerId, userId, now, request)));
  try {
    return await groupCommitOf(db).submit({
      members: [userId],
      key: userId,
      savepoint: true,
      apply: (tx) => lockChecked(tx, retailerId, userId, now, request),
      alone,
    });
  } catch (err) {
    // A writer that skipped the lock won the key: alone, the request sees the stored journal.
    if ((err as { code?: string }).code === UNIQUE_VIOLATION) return alone();
    throw err;
  }
}

/** `count` journal ids for one request, ascending, so the audit log keeps the lines' order. */
const journalIds = (now: Date, count: number): string[] =>
  Array.from({ length: count }, () => newId(now.getTime())).sort();

/**
 * The all_balances payload: the same rows the user object shows in `point_account_balances` (its
 * standing: balances as of now, the Tier Qualifying Account for the current qualifying year,
 * DESIGN §6), so both answers agree.
 */
export async function allBalances(db: Database, retailerId: string, userId: string, now: Date) {
  const { program, standing } = await memberWithStanding(db, retailerId, userId, now);
  return pointAccountBalances(program, standing);
}

/**
 * The member with the program in force and its standing at `now`, as a lookup reads them (issue
 * #15): one statement while the stored standing holds, else the ledger read with it and the
 * standing stored. The balance calls recomputed the standing from the ledger every time.
 */
async function memberWithStanding(
  db: Database,
  retailerId: string,
  userId: string,
  now: Date,
  check?: (program: ProgramDocument) => void,
) {
  return getUserStanding(db, retailerId, { id: memberId(userId) }, now, check);
}

/** The balance payload: all_balances' rows, only the accounts asked for (all when none are named). */
export async function balance(db: Database, retailerId: string, body: BalanceBody, now: Date) {
  // The accounts asked for are checked before the read stores the standing it computed: a refused
  // request writes nothing, not even that cache.
  let wanted = new Set<string>();
  const { program, standing } = await memberWithStanding(db, retailerId, body.user_id, now, (p) => {
    wanted = new Set(
      (body.point_account_ids ?? []).map((id, i) => accountById(p, id, `point_account_ids.${i}`).id),
    );
  });
  const all = pointAccountBalances(program, standing);
  return {
    retailer_id: all.retailer_id,
    user_id: all.user_id,
    details: wanted.size ? all.details.filter((d) => wanted.has(d.point_account_id)) : all.details,
  };
}

/**
 * Manual deposits (reference §4 `user_points/deposit`; audit type 16): each line credits a settled
 * account against `program:adjusted`, once per idempotency id (`idempotency_id`, else
 * `reference_id`). A repeat applies nothing and is not an error. A line with neither id is applied
 * every time, as SessionM does for clients that send none (issue #14 item 4).
 */
export async function deposit(
  db: Database,
  retailerId: string,
  body: DepositBody,
  now: Date,
  /** Who asks (issue #18 item 10): `app:<api_key>` or a console agent; kept in the journal's details. */
  actor: string | null = null,
): Promise<DepositPayload> {
  const userId = memberId(body.user_id);
  const check = (program: ProgramDocument) =>
    body.deposit_details.map((l, i) => {
      const field = `deposit_details.${i}`;
      const account = settledAccountById(
        program,
        l.point_account_id,
        `${field}.point_account_id`,
        'deposited to',
      );
      const minor = minorAmount(account, l.amount, `${field}.amount`);
      const id = l.idempotency_id ?? l.reference_id ?? null;
      const hash = lineHash(account, l);
      const key = id === null ? null : DEPOSIT_KEY + id;
      return { ...l, account, minor, id, field: `${field}.idempotency_id`, hash, key };
    });

  return inMemberBatch(db, retailerId, userId, now, {
    check,
    apply: async (tx, user, lines) => {
      const done = new Map(
        (
          await findIdempotentJournals(
            tx,
            user.id,
            lines.flatMap((l) => (l.key === null ? [] : [l.key])),
          )
        ).map((r) => [r.idempotency_key, r.details]),
      );
      const ids = journalIds(now, lines.length);
      const details: DepositResult[] = [];
      const journals: JournalInput[] = [];
      const events: EventInput[] = [];
      for (const [i, l] of lines.entries()) {
        // A line without an id has no key: applied every time (issue #14 item 4).
        if (l.key !== null) assertSameLine(l.field, l.id!, done.get(l.key), l.hash);
        const applied = l.key === null || !done.has(l.key);
        if (applied) {
          if (l.key !== null) done.set(l.key, { line_hash: l.hash });
          journals.push(lineJournal('deposit', ids[i]!, retailerId, user.id, now, actor, l, {}));
          // Issue #17: one event per applied line, written with the journals.
          events.push(
            eventOf('points.deposited', retailerId, user.id, now, {
              point_account_id: l.account.id,
              account_name: l.account.name,
              // Major units, as the API reads and answers them (issue #14 item 3).
              amount: toMajor(l.minor, l.account.precision ?? 0),
              idempotency_id: l.id,
              reference_id: l.reference_id ?? null,
            }),
          );
        }
        details.push({
          point_account_id: l.account.id,
          amount: toMajor(l.minor, l.account.precision ?? 0),
          idempotency_id: l.id,
          applied,
        });
      }
      await insertJournals(tx, journals, events);
      // A Tier Qualifying deposit may move the tier now: read once the journals are written.
      if (journals.some((j) => j.postings[0]!.account === 'tier')) {
        await insertEvents(tx, await tierChangeEvents(tx, retailerId, user.id, [now], now));
      }
      return { user_id: user.id, details };
    },
  });
}

/** A spend journal's details as stored, with its id. */
type StoredSpend = Record<string, unknown> & { id: string; result?: unknown };

/**
 * The first result of an idempotency id, answered again for a duplicate. Results stored before
 * issue #14 item 12 carry `error_status: null` and no tracking id: a stored result is always a
 * line that spent, so it answers 0, and its journal id is the tracking id.
 */
function replayedResult(stored: StoredSpend): SpendResult {
  const r = stored.result as SpendResult;
  return {
    ...r,
    tracking_id: stored.id,
    error_status: SPEND_LINE_ERROR.none,
    error_response: null,
    message: null,
  };
}

/** The member-account posting of a spend journal just written, as the audit log reads it. */
function writtenPosting(j: JournalInput): AuditPostingRow {
  const posting = j.postings[0]!;
  return {
    journal_id: j.id,
    line: 1,
    account: posting.account,
    amount: posting.amount,
    kind: 'spend',
    effective_at: j.effective_at,
    recorded_at: j.recorded_at,
    purchase_id: null,
    point_source_id: j.point_source_id ?? null,
    reference_id: j.reference_id ?? null,
    reference_type: j.reference_type ?? null,
    request_id: null,
    idempotency_key: j.idempotency_key ?? null,
    transaction_id: (j.details?.transaction_id as string | null | undefined) ?? null,
    details: j.details ?? {},
    total: 0,
  };
}

/**
 * Spends (reference §4 `user_points/spend_multiple`; audit type 2): each line debits one settled
 * account (Spendable unless named) against `program:redeemed`, once per idempotency id. A line the
 * balance cannot cover spends nothing; unless `allow_partial_success`, such a line means nothing
 * of the request is spent and the answer is 400 `insufficient_points`. Balances are checked under
 * the member lock before posting, so they never go negative (the CHECK is the last guard).
 */
export async function spendMultiple(
  db: Database,
  retailerId: string,
  body: SpendBody,
  now: Date,
  /** Who asks (issue #18 item 10), kept in the journal's details as `deposit` keeps it. */
  actor: string | null = null,
): Promise<SpendPayload> {
  const userId = memberId(body.user_id);
  const check = (program: ProgramDocument) => {
    const spendable = accountByRole(program, 'spendable');
    const lines = body.spend_details.map((l, i) => {
      const named = l.point_account_ids?.[0];
      const account = named
        ? settledAccountById(program, named, `spend_details.${i}.point_account_ids.0`, 'spent from')
        : spendable;
      const hash = lineHash(account, l);
      return {
        ...l,
        account,
        minor: minorAmount(account, l.amount, `spend_details.${i}.amount`),
        hash,
        field: `spend_details.${i}.idempotency_id`,
        key: SPEND_KEY + l.idempotency_id,
      };
    });
    return { program, lines };
  };

  return inMemberBatch(db, retailerId, userId, now, {
    check,
    apply: async (tx, user, { program, lines }) => {
      const earlier = new Map<string, StoredSpend>(
        (
          await findIdempotentJournals(
            tx,
            user.id,
            lines.map((l) => l.key),
          )
        ).map((r) => [r.idempotency_key, { ...r.details, id: r.id }]),
      );
      // After settleMember nothing is due, so the materialised balances are the as-of balances; the
      // Tier Qualifying Account offers only the current qualifying year's points (DESIGN §6 reset).
      const { balances } = await readBalances(tx, user.id, now);
      const available = new Map<AccountRole, number>([
        ['spendable', balances.find((b) => b.account === 'spendable')?.balance ?? 0],
        ['tier', await tierYearBalance(tx, user.id, startOfLocalYearAt(now, program.time_zone))],
      ]);
      const ids = journalIds(now, lines.length);
      const journals: JournalInput[] = [];
      const details: SpendResult[] = [];
      const spent: { minor: number; precision: Precision }[] = [];
      let failure: string | undefined;
      // An id binds its first line in this request even when that line spent nothing: otherwise a
      // later line with the id and another amount spends, and a retry of this very request is a 409.
      const firstLine = new Map<string, string>();
      for (const [i, l] of lines.entries()) {
        assertSameLine(l.field, l.idempotency_id, earlier.get(l.key), l.hash);
        const first = firstLine.get(l.key);
        if (first === undefined) firstLine.set(l.key, l.hash);
        else assertSameLine(l.field, l.idempotency_id, { line_hash: first }, l.hash);
        const stored = earlier.get(l.key);
        if (stored?.result) {
          details.push({ ...replayedResult(stored), idempotency_summary: 'duplicate' });
          continue;
        }
        // Minor units in the ledger; answers and messages in the account's major units (issue #14 item 3).
        const precision = l.account.precision ?? 0;
        const major = (minor: number) => toMajor(minor, precision);
        const have = available.get(l.account.role)!;
        const line = {
          account_name: l.account.name,
          user_point_account_id: userPointAccountId(user.id, l.account.id),
          point_account_id: l.account.id,
          reference_id: l.reference_id ?? null,
          reference_type: l.reference_type ?? null,
          idempotency_id: l.idempotency_id,
          idempotency_summary: 'new' as const,
        };
        if (have < l.minor) {
          const message = `${formatMajor(l.minor, precision)} points needed, ${formatMajor(have, precision)} available in ${l.account.name}`;
          failure ??= `spend_details.${i}: ${message}; nothing was spent`;
          details.push({
            ...line,
            amount_spent: 0,
            remaining_balance: major(have),
            tracking_id: null,
            error_status: SPEND_LINE_ERROR.insufficient_points,
            error_response: { error: 'insufficient_points' },
            message,
          });
          continue;
        }
        available.set(l.account.role, have - l.minor);
        spent.push({ minor: l.minor, precision });
        const result: SpendResult = {
          ...line,
          amount_spent: major(l.minor),
          remaining_balance: major(have - l.minor),
          tracking_id: ids[i]!,
          error_status: SPEND_LINE_ERROR.none,
          error_response: null,
          message: null,
        };
        // A second line with the same idempotency id in this request is a repeat of this one.
        earlier.set(l.key, { id: ids[i]!, result, line_hash: l.hash });
        details.push(result);
        journals.push(
          lineJournal('spend', ids[i]!, retailerId, user.id, now, actor, l, {
            transaction_id: l.transaction_id ?? null,
            result,
          }),
        );
      }
      if (failure && !body.allow_partial_success) throw new LaurelError('insufficient_points', failure);
      await insertJournals(
        tx,
        journals,
        details
          .filter((d) => d.idempotency_summary === 'new' && d.amount_spent > 0)
          .map((d) =>
            eventOf('points.spent', retailerId, user.id, now, {
              point_account_id: d.point_account_id,
              account_name: d.account_name,
              amount: d.amount_spent,
              idempotency_id: d.idempotency_id,
              reference_id: d.reference_id,
            }),
          ),
      );
      return {
        retailer_id: retailerId,
        user_id: user.id,
        details,
        summary: {
          amount_spent: sumMajor(spent),
          remaining_balance: toMajor(available.get('spendable')!, precisionOf(program, 'spendable')),
        },
        // The rows fetch_point_audit_logs shows for what this request wrote (issue #14 item 12).
        audits: journals.map((j) => auditRow(program, user, writtenPosting(j))),
        time_of_occurrence: now.toISOString(),
      };
    },
  });
}

/**
 * The point audit log (reference §4 `fetch_point_audit_logs`): one row per posting to a member
 * account, newest first.
 */
export async function fetchPointAuditLogs(
  db: Database,
  retailerId: string,
  body: AuditLogBody,
  now: Date,
): Promise<AuditLogPayload> {
  // Lots matured by now must show as rollover rows. They are written here, under the member lock,
  // rather than synthesised: a synthesised row would need an id of its own that changes once the
  // sweeper writes the real journal, so paging and row ids would not be stable. Writing due
  // rollovers is what any other mutation of the member does first anyway.
  const user = await underMemberLock(db, retailerId, memberId(body.user_id), now, async (_tx, u) => u);
  const program = await getProgramAt(db, retailerId, now);
  // A boolean (some clients send true or false) names no kinds: nothing is excluded (issue #14 item 5).
  const exclude = body.exclude_specified_modification_types;
  const excludeKinds = (Array.isArray(exclude) ? exclude : []).map((k) => String(k).toLowerCase());
  const skip = body.skip ?? 0;
  const take = body.take ?? 50;
  // Tier changes are derived, not journaled (docs/tiers.md): they join the ledger's rows here, so
  // the page is cut from the first skip + take rows of each, newest first (issue #4 history).
  const tierRows = excludeKinds.includes(TIER_CHANGE)
    ? []
    : (await tierHistoryAt(db, program, user, now)).map((h) => tierAuditRow(program, user, h)).reverse();
  const ledger = await readAuditPage(db, user.id, { skip: 0, take: skip + take, excludeKinds });
  const ledgerTotal = ledger[0]?.total ?? 0;
  const merged = mergeNewestFirst(
    tierRows,
    ledger.map((r) => auditRow(program, user, r)),
  );
  return { total_records: ledgerTotal + tierRows.length, results: merged.slice(skip, skip + take) };
}

/** The audit log's kind for a tier change; no points move, so its audit_type is 0. */
const TIER_CHANGE = 'tier_change';

function tierAuditRow(program: ProgramDocument, user: UserRow, h: TierHistoryEntry): AuditRow {
  const at = h.at.toISOString();
  return {
    id: `tier:${h.at.getTime()}:${h.cause}:${h.to_tier ?? 'UNENROLLED'}`,
    retailer_id: user.retailer_id,
    user_id: user.id,
    account_name: program.tier_system.name,
    point_account_id: '',
    user_point_account_id: '',
    modification: 0,
    amount_spent: 0,
    amount_expired: 0,
    spend_weight: 0,
    audit_type: 0,
    modification_type: TIER_CHANGE,
    modification_entity_id: null,
    point_source_id: null,
    point_source_name: pointSourceName(TIER_CHANGE, h.cause, null),
    reference_id: null,
    reference_type: h.cause,
    time_of_occurrence: at,
    create_date: at,
    request_id: null,
    idempotency_id: null,
    transaction_id: null,
    reason: `${h.from_tier ?? 'UNENROLLED'} to ${h.to_tier ?? 'UNENROLLED'}: ${h.reason}`,
  };
}

/**
 * Merges two lists that are each newest first. On equal instants the tier change comes first
 * (it follows the rollover that caused it, so it is the newer of the two).
 */
function mergeNewestFirst(tier: AuditRow[], ledger: AuditRow[]): AuditRow[] {
  const out: AuditRow[] = [];
  let i = 0;
  let j = 0;
  while (i < tier.length || j < ledger.length) {
    const a = tier[i];
    const b = ledger[j];
    if (a && (!b || a.time_of_occurrence >= b.time_of_occurrence)) {
      out.push(a);
      i++;
    } else {
      out.push(b!);
      j++;
    }
  }
  return out;
}

interface CampaignDetail {
  name: string;
  points: number;
  tier_qualifying: boolean;
}

/**
 * The campaign side of a purchase or return row (issue #5): which campaigns moved points on this
 * account, and how the award changed for the account's pair, for the reason sentence. Campaign
 * points reach the tier accounts only where the campaign is tier-qualifying (DESIGN §4). Journals
 * from before `award_change` was recorded name the purchase's campaigns, as they did.
 */
function campaignFacts(r: AuditPostingRow): { names: string[]; change?: AwardChangeFacts } {
  if (r.kind !== 'purchase' && r.kind !== 'return') return { names: [] };
  const onAccount = (c: CampaignDetail) => !r.account.startsWith('tier') || c.tier_qualifying;
  const change = r.details.award_change as { base: number; campaigns: CampaignDetail[] } | undefined;
  if (!change) {
    const names =
      r.kind === 'purchase' && Array.isArray(r.details.campaigns)
        ? (r.details.campaigns as CampaignDetail[]).filter(onAccount).map((c) => c.name)
        : [];
    return { names };
  }
  const campaigns = change.campaigns.filter(onAccount).map((c) => ({ name: c.name, points: c.points }));
  return { names: campaigns.map((c) => c.name), change: { base: change.base, campaigns } };
}

function auditRow(program: ProgramDocument, user: UserRow, r: AuditPostingRow): AuditRow {
  const account = program.point_accounts.find((a) => a.role === r.account);
  const pointAccountId = account?.id ?? '';
  // Minor units in the ledger, major units in the row (issue #14 item 3).
  const precision = precisionOf(program, r.account);
  const modification = toMajor(r.amount, precision);
  const shortfall = toMajor(
    (r.details.shortfall as Partial<Record<string, number>> | undefined)?.[r.account] ?? 0,
    precision,
  );
  const { names: campaigns, change } = campaignFacts(r);
  const key = r.idempotency_key;
  return {
    id: `${r.journal_id}:${r.line}`,
    retailer_id: user.retailer_id,
    user_id: user.id,
    account_name: account?.name ?? r.account,
    point_account_id: pointAccountId,
    user_point_account_id: account ? userPointAccountId(user.id, account.id) : '',
    modification,
    amount_spent: amountSpent(r.kind, modification),
    amount_expired: 0,
    // A deposit's or spend's rank as sent (issue #14 item 13).
    spend_weight: typeof r.details.rank === 'number' ? r.details.rank : 0,
    audit_type: auditType(r.kind, modification),
    modification_type: r.kind,
    modification_entity_id: r.purchase_id,
    point_source_id: r.point_source_id,
    point_source_name: pointSourceName(r.kind, r.reference_type, r.reference_id),
    reference_id: r.reference_id,
    reference_type: r.reference_type,
    time_of_occurrence: r.effective_at.toISOString(),
    create_date: r.recorded_at.toISOString(),
    request_id: r.request_id,
    idempotency_id: key ? key.slice(key.indexOf(':') + 1) : null,
    transaction_id: r.transaction_id,
    reason: auditReason({
      kind: r.kind,
      modification,
      reference_id: r.reference_id,
      reference_type: r.reference_type,
      transaction_id: r.transaction_id,
      actor: typeof r.details.actor === 'string' ? r.details.actor : null,
      shortfall,
      award_change: change,
      cash_out:
        r.kind === 'cash_out'
          ? {
              period: String(r.details.period),
              value: Number(r.details.value_cents) / 100,
              currency: String(r.details.currency),
            }
          : undefined,
    }),
    ...(campaigns.length ? { campaigns } : {}),
  };
}
