import type { Queryable, Tx } from '../db/database.js';
import type { ProgramDocument } from '../domain/program.js';

export interface ProgramVersionRow {
  retailer_id: string;
  version: number;
  effective_from: Date | null;
  document: ProgramDocument;
  created_at: Date;
}

export async function insertProgramVersion(db: Queryable, row: ProgramVersionRow): Promise<void> {
  await db.query(
    `INSERT INTO program_versions (retailer_id, version, effective_from, document, created_at)
     VALUES ($1, $2, $3, $4, $5)`,
    [row.retailer_id, row.version, row.effective_from, JSON.stringify(row.document), row.created_at],
  );
}

/**
 * The version in force at `at`: the latest one effective at or before it, and the first version
 * for any earlier time (DESIGN §2).
 */
export async function findProgramAt(
  db: Queryable,
  retailerId: string,
  at: Date,
): Promise<ProgramVersionRow | undefined> {
  const rows = await db.query<ProgramVersionRow>(
    `SELECT retailer_id, version, effective_from, document, created_at FROM program_versions
     WHERE retailer_id = $1 AND (effective_from IS NULL OR effective_from <= $2)
     ORDER BY version DESC LIMIT 1`,
    [retailerId, at],
  );
  return rows[0];
}

export async function findProgramVersion(
  db: Queryable,
  retailerId: string,
  version: number,
): Promise<ProgramVersionRow | undefined> {
  const rows = await db.query<ProgramVersionRow>(
    `SELECT retailer_id, version, effective_from, document, created_at FROM program_versions
     WHERE retailer_id = $1 AND version = $2`,
    [retailerId, version],
  );
  return rows[0];
}

export interface ProgramVersionSummary {
  version: number;
  effective_from: Date | null;
  created_at: Date;
}

export async function listProgramVersions(
  db: Queryable,
  retailerId: string,
): Promise<ProgramVersionSummary[]> {
  return db.query<ProgramVersionSummary>(
    'SELECT version, effective_from, created_at FROM program_versions WHERE retailer_id = $1 ORDER BY version',
    [retailerId],
  );
}

/** The newest version, locked: new versions are numbered one at a time per retailer. */
export async function lockLatestProgramVersion(
  tx: Tx,
  retailerId: string,
): Promise<ProgramVersionRow | undefined> {
  const rows = await tx.query<ProgramVersionRow>(
    `SELECT retailer_id, version, effective_from, document, created_at FROM program_versions
     WHERE retailer_id = $1 ORDER BY version DESC LIMIT 1 FOR UPDATE`,
    [retailerId],
  );
  return rows[0];
}
