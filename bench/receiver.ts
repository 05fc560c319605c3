/**
 * The webhook receiver of the benchmark (issue #17): `node:http` on loopback, in a worker thread of
 * its own so that answering the relay's POSTs does not stall the load generator's event loop (the
 * two still share the machine's cores, as a receiver on the same host would). It checks each POST's
 * signature as docs/events.md tells a receiver to, answers 200 at once (400 to a bad signature), and
 * counts.
 */
import http from 'node:http';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { verifySignature } from '../src/domain/events.js';

export interface ReceiverCounts {
  /** Every POST received, repeats included. */
  posts: number;
  /** Distinct `laurel-event-id`s answered 200. */
  events: number;
  /** POSTs answered 400: a signature that did not verify, or a body whose id is not its header's. */
  rejected: number;
  /** `process.hrtime.bigint()` when the last POST was answered 200 (0 before any). */
  lastAt: bigint;
}

export interface Receiver {
  url: string;
  /** The webhook's signing secret, known once the webhook is created (after the receiver listens). */
  setSecret(secret: string): void;
  counts(): Promise<ReceiverCounts>;
  close(): Promise<void>;
}

type ToWorker = { secret: string } | { counts: number };
type FromWorker = { url: string } | { id: number; counts: ReceiverCounts };

const ROLE = 'laurel-bench-webhook-receiver';

/** Starts the receiver's thread and waits until it listens. */
export async function startReceiver(): Promise<Receiver> {
  const worker = new Worker(new URL(import.meta.url), { workerData: ROLE });
  const asked = new Map<number, (c: ReceiverCounts) => void>();
  let next = 0;
  const url = await new Promise<string>((done, fail) => {
    worker.once('error', fail);
    worker.once('message', (m: FromWorker) => ('url' in m ? done(m.url) : fail(new Error('receiver'))));
  });
  worker.on('message', (m: FromWorker) => {
    if ('id' in m) {
      asked.get(m.id)?.(m.counts);
      asked.delete(m.id);
    }
  });
  const post = (m: ToWorker) => worker.postMessage(m);
  return {
    url,
    setSecret: (secret) => post({ secret }),
    counts: () =>
      new Promise((done) => {
        const id = next++;
        asked.set(id, done);
        post({ counts: id });
      }),
    close: async () => void (await worker.terminate()),
  };
}

function runReceiver(): void {
  let secret: string | undefined;
  const seen = new Set<string>();
  const counts: ReceiverCounts = { posts: 0, events: 0, rejected: 0, lastAt: 0n };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      counts.posts += 1;
      const body = Buffer.concat(chunks).toString('utf8');
      const id = req.headers['laurel-event-id'];
      const signature = req.headers['laurel-signature'];
      const good =
        req.method === 'POST' &&
        secret !== undefined &&
        typeof id === 'string' &&
        typeof signature === 'string' &&
        verifySignature(secret, body, signature, new Date()) &&
        bodyId(body) === id;
      if (!good) {
        counts.rejected += 1;
        res.writeHead(400).end();
        return;
      }
      if (!seen.has(id)) {
        seen.add(id);
        counts.events += 1;
      }
      counts.lastAt = process.hrtime.bigint();
      res.writeHead(200).end();
    });
  });
  parentPort!.on('message', (m: ToWorker) => {
    if ('secret' in m) secret = m.secret;
    else parentPort!.postMessage({ id: m.counts, counts: { ...counts } } satisfies FromWorker);
  });
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    parentPort!.postMessage({ url: `http://127.0.0.1:${port}/laurel-events` } satisfies FromWorker);
  });
}

function bodyId(body: string): unknown {
  try {
    return (JSON.parse(body) as { id?: unknown }).id;
  } catch {
    return undefined;
  }
}

if (!isMainThread && workerData === ROLE) runReceiver();
