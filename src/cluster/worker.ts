import type { FastifyInstance } from 'fastify';
import type { ServeConfig } from '../config.js';
import { openDatabase, type Database } from '../db/database.js';
import { loadGiftCardKey } from '../cashout/gift-card-key.js';
import type { Sweeper } from '../jobs/sweeper.js';
import { failLine } from '../cli/fail-line.js';
import { buildServerApp, listen, prepareDatabase, startRelay, startSweeper } from '../server.js';
import type { EventRelay } from '../events/relay.js';
import {
  isLaurelMessage,
  WORKER_SLOT_ENV,
  type MetricsJson,
  type PrimaryMessage,
  type WorkerMessage,
} from './messages.js';

const send = (m: WorkerMessage) => process.send?.(m);

/**
 * One worker of `laurel serve --workers N` (src/cluster/primary.ts): its own database pool, its own
 * revocation listener, the API on the shared port. It does nothing that must happen once: the
 * primary migrated, set the clock and created the demo before it was forked. The sweeper runs here
 * when the primary says so, in one worker only. Signals are the primary's to handle (a terminal's
 * Ctrl-C reaches every process of the group): a worker stops when the primary tells it to, or when
 * the primary is gone.
 */
export async function runWorker(cfg: ServeConfig): Promise<void> {
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);
  const slot = Number(process.env[WORKER_SLOT_ENV] ?? '1');
  let db: Database | undefined;
  let app: FastifyInstance | undefined;
  let sweeper: Sweeper | undefined;
  let relay: EventRelay | undefined;
  let serverKey: Buffer | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (code: number) => {
    stopping ??= (async () => {
      await sweeper?.stop().catch(() => undefined);
      await relay?.stop().catch(() => undefined);
      await app?.close().catch(() => undefined);
      await db?.close().catch(() => undefined);
    })().finally(() => process.exit(code));
    return stopping;
  };
  // The primary gone (killed): nobody restarts or stops this worker any more, so it stops itself.
  process.on('disconnect', () => void stop(0));

  const pending = new Map<number, (text: string) => void>();
  let next = 0;
  /** The metrics of every worker, summed by the primary (src/cluster/primary.ts). */
  const clusterMetrics = () =>
    new Promise<string>((done) => {
      const id = next++;
      pending.set(id, done);
      send({ laurel: 'metrics', id });
    });

  process.on('message', (m: unknown) => {
    if (!isLaurelMessage<PrimaryMessage>(m)) return;
    if (m.laurel === 'stop') void stop(0);
    else if (m.laurel === 'sweep' && db && app && !sweeper && !stopping) {
      sweeper = startSweeper(db, clock!, cfg, app);
      app.log.info({ worker: slot }, 'this worker runs the sweeper and the event relay');
      // One relay per cluster is enough: the deliveries' claims keep several servers apart anyway.
      const log = app.log;
      void startRelay(db, cfg, app, serverKey!).then(
        (r) => {
          relay = r;
          if (stopping) void r.stop();
        },
        (err: unknown) => log.error({ err }, 'events: the relay could not start'),
      );
    } else if (m.laurel === 'metrics') {
      pending.get(m.id)?.(m.text);
      pending.delete(m.id);
    } else if (m.laurel === 'figures' && app?.laurelMetrics) {
      const id = m.id;
      void app.laurelMetrics.registry
        .getMetricsAsJSON()
        .then((metrics) => send({ laurel: 'figures', id, metrics: metrics as MetricsJson }));
    }
  });

  let clock: Awaited<ReturnType<typeof prepareDatabase>> | undefined;
  try {
    db = await openDatabase({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
    clock = await prepareDatabase(db, cfg, false);
    // The primary read (or created) the key first, so every worker reads the same one.
    const giftCards = await loadGiftCardKey(cfg.dataDir);
    serverKey = giftCards.key;
    app = await buildServerApp(db, clock, cfg, giftCards.key, {
      worker: { slot, clusterMetrics },
    });
    const url = await listen(app, cfg.host, cfg.port);
    send({ laurel: 'listening', url });
  } catch (err) {
    send({ laurel: 'failed', line: failLine(err) });
    await stop(1);
  }
}
