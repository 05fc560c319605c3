import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { SimulatedClock, SystemClock, type Clock } from './clock.js';
import { envMetricsToken, envTrustProxy, type ServeConfig } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { migrate } from './db/migrate.js';
import type { DemoCredentials } from './demo/demo.service.js';
import { createDemoPopulation } from './demo/simulate.js';
import { Sweeper } from './jobs/sweeper.js';
import { loadGiftCardKey } from './cashout/gift-card-key.js';
import { serializeRequest } from './http/log.js';
import { countRetailers } from './tenancy/tenancy.repository.js';

export interface RunningServer {
  app: FastifyInstance;
  db: Database;
  url: string;
  demo: DemoCredentials | null;
  close(): Promise<void>;
}

/** Number of demo members the quick start creates. */
export const QUICK_START_CUSTOMERS = 5;

/** Opens the database, migrates, optionally seeds the demo, listens, and starts the sweeper. */
export async function startServer(cfg: ServeConfig): Promise<RunningServer> {
  const db = await openDatabase({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
  try {
    await migrate(db);
    let clock: Clock = new SystemClock();
    if (cfg.clock === 'simulated') {
      const sim = new SimulatedClock(db);
      await sim.init(cfg.now);
      clock = sim;
    }
    let demo: DemoCredentials | null = null;
    if (cfg.demo && (await countRetailers(db)) === 0) {
      demo = await createDemoPopulation(db, await clock.now(), cfg.demoCustomers, cfg.demoMonths);
    }
    const giftCards = await loadGiftCardKey(cfg.dataDir);
    const app = await buildApp({
      db,
      clock,
      giftCardKey: giftCards.key,
      bodyLimit: cfg.bodyLimit,
      trustProxy: envTrustProxy(),
      metricsToken: envMetricsToken(),
      logger: {
        level: cfg.logLevel,
        // Credentials never reach the log (issue #7 reads the logs to check), nor do the emails,
        // phones and ids of searches (src/http/log.ts).
        redact: ['req.headers.authorization', 'req.headers.cookie'],
        serializers: { req: serializeRequest },
      },
    });
    if (giftCards.created) {
      app.log.warn(
        { file: giftCards.source },
        'created a new gift-card key: keep this file, and give every server of this database the same one',
      );
    }
    const address = await app.listen({ host: cfg.host, port: cfg.port });
    // The first sweep runs at once, catching up on what matured while no server ran.
    const sweeper = new Sweeper(db, clock, {
      intervalMs: cfg.sweepInterval * 1000,
      log: app.log.child({ job: 'sweeper' }),
    });
    sweeper.start();
    const shutdown = async () => {
      // Before the database closes under it; a running sweep stops between members.
      await sweeper.stop();
      await app.close();
      await db.close();
    };
    return { app, db, url: address, demo, close: shutdown };
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}
