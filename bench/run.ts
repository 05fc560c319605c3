/**
 * The benchmark suite (issue #8): every figure beside the same machine's PostgreSQL baseline,
 * measured in the same run.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench -- [--scale tiny|quick|full]
 *
 * Prints one JSON line per figure on stdout, progress on stderr, and a table at the end. Timings
 * are for reading, never asserted; the run fails only when something answers wrongly or the ledger
 * does not verify afterwards (a faster path that loses a point is not faster).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Pgbench, type PgbenchResult } from './baseline.js';
import { importBench } from './import.js';
import {
  basic,
  figure,
  figures,
  laurel,
  load,
  log,
  mib,
  prng,
  request,
  resetPeak,
  cpuSeconds,
  cpuBetween,
  processTree,
  round,
  serve,
  serverPeakRss,
  urlWithSchema,
  type LoadResult,
  type Server,
} from './lib.js';
import { cloneMember } from './seed.js';
import { printTable } from './table.js';
import { WebhookBench } from './webhook.js';

interface Scale {
  /** Members the lookup runs over (copies of two templates). */
  members: number;
  /** Of them, members with a purchase whose two escrow lots the sweep rolls over. */
  purchasers: number;
  /** Members the ingestion spreads its purchases over, and the hot set. */
  spread: number;
  hot: number;
  /** Concurrent tills or agents, and pgbench clients. */
  clients: number;
  seconds: number;
  importCustomers: number;
  importPurchases: number;
  pgliteMembers: number;
  pgliteSeconds: number;
}

const SCALES: Record<string, Scale> = {
  // The CI smoke run: proves every scenario still works, in well under a minute.
  tiny: {
    members: 2_000,
    purchasers: 1_000,
    spread: 1_000,
    hot: 100,
    clients: 8,
    seconds: 2,
    importCustomers: 100,
    importPurchases: 300,
    pgliteMembers: 50,
    pgliteSeconds: 2,
  },
  quick: {
    members: 100_000,
    purchasers: 50_000,
    spread: 100_000,
    hot: 100,
    clients: 16,
    seconds: 8,
    importCustomers: 500,
    importPurchases: 2_000,
    pgliteMembers: 200,
    pgliteSeconds: 5,
  },
  full: {
    members: 1_000_000,
    purchasers: 500_000,
    spread: 100_000,
    hot: 100,
    clients: 16,
    seconds: 20,
    importCustomers: 2_000,
    importPurchases: 20_000,
    pgliteMembers: 500,
    pgliteSeconds: 10,
  },
};

/** Simulated time of the run: mid-quarter, so the 30-day escrow the sweep rolls over ends in the same quarter. */
const T0 = new Date('2026-01-06T15:00:00Z');
const DAY = 86_400_000;

/**
 * The clock of the HTTP scenarios' servers. `real`, the default, is production's: a request reads
 * no clock. `simulated` (every run before 5 December 2026) reads the database's simulated clock
 * once a request, a statement production does not send. The sweep always runs on a simulated
 * clock, which it moves 31 days on.
 */
type BenchClock = 'real' | 'simulated';

const clockArgs = (clock: BenchClock) =>
  clock === 'real' ? [] : ['--clock', 'simulated', '--now', T0.toISOString()];

/** An instant `ms` before the server's now: of the real clock, or of the simulated T0. */
const before = (clock: BenchClock, ms: number) =>
  new Date((clock === 'real' ? Date.now() : T0.getTime()) - ms);

function parseArgs(argv: string[]): {
  scaleName: string;
  scale: Scale;
  keep: boolean;
  only: Set<string>;
  profile: string | undefined;
  workers: number;
  /** `laurel import transactions --concurrency` (default 256, the command's own on PostgreSQL). */
  importConcurrency: number;
  alsoWorkers: number[];
  clock: BenchClock;
} {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const scaleName = value('--scale') ?? 'quick';
  const scale = SCALES[scaleName];
  if (!scale) throw new Error(`--scale must be one of ${Object.keys(SCALES).join(', ')}`);
  const only = new Set((value('--only') ?? '').split(',').filter(Boolean));
  const count = (name: string, fallback: number): number => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number`);
    return n;
  };
  const clock = value('--clock') ?? 'real';
  if (clock !== 'real' && clock !== 'simulated') throw new Error('--clock must be real or simulated');
  return {
    clock,
    scaleName,
    scale: {
      ...scale,
      importCustomers: count('--import-customers', scale.importCustomers),
      importPurchases: count('--import-purchases', scale.importPurchases),
    },
    keep: argv.includes('--keep'),
    only,
    profile: value('--profile'),
    workers: count('--workers', cpus().length),
    importConcurrency: count('--import-concurrency', 256),
    alsoWorkers: (value('--also-workers') ?? '')
      .split(',')
      .filter(Boolean)
      .map((v) => {
        const n = Number(v);
        if (!Number.isSafeInteger(n) || n <= 0)
          throw new Error('--also-workers takes whole numbers, e.g. 1,4');
        return n;
      }),
  };
}

interface Tenant {
  apiKey: string;
  auth: string;
  admin: string;
}

const purchaseBody = (tx: string, member: string, at: Date, lines: number, rand: () => number) =>
  JSON.stringify({
    store_id: `S-${1 + Math.floor(rand() * 50)}`,
    request_id: `R-${tx}`,
    request_payload: {
      transaction_id: tx,
      open_time: at.toISOString(),
      user_id: member,
      user_id_type: 'external_id',
      items: Array.from({ length: lines }, (_, k) => ({
        line_id: k + 1,
        item_id: `SKU-${Math.floor(rand() * 500)}`,
        quantity: 1 + Math.floor(rand() * 3),
        unit_price: Math.round(100 + rand() * 14_900) / 100,
      })),
    },
  });

async function ok(server: Server, method: string, path: string, auth: string, body?: unknown) {
  const a = await request(
    server.base,
    method,
    path,
    { authorization: auth },
    body === undefined ? undefined : JSON.stringify(body),
  );
  if (a.status !== 200) throw new Error(`${method} ${path} answered ${a.status}: ${a.body}`);
  return JSON.parse(a.body) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A member created through the API, and (for `purchase`) one purchase from the till. */
async function templateMember(
  server: Server,
  t: Tenant,
  tag: string,
  /** The instant of its one purchase, when it has one. */
  purchase: Date | undefined,
): Promise<string> {
  const created = await ok(server, 'POST', `/priv/v1/apps/${t.apiKey}/users`, t.auth, {
    user: {
      email: `${tag}@bench.example`,
      external_id: `bench-${tag}`,
      first_name: 'Bench',
      last_name: tag.toUpperCase(),
      phone_numbers: [{ phone_number: '6175550100', phone_type: 'mobile' }],
      opted_in: true,
      dob: '1985-04-12',
      country: 'USA',
    },
  });
  if (purchase) {
    await ok(
      server,
      'POST',
      '/api/2.0/send_transaction',
      t.auth,
      JSON.parse(purchaseBody(`T-${tag}`, `bench-${tag}`, purchase, 2, prng(7))),
    );
  }
  return created.user.id as string;
}

/**
 * The figure of an HTTP scenario, with its ratio to `baseline` (none for the embedded database,
 * which has no baseline of its own) and the server's peak RSS (summed over its processes); fails
 * the run on any wrong answer.
 */
/**
 * The PostgreSQL backends serving the bench's servers: the sessions whose `application_name` is the
 * one the bench gives them (`BENCH_SESSIONS`). None for the embedded database.
 */
let benchBackends: () => Promise<number[]> = () => Promise.resolve([]);
const BENCH_SESSIONS = 'laurel_bench';

/** CPU used so far by a server's processes and the bench's database sessions, at a scenario's start. */
interface CpuMark {
  server: Map<number, number>;
  database: Map<number, number>;
}
let cpuMark: CpuMark | undefined;

/** Starts measuring a scenario: the server's peak memory and its and its database sessions' CPU. */
async function startScenario(server: Server): Promise<void> {
  resetPeak(server.pid);
  cpuMark = { server: cpuSeconds(processTree(server.pid)), database: cpuSeconds(await benchBackends()) };
}

/**
 * CPU milliseconds per request the scenario cost the server (all its processes) and PostgreSQL's
 * backends serving it (not the WAL writer or checkpointer): unlike a rate, a cost per request stays
 * readable on a machine shared with other work, and says which side bounds the scenario.
 */
async function cpuPerRequest(server: Server, requests: number, embedded: boolean) {
  if (!cpuMark || !requests) return {};
  const serverSeconds = cpuBetween(cpuMark.server, cpuSeconds(processTree(server.pid)));
  const databaseSeconds = cpuBetween(cpuMark.database, cpuSeconds(await benchBackends()));
  cpuMark = undefined;
  return {
    server_cpu_ms_per_request: round((serverSeconds * 1000) / requests, 3),
    ...(embedded ? {} : { database_cpu_ms_per_request: round((databaseSeconds * 1000) / requests, 3) }),
  };
}

async function loadFigures(
  name: string,
  r: LoadResult,
  server: Server,
  baseline: PgbenchResult | undefined,
  unit: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  if (r.errors) throw new Error(`${name}: ${r.errors} requests failed; the first: ${r.firstError}`);
  const cpu = await cpuPerRequest(server, r.requests, extra.embedded === true);
  figure(name, round(r.perSecond, 1), unit, {
    ...extra,
    requests: r.requests,
    p50_ms: round(r.p50Ms),
    p99_ms: round(r.p99Ms),
    ...(baseline ? { ratio_to_baseline: round(r.perSecond / baseline.tps, 4) } : {}),
    ...cpu,
    server_peak_rss_mib: mib(serverPeakRss(server.pid)),
    // The machine is shared: the 1-minute load average as the scenario ends, beside its figure.
    load_average_1m: round(loadavg()[0]!),
  });
}

async function main(): Promise<void> {
  const { scaleName, scale, keep, only, profile, workers, alsoWorkers, importConcurrency, clock } = parseArgs(
    process.argv.slice(2),
  );
  // --profile DIR: the server (and the sweep) write V8 CPU profiles there, one per process.
  const nodeArgs = profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : [];
  const wanted = (s: string) => !only.size || only.has(s);
  const url = process.env.DATABASE_URL;
  if (!url)
    throw new Error(
      'npm run bench needs DATABASE_URL (server PostgreSQL), e.g. postgres://postgres@127.0.0.1:5432/test',
    );
  figure('machine', cpus().length, 'cores', {
    scale: scaleName,
    cpu: cpus()[0]?.model,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    load_average_1m: round(loadavg()[0]!),
    node: process.version,
    server_workers: workers,
    clock,
  });

  // 1. Baselines on the same server, at the ingestion's concurrency.
  const pgbench = await Pgbench.open(url, scale.clients);
  let tpcb: PgbenchResult;
  let selectOnly: PgbenchResult;
  try {
    tpcb = await pgbench.measure(false, scale.clients, scale.seconds);
    figure('pgbench_tpcb', round(tpcb.tps, 1), 'tx/s', {
      clients: scale.clients,
      p50_ms: round(tpcb.p50Ms),
      p99_ms: round(tpcb.p99Ms),
      pgbench_scale: pgbench.scaleFactor,
    });
    selectOnly = await pgbench.measure(true, scale.clients, scale.seconds);
    figure('pgbench_select_only', round(selectOnly.tps, 1), 'tx/s', {
      clients: scale.clients,
      p50_ms: round(selectOnly.p50Ms),
      p99_ms: round(selectOnly.p99Ms),
    });
  } finally {
    await pgbench.close();
  }

  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  benchBackends = async () =>
    (
      await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
        BENCH_SESSIONS,
      ])
    ).rows.map((r) => r.pid);
  const schemas: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'laurel-bench-'));
  let server: Server | undefined;

  /**
   * 2. A schema with the demo program and the population: two template members through the API
   * (one with a purchase `purchaseAgo` before the clock's now), copied with SQL. Answers it with its
   * server, running on `populationClock` with `serverWorkers` processes.
   */
  const population = async (populationClock: BenchClock, serverWorkers: number, serverNodeArgs: string[]) => {
    const schema = `laurel_bench_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    schemas.push(schema);
    // The server's sessions carry the bench's name, so their CPU can be told from other work's.
    const sessions = new URL(urlWithSchema(url, schema));
    sessions.searchParams.set('application_name', BENCH_SESSIONS);
    const env = { ...process.env, DATABASE_URL: sessions.toString(), LOG_LEVEL: 'warn' };
    await laurel(['migrate'], env);
    const demo = JSON.parse((await laurel(['demo', '--json'], env)).stdout) as {
      api_key: string;
      secret: string;
      admin_token: string;
    };
    const tenant: Tenant = {
      apiKey: demo.api_key,
      auth: basic(demo.api_key, demo.secret),
      admin: `Bearer ${demo.admin_token}`,
    };
    const serverArgs = [...clockArgs(populationClock), '--sweep-interval', '0'];
    const s = await serve([...serverArgs, '--workers', String(serverWorkers)], env, serverNodeArgs);
    try {
      const a = await templateMember(s, tenant, 'a', before(populationClock, 60_000));
      const b = await templateMember(s, tenant, 'b', undefined);
      // Each template read once, as any member is read after their last write: the read stores the
      // standing (issue #15) that the copies inherit. `lookup_cold` measures members never read.
      for (const tag of ['a', 'b'])
        await ok(
          s,
          'GET',
          `/priv/v1/apps/${tenant.apiKey}/users/search?email=${tag}%40bench.example`,
          tenant.auth,
        );
      const seeded = process.hrtime.bigint();
      const client = new pg.Client({ connectionString: env.DATABASE_URL });
      await client.connect();
      try {
        await cloneMember(client, a, 1, scale.purchasers);
        await cloneMember(client, b, scale.purchasers + 1, scale.members);
        await client.query('ANALYZE');
      } finally {
        await client.end();
      }
      const seedSeconds = Number(process.hrtime.bigint() - seeded) / 1e9;
      log(
        `seeded ${scale.members} members (${scale.purchasers} with a purchase) in ${seedSeconds.toFixed(1)} s, ` +
          `${populationClock} clock`,
      );
    } catch (err) {
      await s.stop();
      throw err;
    }
    return { env, tenant, serverArgs, server: s };
  };

  try {
    const main = await population(clock, workers, nodeArgs);
    const { env, tenant, serverArgs } = main;
    server = main.server;
    const memberTag = (i: number) => (i <= scale.purchasers ? `a` : `b`);

    /**
     * 4b, run right after `ingest_spread` (below). Ingestion with one webhook subscribed to `*`
     * (issue #17; goal: within 10% of `ingest_spread`), the relay delivering to the bench's
     * receiver beside the load; then the delivery rate: events answered by the receiver from the
     * load's start until the backlog is empty. The webhook is deleted afterwards, so later
     * scenarios run as before.
     */
    const webhookScenario = async (s: Server, plain: LoadResult, run: () => Promise<LoadResult>) => {
      const hook = await WebhookBench.start(s, tenant.admin, env.DATABASE_URL);
      try {
        const startedAt = process.hrtime.bigint();
        const r = await run();
        const endedAt = process.hrtime.bigint();
        const ratio = round(r.perSecond / plain.perSecond, 4);
        await loadFigures('ingest_spread_webhook', r, s, tpcb, 'purchases/s', {
          workers,
          ratio_to_ingest_spread: ratio,
        });
        log(`ingest_spread_webhook is ${ratio} × ingest_spread (goal: at least 0.9)`);
        const d = await hook.drain(startedAt, endedAt, 120_000 + 10_000 * scale.seconds);
        if (!d.events) throw new Error('webhook_delivery: the receiver got no event');
        figure('webhook_delivery', round(d.events / d.seconds, 1), 'events/s', {
          events: d.events,
          posts: d.posts,
          purchases: r.requests,
          delivered: d.delivered,
          pending: d.pending,
          failed: d.failed,
          seconds: round(d.seconds),
          after_load: d.afterLoad,
          drain_seconds: round(d.drainSeconds),
          ...(d.afterLoad && d.drainSeconds
            ? { drain_per_second: round(d.afterLoad / d.drainSeconds, 1) }
            : {}),
          workers,
          load_average_1m: round(loadavg()[0]!),
        });
        if (!d.emptied) log(`webhook_delivery: ${d.pending} deliveries still pending when the wait ended`);
      } finally {
        await hook.close();
      }
    };

    // 3–4. Lookup and ingestion with the server's workers; then again with each `--also-workers`
    // count, named `<figure>_workers_<n>`, in the same run so the two compare.
    const sent: string[] = [];
    const httpScenarios = async (s: Server, w: number, suffix: string) => {
      const extra = { workers: w };
      // 3. Member lookup, as a care agent or an app does it, over the whole population.
      const lookups = async (name: string, seed: number) => {
        const rand = prng(seed);
        await startScenario(s);
        const r = await load(s.base, scale.clients, scale.seconds, () => {
          const i = 1 + Math.floor(rand() * scale.members);
          return {
            method: 'GET',
            path: `/priv/v1/apps/${tenant.apiKey}/users/search?email=${memberTag(i)}%2B${i}%40bench.example&expand_incentives=true`,
            headers: { authorization: tenant.auth },
          };
        });
        await loadFigures(`${name}${suffix}`, r, s, selectOnly, 'requests/s', extra);
      };
      if (wanted('lookup')) await lookups('lookup', 3);
      // 3b. The same lookups with every member's stored standing stale, as after a write to each
      // (issue #15): each first read computes the standing from the ledger and stores it.
      if (wanted('lookup')) {
        const stale = new pg.Client({ connectionString: env.DATABASE_URL });
        await stale.connect();
        try {
          await stale.query('UPDATE member_standings SET version = version + 1, body = NULL');
          await stale.query('VACUUM ANALYZE member_standings');
        } finally {
          await stale.end();
        }
        await lookups('lookup_cold', 4);
      }
      // 4. Purchase ingestion: many tills, over the spread and over the hot set. The purchases of
      // the main server's runs are kept for the returns (`keep`).
      const ingest = async (name: string, members: number, seed = name.length, keep = !suffix) => {
        const rand = prng(seed);
        await startScenario(s);
        return load(s.base, scale.clients, scale.seconds, (i) => {
          const m = 1 + Math.floor(rand() * members);
          const at = before(clock, 30_000);
          const body = purchaseBody(
            `${name}-${i}`,
            `bench-${memberTag(m)}-${m}`,
            at,
            1 + Math.floor(rand() * 3),
            rand,
          );
          if (keep && sent.length < 100_000) sent.push(body);
          return {
            method: 'POST',
            path: '/api/2.0/send_transaction',
            headers: { authorization: tenant.auth },
            body,
          };
        });
      };
      const spread = Math.min(scale.spread, scale.members);
      // The webhook scenario is read against `ingest_spread` of the same run, so it runs that too.
      const withWebhook = !suffix && wanted('webhook');
      if (wanted('ingest') || withWebhook) {
        const plain = await ingest(`ingest_spread${suffix}`, spread);
        await loadFigures(`ingest_spread${suffix}`, plain, s, tpcb, 'purchases/s', extra);
        // 4b. Right after it, its very requests (same seed, new transaction ids) with a webhook
        // subscribed to `*`; not kept for the returns, whose work stays as it was.
        if (withWebhook)
          await webhookScenario(s, plain, () =>
            ingest('ingest_spread_webhook', spread, 'ingest_spread'.length, false),
          );
      }
      if (wanted('ingest')) {
        const hot = `ingest_hot${suffix}`;
        await loadFigures(hot, await ingest(hot, scale.hot), s, tpcb, 'purchases/s', extra);
      }
    };

    await httpScenarios(server, workers, '');

    // 5. Returns: a purchase re-sent with its first line at quantity 0 (a void when it had one line).
    if (wanted('ingest') && sent.length) {
      await startScenario(server);
      const r = await load(
        server.base,
        scale.clients,
        scale.seconds,
        (i) => {
          const body = JSON.parse(sent[i]!) as {
            request_id: string;
            request_payload: { items: { quantity: number }[]; is_voided?: boolean };
          };
          body.request_id = `RET-${body.request_id}`;
          if (body.request_payload.items.length > 1) body.request_payload.items[0]!.quantity = 0;
          else body.request_payload.is_voided = true;
          return {
            method: 'POST',
            path: '/api/2.0/send_transaction',
            headers: { authorization: tenant.auth },
            body: JSON.stringify(body),
          };
        },
        sent.length,
      );
      await loadFigures('returns', r, server, tpcb, 'returns/s', { workers });
    }
    await server.stop();
    server = undefined;
    for (const w of alsoWorkers) {
      server = await serve([...serverArgs, '--workers', String(w)], env, nodeArgs);
      await httpScenarios(server, w, `_workers_${w}`);
      await server.stop();
      server = undefined;
    }

    // 6. Rollover sweep: every lot of the population has matured 31 days on. On the real clock the
    // scenarios' population cannot be moved there, so the sweep gets its own, seeded on the
    // simulated clock: the same members and lots, without the purchases of the scenarios above.
    if (wanted('sweep')) {
      const later = new Date(T0.getTime() + 31 * DAY);
      const swept = clock === 'simulated' ? main : await population('simulated', 1, []);
      if (swept === main) server = await serve([...serverArgs, '--workers', '1'], env);
      else server = swept.server;
      await ok(server, 'POST', '/admin/v1/clock', swept.tenant.admin, { now: later.toISOString() });
      await server.stop();
      server = undefined;
      const run = await laurel(['sweep', '--batch-size', '1000'], swept.env, nodeArgs);
      const m = /swept (\d+) lots for (\d+) members/.exec(run.stdout);
      if (!m) throw new Error(`sweep printed no count:\n${run.stdout}`);
      const lots = Number(m[1]);
      figure('sweep', round(lots / run.seconds, 1), 'lots/s', {
        lots,
        members: Number(m[2]),
        seconds: round(run.seconds, 1),
        ratio_to_baseline: round(lots / run.seconds / tpcb.tps, 4),
        peak_rss_mib: mib(run.peakRssBytes),
      });
      if (swept !== main) log((await laurel(['verify'], swept.env)).stdout.trim());
    }
    const verified = await laurel(['verify'], env);
    log(verified.stdout.trim());

    // 7. Bulk import beside COPY of the same rows (issue #6).
    if (wanted('import')) {
      await importBench(url, {
        customers: scale.importCustomers,
        purchases: scale.importPurchases,
        concurrency: importConcurrency,
        keep,
        nodeArgs,
      });
    }

    // 8. The embedded database, at a smaller scale.
    if (wanted('pglite')) await pgliteBench(scale, dir, clock);
  } finally {
    await server?.stop();
    for (const schema of schemas) {
      if (!keep) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      else log(`kept schema ${schema}`);
    }
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(figures);
}

/** Ingestion and lookup on embedded PGlite: members created through the API, labelled as such. */
async function pgliteBench(scale: Scale, dir: string, clock: BenchClock): Promise<void> {
  const { DATABASE_URL: _server, ...rest } = process.env;
  const env: NodeJS.ProcessEnv = { ...rest, LOG_LEVEL: 'warn' };
  const dataDir = join(dir, 'pglite');
  const demo = JSON.parse((await laurel(['demo', '--json', '--data-dir', dataDir], env)).stdout) as {
    api_key: string;
    secret: string;
  };
  const tenant = { apiKey: demo.api_key, auth: basic(demo.api_key, demo.secret), admin: '' };
  const server = await serve(['--data-dir', dataDir, ...clockArgs(clock), '--sweep-interval', '0'], env);
  try {
    for (let i = 1; i <= scale.pgliteMembers; i++) {
      await ok(server, 'POST', `/priv/v1/apps/${tenant.apiKey}/users`, tenant.auth, {
        user: { email: `p+${i}@bench.example`, external_id: `bench-p-${i}`, opted_in: true },
      });
    }
    const clients = 4;
    const rand = prng(11);
    await startScenario(server);
    const ingest = await load(server.base, clients, scale.pgliteSeconds, (i) => ({
      method: 'POST',
      path: '/api/2.0/send_transaction',
      headers: { authorization: tenant.auth },
      body: purchaseBody(
        `PG-${i}`,
        `bench-p-${1 + Math.floor(rand() * scale.pgliteMembers)}`,
        before(clock, 30_000),
        2,
        rand,
      ),
    }));
    const labels = { embedded: true, members: scale.pgliteMembers, clients };
    await loadFigures('pglite_ingest', ingest, server, undefined, 'purchases/s', labels);
    await startScenario(server);
    const lookup = await load(server.base, clients, scale.pgliteSeconds, () => ({
      method: 'GET',
      path: `/priv/v1/apps/${tenant.apiKey}/users/search?email=p%2B${1 + Math.floor(rand() * scale.pgliteMembers)}%40bench.example&expand_incentives=true`,
      headers: { authorization: tenant.auth },
    }));
    await loadFigures('pglite_lookup', lookup, server, undefined, 'requests/s', labels);
  } finally {
    await server.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
