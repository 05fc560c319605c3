/**
 * What every benchmark scenario shares: figures printed as JSON lines, latency percentiles, child
 * processes of the built CLI, the peak resident memory of a child, and an HTTP load generator.
 * Timings are for reading, never asserted (issue #8).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export { prng } from '../src/domain/prng.js';

// Compiled to .laurel/bench/bench/: the repository is three levels up.
export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const CLI = join(ROOT, 'dist', 'cli.js');

export interface Figure {
  figure: string;
  value: number;
  unit: string;
  [extra: string]: unknown;
}

/** Every figure printed in this run, for the closing table. */
export const figures: Figure[] = [];

export function figure(name: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  const f: Figure = { figure: name, value, unit, ...extra };
  figures.push(f);
  process.stdout.write(`${JSON.stringify(f)}\n`);
}

export const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

export const mib = (bytes: number): number => Math.round(bytes / 2 ** 20);
export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

/** The p-th percentile (0–100) of sorted values, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** DATABASE_URL with the search_path set to `schema`. */
export function urlWithSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

export interface Run {
  stdout: string;
  seconds: number;
  peakRssBytes: number;
}

/**
 * Peak resident memory of a running process, from `/proc/PID/status` (`VmHWM`). Linux only; 0
 * elsewhere. `resetPeak` starts a new measuring window (writing 5 to `clear_refs` resets VmHWM).
 */
export function peakRss(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function resetPeak(pid: number): void {
  for (const p of processTree(pid)) {
    try {
      writeFileSync(`/proc/${p}/clear_refs`, '5');
    } catch {
      // Not Linux, or not allowed: the peak then covers the process's whole life, which is still a bound.
    }
  }
}

/** Clock ticks per second of `/proc/PID/stat`'s CPU times (`getconf CLK_TCK`; 100 on Linux). */
const TICKS = (() => {
  try {
    const n = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) each live process has used, from `/proc/PID/stat`; none off Linux. */
export function cpuSeconds(pids: readonly number[]): Map<number, number> {
  const used = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      used.set(pid, (Number(f[11]) + Number(f[12])) / TICKS);
    } catch {
      // Ended, or not Linux.
    }
  }
  return used;
}

/**
 * CPU seconds processes used between two readings of `cpuSeconds`: a process born in between counts
 * from zero (a PostgreSQL backend forked for a new connection starts at none); one gone by the end is
 * left out (a bound from below).
 */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, s] of after) sum += s - (before.get(pid) ?? 0);
  return sum;
}

/** `pid` and its live children (the workers of `serve --workers N`), from /proc; just `pid` elsewhere. */
export function processTree(pid: number): number[] {
  const tree = [pid];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return tree;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) tree.push(Number(entry));
    } catch {
      // Ended while read.
    }
  }
  return tree;
}

/**
 * Peak resident memory of a server: the sum of the peaks of its processes (the primary and its
 * workers), each since its last `resetPeak`. A bound on the server's total, as the processes need not
 * peak at the same moment.
 */
export function serverPeakRss(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + peakRss(p), 0);
}

/** Samples a child's peak RSS until it exits (the last sample before exit is its peak, within 50 ms). */
function watchPeak(child: ChildProcess): () => number {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, peakRss(child.pid!))), 50);
  child.once('exit', () => clearInterval(timer));
  return () => peak;
}

/** Runs the built `laurel` CLI to its end; fails with its output when it exits non-zero. */
export function laurel(args: string[], env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Promise<Run> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const peak = watchPeak(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code === 0) done({ stdout, seconds, peakRssBytes: peak() });
      else fail(new Error(`laurel ${args.join(' ')} exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
}

export interface Server {
  base: string;
  pid: number;
  banner: string;
  field(name: string): string;
  stop(): Promise<void>;
}

/** Starts `laurel serve` on a free port (with `nodeArgs` for node, e.g. `--cpu-prof`) and waits for its banner. */
export async function serve(
  args: string[],
  env: NodeJS.ProcessEnv,
  nodeArgs: string[] = [],
): Promise<Server> {
  const child = spawn(
    process.execPath,
    [...nodeArgs, CLI, 'serve', '--port', '0', '--log-level', 'warn', ...args],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`serve did not start:\n${stdout}\n${stderr}`)), 120_000);
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      if (/openapi\.json\n/.test(stdout)) {
        clearTimeout(timer);
        done();
      }
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      fail(new Error(`serve exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
  const banner = stdout.slice(stdout.search(/Laurel [\d.]+ listening on/));
  const base = /listening on (http:\/\/localhost:\d+)/.exec(banner)![1]!.replace('localhost', '127.0.0.1');
  return {
    base,
    pid: child.pid!,
    banner,
    field(name) {
      const m = new RegExp(`^  ${name}:\\s+(\\S+)$`, 'm').exec(banner);
      if (!m) throw new Error(`the banner has no ${name}:\n${banner}`);
      return m[1]!;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const closed = new Promise((done) => child.once('close', done));
      child.kill('SIGTERM');
      await closed;
    },
  };
}

export interface HttpAnswer {
  status: number;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

/** One HTTP request over the shared keep-alive agent. */
export function request(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<HttpAnswer> {
  return new Promise((done, fail) => {
    const req = http.request(
      `${base}${path}`,
      {
        method,
        agent,
        headers: {
          ...headers,
          ...(body !== undefined
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
            : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => (text += s));
        res.on('end', () => done({ status: res.statusCode ?? 0, body: text }));
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

export const basic = (key: string, secret: string): string =>
  `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The first unexpected answer, to name in the report. */
  firstError?: string;
}

/**
 * Closed-loop load: `clients` workers, each sending its next request as soon as the last answers,
 * until `seconds` pass or `limit` requests were sent. `next(i)` builds request number i; an answer
 * other than 200 counts as an error (and is kept out of the latencies).
 */
export async function load(
  base: string,
  clients: number,
  seconds: number,
  next: (i: number) => { method: string; path: string; headers: Record<string, string>; body?: string },
  limit = Number.POSITIVE_INFINITY,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let sent = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(Math.round(seconds * 1e9));
  const worker = async () => {
    while (process.hrtime.bigint() < deadline && sent < limit) {
      const r = next(sent++);
      const t0 = process.hrtime.bigint();
      const answer = await request(base, r.method, r.path, r.headers, r.body);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (answer.status === 200) latencies.push(ms);
      else {
        errors++;
        firstError ??= `${answer.status} ${answer.body.slice(0, 300)}`;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    seconds: elapsed,
    perSecond: latencies.length / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ...(firstError ? { firstError } : {}),
  };
}
