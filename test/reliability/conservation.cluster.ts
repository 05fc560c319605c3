import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import type { Queryable } from '../../src/db/database.js';
import { exited, serve, type Server } from '../support/cli.js';
import { createTestSchema, dropTestSchema, urlWithSchema } from '../support/databases.js';
import { prng } from '../support/prng.js';
import {
  httpEndpoint,
  type Credentials,
  type Deployment,
  type Endpoint,
  type Faults,
} from './conservation.workload.js';

/**
 * `laurel serve` child processes on one fresh PostgreSQL schema, for the reliability suite: started,
 * killed with SIGKILL and restarted on the same port, and cut off from the database by terminating
 * their backends. Each server connects with its own `application_name`, so the suite terminates only
 * its own servers' connections, never those of other test files running at the same time.
 */
export class Cluster {
  readonly endpoints: Endpoint[];
  private readonly servers: (Server | null)[];
  private readonly ports: number[];
  /** Restarts in progress, by server. */
  private readonly starting = new Map<number, Promise<void>>();
  /** Output of every incarnation of every server, for a discrepancy's diagnosis. */
  private readonly logs: string[] = [];
  /** Servers that exited without being killed: a crash is a discrepancy. */
  readonly crashes: string[] = [];
  /** Starts that failed (and were tried again): expected when a cut hits a starting server. */
  readonly startFailures: string[] = [];
  /** Wrong answers the fault injector saw itself (its burst of reads during a stall). */
  readonly observed: string[] = [];
  private closing = false;

  private constructor(
    private readonly url: string,
    readonly schema: string,
    readonly credentials: Credentials,
    private readonly count: number,
    private readonly checker: pg.Pool,
  ) {
    this.servers = Array.from({ length: count }, () => null);
    this.ports = Array.from({ length: count }, () => 0);
    this.endpoints = Array.from({ length: count }, (_, k) =>
      httpEndpoint(`server ${k}`, () => `http://localhost:${this.ports[k]}`),
    );
  }

  /** `count` servers with their sweepers on (every second), the first creating the demo retailer. */
  static async open(url: string, count: number, start: Date): Promise<Cluster> {
    const schema = await createTestSchema(url);
    const checkUrl = new URL(urlWithSchema(url, schema));
    checkUrl.searchParams.set('application_name', `laurel_check_${schema}`);
    const checker = new pg.Pool({ connectionString: checkUrl.toString(), max: 2 });
    checker.on('error', () => undefined);
    const first = await serve(
      ['--demo', '--clock', 'simulated', '--now', start.toISOString(), ...SERVE_ARGS],
      { DATABASE_URL: serverUrl(url, schema, 0) },
      /expand_incentives=true'\n/,
    );
    const credentials: Credentials = {
      apiKey: first.field('api_key'),
      secret: first.field('secret'),
      adminToken: first.field('admin_token'),
      retailerId: first.field('retailer_id'),
    };
    const cluster = new Cluster(url, schema, credentials, count, checker);
    cluster.adopt(0, first);
    for (let k = 1; k < count; k++) await cluster.restart(k);
    return cluster;
  }

  private adopt(k: number, server: Server): void {
    this.servers[k] = server;
    this.ports[k] = Number(new URL(server.base).port);
    server.child.once('close', (code, signal) => {
      if (this.servers[k] !== server) return; // killed on purpose, or replaced
      this.servers[k] = null;
      this.logs.push(server.child.out.stdout, server.child.out.stderr);
      if (this.closing) return;
      const crash = `server ${k} exited by itself (code ${code}, signal ${signal}): ${server.child.out.stderr.slice(-3000)}`;
      this.crashes.push(crash);
      if (process.env.LAUREL_RELIABILITY_VERBOSE === '1') console.log(crash);
      // As a supervisor would: start it again, so the run goes on and reports every crash.
      this.restart(k).catch(() => undefined);
    });
  }

  /**
   * (Re)starts server `k` unless it runs or is starting: no `--now` (the clock stays the
   * database's), on the port it had, so clients find it where it was.
   */
  restart(k: number): Promise<void> {
    if (this.servers[k]) return Promise.resolve();
    const running = this.starting.get(k);
    if (running) return running;
    const started = this.start(k).finally(() => this.starting.delete(k));
    this.starting.set(k, started);
    return started;
  }

  /**
   * A server that cannot reach the database while it starts exits non-zero with one line, as
   * `laurel serve` does by design; like a supervisor, try again (a cut may hit a starting server).
   */
  private async start(k: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const port = this.ports[k];
      try {
        const server = await serve(
          ['--clock', 'simulated', ...SERVE_ARGS, ...(port ? ['--port', String(port)] : [])],
          { DATABASE_URL: serverUrl(this.url, this.schema, k) },
        );
        this.adopt(k, server);
        return;
      } catch (err) {
        this.startFailures.push(`server ${k}: ${String(err).trim()}`);
        if (this.closing || attempt >= 20) throw err;
        await sleep(250);
      }
    }
  }

  /** SIGKILL: no shutdown, in-flight requests and transactions cut off wherever they are. */
  async kill(k: number): Promise<void> {
    const server = this.servers[k];
    if (!server) return;
    this.servers[k] = null;
    server.child.kill('SIGKILL');
    const out = await exited(server.child);
    this.logs.push(out.stdout, out.stderr);
  }

  get size(): number {
    return this.count;
  }

  /** Running, not starting. */
  isUp(k: number): boolean {
    return this.servers[k] !== null;
  }

  /**
   * The database stalls: `users` (which every request of a member reads or locks) is locked
   * exclusively for `ms` on a connection of the test's own, then let go.
   */
  async stall(ms: number): Promise<void> {
    const holder = await this.checker.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      await sleep(ms);
      await holder.query('ROLLBACK');
      holder.release();
    } catch (err) {
      holder.release(true);
      throw err;
    }
  }

  /** Terminates every backend of these servers (all by default); answers how many. */
  async terminateBackends(servers?: number[]): Promise<number> {
    const names = (servers ?? Array.from({ length: this.count }, (_, k) => k)).map(
      (k) => `laurel_rel_${this.schema}_${k}`,
    );
    const rows = await this.checker.query<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = ANY($1)`,
      [names],
    );
    return rows.rows[0]?.n ?? 0;
  }

  /** Runs `fn` in one read-only snapshot on the test's own connection (retried across an outage). */
  async inspect<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient | undefined;
      try {
        client = await this.checker.connect();
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const c = client;
        const result = await fn({
          query: async <R>(sql: string, params: readonly unknown[] = []) =>
            (await c.query(sql, params as unknown[])).rows as R[],
        });
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (err) {
        client?.release(true);
        if (attempt >= 20 || !/connect|terminat|shutting down|starting up/i.test(String(err))) throw err;
        await new Promise((done) => setTimeout(done, 500));
      }
    }
  }

  /**
   * What the servers logged at level error that a fault does not explain: anything but a sweep
   * that failed because the database connection was cut (the sweeper retries at its next tick).
   */
  loggedProblems(): string[] {
    const out: string[] = [];
    for (const line of this.allOutput().flatMap((chunk) => chunk.split('\n'))) {
      if (!line.startsWith('{')) continue;
      let entry: { level?: number; msg?: string; err?: { message?: string; code?: string } };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      if ((entry.level ?? 0) < 50) continue;
      const cut = /terminat|connect|ECONNRESET|ECONNREFUSED|shutting down|starting up/i.test(
        `${entry.err?.message ?? ''} ${entry.err?.code ?? ''}`,
      );
      if (entry.msg === 'sweeper: sweep failed; retrying at the next tick' && cut) continue;
      out.push(`server log: ${line.slice(0, 1500)}`);
    }
    return out;
  }

  private allOutput(): string[] {
    return [
      ...this.logs,
      ...this.servers.flatMap((s) => (s ? [s.child.out.stdout, s.child.out.stderr] : [])),
    ];
  }

  /** Lines the servers logged at level error or above, and what they wrote on stderr. */
  serverErrors(): string {
    return this.allOutput()
      .flatMap((chunk) => chunk.split('\n'))
      .filter(
        (l) =>
          /"level":(50|60)/.test(l) || (l.trim() !== '' && !l.startsWith('{') && !/^ {2}|^Laurel/.test(l)),
      )
      .slice(0, 60)
      .join('\n');
  }

  deployment(name: string, faults?: Faults): Deployment {
    return {
      name,
      endpoints: this.endpoints,
      credentials: this.credentials,
      inspect: (fn) => this.inspect(fn),
      faults,
      problems: () => [...this.crashes, ...this.observed, ...this.loggedProblems()],
      serverErrors: () => this.serverErrors(),
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled(this.starting.values());
    for (let k = 0; k < this.count; k++) {
      const server = this.servers[k];
      this.servers[k] = null;
      if (server) this.logs.push((await server.stop()).stdout);
    }
    await this.checker.end();
    await dropTestSchema(this.url, this.schema);
  }
}

/** Sweepers every second, so they race the clients for every member; warnings and errors only. */
const SERVE_ARGS = ['--sweep-interval', '1', '--log-level', 'warn'];

function serverUrl(url: string, schema: string, k: number): string {
  const u = new URL(urlWithSchema(url, schema));
  u.searchParams.set('application_name', `laurel_rel_${schema}_${k}`);
  return u.toString();
}

const run = promisify(execFile);

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((done) => {
    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      done();
    };
    const timer = setTimeout(finish, ms);
    signal?.addEventListener('abort', finish, { once: true });
  });

/**
 * Crash and restart (issue #7 item 3): while the clients work, at random moments, SIGKILL one server
 * and restart it, or terminate every backend of the running servers; twice a run, stall the
 * database for 6 s under a burst of reads (`stallWithBurst`). With
 * `LAUREL_RELIABILITY_PG_RESTART=1` (local runs only: other test files share the PostgreSQL
 * service in CI) it also restarts PostgreSQL itself with `pg_ctlcluster`.
 */
export class CrashFaults implements Faults {
  private kills = 0;
  private terminations = 0;
  private backends = 0;
  private pgRestarts = 0;
  private stalls = 0;
  /** Faults tried: every tenth (the fifth, fifteenth, ...) is a stall, while stalls remain. */
  private tries = 0;
  private burst = { requests: 0, unavailable: 0 };
  private readonly random: () => number;

  constructor(
    private readonly cluster: Cluster,
    seed: number,
    /** At most this many stalls (each blocks every request for 6 s). */
    private readonly maxStalls = 2,
    private readonly restartPostgres = process.env.LAUREL_RELIABILITY_PG_RESTART === '1',
  ) {
    this.random = prng(seed ^ 0xfa017);
  }

  async run(signal: AbortSignal): Promise<void> {
    const restarts: Promise<void>[] = [];
    while (!signal.aborted) {
      await sleep(200 + Math.floor(this.random() * 700), signal);
      if (signal.aborted) break;
      const r = this.random();
      const down = Array.from({ length: this.cluster.size }, (_, k) => k).filter(
        (k) => !this.cluster.isUp(k),
      );
      if (this.restartPostgres && r < 0.1) {
        await restartPostgres();
        this.pgRestarts++;
      } else if (down.length === 0 && this.stalls < this.maxStalls && ++this.tries % 10 === 5) {
        this.stalls++;
        await this.stallWithBurst();
      } else if (r < 0.45 && down.length === 0) {
        // One server down at a time, restarted in the background after up to 0.4 s.
        const k = Math.floor(this.random() * this.cluster.size);
        await this.cluster.kill(k);
        this.kills++;
        const pause = Math.floor(this.random() * 400);
        const restarted = sleep(pause).then(() => this.cluster.restart(k));
        restarted.catch(() => undefined);
        restarts.push(restarted);
      } else {
        // A starting server is left alone: a cut would only make it exit and start again.
        const up = Array.from({ length: this.cluster.size }, (_, k) => k).filter((k) => !down.includes(k));
        if (!up.length) continue;
        this.backends += await this.cluster.terminateBackends(up);
        this.terminations++;
      }
    }
    await Promise.all(restarts);
  }

  async ensureUp(): Promise<void> {
    for (let k = 0; k < this.cluster.size; k++) await this.cluster.restart(k);
  }

  /**
   * A stall of the database under a burst of traffic: while `users` is locked for 6 s, 12 reads
   * per server wait for it, more than a server's pool holds (10), so some wait for a connection
   * past the pool's 5 s. Each must answer 200, or 503 in the envelope with Retry-After; never 500.
   */
  private async stallWithBurst(): Promise<void> {
    const { apiKey, secret } = this.cluster.credentials;
    const auth = `Basic ${Buffer.from(`${apiKey}:${secret}`).toString('base64')}`;
    const path = `/priv/v1/apps/${apiKey}/users/search?external_id=HOT-1`;
    const stalled = this.cluster.stall(6000);
    await sleep(200);
    const replies = await Promise.all(
      this.cluster.endpoints.flatMap((endpoint) =>
        Array.from({ length: 12 }, () =>
          endpoint.call('GET', path, auth).then(
            (reply) => ({ endpoint, reply }),
            (err: unknown) => ({ endpoint, reply: null, err }),
          ),
        ),
      ),
    );
    await stalled;
    for (const { endpoint, reply } of replies) {
      this.burst.requests++;
      if (!reply) continue; // the server was killed meanwhile
      const b = reply.body as { status?: string; errors?: { code?: string } } | null;
      if (reply.status === 200) continue;
      if (reply.status === 503 && b?.errors?.code === 'service_unavailable' && reply.retryAfter) {
        this.burst.unavailable++;
        continue;
      }
      this.cluster.observed.push(
        `${endpoint.label} GET ${path} while the database stalled: ${reply.status} ${JSON.stringify(reply.body)}`,
      );
    }
  }

  describe(): string {
    return (
      `${this.kills} SIGKILLs and restarts, ${this.terminations} backend cuts (${this.backends} backends terminated)` +
      `, ${this.stalls} database stalls under a burst of ${this.burst.requests} reads (${this.burst.unavailable} answered 503)` +
      (this.restartPostgres ? `, ${this.pgRestarts} PostgreSQL restarts` : '') +
      (this.cluster.startFailures.length
        ? `, ${this.cluster.startFailures.length} starts cut and retried`
        : '') +
      (this.cluster.crashes.length ? `, ${this.cluster.crashes.length} servers crashed by themselves` : '')
    );
  }
}

/**
 * `pg_ctlcluster <version> <cluster> restart` (opt-in; see CrashFaults). The cluster is
 * `LAUREL_RELIABILITY_PG_CLUSTER` (`15/main` style), by default the machine's first version's
 * `main`: point it at a cluster of your own (docs/reliability.md) when others share the machine.
 */
async function restartPostgres(): Promise<void> {
  const [version, name] = (
    process.env.LAUREL_RELIABILITY_PG_CLUSTER ?? `${readdirSync('/etc/postgresql')[0]}/main`
  ).split('/');
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', version!, name!, 'restart']);
}
