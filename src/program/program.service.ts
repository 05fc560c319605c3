import type { Queryable } from '../db/database.js';
import type { ProgramDocument } from '../domain/program.js';
import { findProgramAt } from './program.repository.js';

/** The program in force for a retailer at `at`; every retailer has one from its creation. */
export async function getProgramAt(db: Queryable, retailerId: string, at: Date): Promise<ProgramDocument> {
  const row = await findProgramAt(db, retailerId, at);
  if (!row) throw new Error(`retailer ${retailerId} has no program`);
  return row.document;
}
