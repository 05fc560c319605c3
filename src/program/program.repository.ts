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

/** A program version as `programAtColumn` carries it inside a JSON answer. */
export interface ProgramJson {
  retailer_id: string;
  version: number;
  effective_ms: number | null;
  document: ProgramDocument;
  created_ms: number;
}

/**
 * A scalar subquery giving, as JSON, the version of the retailer's program in force at `at` (SQL
 * expressions), as `findProgramAt` reads it: for statements that read it beside other things.
 */
export function programAtColumn(retailerId: string, at: string): string {
  return `(SELECT json_build_object('retailer_id', retailer_id, 'version', version,
            'effective_ms', (extract(epoch FROM effective_from) * 1000)::bigint, 'document', document,
            'created_ms', (extract(epoch FROM created_at) * 1000)::bigint)
          FROM program_versions WHERE retailer_id = ${retailerId} AND (effective_from IS NULL OR effective_from <= ${at})
          ORDER BY version DESC LIMIT 1)`;
}

export function programOf(p: ProgramJson): ProgramVersionRow {
  return {
    retailer_id: p.retailer_id,
    version: p.version,
    effective_from: p.effective_ms === null ? null : new Date(Number(p.effective_ms)),
    document: p.document,
    created_at: new Date(Number(p.created_ms)),
  };
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
