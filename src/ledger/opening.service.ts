import type { Database, Queryable, Tx } from '../db/database.js';
import { sameJson } from '../domain/canonical.js';
import { isUuid, newId } from '../domain/ids.js';
import { openingPostings, type OpeningPosition } from '../domain/opening.js';
import { precisionOf, scaleOf } from '../domain/precision.js';
import { MAX_LEDGER_AMOUNT } from '../domain/bounds.js';
import type { ProgramDocument } from '../domain/program.js';
import { LaurelError, validationError } from '../errors.js';
import { lockUserById } from '../customers/customer.repository.js';
import { getProgramAt } from '../program/program.service.js';
import { findMemberId, type MemberKey } from '../purchases/purchase.repository.js';
import { insertTierMove } from '../tiers/tier.repository.js';
import { tierStandingAt } from '../tiers/tier.service.js';
import { insertJournal } from './ledger.repository.js';

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

/** Posts one member's opening position as of `cutover`; the import's clock is `now`. */
export async function importOpening(
  db: Database,
  retailerId: string,
  r: OpeningRequest,
  cutover: Date,
  now: Date,
): Promise<OpeningOutcome> {
  const program = await getProgramAt(db, retailerId, cutover);
  checkAccount(program, r.account);
  // Posted in the precision in force now, whichever version the cut-over falls in: a stored amount
  // keeps the units its account had when written (issue #14 item 3).
  const scale = scaleOf(
    precisionOf(cutover < now ? await getProgramAt(db, retailerId, now) : program, 'spendable'),
  );
  if (r.life_time_value * scale > MAX_LEDGER_AMOUNT) {
    throw validationError(
      `life_time_value ${r.life_time_value} is beyond what the Spendable account holds in hundredths ` +
        `(at most ${(MAX_LEDGER_AMOUNT / scale).toLocaleString('en-US')} points)`,
    );
  }
  const level = levelOf(program, r.tier);
  const floor = [...program.tier_system.levels].sort((a, b) => a.rank - b.rank)[0]!;
  // A SessionM id that is not a UUID names nobody, as in a till's transaction (`memberKeyOf`).
  const named = r.member.type !== 'SessionM_ID' || isUuid(r.member.id);
  const memberId = named ? await findMemberId(db, retailerId, r.member) : undefined;
  if (!memberId) {
    throw new LaurelError(
      'user_not_found',
      `no member with ${r.member.type} ${r.member.id}: import customers first`,
    );
  }
  const position: OpeningPosition = {
    cutover: cutover.toISOString(),
    balance: r.balance,
    life_time_value: r.life_time_value,
    tier_points: r.tier_points,
    tier_level_id: level?.id ?? null,
    tier_entered_at: r.tier_entered_at?.toISOString() ?? null,
    tier_expires_at: r.tier_expires_at?.toISOString() ?? null,
  };
  return db.transaction(async (tx) => {
    const member = await lockUserById(tx, retailerId, memberId);
    if (!member) throw new LaurelError('user_not_found');
    const prior = await findOpening(tx, member.id);
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
    const moved = level && level.id !== floor.id;
    if (moved && r.tier_entered_at && r.tier_entered_at < member.opted_in_at) {
      throw validationError(
        `tier_entered_at ${r.tier_entered_at.toISOString()} is before the member enrolled (${member.opted_in_at.toISOString()}): ` +
          'import the customer with an enrolled_at no later than it',
      );
    }
    await insertJournal(tx, {
      id: newId(cutover.getTime()),
      retailer_id: retailerId,
      user_id: member.id,
      kind: 'opening',
      effective_at: cutover,
      recorded_at: now,
      idempotency_key: OPENING_KEY,
      reference_id: cutover.toISOString(),
      reference_type: 'Opening balance',
      details: { position },
      // The file's points, in the Spendable account's minor units (issue #14 item 3).
      postings: openingPostings(position, scale),
    });
    if (moved) {
      const entered = r.tier_entered_at ?? cutover;
      await insertTierMove(tx, {
        id: newId(entered.getTime()),
        retailer_id: retailerId,
        user_id: member.id,
        tier_system_id: program.tier_system.id,
        tier_level_id: level.id,
        effective_at: entered,
        recorded_at: now,
        actor: OPENING_ACTOR,
        reason: `tier held on the previous platform at the cut-over ${cutover.toISOString()}`,
        holds_until: r.tier_expires_at ?? null,
      });
    }
    // The tier the member reads at the cut-over must be the one the file gives: the program's
    // thresholds may put the tier points higher (the engine keeps the highest level held).
    if (level) {
      const { tier } = await tierStandingAt(tx, program, member, cutover);
      if (tier.level?.id !== level.id) {
        throw validationError(
          `at the cut-over the program puts the member at ${tier.level?.name ?? 'no tier'} ` +
            `(${r.tier_points.toLocaleString('en-US')} tier points this period), not ${level.name}`,
        );
      }
    }
    return { status: 'imported' };
  });
}

/** The opening position already posted for the member, if any. */
async function findOpening(tx: Tx, userId: string): Promise<OpeningPosition | undefined> {
  const rows = await tx.query<{ position: OpeningPosition }>(
    `SELECT details->'position' AS position FROM journals WHERE user_id = $1 AND idempotency_key = $2`,
    [userId, OPENING_KEY],
  );
  return rows[0]?.position;
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
