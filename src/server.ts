import type { FastifyInstance } from 'fastify';
import { buildApp, type AppOptions } from './app.js';
import { SimulatedClock, SystemClock, type Clock } from './clock.js';
import { envMetricsToken, envTrustProxy, type ServeConfig } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { migrate } from './db/migrate.js';
import { createDemoPopulation, type DemoPopulation } from './demo/simulate.js';
import { LaurelError } from './errors.js';
import { Sweeper } from './jobs/sweeper.js';
import { envEventsLeaseMs, envFirstRetryMs } from './config.js';
import { DEFAULT_RETRY } from './domain/events.js';
import { checkBrokerUrl, NatsPublisher } from './events/broker.js';
import { registerBroker } from './events/delivery.repository.js';
import { EventRelay } from './events/relay.js';
import { loadGiftCardKey } from './cashout/gift-card-key.js';
import { serializeRequest } from './http/log.js';
import { countRetailers } from './tenancy/tenancy.repository.js';
import { startOperatorEndpoint } from './operator/operator.server.js';

/** A server that runs: one process, or the primary of several (src/cluster/primary.ts). */
export interface Serving {
  /** The database, open for the banner's reads until `close`. */
  db: Database;
  url: string;
  demo: DemoPopulation | null;
  close(): Promise<void>;
}

export interface RunningServer extends Serving {
  app: FastifyInstance;
}

/** Number of demo members the quick start creates. */
export const QUICK_START_CUSTOMERS = 5;

/**
 * What happens once per start, before any request is served: migrations, and the simulated clock
 * set to `--now` (a worker started later keeps the clock the database holds).
 */
export async function prepareDatabase(db: Database, cfg: ServeConfig, first: boolean): Promise<Clock> {
  if (first) await migrate(db);
  if (cfg.clock !== 'simulated') return new SystemClock();
  const sim = new SimulatedClock(db);
  if (first) await sim.init(cfg.now);
  return sim;
}

/** The API server of one process, built with the serving options (logging, limits, revocations). */
export async function buildServerApp(
  db: Database,
  clock: Clock,
  cfg: ServeConfig,
  giftCardKey: Buffer,
  extra: Partial<AppOptions> = {},
): Promise<FastifyInstance> {
  return buildApp({
    db,
    clock,
    giftCardKey,
    bodyLimit: cfg.bodyLimit,
    trustProxy: envTrustProxy(),
    metricsToken: envMetricsToken(),
    listenForRevocations: true,
    logger: {
      level: cfg.logLevel,
      // Credentials never reach the log (issue #7 reads the logs to check), nor do the emails,
      // phones and ids of searches (src/http/log.ts).
      redact: ['req.headers.authorization', 'req.headers.cookie'],
      serializers: { req: serializeRequest },
    },
    ...extra,
  });
}

/** The rollover sweeper of a server (DESIGN §5); its first sweep runs at once. */
export function startSweeper(db: Database, clock: Clock, cfg: ServeConfig, app: FastifyInstance): Sweeper {
  const sweeper = new Sweeper(db, clock, {
    intervalMs: cfg.sweepInterval * 1000,
    log: app.log.child({ job: 'sweeper' }),
  });
  sweeper.start();
  return sweeper;
}

/**
 * The event relay of a server (issue #17, docs/events.md): fans the outbox out and delivers, apart
 * from the request path; with `--events-broker`, also publishes to NATS JetStream.
 */
export async function startRelay(
  db: Database,
  cfg: ServeConfig,
  app: FastifyInstance,
  serverKey: Buffer,
): Promise<EventRelay> {
  const firstRetryMs = envFirstRetryMs();
  let broker: NatsPublisher | undefined;
  if (cfg.eventsBroker) {
    broker = new NatsPublisher(checkBrokerUrl(cfg.eventsBroker));
    await registerBroker(db, new Date());
  }
  const relay = new EventRelay(db, {
    serverKey,
    log: app.log.child({ job: 'events' }),
    broker,
    retry: firstRetryMs ? { ...DEFAULT_RETRY, firstRetryMs } : DEFAULT_RETRY,
    leaseMs: envEventsLeaseMs(),
  });
  relay.start();
  return relay;
}

/** Opens the database, migrates, optionally seeds the demo, listens, and starts the sweeper. */
export async function startServer(cfg: ServeConfig): Promise<RunningServer> {
  const db = await openDatabase({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
  let app: FastifyInstance | undefined;
  try {
    const clock = await prepareDatabase(db, cfg, true);
    const giftCards = await loadGiftCardKey(cfg.dataDir);
    app = await buildServerApp(db, clock, cfg, giftCards.key);
    if (giftCards.created) {
      app.log.warn(
        { file: giftCards.source },
        'created a new gift-card key: keep this file, and give every server of this database the same one',
      );
    }
    // The port is taken before anything is created (issue #18): a busy port used to fail after the
    // demo retailer existed, and its one-time credentials were never shown.
    const address = await listen(app, cfg.host, cfg.port);
    const demo = await createDemoIfAsked(db, clock, cfg);
    // The first sweep runs at once, catching up on what matured while no server ran.
    const sweeper = startSweeper(db, clock, cfg, app);
    const relay = await startRelay(db, cfg, app, giftCards.key);
    // On the embedded database, the `laurel` command runs its database commands through this
    // server while it holds the directory (issue #18); PostgreSQL lets the command connect itself.
    const operator = cfg.databaseUrl
      ? undefined
      : await startOperatorEndpoint(db, cfg.dataDir, app.log.child({ component: 'operator' }));
    const web = app;
    const shutdown = async () => {
      // Before the database closes under them; a running sweep stops between members, a running
      // operator command as on Ctrl-C.
      await operator?.close();
      await sweeper.stop();
      await relay.stop();
      await web.close();
      await db.close();
      // The request log is written asynchronously: its last lines reach stdout before whatever
      // the caller prints next ("Laurel stopped cleanly" must be the last line, issue #18).
      const log = web.log as { flush?: (done?: (err?: Error) => void) => void };
      await new Promise<void>((done) => {
        // Never held up by a log destination that does not answer.
        const timer = setTimeout(done, 1000);
        const finish = () => {
          clearTimeout(timer);
          done();
        };
        if (log.flush) log.flush(finish);
        else finish();
      });
    };
    return { app, db, url: address, demo, close: shutdown };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw err;
  }
}

/** `--demo` on a database without a retailer: the demo population, whose credentials the banner shows once. */
export async function createDemoIfAsked(
  db: Database,
  clock: Clock,
  cfg: ServeConfig,
): Promise<DemoPopulation | null> {
  if (!cfg.demo || (await countRetailers(db)) > 0) return null;
  return createDemoPopulation(db, await clock.now(), cfg.demoCustomers, cfg.demoMonths);
}

/** Listens, turning a port that cannot be had into one line that says which and what to do. */
export async function listen(app: FastifyInstance, host: string, port: number): Promise<string> {
  try {
    return await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new LaurelError(
        'service_unavailable',
        `port ${port} on ${host} is already in use: stop what listens there, or choose another port with --port`,
      );
    }
    if (code === 'EACCES') {
      throw new LaurelError(
        'service_unavailable',
        `port ${port} on ${host} needs privileges this user does not have: choose a port above 1023 with --port`,
      );
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new LaurelError(
        'validation',
        `cannot listen on ${host}: no such address on this machine (--host)`,
      );
    }
    throw err;
  }
}
