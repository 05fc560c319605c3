import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { ServeConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { loadGiftCardKey } from '../cashout/gift-card-key.js';
import { LaurelError } from '../errors.js';
import { createDemoIfAsked, prepareDatabase, type Serving } from '../server.js';
import {
  isLaurelMessage,
  WORKER_SLOT_ENV,
  type MetricsJson,
  type PrimaryMessage,
  type WorkerMessage,
} from './messages.js';

/** The worker that runs the sweeper (DESIGN §5): one per server, so sweeps never race each other. */
const SWEEPER_SLOT = 1;
/** A worker that dies sooner than this after its start is restarted after a pause, not at once. */
const QUICK_DEATH_MS = 5_000;
const RESTART_PAUSE_MS = 1_000;

/** One line on stderr from the primary, which has no request logger of its own. */
const note = (line: string) => void process.stderr.write(`laurel: ${line}\n`);

/**
 * The primary of `laurel serve --workers N` on PostgreSQL (docs/decisions/0005-process-model.md).
 * It does what must happen once: migrations, the simulated clock's `--now`, the gift-card key, and,
 * only once every worker holds the port, the demo retailer whose credentials the banner shows once
 * (issue #18). N workers (src/cluster/worker.ts) serve the one port, which node:cluster shares out
 * connection by connection; they share nothing but the database. Worker 1 runs the sweeper; a worker
 * that dies is replaced in its slot, the sweeper's too. The primary serves no request itself.
 */
export async function startCluster(cfg: ServeConfig, count: number): Promise<Serving> {
  const db = await openDatabase({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
  const workers = new Map<number, Worker>();
  let stopping = false;
  try {
    const clock = await prepareDatabase(db, cfg, true);
    const giftCards = await loadGiftCardKey(cfg.dataDir);
    if (giftCards.created) {
      note(
        `created a new gift-card key in ${giftCards.source}: keep this file, and give every server of this database the same one`,
      );
    }
    /** Workers that listen (asked for figures); a starting one is not yet among them. */
    const serving = new Set<Worker>();
    let started = false;
    const figures = new Map<number, { answers: MetricsJson[]; want: number; done: () => void }>();
    let nextFigures = 0;
    /**
     * Every serving worker's metrics, summed by prom-client's aggregation (each metric's own
     * aggregator: sum, or max for the database's figures). A worker that does not answer within
     * a second (starting, or dying) is left out of this scrape rather than failing it.
     */
    const clusterMetrics = async (): Promise<string> => {
      const id = nextFigures++;
      const asked = [...serving].filter((w) => w.isConnected());
      const answers: MetricsJson[] = [];
      await new Promise<void>((done) => {
        const timer = setTimeout(done, 1_000);
        figures.set(id, {
          answers,
          want: asked.length,
          done: () => {
            clearTimeout(timer);
            done();
          },
        });
        for (const w of asked) tell(w, { laurel: 'figures', id });
        if (!asked.length) done();
      });
      figures.delete(id);
      return AggregatorRegistry.aggregate(answers).metrics();
    };

    const fork = (slot: number): Promise<string> => {
      const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot) });
      const born = Date.now();
      workers.set(slot, worker);
      return new Promise<string>((done, fail) => {
        worker.on('message', (m: unknown) => {
          if (!isLaurelMessage<WorkerMessage>(m)) return;
          if (m.laurel === 'listening') {
            serving.add(worker);
            done(m.url);
            if (started && slot === SWEEPER_SLOT) tell(worker, { laurel: 'sweep' });
          } else if (m.laurel === 'failed') {
            fail(new LaurelError('service_unavailable', m.line));
          } else if (m.laurel === 'metrics') {
            void clusterMetrics().then((text) => tell(worker, { laurel: 'metrics', id: m.id, text }));
          } else if (m.laurel === 'figures') {
            const f = figures.get(m.id);
            if (!f) return;
            f.answers.push(m.metrics);
            if (f.answers.length === f.want) f.done();
          }
        });
        worker.once('exit', (code, signal) => {
          serving.delete(worker);
          fail(
            new LaurelError(
              'service_unavailable',
              `worker ${slot} exited (${signal ?? code}) while starting`,
            ),
          );
          if (workers.get(slot) !== worker) return;
          workers.delete(slot);
          if (stopping || !started) return;
          const quick = Date.now() - born < QUICK_DEATH_MS;
          note(
            `worker ${slot} (pid ${worker.process.pid}) exited (${signal ?? `code ${code}`}); starting another` +
              (quick ? ` in ${RESTART_PAUSE_MS / 1000} s` : ''),
          );
          const restart = () => {
            if (stopping || workers.has(slot)) return;
            fork(slot).catch((err: Error) => note(`worker ${slot} could not start: ${err.message}`));
          };
          if (quick) setTimeout(restart, RESTART_PAUSE_MS).unref();
          else restart();
        });
      });
    };

    const urls = await Promise.all(Array.from({ length: count }, (_, i) => fork(i + 1)));
    // Every worker holds the port: now the demo may be created (its credentials are shown once).
    const demo = await createDemoIfAsked(db, clock, cfg);
    started = true;
    const sweeper = workers.get(SWEEPER_SLOT);
    if (sweeper) tell(sweeper, { laurel: 'sweep' });

    const close = async () => {
      stopping = true;
      await stopWorkers(workers);
      await db.close();
    };
    return { db, url: urls[0]!, demo, close };
  } catch (err) {
    stopping = true;
    await stopWorkers(workers).catch(() => undefined);
    await db.close().catch(() => undefined);
    throw err;
  }
}

function tell(worker: Worker, m: PrimaryMessage): void {
  if (worker.isConnected()) worker.send(m);
}

/** Asks every worker to stop (each finishes the requests it is answering) and waits for them all. */
async function stopWorkers(workers: Map<number, Worker>): Promise<void> {
  const exits = [...workers].map(
    ([slot, w]) =>
      new Promise<string | undefined>((done) => {
        const outcome = (code: number | null, signal: string | null) =>
          code === 0
            ? undefined
            : `worker ${slot} (pid ${w.process.pid}) ended with ${signal ?? `code ${code}`}`;
        if (w.isDead()) return done(outcome(w.process.exitCode, w.process.signalCode));
        w.once('exit', (code, signal) => done(outcome(code, signal)));
        tell(w, { laurel: 'stop' });
      }),
  );
  const failed = (await Promise.all(exits)).filter((f) => f !== undefined);
  workers.clear();
  if (failed.length) throw new Error(failed.join('; '));
}
