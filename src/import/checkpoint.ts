import { createHash } from 'node:crypto';
import {
  closeSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import type { ImportFormat, ImportKind } from './import.types.js';

/**
 * The checkpoint of an interrupted import (issue #6): the last line up to which every row is done,
 * so a resume skips the rows before it without asking the database. Only a shortcut: rows are
 * idempotent by themselves, so a lost or stale checkpoint costs time, never a double import. It is
 * kept beside the file (`FILE.laurel-checkpoint`) and removed when the import completes.
 */

export interface ImportCounts {
  /** Rows (CSV transactions: transactions) read and settled. */
  rows: number;
  imported: number;
  /** Imported purchases that earned nothing, by reason (member_not_found, member_not_enrolled). */
  not_awarded: Record<string, number>;
  /** Imported transactions that changed one imported or sent before: returns and edits. */
  edits: number;
  /** Already in the database with the same data: skipped. */
  present: number;
  rejected: number;
}

export const emptyCounts = (): ImportCounts => ({
  rows: 0,
  imported: 0,
  not_awarded: {},
  edits: 0,
  present: 0,
  rejected: 0,
});

/** What identifies a file: a changed file starts over. */
export interface FileIdentity {
  size: number;
  mtime_ms: number;
  /** SHA-256 of its first 64 KiB. */
  head: string;
}

export interface Checkpoint {
  version: 1;
  kind: ImportKind;
  format: ImportFormat;
  retailer_id: string;
  file: FileIdentity;
  /** Every row ending on or before this line is done. */
  line: number;
  /** Byte offset just past that line. */
  end: number;
  counts: ImportCounts;
  rejects: { path: string; bytes: number };
  /**
   * Balances: the instant the positions are of (ISO), which a resume keeps when `--cutover` is not
   * given: the default, the import's clock at the first run's start, has moved on by then.
   */
  cutover?: string;
  /** When the import this checkpoint belongs to started, first run. */
  started_at: string;
  saved_at: string;
}

export function fileIdentity(path: string): FileIdentity {
  const st = statSync(path);
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(Math.min(64 * 1024, st.size));
    const n = head.length ? readSync(fd, head, 0, head.length, 0) : 0;
    return {
      size: st.size,
      mtime_ms: Math.trunc(st.mtimeMs),
      head: createHash('sha256').update(head.subarray(0, n)).digest('hex'),
    };
  } finally {
    closeSync(fd);
  }
}

/** The checkpoint at `path` if it belongs to this import of this very file, else undefined. */
export function loadCheckpoint(
  path: string,
  expect: Pick<Checkpoint, 'kind' | 'format' | 'retailer_id' | 'file'>,
): Checkpoint | undefined {
  let cp: Checkpoint;
  try {
    cp = JSON.parse(readFileSync(path, 'utf8')) as Checkpoint;
  } catch {
    return undefined;
  }
  const same =
    cp.version === 1 &&
    cp.kind === expect.kind &&
    cp.format === expect.format &&
    cp.retailer_id === expect.retailer_id &&
    cp.file?.size === expect.file.size &&
    cp.file.mtime_ms === expect.file.mtime_ms &&
    cp.file.head === expect.file.head &&
    Number.isInteger(cp.line) &&
    cp.line >= 0;
  return same ? cp : undefined;
}

/** Writes the checkpoint aside and renames it into place, so a crash leaves the old one or the new. */
export function saveCheckpoint(path: string, cp: Checkpoint): void {
  const aside = `${path}.${process.pid}.tmp`;
  writeFileSync(aside, `${JSON.stringify(cp)}\n`);
  renameSync(aside, path);
}

export function removeCheckpoint(path: string): void {
  rmSync(path, { force: true });
}
