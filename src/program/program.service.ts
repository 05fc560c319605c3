import type { Queryable } from '../db/database.js';
import type { ProgramDocument } from '../domain/program.js';
import { findProgramAt, findProgramVersion, type ProgramVersionRow } from './program.repository.js';

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

/** One version of a retailer's program, as a purchase priced with it recorded. */
export async function getProgramVersion(
  db: Queryable,
  retailerId: string,
  version: number,
): Promise<ProgramDocument> {
  const row = await findProgramVersion(db, retailerId, version);
  if (!row) throw new Error(`retailer ${retailerId} has no program version ${version}`);
  return row.document;
}
