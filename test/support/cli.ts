import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, inject } from 'vitest';
import { createTestSchema, dropTestSchema, urlWithSchema } from './databases.js';

/**
 * The `laurel` command as a user runs it: the built CLI (`dist/cli.js`) in real child processes.
 * Register `ensureBuilt` in beforeAll and `cleanUp` in afterEach/afterAll.
 */

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'dist', 'cli.js');

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export type Child = ChildProcess & { out: Result };
const children = new Set<Child>();
const tempDirs: string[] = [];

/** Builds the CLI if it is missing (a fresh clone running one test file). */
export function ensureBuilt(): void {
  if (!existsSync(CLI)) {
    const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    expect(build.status).toBe(0);
  }
}

/** The gift-card key of child servers, so they write no key file; a test passes '' to test the file. */
export const CHILD_GIFT_CARD_KEY = '07'.repeat(32);

/** The environment of a child: ours without anything that configures Laurel, plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of [
    'DATABASE_URL',
    'LAUREL_DATA_DIR',
    'PORT',
    'HOST',
    'LOG_LEVEL',
    'LAUREL_SWEEP_INTERVAL',
    'LAUREL_GIFT_CARD_KEY',
    'LAUREL_GIFT_CARD_KEY_FILE',
    'LAUREL_WORKERS',
  ]) {
    delete env[k];
  }
  // One process per server unless a test asks for more (`--workers` wins over LAUREL_WORKERS): a
  // worker per core doubles every PostgreSQL server's start on a shared two-core machine, and the
  // tests of `--workers` itself (test/cli/workers.test.ts) ask for two.
  return { ...env, LAUREL_GIFT_CARD_KEY: CHILD_GIFT_CARD_KEY, LAUREL_WORKERS: '1', ...extra };
}

export function start(args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as Child;
  child.out = { code: null, signal: null, stdout: '', stderr: '' };
  children.add(child);
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (child.out.stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (child.out.stderr += s));
  child.once('close', (code, signal) => {
    child.out.code = code;
    child.out.signal = signal;
    children.delete(child);
  });
  return child;
}

/** Resolves when the child has exited and its output is complete. */
export function exited(child: Child): Promise<Result> {
  if (!children.has(child)) return Promise.resolve(child.out);
  return new Promise((done) => child.once('close', () => done(child.out)));
}

/** Runs `laurel ...args` to completion. */
export function laurel(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return exited(start(args, env));
}

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'laurel-cli-'));
  tempDirs.push(d);
  return d;
}

/**
 * A new data directory that already holds a migrated embedded database, copied from the one the
 * global setup made once per run (test/support/global-setup.ts): a fresh directory costs PGlite's
 * initdb on disk, many seconds of CPU on a busy machine. For tests of what a command does with a
 * database, not of creating one (those take a `tempDir()`, as the migrate tests and the README's
 * quick start do).
 */
export function migratedDataDir(): string {
  const dir = tempDir();
  cpSync(join(inject('laurelTemplate'), 'data'), dir, {
    recursive: true,
    filter: (src) => !src.endsWith('laurel.lock'),
  });
  return dir;
}

/** Stderr of a failed command: exactly one line. */
export function oneLine(r: Result): string {
  const lines = r.stderr.split('\n');
  expect(lines.at(-1), 'stderr ends with a newline').toBe('');
  expect(lines.slice(0, -1), `stderr is one line: ${r.stderr}`).toHaveLength(1);
  return lines[0]!;
}

export interface Server {
  child: Child;
  base: string;
  banner: string;
  /** A value of the banner, e.g. `api_key`. */
  field(name: string): string;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<Result>;
}

/**
 * Starts `laurel serve ...args` and waits for its banner (which ends with the line `until` matches),
 * at most `startMs` (several workers start one after the primary: give them longer).
 */
export async function serve(
  args: string[],
  env: Record<string, string> = {},
  until = /openapi\.json\n/,
  startMs = 45_000,
): Promise<Server> {
  const child = start(['serve', '--port', '0', ...args], env);
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`serve did not start:\n${child.out.stdout}\n${child.out.stderr}`)),
      startMs,
    );
    const check = () => {
      const m = /listening on http:\/\/localhost:\d+/.exec(child.out.stdout);
      if (m && until.test(child.out.stdout.slice(m.index))) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        done();
      }
    };
    child.stdout!.on('data', check);
    child.once('close', () => {
      clearTimeout(timer);
      fail(new Error(`serve exited with ${child.out.code}: ${child.out.stderr}`));
    });
  });
  const from = child.out.stdout.search(/Laurel [\d.]+ listening on/);
  const banner = child.out.stdout.slice(from);
  const base = /listening on (http:\/\/localhost:\d+)/.exec(banner)![1]!;
  return {
    child,
    base,
    banner,
    field(name) {
      const m = new RegExp(`^  ${name}:\\s+(\\S+)$`, 'm').exec(banner);
      expect(m, `banner has ${name}`).not.toBeNull();
      return m![1]!;
    },
    async stop() {
      child.kill('SIGTERM');
      return exited(child);
    },
  };
}

export const basic = (key: string, secret: string) =>
  `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;

export interface ApiResponse {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function call(
  base: string,
  method: string,
  path: string,
  authorization?: string,
  body?: unknown,
): Promise<ApiResponse> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(authorization ? { authorization } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Kills every child still running and removes the temporary directories. */
export async function cleanUp(): Promise<void> {
  for (const child of [...children]) {
    child.kill('SIGKILL');
    await exited(child);
  }
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * A fresh PostgreSQL schema of `url` for every test of the enclosing describe block (registers its
 * beforeEach and afterEach; the afterEach also runs `cleanUp`). Returns the environment for the
 * children, `{ DATABASE_URL }` selecting the current test's schema, updated in place before each test.
 */
export function schemaPerTest(url: string): Record<string, string> {
  const env: Record<string, string> = {};
  let schema: string;
  beforeEach(async () => {
    schema = await createTestSchema(url);
    env.DATABASE_URL = urlWithSchema(url, schema);
  });
  afterEach(async () => {
    await cleanUp();
    await dropTestSchema(url, schema);
  });
  return env;
}
