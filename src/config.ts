import { LaurelError } from './errors.js';

/** Configuration from flags and environment (README, "Configuration"). Flags win over the environment. */
export interface ServeConfig {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string | undefined;
  clock: 'real' | 'simulated';
  now: Date | undefined;
  demo: boolean;
  /** Members of the demo retailer `--demo` creates on an empty database. */
  demoCustomers: number;
  /** Months of simulated history the demo members get (0: none). */
  demoMonths: number;
  logLevel: string;
  bodyLimit: number;
  /** Seconds between rollover sweeps (DESIGN §5); 0 runs no sweeper in this process. */
  sweepInterval: number;
  /** NATS URL every event is also published to (`--events-broker`, issue #17); none when absent. */
  eventsBroker?: string | undefined;
}

/**
 * `LAUREL_EVENTS_FIRST_RETRY_MS`: the wait before a failed delivery's first retry (default 5000;
 * later ones double). Tests shorten it; operators have no reason to.
 */
export function envFirstRetryMs(): number | undefined {
  const v = process.env.LAUREL_EVENTS_FIRST_RETRY_MS;
  if (!v) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 5000)
    throw new Error('LAUREL_EVENTS_FIRST_RETRY_MS must be a whole number of milliseconds from 1 to 5000');
  return n;
}

/**
 * `LAUREL_EVENTS_LEASE_MS`: how long a claimed delivery attempt is its server's before another
 * server may make it again (default 30000, docs/events.md). It should exceed an attempt's 10 s
 * timeout, or a slow attempt may be made twice at once (still at least once); tests shorten it.
 */
export function envEventsLeaseMs(): number {
  return envInteger('LAUREL_EVENTS_LEASE_MS', 30_000, 1000, 3_600_000);
}

/** `--sweep-interval` / `LAUREL_SWEEP_INTERVAL` when neither is given. */
export const DEFAULT_SWEEP_INTERVAL = 60;

export const DEFAULT_DATA_DIR = './.laurel/data';

export function envDataDir(): string {
  return process.env.LAUREL_DATA_DIR || DEFAULT_DATA_DIR;
}

export function envDatabaseUrl(): string | undefined {
  return process.env.DATABASE_URL || undefined;
}

/**
 * Whether statements are prepared by name on server PostgreSQL (`LAUREL_PREPARED_STATEMENTS`, `on`
 * by default): each connection then plans a statement once. `off` for a connection pooler that
 * cannot keep prepared statements, such as PgBouncer in transaction mode before 1.21.
 */
export function envPreparedStatements(): boolean {
  const v = (process.env.LAUREL_PREPARED_STATEMENTS ?? '').trim().toLowerCase();
  if (v === '' || v === 'on') return true;
  if (v === 'off') return false;
  throw new LaurelError(
    'validation',
    `LAUREL_PREPARED_STATEMENTS must be on or off, not ${JSON.stringify(v)}`,
  );
}

/** Connections of a server process's PostgreSQL pool when `LAUREL_DB_POOL` is not set. */
export const DEFAULT_DB_POOL = 10;

/**
 * Connections each server process may open to PostgreSQL (`LAUREL_DB_POOL`, default 10; under
 * `serve --workers N` the database sees up to N times as many). Measured in docs/benchmarks.md.
 */
export function envDbPool(): number {
  const v = (process.env.LAUREL_DB_POOL ?? '').trim();
  if (v === '') return DEFAULT_DB_POOL;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 1000) {
    throw new LaurelError(
      'validation',
      `LAUREL_DB_POOL must be a whole number from 1 to 1000, not ${JSON.stringify(v)}`,
    );
  }
  return n;
}

/** How the till's writes are grouped into shared transactions (issue #15; docs/decisions). */
export interface GroupCommitConfig {
  /** Most requests in one batch (`LAUREL_GROUP_COMMIT_SIZE`); 1 sends each request alone. */
  maxSize: number;
  /** Longest a request waits for others to join its batch, in milliseconds (`LAUREL_GROUP_COMMIT_WINDOW_MS`). */
  windowMs: number;
  /** Batches in flight at once, each on its own connection (`LAUREL_GROUP_COMMIT_BATCHES`). */
  concurrency: number;
}

/** Defaults chosen by measurement (docs/benchmarks.md, "Group commit"). */
export const DEFAULT_GROUP_COMMIT: GroupCommitConfig = { maxSize: 32, windowMs: 1, concurrency: 4 };

function envInteger(name: string, fallback: number, min: number, max: number): number {
  const raw = (process.env[name] ?? '').trim();
  if (raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new LaurelError(
      'validation',
      `${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

/** The group commit's settings from the environment, each falling back to its default. */
export function envGroupCommit(): GroupCommitConfig {
  return {
    maxSize: envInteger('LAUREL_GROUP_COMMIT_SIZE', DEFAULT_GROUP_COMMIT.maxSize, 1, 1000),
    windowMs: envInteger('LAUREL_GROUP_COMMIT_WINDOW_MS', DEFAULT_GROUP_COMMIT.windowMs, 0, 100),
    concurrency: envInteger('LAUREL_GROUP_COMMIT_BATCHES', DEFAULT_GROUP_COMMIT.concurrency, 1, 64),
  };
}

/** Whose forwarded headers to believe: none, the connection's own peer only, or listed addresses. */
export type TrustProxy = false | string | ((address: string, hop: number) => boolean);

/** Trusts the peer of the connection (hop 0) and nothing beyond it (the adversarial review of #13). */
const trustNearestHop = (_address: string, hop: number): boolean => hop === 0;

/**
 * Which proxies' `X-Forwarded-*` headers the server believes (`LAUREL_TRUST_PROXY`; issue #13 item
 * 7): `off` by default, so a client cannot claim https or another address; `on` trusts the one
 * proxy the server's connection comes from, so the client's address is the one that proxy appended
 * to `X-Forwarded-For` (never a left-most entry a client wrote itself, which would let a stranger
 * spend another address's failed-authentication allowance); a list of addresses or CIDR ranges (`10.0.0.1,10.1.0.0/16`) trusts those. Behind a TLS proxy, set it so the console's
 * cookies are `Secure` and the failed-authentication limits see the client's own address.
 */
export function envTrustProxy(): TrustProxy {
  const v = (process.env.LAUREL_TRUST_PROXY ?? '').trim();
  if (v === '' || v.toLowerCase() === 'off') return false;
  if (v.toLowerCase() === 'on') return trustNearestHop;
  if (/^[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*$/.test(v)) return v;
  throw new LaurelError(
    'validation',
    `LAUREL_TRUST_PROXY must be off, on or a list of addresses, not ${JSON.stringify(v)}`,
  );
}

/**
 * The bearer token `GET /metrics` asks for (`LAUREL_METRICS_TOKEN`), or undefined: the endpoint is
 * then open, since it carries no personal data (docs/operations.md). An environment variable only,
 * so the token never shows on a command line.
 */
export function envMetricsToken(): string | undefined {
  return process.env.LAUREL_METRICS_TOKEN || undefined;
}
