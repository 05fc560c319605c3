/**
 * The machine's own limit, measured in the same run (issue #8 "Baselines, same run"): pgbench's
 * TPC-B-like script with `--protocol=prepared` at the same client concurrency as the ingestion
 * scenario, and its select-only script, against a scratch database on the same PostgreSQL server.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { log, percentile } from './lib.js';

export interface PgbenchResult {
  tps: number;
  p50Ms: number;
  p99Ms: number;
  transactions: number;
}

function connectionArgs(url: string): { args: string[]; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const args = ['-h', u.hostname || '127.0.0.1', '-p', u.port || '5432'];
  if (u.username) args.push('-U', decodeURIComponent(u.username));
  const env = { ...process.env, ...(u.password ? { PGPASSWORD: decodeURIComponent(u.password) } : {}) };
  return { args, env };
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn('pgbench', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  return new Promise((done, fail) => {
    child.once('error', (err) =>
      fail(new Error(`pgbench could not start (${err.message}); install postgresql-client`)),
    );
    child.once('close', (code) =>
      code === 0 ? done(out) : fail(new Error(`pgbench ${args.join(' ')} exited with ${code}:\n${out}`)),
    );
  });
}

/** A pgbench session: a scratch database initialised once, then scripts run against it. */
export class Pgbench {
  private constructor(
    private readonly url: string,
    private readonly database: string,
    private readonly scale: number,
  ) {}

  /** Creates and initialises the scratch database (scale ≥ clients, so branches are not the bottleneck). */
  static async open(url: string, clients: number): Promise<Pgbench> {
    const scale = Math.max(10, clients);
    // Its own name, so two runs on one server (a CI smoke run beside a full run) never collide.
    const database = `laurel_bench_pgbench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${database}`);
    } finally {
      await admin.end();
    }
    const bench = new Pgbench(url, database, scale);
    const { args, env } = connectionArgs(url);
    log(`pgbench: initialising scale ${scale}`);
    try {
      await run(['-i', '-q', '-s', String(scale), ...args, database], env);
    } catch (err) {
      await bench.close();
      throw err;
    }
    return bench;
  }

  /** TPC-B-like (`select`: false) or select-only, `clients` connections for `seconds`. */
  async measure(select: boolean, clients: number, seconds: number): Promise<PgbenchResult> {
    const { args, env } = connectionArgs(this.url);
    const dir = mkdtempSync(join(tmpdir(), 'laurel-pgbench-'));
    try {
      const threads = Math.min(clients, 2);
      const out = await run(
        [
          ...(select ? ['-S'] : []),
          '--protocol=prepared',
          '-c',
          String(clients),
          '-j',
          String(threads),
          '-T',
          String(Math.max(1, Math.round(seconds))),
          '-l',
          '--log-prefix',
          join(dir, 'tx'),
          ...args,
          this.database,
        ],
        env,
      );
      const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(out);
      if (!tps) throw new Error(`pgbench printed no tps:\n${out}`);
      // Per-transaction log lines: client_id transaction_no time_us script_no time_epoch time_us.
      const latencies: number[] = [];
      for (const f of readdirSync(dir)) {
        for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
          const us = Number(line.split(' ')[2]);
          if (line && Number.isFinite(us)) latencies.push(us / 1000);
        }
      }
      latencies.sort((a, b) => a - b);
      return {
        tps: Number(tps[1]),
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        transactions: latencies.length,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  get scaleFactor(): number {
    return this.scale;
  }

  async close(): Promise<void> {
    const admin = new pg.Client({ connectionString: this.url });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${this.database}`);
    } finally {
      await admin.end();
    }
  }
}
