import { existsSync, statSync } from 'node:fs';
import type { Database } from '../db/database.js';
import { LaurelError } from '../errors.js';
import type { CommandIo } from '../cli/db-commands.js';
import type { ImportCounts } from './checkpoint.js';
import { formatOf, runImport, type ImportProgress, type ImportSummary } from './import.service.js';
import type { ImportFormat, ImportKind } from './import.types.js';

/**
 * The `laurel import customers|transactions FILE` command's room around `runImport`: progress on
 * the terminal, the summary, and a clean stop on Ctrl-C (docs/import.md).
 */

/** Refuses a file that cannot be imported before any database work: one clear line. */
export function checkImportFile(file: string, format: ImportFormat | undefined): ImportFormat {
  if (!existsSync(file)) throw new LaurelError('not_found', `file ${file} does not exist`);
  if (!statSync(file).isFile()) throw new LaurelError('validation', `${file} is not a file`);
  return formatOf(file, format);
}

export interface ImportCommandOptions {
  kind: ImportKind;
  file: string;
  format: ImportFormat | undefined;
  retailerId: string;
  rejects: string | undefined;
  concurrency: number;
  restart: boolean;
  /** The database's simulated clock, if it has one: the import runs at that time. */
  clock: Date | undefined;
  /** Seconds between plain progress lines when not on a terminal. */
  progressInterval: number;
  json: boolean;
  /** Customers: the instant Laurel takes over cash-outs (default: the import time); balances: their instant. */
  cutover?: Date | undefined;
  /** Transactions: the old platform's history, earning nothing again. */
  historyOnly?: boolean | undefined;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');

function duration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** One progress line: rows, share of the file, rate and time left. */
export function progressLine(p: ImportProgress): string {
  const seconds = p.elapsedMs / 1000;
  const rate = seconds > 0 ? p.rows / seconds : 0;
  const fraction = p.totalBytes > 0 ? p.bytes / p.totalBytes : 1;
  // Time left from this run's pace through the bytes it had to import (a resume skips the rest fast).
  const worked = p.bytes - p.skippedBytes;
  const left = worked > 0 && seconds > 0 ? ((p.totalBytes - p.bytes) / worked) * seconds * 1000 : undefined;
  return (
    `import ${p.kind}: ${int(p.rows + p.skipped)} rows, ${(fraction * 100).toFixed(1)}%, ${int(rate)} rows/s` +
    `${left !== undefined ? `, ETA ${duration(left)}` : ''}` +
    ` (imported ${int(p.counts.imported)}, already present ${int(p.counts.present)}, rejected ${int(p.counts.rejected)})`
  );
}

function notAwarded(c: ImportCounts): string {
  const parts = Object.entries(c.not_awarded).map(([reason, n]) => `${reason} ${int(n)}`);
  const total = Object.values(c.not_awarded).reduce((a, b) => a + b, 0);
  const notes = [
    ...(total ? [`${int(total)} not awarded: ${parts.join(', ')}`] : []),
    ...(c.edits ? [`${int(c.edits)} returns or edits of earlier transactions`] : []),
  ];
  return notes.length ? ` (${notes.join('; ')})` : '';
}

const peakRssBytes = (): number => process.resourceUsage().maxRSS * 1024;

/** The summary an import prints at the end. */
export function summaryLines(s: ImportSummary, peakRss: number): string[] {
  const c = s.counts;
  const lines = [
    `${s.completed ? 'imported' : 'stopped importing'} ${s.kind} from ${s.file} (${s.format}) in ${duration(s.run.duration_ms)}: ` +
      `${int(s.run.rows)} rows at ${int(s.run.rows_per_second)} rows/s, peak memory ${int(peakRss / 2 ** 20)} MiB`,
  ];
  if (s.resumed_after_line !== null) {
    lines.push(
      `  resumed after line ${int(s.resumed_after_line)} (${int(s.run.skipped)} rows done by an earlier run; the counts cover the whole file)`,
    );
  }
  lines.push(
    `  imported:        ${int(c.imported)}${notAwarded(c)}`,
    `  already present: ${int(c.present)}`,
    `  rejected:        ${int(c.rejected)}${s.rejects_path ? `, each named in ${s.rejects_path}` : ''}`,
  );
  if (!s.completed) {
    lines.push(`  every row up to line ${int(s.line)} is done; run the same command again to resume`);
  }
  if (s.checkpoint_error) lines.push(`  no checkpoint could be kept: ${s.checkpoint_error}`);
  if (s.statistics_error) {
    lines.push(
      `  the tables' statistics could not be refreshed (${s.statistics_error}): run ANALYZE before serving`,
    );
  }
  return lines;
}

/**
 * Runs the import with progress and a summary, written to `io` (the user's terminal, or the CLI
 * that asked a server to run it); `io.signal` stops it cleanly. Resolves when done, rejects when it
 * could not run.
 */
export async function importCommand(db: Database, o: ImportCommandOptions, io: CommandIo): Promise<void> {
  const tty = io.tty;
  const onSignal = () => {
    // Rows in flight finish and the checkpoint is saved; the embedded database closes cleanly.
    if (tty) io.err('\r\x1b[K');
    io.err('stopping: finishing the rows in flight...\n');
  };
  io.signal.addEventListener('abort', onSignal, { once: true });
  const clock = o.clock;
  let summary: ImportSummary;
  try {
    summary = await runImport(db, {
      kind: o.kind,
      file: o.file,
      format: o.format,
      retailerId: o.retailerId,
      rejectsPath: o.rejects,
      concurrency: o.concurrency,
      resume: !o.restart,
      now: clock ? () => clock : () => new Date(),
      cutover: o.cutover,
      historyOnly: o.historyOnly,
      signal: io.signal,
      ...(tty
        ? {
            progressIntervalMs: 250,
            onProgress: (p) => io.err(`\r\x1b[K${progressLine(p).slice(0, (io.columns || 120) - 1)}`),
          }
        : o.json
          ? {}
          : {
              progressIntervalMs: o.progressInterval * 1000,
              onProgress: (p) => io.out(`${progressLine(p)}\n`),
            }),
    });
  } finally {
    if (tty) io.err('\r\x1b[K');
    io.signal.removeEventListener('abort', onSignal);
  }
  const peak = peakRssBytes();
  if (o.json) io.out(`${JSON.stringify({ ...summary, peak_rss_bytes: peak })}\n`);
  else io.out(`${summaryLines(summary, peak).join('\n')}\n`);
  if (!summary.completed) {
    throw new LaurelError(
      'service_unavailable',
      `import stopped after line ${summary.line}; run the same command again to resume`,
    );
  }
}
