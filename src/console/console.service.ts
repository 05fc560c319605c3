import type { Database } from '../db/database.js';
import type { UserRow } from '../customers/customer.repository.js';
import { getUser, updateUser } from '../customers/customer.service.js';
import { giftCardsOf, type GiftCardView } from '../cashout/cashout.service.js';
import { campaignStatus, type CampaignStatus } from '../domain/campaigns.js';
import { nextPeriod, periodAt, pointsPerDenomination, type CashOutPeriod } from '../domain/cashout.js';
import {
  loyaltyFields,
  maintenanceFields,
  pointAccountBalances,
  type LoyaltyFields,
} from '../domain/loyalty-view.js';
import {
  accountByRole,
  type AccountRole,
  type Campaign,
  type ProgramDocument,
  type TierLevel,
} from '../domain/program.js';
import { nextTierFor } from '../domain/tiers.js';
import { isUuid } from '../domain/ids.js';
import { phoneDigits } from '../domain/profile.js';
import { LaurelError } from '../errors.js';
import { envelopeOf } from '../http/error-handler.js';
import { moveUser } from '../tiers/tier.service.js';
import { resendGiftCard } from '../cashout/cashout.service.js';
import { listMemberActions, type MemberActionRow } from '../customers/member-action.repository.js';
import { previewPurchase, type PurchasePreview } from '../purchases/purchase-preview.service.js';
import { MAX_POINTS_PER_LINE } from '../incentives/incentives.schema.js';
import { deposit, fetchPointAuditLogs, spendMultiple } from '../incentives/incentives.service.js';
import { getProgramVersionAt } from '../program/program.service.js';
import { findRetailer } from '../tenancy/tenancy.repository.js';
import { memberStandingAt, tierHistoryAt } from '../tiers/tier.service.js';
import { auditReason } from '../domain/point-audit.js';
import { majorOf, precisionOf } from '../domain/precision.js';
import { startOfLocalDay } from '../domain/calendar.js';
import type { Award, Basket } from '../domain/earning.js';
import {
  findHistoryEvents,
  findMemberPurchase,
  findPurchaseLots,
  type HistoryEventRow,
  type PurchaseLotRow,
  type PurchaseRow,
  findPendingLots,
  findRecentViews,
  recordRecentView,
  searchMembers,
  type MatchKind,
  type MemberMatchRow,
  type MemberSearchTerms,
  type PendingLotRow,
  type RecentViewRow,
} from './console.repository.js';
import { agentLabel, type ConsoleSession } from './session.service.js';

/**
 * What the console's pages show and the two things an agent may change (issue #6). Every number
 * comes from the same services the APIs answer with, so the console and the API always agree.
 */

/** Audit rows per page of the member page's history. */
export const AUDIT_PAGE_SIZE = 20;

/** Matches the search page lists at most. */
export const SEARCH_LIMIT = 25;
/** Longest search text taken; longer input is cut. */
export const MAX_SEARCH_LENGTH = 120;
/** Recently viewed members shown on the search page. */
export const RECENT_LIMIT = 10;

/**
 * What one search box's text is looked for as (issue #18 item 9): a whole Laurel id; the start of
 * an email, a name (first, last or "first last") or an external id, in any case; and, when the text
 * is written like a phone number, the start of a phone's search key (its last ten digits, as
 * `users/search` compares phones), so `(617) 555-0142`, `+1 617 555 0142` and `617555` all find it.
 */
export function searchTermsOf(query: string): MemberSearchTerms {
  const text = query.trim().replace(/\s+/g, ' ').slice(0, MAX_SEARCH_LENGTH).toLowerCase();
  const terms: MemberSearchTerms = {};
  if (!text) return terms;
  if (isUuid(text)) terms.id = text;
  terms.text = text;
  const digits = phoneDigits(text);
  if (/^[\d\s().+-]+$/.test(text) && digits.length >= 3) terms.phoneDigits = digits.slice(-10);
  return terms;
}

const MATCH_KINDS: MatchKind[] = [
  'laurel_id',
  'email',
  'external_id',
  'phone',
  'name',
  'email_prefix',
  'name_prefix',
  'external_id_prefix',
  'phone_prefix',
];

export interface MemberMatch {
  userId: string;
  name: string;
  email: string | null;
  externalId: string | null;
  /** The tier now (UNENROLLED when opted out), as the user object's `tier`. */
  tier: string;
  lastActivityAt: Date | null;
  /** How the member matched: the rank's name. */
  matchedBy: MatchKind;
}

const nameOf = (r: { first_name: string | null; last_name: string | null }): string =>
  [r.first_name, r.last_name].filter(Boolean).join(' ');

/** The members the search text finds, best match first, with their tier and last activity now. */
export async function findMembers(
  db: Database,
  retailerId: string,
  query: string,
  now: Date,
): Promise<MemberMatch[]> {
  const rows = await searchMembers(db, retailerId, searchTermsOf(query), now, SEARCH_LIMIT);
  if (!rows.length) return [];
  const program = (await getProgramVersionAt(db, retailerId, now)).document;
  return Promise.all(
    rows.map(async (r: MemberMatchRow) => {
      const standing = await memberStandingAt(db, program, { ...r, id: r.user_id }, now);
      return {
        userId: r.user_id,
        name: nameOf(r),
        email: r.email,
        externalId: r.external_id,
        tier: loyaltyFields(program, standing).tier,
        lastActivityAt: r.last_activity_at,
        matchedBy: MATCH_KINDS[r.rank] ?? 'name_prefix',
      };
    }),
  );
}

/** The key recently viewed members are kept under: the token and the agent's name (item 10). */
export const agentKey = (session: ConsoleSession): string => `${session.tokenId}:${session.agentName ?? ''}`;

export async function noteMemberViewed(db: Database, session: ConsoleSession, userId: string): Promise<void> {
  await recordRecentView(db, session.retailerId, agentKey(session), userId, new Date());
}

export interface RecentMember {
  userId: string;
  name: string;
  email: string | null;
  externalId: string | null;
  viewedAt: Date;
}

/** The members this agent opened last, newest first. */
export async function recentMembers(db: Database, session: ConsoleSession): Promise<RecentMember[]> {
  const rows = await findRecentViews(db, session.retailerId, agentKey(session), RECENT_LIMIT);
  return rows.map((r: RecentViewRow) => ({
    userId: r.user_id,
    name: nameOf(r),
    email: r.email,
    externalId: r.external_id,
    viewedAt: r.viewed_at,
  }));
}

export interface TierProgress {
  level: TierLevel | null;
  next: TierLevel | null;
  /** Tier Qualifying points now (the user object's `tier_points`). */
  points: number;
  /** Points still needed for `next` (`next_tier_points`), null at the top or when unenrolled. */
  toNext: number | null;
  /** When the level ends; null when it never does (BASE) or the member is not enrolled. */
  endsAt: Date | null;
  enteredAt: Date | null;
}

export interface MemberPage {
  retailerName: string;
  program: ProgramDocument;
  programVersion: number;
  user: UserRow;
  loyalty: LoyaltyFields;
  /** Issue #20: this period's points toward keeping the tier, and the points still needed. */
  maintenance: ReturnType<typeof maintenanceFields>;
  tier: TierProgress;
  balances: ReturnType<typeof pointAccountBalances>;
  pending: PendingLotRow[];
  history: MemberHistory;
  giftCards: GiftCardView[];
  now: Date;
}

/** Everything the member page shows, as of `now`. Throws `user_not_found`. */
export async function memberPage(
  db: Database,
  retailerId: string,
  userId: string,
  now: Date,
  giftCardKey: Buffer,
  page: number,
  filter: HistoryQuery = { kind: '', from: '', to: '' },
): Promise<MemberPage> {
  const user = await getUser(db, retailerId, { id: userId });
  const version = await getProgramVersionAt(db, retailerId, now);
  const program = version.document;
  // The audit log writes the member's due rollovers first (as every API read of it does); the
  // other reads are as-of anyway, so they agree with it whatever the order.
  await fetchPointAuditLogs(
    db,
    retailerId,
    { retailer_id: retailerId, user_id: user.id, skip: 0, take: 1 },
    now,
  );
  const history = await memberHistory(db, program, user, now, filter, page);
  const [standing, pending, giftCards, retailer] = await Promise.all([
    memberStandingAt(db, program, user, now),
    findPendingLots(db, retailerId, user.id, now),
    giftCardsOf(db, retailerId, user.id, now, giftCardKey, false),
    findRetailer(db, retailerId),
  ]);
  const loyalty = loyaltyFields(program, standing);
  const level = standing.tier
    ? (program.tier_system.levels.find((l) => l.id === standing.tier!.level_id) ?? null)
    : null;
  return {
    retailerName: retailer?.name ?? '',
    program,
    programVersion: version.version,
    user,
    loyalty,
    maintenance: maintenanceFields(standing),
    tier: {
      level,
      next: level ? nextTierFor(program, level) : null,
      points: loyalty.tier_points,
      toNext: loyalty.next_tier_points,
      endsAt: standing.tier?.resets_at ?? null,
      enteredAt: standing.tier?.entered_at ?? null,
    },
    balances: pointAccountBalances(program, standing),
    pending,
    history,
    giftCards,
    now,
  };
}

/** The history filter as the form gives it: a kind and program-local dates, each optional. */
export interface HistoryQuery {
  kind: string;
  /** `YYYY-MM-DD`, program-local, inclusive. */
  from: string;
  /** `YYYY-MM-DD`, program-local, inclusive. */
  to: string;
}

/** The kinds an agent can filter the history by, with their labels. */
export const HISTORY_KINDS: Record<string, { label: string; journals: string[] }> = {
  purchase: { label: 'Purchases', journals: ['purchase'] },
  return: { label: 'Returns', journals: ['return'] },
  rollover: { label: 'Rollovers', journals: ['rollover'] },
  adjustment: { label: 'Adjustments and spends', journals: ['deposit', 'spend'] },
  cash_out: { label: 'Cash-outs', journals: ['cash_out'] },
  tier_change: { label: 'Tier changes', journals: [] },
  profile: { label: 'Profile and gift-card changes', journals: [] },
};

export type HistoryKind =
  | 'purchase'
  | 'return'
  | 'rollover'
  | 'deposit'
  | 'spend'
  | 'cash_out'
  | 'tier_change'
  | 'profile_changed'
  | 'gift_card_resent';

/** How a profile field reads in the history. */
const FIELD_NAMES: Record<string, string> = {
  first_name: 'first name',
  last_name: 'last name',
  phone_numbers: 'phone',
  external_id: 'external id',
  external_id_type: 'external id type',
  user_profile: 'custom attributes',
  test_account: 'test account',
};

/** A profile edit's or gift-card resend's history row, naming who did it (issue #18 item 10). */
export function actionEntry(a: MemberActionRow): HistoryEntry {
  const fields = Array.isArray(a.details.fields) ? (a.details.fields as string[]) : [];
  const reason =
    a.kind === 'profile_changed'
      ? `Profile changed by ${a.actor}: ${fields.map((f) => FIELD_NAMES[f] ?? f).join(', ')}`
      : `Gift card ${String(a.details.period ?? '')} resent by ${a.actor}`;
  return {
    key: `action:${a.id}`,
    kind: a.kind,
    at: a.at,
    purchaseId: null,
    transactionId: null,
    points: { spendable: 0, spendable_escrow: 0, tier: 0, tier_escrow: 0 },
    campaigns: [],
    reason,
    referenceType: null,
  };
}

/** One row of the member's history: one event, with what it moved on each account. */
export interface HistoryEntry {
  key: string;
  kind: HistoryKind;
  at: Date;
  purchaseId: string | null;
  transactionId: string | null;
  /** Points moved per member account; all zero for a tier change. */
  points: { spendable: number; spendable_escrow: number; tier: number; tier_escrow: number };
  campaigns: string[];
  reason: string;
  referenceType: string | null;
}

export interface MemberHistory {
  entries: HistoryEntry[];
  total: number;
  page: number;
  pages: number;
  query: HistoryQuery;
}

const isLocalDate = (s: string): boolean => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s));

/** The day after a program-local `YYYY-MM-DD`. */
const nextDay = (d: string): string =>
  new Date(Date.parse(`${d}T12:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/**
 * A history row with its amounts in points: the ledger's minor units of a Spendable pair of
 * precision 2 shown as 12.5 (issue #14 item 3), as the point audit log shows them.
 */
function inPoints(program: ProgramDocument, e: HistoryEventRow): HistoryEventRow {
  if (precisionOf(program, 'spendable') === 0) return e;
  const shortfall = e.details.shortfall as Partial<Record<string, number>> | undefined;
  return {
    ...e,
    spendable: majorOf(program, 'spendable', Number(e.spendable)),
    spendable_escrow: majorOf(program, 'spendable_escrow', Number(e.spendable_escrow)),
    details: shortfall?.spendable
      ? {
          ...e.details,
          shortfall: { ...shortfall, spendable: majorOf(program, 'spendable', shortfall.spendable) },
        }
      : e.details,
  };
}

/** A history row's sentence: the point audit log's reason, for the event as a whole. */
function eventReason(e: HistoryEventRow): { reason: string; campaigns: string[] } {
  const tx = e.transaction_id;
  if (e.kind === 'rollover') {
    const what = [
      e.spendable ? `${formatPointsPlain(e.spendable)} points now spendable` : '',
      e.tier ? `${formatPointsPlain(e.tier)} tier-qualifying` : '',
    ].filter(Boolean);
    return {
      reason: `Escrow period ended for purchase ${tx ?? 'a purchase'}${what.length ? `: ${what.join(', ')}` : ''}`,
      campaigns: [],
    };
  }
  const change = e.details.award_change as
    { base: number; campaigns: { name: string; points: number }[] } | undefined;
  const shortfall = (e.details.shortfall as Partial<Record<string, number>> | undefined) ?? {};
  const campaigns = change?.campaigns.filter((c) => c.points !== 0).map((c) => c.name) ?? [];
  const modification =
    e.kind === 'purchase' || e.kind === 'return' ? e.spendable_escrow + e.spendable : e.spendable + e.tier;
  const reason = auditReason({
    kind: e.kind,
    modification,
    reference_id: e.reference_id,
    reference_type: e.reference_type,
    transaction_id: tx,
    actor: typeof e.details.actor === 'string' ? e.details.actor : null,
    shortfall: (shortfall.spendable ?? 0) + (shortfall.spendable_escrow ?? 0),
    award_change: change ? { base: change.base, campaigns: change.campaigns } : undefined,
    cash_out: e.details.cash_out as { period: string; value: number; currency: string } | undefined,
  });
  return { reason, campaigns };
}

const formatPointsPlain = (n: number): string => n.toLocaleString('en-US');

/**
 * The member's history for the console (issue #18 item 11): one row per event, newest first — a
 * purchase, a return, the rollover of one purchase (not one row per account), an adjustment, a
 * cash-out, a tier change — filtered by kind and by program-local dates, 20 a page.
 */
export async function memberHistory(
  db: Database,
  program: ProgramDocument,
  user: UserRow,
  now: Date,
  query: HistoryQuery,
  page: number,
): Promise<MemberHistory> {
  const tz = program.time_zone;
  const kind = Object.hasOwn(HISTORY_KINDS, query.kind) ? query.kind : '';
  const from = isLocalDate(query.from) ? query.from : '';
  const to = isLocalDate(query.to) ? query.to : '';
  const fromAt = from ? startOfLocalDay(from, tz) : null;
  const untilAt = to ? startOfLocalDay(nextDay(to), tz) : null;
  const inRange = (at: Date) => (!fromAt || at >= fromAt) && (!untilAt || at < untilAt) && at <= now;
  const skip = (page - 1) * AUDIT_PAGE_SIZE;
  const take = skip + AUDIT_PAGE_SIZE;
  const wantLedger = kind !== 'tier_change' && kind !== 'profile';
  const wantTier = kind === '' || kind === 'tier_change';
  const wantActions = kind === '' || kind === 'profile';
  const actionEntries: HistoryEntry[] = wantActions
    ? (await listMemberActions(db, user.retailer_id, user.id, now))
        .filter((a) => inRange(a.at))
        .map(actionEntry)
    : [];
  const events = wantLedger
    ? await findHistoryEvents(
        db,
        user.id,
        { kinds: kind ? HISTORY_KINDS[kind]!.journals : [], from: fromAt, until: untilAt },
        { skip: 0, take },
      )
    : [];
  const tierEntries: HistoryEntry[] = wantTier
    ? (await tierHistoryAt(db, program, user, now))
        .filter((h) => inRange(h.at))
        .reverse()
        .map((h) => ({
          key: `tier:${h.at.getTime()}:${h.cause}`,
          kind: 'tier_change' as const,
          at: h.at,
          purchaseId: null,
          transactionId: null,
          points: { spendable: 0, spendable_escrow: 0, tier: 0, tier_escrow: 0 },
          campaigns: [],
          reason: `${h.from_tier ?? 'UNENROLLED'} to ${h.to_tier ?? 'UNENROLLED'}: ${h.reason}`,
          referenceType: h.cause,
        }))
    : [];
  const ledgerEntries: HistoryEntry[] = events.map((row) => {
    const e = inPoints(program, row);
    const { reason, campaigns } = eventReason(e);
    return {
      key: e.event_key,
      kind: e.kind,
      at: e.effective_at,
      purchaseId: e.purchase_id,
      transactionId: e.transaction_id,
      points: {
        spendable: Number(e.spendable),
        spendable_escrow: Number(e.spendable_escrow),
        tier: Number(e.tier),
        tier_escrow: Number(e.tier_escrow),
      },
      campaigns,
      reason,
      referenceType: e.reference_type,
    };
  });
  // Both lists are newest first; on equal instants the tier change follows the event that caused it.
  const merged = [...tierEntries, ...actionEntries, ...ledgerEntries].sort(
    (a, b) =>
      b.at.getTime() - a.at.getTime() ||
      (a.kind === 'tier_change' ? -1 : 0) - (b.kind === 'tier_change' ? -1 : 0),
  );
  const total = (events[0]?.total ?? 0) + tierEntries.length + actionEntries.length;
  return {
    entries: merged.slice(skip, skip + AUDIT_PAGE_SIZE),
    total,
    page,
    pages: Math.max(1, Math.ceil(total / AUDIT_PAGE_SIZE)),
    query: { kind, from, to },
  };
}

/** What the purchase view shows (issue #18 item 11). */
export interface PurchaseView {
  user: UserRow;
  program: ProgramDocument;
  purchase: PurchaseRow;
  basket: Basket;
  award: Award;
  lots: PurchaseLotRow[];
  /** Every event of this purchase: the purchase, returns and edits against it, its rollover. */
  events: HistoryEntry[];
  now: Date;
}

/** One purchase of the member, with its lots and every event against it. Throws `user_not_found`. */
export async function purchaseView(
  db: Database,
  retailerId: string,
  userId: string,
  purchaseId: string,
  now: Date,
): Promise<PurchaseView | null> {
  const user = await getUser(db, retailerId, { id: userId });
  if (!isUuid(purchaseId)) return null;
  const purchase = await findMemberPurchase(db, retailerId, user.id, purchaseId.toLowerCase());
  if (!purchase) return null;
  const { document: program } = await getProgramVersionAt(db, retailerId, now);
  await fetchPointAuditLogs(
    db,
    retailerId,
    { retailer_id: retailerId, user_id: user.id, skip: 0, take: 1 },
    now,
  );
  const [lots, history] = await Promise.all([
    findPurchaseLots(db, user.id, purchase.id),
    findHistoryEvents(
      db,
      user.id,
      { kinds: [], from: null, until: null, purchaseId: purchase.id },
      {
        skip: 0,
        take: 1_000,
      },
    ),
  ]);
  const events = history.reverse().map((row) => {
    const e = inPoints(program, row);
    const { reason, campaigns } = eventReason(e);
    return {
      key: e.event_key,
      kind: e.kind,
      at: e.effective_at,
      purchaseId: e.purchase_id,
      transactionId: e.transaction_id,
      points: {
        spendable: Number(e.spendable),
        spendable_escrow: Number(e.spendable_escrow),
        tier: Number(e.tier),
        tier_escrow: Number(e.tier_escrow),
      },
      campaigns,
      reason,
      referenceType: e.reference_type,
    };
  });
  return {
    user,
    program,
    purchase,
    basket: purchase.basket as unknown as Basket,
    award: purchase.award as unknown as Award,
    lots,
    events,
    now,
  };
}

export interface CampaignLine {
  campaign: Campaign;
  status: CampaignStatus;
}

export interface ProgramPage {
  retailerName: string;
  program: ProgramDocument;
  version: number;
  /** The version took effect then; null for a retailer's first version (in force for all times). */
  effectiveFrom: Date | null;
  campaigns: CampaignLine[];
  /** The period `now` is in, then the three after it: each one's end is a cash-out. */
  periods: CashOutPeriod[];
  pointsPerCard: number;
  now: Date;
}

/** The program in force at `now`, for the program page. */
export async function programPage(db: Database, retailerId: string, now: Date): Promise<ProgramPage> {
  const [version, retailer] = await Promise.all([
    getProgramVersionAt(db, retailerId, now),
    findRetailer(db, retailerId),
  ]);
  const program = version.document;
  const periods = [periodAt(now, program.time_zone)];
  while (periods.length < 4) periods.push(nextPeriod(periods[periods.length - 1]!, program.time_zone));
  return {
    retailerName: retailer?.name ?? '',
    program,
    version: version.version,
    effectiveFrom: version.effective_from,
    campaigns: program.campaigns.map((c) => ({
      campaign: c,
      status: campaignStatus(c, now, program.time_zone),
    })),
    periods,
    pointsPerCard: pointsPerDenomination(program.cash_out),
    now,
  };
}

/**
 * A form value the agent must correct; nothing was changed. `code` is the API's error code when the
 * service refused it (the console shows the envelope an app would get for the same change).
 */
export class FormError extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly code?: string,
    /** The HTTP status the API answers the same refusal with (400 for the console's own checks). */
    readonly status = 400,
  ) {
    super(message);
    this.name = 'FormError';
  }
}

/**
 * Runs a console action through the API's service; a refusal other than a missing member (a page of
 * its own) becomes a `FormError` on `field` carrying the API's envelope: its code and sentence.
 */
async function asForm<T>(
  field: (apiField: string | undefined) => string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof LaurelError && err.code !== 'user_not_found' && err.status < 500) {
      const e = envelopeOf(err).errors;
      throw new FormError(field(e.field), e.message, e.code, err.status);
    }
    throw err;
  }
}

export interface AdjustmentInput {
  direction: 'credit' | 'debit';
  account: Extract<AccountRole, 'spendable' | 'tier'>;
  amount: number;
  reason: string;
  /** The form's one-time nonce: the idempotency id, so a double submit applies once. */
  nonce: string;
}

export const MAX_REASON_LENGTH = 120;
/** `reference_type` of every console adjustment, as the audit log shows it. */
export const AGENT_ADJUSTMENT = 'Agent adjustment';

/** Reads and checks the adjustment form's fields; throws `FormError` naming the first bad one. */
export function parseAdjustment(form: Record<string, string | undefined>, nonce: string): AdjustmentInput {
  const direction = form.direction;
  if (direction !== 'credit' && direction !== 'debit') {
    throw new FormError('direction', 'Choose whether to add or remove points.');
  }
  const account = form.account ?? 'spendable';
  if (account !== 'spendable' && account !== 'tier') {
    throw new FormError('account', 'Choose the Spendable or the Tier Qualifying account.');
  }
  const amountText = (form.amount ?? '').trim().replace(/,/g, '');
  const amount = /^\d{1,9}$/.test(amountText) ? Number(amountText) : NaN;
  if (!Number.isInteger(amount) || amount < 1 || amount > MAX_POINTS_PER_LINE) {
    throw new FormError(
      'amount',
      `Enter a whole number of points from 1 to ${MAX_POINTS_PER_LINE.toLocaleString('en-US')}.`,
    );
  }
  const reason = (form.reason ?? '').trim().replace(/\s+/g, ' ');
  if (!reason) throw new FormError('reason', 'A reason is required: it is shown in the audit history.');
  if (reason.length > MAX_REASON_LENGTH) {
    throw new FormError('reason', `Keep the reason to ${MAX_REASON_LENGTH} characters.`);
  }
  return { direction, account, amount, reason, nonce };
}

/**
 * Adjusts a member's points as the agent of `session`: a credit is a deposit, a debit a spend,
 * both audited with the reason and the token that signed in (`point_source_id`). The nonce is the
 * idempotency id, so the same form submitted twice applies once. Answers whether this submission
 * applied it. A debit the balance cannot cover throws `FormError` and spends nothing.
 */
export async function adjustPoints(
  db: Database,
  session: ConsoleSession,
  userId: string,
  input: AdjustmentInput,
  now: Date,
): Promise<{ applied: boolean }> {
  const retailerId = session.retailerId;
  const user = await getUser(db, retailerId, { id: userId });
  const { document: program } = await getProgramVersionAt(db, retailerId, now);
  const account = accountByRole(program, input.account);
  const common = {
    amount: input.amount,
    idempotency_id: `console-${input.nonce}`,
    reference_type: AGENT_ADJUSTMENT,
    reference_id: input.reason,
    point_source_id: `console:${session.tokenId}`,
  };
  if (input.direction === 'credit') {
    const res = await deposit(
      db,
      retailerId,
      {
        retailer_id: retailerId,
        user_id: user.id,
        deposit_details: [{ ...common, point_account_id: account.id }],
      },
      now,
      agentLabel(session),
    );
    return { applied: res.details[0]!.applied };
  }
  try {
    const res = await spendMultiple(
      db,
      retailerId,
      {
        retailer_id: retailerId,
        user_id: user.id,
        spend_details: [{ ...common, point_account_ids: [account.id] }],
      },
      now,
      agentLabel(session),
    );
    return { applied: res.details[0]!.idempotency_summary === 'new' };
  } catch (err) {
    if (err instanceof LaurelError && err.code === 'insufficient_points') {
      throw new FormError('amount', `Not enough points in ${account.name}; nothing was removed.`);
    }
    throw err;
  }
}

/** Opts a member in or out, as a Core profile update would (`opted_in`), recorded under the agent. */
export async function setEnrollment(
  db: Database,
  session: ConsoleSession,
  userId: string,
  optedIn: boolean,
  now: Date,
): Promise<UserRow> {
  const retailerId = session.retailerId;
  const user = await getUser(db, retailerId, { id: userId });
  return updateUser(db, retailerId, { id: user.id }, { opted_in: optedIn }, now, agentLabel(session));
}

/** Longest tier-move reason, as `movement/move_user` takes it. */
export const MAX_MOVE_REASON_LENGTH = 500;

/**
 * Moves the member to a tier level as the agent (issue #18 item 12), through `movement/move_user`'s
 * service: the same checks (a level of the program's tier system, an enrolled member) and the same
 * audited record, with the agent as its actor and a required reason.
 */
export async function moveTier(
  db: Database,
  session: ConsoleSession,
  userId: string,
  form: Record<string, string | undefined>,
  now: Date,
): Promise<{ level: TierLevel }> {
  const levelId = (form.level ?? '').trim();
  if (!levelId) throw new FormError('level', 'Choose the tier level to move the member to.');
  const reason = (form.reason ?? '').trim().replace(/\s+/g, ' ');
  if (!reason) throw new FormError('move_reason', 'A reason is required: it is shown in the tier history.');
  if (reason.length > MAX_MOVE_REASON_LENGTH) {
    throw new FormError('move_reason', `Keep the reason to ${MAX_MOVE_REASON_LENGTH} characters.`);
  }
  const user = await getUser(db, session.retailerId, { id: userId });
  const { document: program } = await getProgramVersionAt(db, session.retailerId, now);
  const { level } = await asForm(
    () => 'level',
    () =>
      moveUser(
        db,
        {
          retailerId: session.retailerId,
          userId: user.id,
          tierSystemId: program.tier_system.id,
          tierLevelId: levelId,
          actor: agentLabel(session),
          reason,
        },
        now,
      ),
  );
  return { level };
}

/** The contact fields the console edits, by form field. */
const CONTACT_FIELDS = ['first_name', 'last_name', 'email', 'phone'] as const;

/**
 * Edits the member's name, email and phone as the agent (issue #18 item 12), through the Core
 * profile update's service: the same normalisation and checks (a valid and unused email, a phone
 * of 7 to 15 digits, lengths, an email or external id kept) and the same refusal. An empty field
 * clears it. The phone edited is the first one; the member's other phones are kept.
 */
export async function editContact(
  db: Database,
  session: ConsoleSession,
  userId: string,
  form: Record<string, string | undefined>,
  now: Date,
): Promise<{ changed: boolean }> {
  const user = await getUser(db, session.retailerId, { id: userId });
  const value = (f: (typeof CONTACT_FIELDS)[number]) => (form[f] ?? '').trim();
  const phone = value('phone');
  const [first, ...others] = user.phone_numbers;
  const phones = phone
    ? [{ ...(first ?? { phone_type: 'mobile' }), phone_number: phone }, ...others]
    : others;
  const input = {
    first_name: value('first_name') || null,
    last_name: value('last_name') || null,
    email: value('email') || null,
    phone_numbers: phones.map((p) => ({
      phone_number: p.phone_number,
      phone_type: p.phone_type,
      ...('preference_flags' in p ? { preference_flags: p.preference_flags } : {}),
    })),
  };
  const after = await asForm(
    (f) => {
      const key = (f ?? '').split(/[.[]/)[0];
      if (key === 'phone_numbers') return 'phone';
      return key && CONTACT_FIELDS.includes(key as never) ? key : 'email';
    },
    () => updateUser(db, session.retailerId, { id: user.id }, input, now, agentLabel(session)),
  );
  return { changed: after.updated_at.getTime() !== user.updated_at.getTime() };
}

/** Resends a gift card of the member as the agent; a card that cannot be resent is a `FormError`. */
export async function resendCard(
  db: Database,
  session: ConsoleSession,
  userId: string,
  giftCardId: string,
  now: Date,
  key: Buffer,
): Promise<GiftCardView> {
  const user = await getUser(db, session.retailerId, { id: userId });
  return asForm(
    () => 'gift_card',
    () => resendGiftCard(db, session.retailerId, user.id, giftCardId, agentLabel(session), now, key),
  );
}

/**
 * The what-if panel (issue #18 item 12): what a basket of `amount` would earn the member now, by
 * the rules of a real purchase, writing nothing. The amount is a currency amount as a till sends
 * it (`25`, `25.50`); anything else, or beyond a till's bounds, is a `FormError`.
 */
export async function whatIf(
  db: Database,
  retailerId: string,
  userId: string,
  form: { amount?: string | undefined; store_id?: string | undefined },
  now: Date,
): Promise<PurchasePreview> {
  const text = (form.amount ?? '').trim().replace(/^\$/, '').replace(/,/g, '');
  if (!/^\d{1,12}(\.\d+)?$/.test(text)) {
    throw new FormError('what_if_amount', 'Enter the basket in dollars, for example 120 or 84.50.');
  }
  const store = (form.store_id ?? '').trim();
  return asForm(
    (f) => (f?.includes('store') ? 'what_if_store' : 'what_if_amount'),
    () =>
      previewPurchase(
        db,
        retailerId,
        userId,
        { amount: Number(text), ...(store ? { store_id: store } : {}) },
        now,
      ),
  );
}
