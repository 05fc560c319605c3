import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Database } from '../db/database.js';
import { LaurelError } from '../errors.js';
import type { AddressLanes } from './auth-limiter.js';

/**
 * `GET /metrics` in Prometheus text format (issue #18 item 8, docs/operations.md).
 *
 * Requests are labelled by route pattern (`/priv/v1/apps/:api_key/users/:user_id`), never by the
 * raw URL, so no id, key or email becomes a label and the series stay few. Figures read from the
 * database (purchases, points, sweeper lag, cash-out runs) describe the whole database, so every
 * server of a cluster reports the same values: aggregate them with max(), not sum(). The ledger
 * totals scan tables, so they are refreshed at most every `ledgerRefreshMs`; the sweeper lag and
 * cash-out runs use an index or a small table and are read on every scrape.
 *
 * Under `serve --workers N` (src/cluster/) a scrape reaches one worker, which asks the primary for
 * every worker's figures (prom-client's AggregatorRegistry): counters and histograms are summed over
 * the workers, the database's figures taken once (max), and `laurel_worker_requests_total` keeps
 * one series per worker, so an operator sees how the port shares requests out.
 */

/** A worker of `serve --workers N`: its slot (1..N) and how to read every worker's metrics. */
export interface WorkerMetrics {
  slot: number;
  clusterMetrics(): Promise<string>;
}

export interface MetricsOptions {
  db: Database;
  clock: Clock;
  /** The per-address lanes credential checks run in (src/http/auth-limiter.ts). */
  lanes: AddressLanes;
  /** When set, scrapes must send `Authorization: Bearer <token>` (`LAUREL_METRICS_TOKEN`). */
  token?: string;
  /** Least time between two reads of the ledger totals (default 30 s). */
  ledgerRefreshMs?: number;
  worker?: WorkerMetrics;
}

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'laurel_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'laurel_http_errors_total',
    help: 'HTTP requests answered with a 4xx or 5xx status, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'laurel_http_request_duration_seconds',
    help: 'Time from receiving a request to sending its answer, by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'laurel_auth_failures_total',
    help: 'Failed authentications: denied (wrong or missing credentials) or limited (429, not checked).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** Requests this worker answered (`serve --workers N` only), labelled by its slot and pid. */
  readonly workerRequests: Counter<'worker' | 'pid'> | undefined;

  constructor(opts: MetricsOptions) {
    const { db, clock, lanes } = opts;
    const registers = [this.registry];
    if (opts.worker) {
      this.workerRequests = new Counter({
        name: 'laurel_worker_requests_total',
        help: 'HTTP requests answered by each worker process of serve --workers N (by slot and pid).',
        labelNames: ['worker', 'pid'] as const,
        registers,
      });
    }
    collectDefaultMetrics({ register: this.registry, prefix: 'laurel_' });
    new Gauge({
      name: 'laurel_auth_checks_addresses',
      help: 'Client addresses with a credential check running or waiting (src/http/auth-limiter.ts).',
      registers,
      collect() {
        this.set(lanes.size);
      },
    });
    new Gauge({
      name: 'laurel_db_pool_connections',
      help: 'Connections of the PostgreSQL pool: total open, idle, and callers waiting for one.',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const s = db.poolStats?.();
        if (!s) return;
        this.set({ state: 'total' }, s.total);
        this.set({ state: 'idle' }, s.idle);
        this.set({ state: 'in_use' }, s.total - s.idle);
        this.set({ state: 'waiting' }, s.waiting);
        this.set({ state: 'max' }, s.max);
      },
    });
    const up = new Gauge({
      name: 'laurel_database_up',
      aggregator: 'min',
      help: '1 when the last scrape could read the database, else 0.',
      registers,
    });
    new Gauge({
      name: 'laurel_sweeper_lag_seconds',
      aggregator: 'max',
      help: 'Age of the oldest matured escrow lot not yet rolled over (0 when the sweeper is up to date).',
      registers,
      async collect() {
        try {
          const now = await clock.now();
          const [row] = await db.query<{ oldest: Date | string | null }>(
            'SELECT min(matures_at) AS oldest FROM lots WHERE rolled_over_at IS NULL AND matures_at <= $1',
            [now],
          );
          const oldest = row?.oldest ? new Date(row.oldest).getTime() : now.getTime();
          this.set(Math.max(0, (now.getTime() - oldest) / 1000));
          up.set(1);
        } catch {
          up.set(0);
        }
      },
    });
    new Gauge({
      name: 'laurel_cash_out_runs',
      aggregator: 'max',
      help: 'Quarterly cash-out runs (all retailers), by state: completed or incomplete.',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const rows = await db
          .query<{ completed: number; incomplete: number }>(
            `SELECT count(completed_at)::int AS completed, (count(*) - count(completed_at))::int AS incomplete
               FROM cash_out_runs`,
          )
          .catch(() => []);
        if (!rows[0]) return;
        this.set({ state: 'completed' }, rows[0].completed);
        this.set({ state: 'incomplete' }, rows[0].incomplete);
      },
    });
    // The ledger totals: read at most every ledgerRefreshMs, the last values kept in between.
    const refreshMs = opts.ledgerRefreshMs ?? 30_000;
    let ledgerAt = -Infinity;
    let ledger: Promise<{ purchases: number; points: { account: string; points: number }[] }> | undefined;
    const ledgerTotals = () => {
      if (!ledger || Date.now() - ledgerAt >= refreshMs) {
        ledgerAt = Date.now();
        ledger = (async () => ({
          purchases: (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM purchases'))[0]!.n,
          points: await db.query<{ account: string; points: number }>(
            'SELECT account, sum(balance)::bigint AS points FROM balances GROUP BY account ORDER BY account',
          ),
        }))();
        ledger.catch(() => {
          ledgerAt = -Infinity;
        });
      }
      return ledger;
    };
    new Gauge({
      name: 'laurel_purchases',
      aggregator: 'max',
      help: 'Purchases recorded (all retailers; refreshed at most every 30 s).',
      registers,
      async collect() {
        const totals = await ledgerTotals().catch(() => undefined);
        if (totals) this.set(totals.purchases);
      },
    });
    new Gauge({
      name: 'laurel_points',
      aggregator: 'max',
      help: 'Points held, by account type (spendable, tier, their escrows), in ledger units: hundredths on an account of precision 2 (refreshed at most every 30 s).',
      labelNames: ['account'] as const,
      registers,
      async collect() {
        const totals = await ledgerTotals().catch(() => undefined);
        for (const row of totals?.points ?? []) this.set({ account: row.account }, Number(row.points));
      },
    });
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    laurelMetrics: Metrics | undefined;
  }
}

/** Counts a failed authentication of this request's server. */
export function authFailed(request: FastifyRequest, reason: 'denied' | 'limited'): void {
  request.server.laurelMetrics?.authFailures.inc({ reason });
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Counts every answer by route pattern and serves `GET /metrics`. */
export function registerMetrics(app: FastifyInstance, opts: MetricsOptions): Metrics {
  const metrics = new Metrics(opts);
  app.decorate('laurelMetrics', metrics);
  const workerLabels = opts.worker
    ? { worker: String(opts.worker.slot), pid: String(process.pid) }
    : undefined;
  app.addHook('onResponse', async (request, reply) => {
    // The pattern the router matched; a path no route matched is one series, not one per path.
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route };
    const status = String(reply.statusCode);
    metrics.requests.inc({ ...labels, status });
    if (reply.statusCode >= 400) metrics.errors.inc({ ...labels, status });
    metrics.latency.observe(labels, reply.elapsedTime / 1000);
    if (workerLabels) metrics.workerRequests?.inc(workerLabels);
  });
  const expected = opts.token ? digest(`Bearer ${opts.token}`) : undefined;
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (expected && !timingSafeEqual(digest(request.headers.authorization ?? ''), expected)) {
      throw new LaurelError('invalid_auth_token', 'GET /metrics needs Authorization: Bearer <metrics token>');
    }
    const text = opts.worker ? await opts.worker.clusterMetrics() : await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
  return metrics;
}
