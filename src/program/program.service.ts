import type { Database, Queryable } from '../db/database.js';
import { accountByRole, type ProgramDocument } from '../domain/program.js';
import { precisionOf } from '../domain/precision.js';
import { retailerUsedAccounts } from '../ledger/ledger.repository.js';
import { normalizeProgram } from '../domain/program-rules.js';
import { validationError } from '../errors.js';
import { sameJson } from '../domain/canonical.js';
import { eventOf } from '../events/event.service.js';
import { insertEvents, type EventInput } from '../events/outbox.repository.js';
import {
  findProgramAt,
  findProgramVersion,
  insertProgramVersion,
  lockLatestProgramVersion,
  type ProgramVersionRow,
} from './program.repository.js';
import type { ProgramInput } from './program.schema.js';

/** The program version in force for a retailer at `at`; every retailer has one from its creation. */
export async function getProgramVersionAt(
  db: Queryable,
  retailerId: string,
  at: Date,
): Promise<ProgramVersionRow> {
  const row = await findProgramAt(db, retailerId, at);
  if (!row) throw new Error(`retailer ${retailerId} has no program`);
  return row;
}

/** The program document in force for a retailer at `at`. */
export async function getProgramAt(db: Queryable, retailerId: string, at: Date): Promise<ProgramDocument> {
  return (await getProgramVersionAt(db, retailerId, at)).document;
}

/** Versions read, by retailer and number: a stored version never changes (issue #3), so never stale. */
const versions = new Map<string, ProgramDocument>();
const MAX_CACHED_VERSIONS = 1000;

/**
 * One version of a retailer's program, as a purchase priced with it recorded. Kept in memory once
 * read (issue #8: a return paid a round trip for it): versions are insert-only.
 */
export async function getProgramVersion(
  db: Queryable,
  retailerId: string,
  version: number,
): Promise<ProgramDocument> {
  const key = `${retailerId}:${version}`;
  const cached = versions.get(key);
  if (cached) return cached;
  const row = await findProgramVersion(db, retailerId, version);
  if (!row) throw new Error(`retailer ${retailerId} has no program version ${version}`);
  if (versions.size >= MAX_CACHED_VERSIONS) versions.clear();
  versions.set(key, row.document);
  return row.document;
}

/** Per retailer, the version this process last read with its document (issue #15: reads skip the document then). */
const lastRead = new Map<string, number>();

/** The version of the retailer's program whose document this process holds, or -1. */
export function heldProgramVersion(retailerId: string): number {
  const version = lastRead.get(retailerId);
  return version !== undefined && versions.has(`${retailerId}:${version}`) ? version : -1;
}

/** A version's document if this process holds it (versions are insert-only, so it is never stale). */
export function heldProgramDocument(retailerId: string, version: number): ProgramDocument | undefined {
  return versions.get(`${retailerId}:${version}`);
}

/** Keeps a version's document read beside something else, as `getProgramVersion` keeps its own. */
export function holdProgramVersion(retailerId: string, version: number, document: ProgramDocument): void {
  if (versions.size >= MAX_CACHED_VERSIONS) versions.clear();
  versions.set(`${retailerId}:${version}`, document);
  if (lastRead.size >= MAX_CACHED_VERSIONS) lastRead.clear();
  lastRead.set(retailerId, version);
}

/**
 * The document of a version read beside something else, asked with `heldProgramVersion`: the one
 * the statement answered (then held), else the one this process holds, else read by its number
 * (another request evicted it since the statement was built).
 */
export async function programOfRead(
  db: Queryable,
  retailerId: string,
  read: { version: number | null; document: ProgramDocument | null } | null | undefined,
): Promise<ProgramDocument> {
  if (!read || read.version === null) throw new Error(`retailer ${retailerId} has no program`);
  if (read.document) {
    holdProgramVersion(retailerId, read.version, read.document);
    return read.document;
  }
  return (
    heldProgramDocument(retailerId, read.version) ?? (await getProgramVersion(db, retailerId, read.version))
  );
}

/**
 * Replaces a retailer's program with a new version in force from `now` (issue #3): validated,
 * every earlier version kept, purchases priced by the version in force at their purchase time.
 */
export async function replaceProgram(
  db: Database,
  retailerId: string,
  input: ProgramInput,
  now: Date,
): Promise<ProgramVersionRow> {
  return (await reviseProgram(db, retailerId, now, () => input)).row;
}

/**
 * A new program version in force from `now`, made from the newest one by `edit` (the campaigns API,
 * issue #5) and validated like a replacement. Runs under the lock on the newest version, so
 * concurrent edits apply one after the other. When `edit` returns null nothing is written and the
 * newest version is the answer.
 */
export async function reviseProgram(
  db: Database,
  retailerId: string,
  now: Date,
  edit: (latest: ProgramDocument) => ProgramInput | null,
): Promise<{ row: ProgramVersionRow; written: boolean }> {
  return db.transaction(async (tx) => {
    const latest = await lockLatestProgramVersion(tx, retailerId);
    if (!latest) throw new Error(`retailer ${retailerId} has no program`);
    if (latest.effective_from && latest.effective_from > now) {
      throw validationError('a newer program version is already scheduled after now');
    }
    const input = edit(latest.document);
    if (input === null) return { row: latest, written: false };
    const document = normalizeProgram(input, retailerId, latest.document);
    await assertPrecisionKept(tx, retailerId, latest.document, document);
    const row: ProgramVersionRow = {
      retailer_id: retailerId,
      version: latest.version + 1,
      effective_from: now,
      document,
      created_at: now,
    };
    await insertProgramVersion(tx, row);
    await insertEvents(tx, campaignEvents(latest.document, document, retailerId, row.version, now));
    return { row, written: true };
  });
}

/**
 * A stored amount is never read in another precision (issue #14 item 3; DESIGN §3 exact amounts):
 * the Spendable pair's precision may change only while no member of the retailer has used them.
 * Under the lock on the newest version; a purchase racing the very first change is the operator's
 * to avoid (docs/decisions/0010-account-precision.md: set the precision before taking traffic).
 */
async function assertPrecisionKept(
  tx: Queryable,
  retailerId: string,
  before: ProgramDocument,
  after: ProgramDocument,
): Promise<void> {
  const was = precisionOf(before, 'spendable');
  const now = precisionOf(after, 'spendable');
  if (was === now) return;
  if (await retailerUsedAccounts(tx, retailerId, ['spendable', 'spendable_escrow'])) {
    const i = after.point_accounts.findIndex((a) => a.role === 'spendable');
    throw validationError(
      `point_accounts: ${accountByRole(after, 'spendable').name} already holds points in precision ${was}; ` +
        `its precision cannot change to ${now} (stored amounts would be read as other amounts)`,
      `point_accounts[${i}].precision`,
    );
  }
}

/**
 * One `campaign.changed` event (issue #17) per campaign a new version created, changed, ended or
 * removed, with the version it takes effect in.
 */
function campaignEvents(
  before: ProgramDocument,
  after: ProgramDocument,
  retailerId: string,
  version: number,
  now: Date,
): EventInput[] {
  const old = new Map(before.campaigns.map((c) => [c.id, c]));
  const changes: { id: string; name: string; change: string }[] = [];
  for (const c of after.campaigns) {
    const was = old.get(c.id);
    if (!was) changes.push({ id: c.id, name: c.name, change: 'created' });
    else if (!sameJson(was, c)) {
      changes.push({
        id: c.id,
        name: c.name,
        change: c.ended_at !== undefined && was.ended_at === undefined ? 'ended' : 'updated',
      });
    }
    old.delete(c.id);
  }
  for (const c of old.values()) changes.push({ id: c.id, name: c.name, change: 'removed' });
  return changes.map((c) =>
    eventOf('campaign.changed', retailerId, null, now, {
      campaign_id: c.id,
      name: c.name,
      change: c.change,
      program_version: version,
    }),
  );
}
