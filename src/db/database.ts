import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { envDbPool, envPreparedStatements } from '../config.js';
import { LaurelError } from '../errors.js';

/**
 * The one query layer over embedded PGlite and server PostgreSQL (docs/decisions/0001-storage.md).
 * Repositories take a `Queryable` (the database or a transaction); a function that must run inside
 * a transaction takes a `Tx`.
 */
export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

/** A handle that is inside a transaction. The brand keeps a plain pool from being passed by mistake. */
export interface Tx extends Queryable {
  readonly inTransaction: true;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export type DatabaseKind = 'pglite' | 'postgres';

export interface Database extends Queryable {
  readonly kind: DatabaseKind;
  /** Runs `fn` in one transaction; rolls back on any throw. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
  /** Connections of a server pool, for `GET /metrics`; absent on the embedded database (one connection). */
  poolStats?(): PoolStats;
  /**
   * Hears `NOTIFY channel` from every process on the database until the returned function is
   * called. `onGap` is called when notifications may have been missed (a lost connection, once
   * it is back). Optional: wrappers in tests need not listen.
   */
  listen?(
    channel: string,
    onNotice: (payload: string) => void,
    onGap: () => void,
  ): Promise<() => Promise<void>>;
}

export interface PoolStats {
  /** Connections open, idle among them, and callers waiting for one. */
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

// int8 and numeric arrive as strings from `pg` and as numbers from PGlite; points fit in 2^53, so
// both read int8 as a number. Dates are always selected as text or timestamptz, never `date`.
pg.types.setTypeParser(20, (v) => Number(v));

export interface PostgresOptions {
  url: string;
  /** Schema to use as search_path (tests isolate themselves this way). */
  schema?: string;
  max?: number;
  /** Prepare statements by name (`statement`); on unless a pooler cannot keep them. */
  prepare?: boolean;
}

const PG_CONNECTION_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);
const NODE_CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND']);
/** What `pg` and pg-pool say, without a code, when a connection is lost or cannot be had. */
const CONNECTION_MESSAGES = [
  /Connection terminated/i,
  /connection timeout/i,
  /Client has encountered a connection error/i,
  // The pool's wait for a free connection ran out: a stalled database under load (issue #7).
  /timeout exceeded when trying to connect/i,
];

/** True when an error means the database cannot be reached now, so a retry later may succeed. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  if (code && (PG_CONNECTION_CODES.has(code) || NODE_CONNECTION_CODES.has(code))) return true;
  return CONNECTION_MESSAGES.some((m) => m.test(err.message));
}

/**
 * True when a statement failed because its pooled connection was dead before the statement could
 * run: its backend was terminated while the connection sat idle in the pool (an administrator, a
 * failover, a restart: SQLSTATE 57P01), or the client knew itself broken. Such a statement had no
 * effect (a terminated backend rolls back what it was running, and answers a statement it finished
 * before it exits), so it may be sent again on another connection.
 */
export function isStaleConnection(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if ((err as { code?: string }).code === '57P01') return true;
  return /Client has encountered a connection error and is not queryable|Client was closed and is not queryable/i.test(
    err.message,
  );
}

/**
 * Tries for a live connection after a stale one (`isStaleConnection`): a backend termination hits
 * every idle connection of the pool at once, and the pool drops the others as it hears of them, so
 * a turn of the event loop between tries lets it; bounded by the pool's size.
 */
async function onLiveConnection<T>(max: number, run: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= max || !isStaleConnection(err)) throw err;
      await new Promise((done) => setImmediate(done));
    }
  }
}

/** Distinct statements prepared per process at most; any beyond it run unnamed (bounded memory). */
const MAX_PREPARED = 1000;
const preparedNames = new Map<string, string>();

/**
 * The statement to send for `sql`: named after a hash of its text, so each connection parses and
 * plans it once and PostgreSQL can keep its plan (issue #8: planning the member lookup's statements
 * cost more than running them). Statements without parameters, and any past the cap, go unnamed.
 */
export function statement(sql: string, params: readonly unknown[], prepare = true): pg.QueryConfig {
  const values = params as unknown[];
  if (!prepare || !values.length) return { text: sql, values };
  let name = preparedNames.get(sql);
  if (name === undefined) {
    if (preparedNames.size >= MAX_PREPARED) return { text: sql, values };
    name = `laurel_${createHash('sha1').update(sql).digest('base64url').slice(0, 20)}`;
    preparedNames.set(sql, name);
  }
  return { name, text: sql, values };
}

class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  constructor(
    private readonly pool: pg.Pool,
    private readonly prepare: boolean,
    private readonly clientConfig: pg.ClientConfig,
  ) {}

  /**
   * LISTEN on a connection of its own (a pooled one would be handed to others). A lost connection
   * is replaced every second until it is back; then `onGap`, as notifications sent meanwhile are
   * lost.
   */
  async listen(
    channel: string,
    onNotice: (payload: string) => void,
    onGap: () => void,
  ): Promise<() => Promise<void>> {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
    let current: pg.Client | undefined;
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    const connect = async (): Promise<void> => {
      const client = new pg.Client(this.clientConfig);
      client.on('error', () => undefined);
      client.on('notification', (n) => {
        if (n.channel === channel) onNotice(n.payload ?? '');
      });
      client.on('end', () => {
        if (current !== client || stopped) return;
        current = undefined;
        schedule();
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${channel}`);
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      }
      if (stopped) {
        await client.end().catch(() => undefined);
        return;
      }
      current = client;
    };
    const schedule = () => {
      retry = setTimeout(() => {
        connect().then(onGap, schedule);
      }, 1000);
      retry.unref();
    };
    await connect().catch(schedule);
    return async () => {
      stopped = true;
      clearTimeout(retry);
      await current?.end().catch(() => undefined);
    };
  }

  /** Connections the pool may hold: the most stale ones a statement can meet in a row. */
  private get poolSize(): number {
    return this.pool.options.max ?? 10;
  }

  async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    // A connection found dead is dropped and the statement runs on another: after a failover or a
    // termination of the server's backends, the first requests do not fail one per idle connection.
    // Not `pool.query`: it closes the connection on any error, so a statement refused by a rule (a
    // taken email, issue #16) cost a new connection and its prepared statements for the next caller.
    const res = await onLiveConnection(this.poolSize, async () => {
      const client = await this.pool.connect();
      let broken = false;
      try {
        return await client.query(statement(sql, params, this.prepare));
      } catch (err) {
        broken = isConnectionError(err);
        throw err;
      } finally {
        client.release(broken);
      }
    });
    return res.rows as R[];
  }

  /** A pooled client in a transaction just begun; a dead connection met at BEGIN is replaced. */
  private begin(): Promise<pg.PoolClient> {
    return onLiveConnection(this.poolSize, async () => {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
        return client;
      } catch (err) {
        // Nothing ran: BEGIN is the transaction's first statement.
        client.release(isConnectionError(err));
        throw err;
      }
    });
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const client = await this.begin();
    let broken = false;
    try {
      const tx: Tx = {
        inTransaction: true,
        query: async <R>(sql: string, params: readonly unknown[] = []) =>
          (await client.query(statement(sql, params, this.prepare))).rows as R[],
        exec: async (sql: string) => {
          await client.query(sql);
        },
      };
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      broken = isConnectionError(err);
      if (!broken) await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  poolStats(): PoolStats {
    const p = this.pool;
    return { total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount, max: p.options.max ?? 10 };
  }
}

/**
 * Refuses a database URL that is not a PostgreSQL URL before any connection is tried: `pg` reads
 * `notaurl` as a host name and answered `getaddrinfo ENOTFOUND base` (issue #18). The value is not
 * repeated, as it may hold a password.
 */
export function checkPostgresUrl(url: string): void {
  let protocol: string | undefined;
  try {
    protocol = new URL(url).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new LaurelError(
      'validation',
      'DATABASE_URL is not a PostgreSQL URL: expected postgres://user:password@host:5432/database',
    );
  }
}

export async function openPostgres(opts: PostgresOptions): Promise<Database> {
  checkPostgresUrl(opts.url);
  const clientConfig: pg.ClientConfig = {
    connectionString: opts.url,
    options: opts.schema ? `-c search_path=${opts.schema}` : undefined,
    connectionTimeoutMillis: 5000,
  };
  const pool = new pg.Pool({ ...clientConfig, max: opts.max ?? 10 });
  // An idle client that loses its server must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  // Nor a client in use: the pool listens only while a client is idle, and a backend that dies
  // while a transaction waits between statements (the sweeper's lock holder waits a whole sweep),
  // or while a new connection is being handed out, makes it emit 'error' with no listener, which
  // killed the process (issue #7, found by the reliability suite). Heard from the client's first
  // moment, the next statement fails with a connection error instead (503), and the pool drops it.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new PostgresDatabase(pool, opts.prepare ?? true, clientConfig);
  try {
    await db.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  return db;
}

class PGliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  constructor(
    private readonly pg: PGlite,
    private readonly release: () => void,
  ) {}

  async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    const res = await this.pg.query<R>(sql, params as unknown[]);
    return res.rows;
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    // PGlite has one connection; its transaction() holds it exclusively until fn settles.
    return this.pg.transaction(async (t) => {
      const tx: Tx = {
        inTransaction: true,
        query: async <R>(sql: string, params: readonly unknown[] = []) =>
          (await t.query<R>(sql, params as unknown[])).rows,
        exec: async (sql: string) => {
          await t.exec(sql);
        },
      };
      return fn(tx);
    });
  }

  async exec(sql: string): Promise<void> {
    await this.pg.exec(sql);
  }

  /** The whole database as one uncompressed tarball, which `openPGlite` can start from. */
  dump(): Promise<Blob> {
    return this.pg.dumpDataDir('none') as Promise<Blob>;
  }

  /** One process holds an embedded database: notifications come from this very instance. */
  async listen(channel: string, onNotice: (payload: string) => void): Promise<() => Promise<void>> {
    const unlisten = await this.pg.listen(channel, onNotice);
    return async () => {
      await unlisten();
    };
  }

  async close(): Promise<void> {
    try {
      await this.pg.close();
    } finally {
      this.release();
    }
  }
}

const LOCK_FILE = 'laurel.lock';
/** Data directories this process holds, by real path. */
const heldDirs = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite has no cross-process lock on its data directory, and two processes writing one directory
 * corrupt it (issue #2). A lock file holding the owner's pid guards it; a stale lock whose process
 * is gone is taken over.
 */
export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const key = realpathSync(dir);
  // Decided by what this process holds, not by the pid in the file: after a container restart a
  // stale lock often names our own pid (pid 1), and refusing it would lock the directory forever.
  if (heldDirs.has(key)) {
    throw new LaurelError(
      'service_unavailable',
      `data directory ${resolve(dir)} is already open in this process`,
    );
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      // The lock appears with its pid already in it (written aside, then hard-linked into place, which
      // fails if a lock exists), so another process never reads an empty lock and takes it as stale.
      const aside = `${path}.${process.pid}.${attempt}.tmp`;
      writeFileSync(aside, String(process.pid));
      try {
        linkSync(aside, path);
      } finally {
        rmSync(aside, { force: true });
      }
      heldDirs.add(key);
      return () => {
        heldDirs.delete(key);
        rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) {
        throw new LaurelError(
          'service_unavailable',
          `data directory ${resolve(dir)} is in use by another Laurel process (pid ${pid}); stop it or use another --data-dir`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not lock data directory ${resolve(dir)}`);
}

/** Whether `dir` holds an embedded database (a command that only reads must not create one). */
export function hasEmbeddedDatabase(dir: string): boolean {
  return existsSync(join(dir, 'pgdata', 'PG_VERSION'));
}

/** The pid of another live process that holds `dir`, if one does. */
export function dataDirHolder(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(dir, LOCK_FILE), 'utf8'), 10);
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid !== process.pid && processAlive(pid) ? pid : undefined;
}

/**
 * Opens embedded PostgreSQL; `dir` undefined means in memory (tests). An in-memory database may
 * start from a `dumpPGlite` of another instead of an empty cluster: PGlite's initdb takes seconds,
 * loading a dump about one (the tests start every database from one migrated copy).
 */
export async function openPGlite(dir?: string, from?: Blob): Promise<Database> {
  const release = dir ? lockDataDir(dir) : () => undefined;
  try {
    const instance =
      from && !dir
        ? await PGlite.create({ loadDataDir: from })
        : await PGlite.create(dir ? join(dir, 'pgdata') : undefined);
    return new PGliteDatabase(instance, release);
  } catch (err) {
    release();
    throw err;
  }
}

/** A copy of an embedded database's whole contents, for `openPGlite(undefined, copy)`. */
export function dumpPGlite(db: Database): Promise<Blob> {
  if (!(db instanceof PGliteDatabase)) throw new Error('only an embedded database can be dumped');
  return db.dump();
}

export interface DatabaseConfig {
  databaseUrl?: string | undefined;
  dataDir: string;
}

/**
 * `DATABASE_URL` selects server PostgreSQL (preparing statements unless
 * `LAUREL_PREPARED_STATEMENTS=off`); otherwise the embedded database in `dataDir`.
 */
export function openDatabase(cfg: DatabaseConfig): Promise<Database> {
  return cfg.databaseUrl
    ? openPostgres({ url: cfg.databaseUrl, prepare: envPreparedStatements(), max: envDbPool() })
    : openPGlite(cfg.dataDir);
}
