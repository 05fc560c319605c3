import type { Figure } from './lib.js';

const fmt = (v: unknown): string =>
  typeof v === 'number'
    ? v.toLocaleString('en-US', { maximumFractionDigits: 4 })
    : v === undefined
      ? ''
      : String(v);

/** The closing table: one row per figure, with its latency, ratio to the baseline and peak memory. */
export function printTable(figures: readonly Figure[]): void {
  const rows = figures
    .filter((f) => f.figure !== 'machine')
    .map((f) => [
      f.figure,
      `${fmt(f.value)} ${f.unit}`,
      fmt(f.p50_ms),
      fmt(f.p99_ms),
      fmt(f.ratio_to_baseline),
      fmt(f.server_peak_rss_mib ?? f.peak_rss_mib),
    ]);
  const head = ['figure', 'value', 'p50 ms', 'p99 ms', 'ratio', 'peak RSS MiB'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stderr.write(`\n${line(head)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const r of rows) process.stderr.write(`${line(r)}\n`);
}
