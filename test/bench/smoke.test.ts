import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * The CI smoke run of the benchmark suite (issue #8): every scenario at the tiny scale, against
 * server PostgreSQL. It proves the suite still works end to end and that the ledger verifies after
 * it; timings are printed, never asserted.
 */
const url = process.env.DATABASE_URL;

const FIGURES = [
  'pgbench_tpcb',
  'pgbench_select_only',
  'lookup',
  'lookup_cold',
  'ingest_spread',
  'ingest_hot',
  'ingest_spread_webhook',
  'webhook_delivery',
  'returns',
  'sweep',
  'import_customers_rate',
  'import_purchases_rate',
  'copy_purchases_rate',
  'import_to_copy_ratio',
  'pglite_ingest',
  'pglite_lookup',
];

describe.skipIf(!url)('npm run bench --scale tiny [postgres]', () => {
  it('prints every figure beside its baseline and leaves a ledger that verifies', () => {
    const compiled = spawnSync('npx', ['tsc', '-p', 'bench/tsconfig.json'], { encoding: 'utf8' });
    expect(compiled.status, compiled.stdout + compiled.stderr).toBe(0);
    const run = spawnSync(process.execPath, ['.laurel/bench/bench/run.js', '--scale', 'tiny'], {
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL: url },
      timeout: 540_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            figure: string;
            value: number;
            ratio_to_baseline?: number;
            ratio_to_ingest_spread?: number;
            events?: number;
            purchases?: number;
            delivered?: number;
            pending?: number;
            server_cpu_ms_per_request?: number;
            database_cpu_ms_per_request?: number;
          },
      );
    const byName = new Map(lines.map((f) => [f.figure, f]));
    for (const name of FIGURES) {
      const f = byName.get(name);
      expect(f, `figure ${name}`).toBeDefined();
      expect(f!.value, name).toBeGreaterThan(0);
    }
    for (const name of [
      'lookup',
      'lookup_cold',
      'ingest_spread',
      'ingest_hot',
      'ingest_spread_webhook',
      'returns',
      'sweep',
    ]) {
      expect(byName.get(name)!.ratio_to_baseline, name).toBeGreaterThan(0);
    }
    // The webhook scenario (issue #17): compared with ingestion without it, and every event of its
    // purchases (at least purchase.posted each) delivered, none left pending.
    expect(byName.get('ingest_spread_webhook')!.ratio_to_ingest_spread).toBeGreaterThan(0);
    const delivery = byName.get('webhook_delivery')!;
    expect(delivery.events).toBeGreaterThanOrEqual(delivery.purchases!);
    expect(delivery.delivered).toBe(delivery.events);
    expect(delivery.pending).toBe(0);
    expect(run.stderr).toMatch(/ingest_spread_webhook is [\d.]+ × ingest_spread/);
    // What a request cost the server and its database sessions, beside each HTTP figure.
    for (const name of ['lookup', 'ingest_spread', 'returns']) {
      expect(byName.get(name)!.server_cpu_ms_per_request, name).toBeGreaterThan(0);
      expect(byName.get(name)!.database_cpu_ms_per_request, name).toBeGreaterThan(0);
    }
    expect(byName.get('pglite_lookup')!.server_cpu_ms_per_request).toBeGreaterThan(0);
    // Conservation after every scenario: `laurel verify` ran and found nothing wrong, on the
    // scenarios' population and on the sweep's own (the scenarios run on the real clock).
    expect(run.stderr.match(/ledger verified: \d+ journals/g)).toHaveLength(2);
    // The closing table names every figure.
    for (const name of FIGURES) expect(run.stderr).toContain(name);
  }, 600_000);
});
