import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';

/**
 * NATS JetStream for the events tests (issue #17): the machine's server on 127.0.0.1:4222, and a
 * server of a test's own (`/usr/sbin/nats-server` on a free port, storing in a temporary directory)
 * that the test may stop and start again. Messages are read back with an ordered consumer
 * filtered to one retailer's subjects, so runs sharing the machine's stream never see each other.
 */

/** The machine's NATS, JetStream enabled. */
export const MACHINE_NATS = 'nats://127.0.0.1:4222';
export const NATS_SERVER = '/usr/sbin/nats-server';

/** One message of the events stream as a consumer reads it. */
export interface BrokerMessage {
  subject: string;
  /** The `Nats-Msg-Id` header. */
  msgId: string | undefined;
  /** The stream sequence. */
  seq: number;
  body: string;
}

/** Every message of `stream` on `subject` (a filter, wildcards allowed), in stream order. */
export async function readStream(url: string, stream: string, subject: string): Promise<BrokerMessage[]> {
  const nc = await connect({ servers: url, timeout: 5000 });
  try {
    const js = nc.jetstream();
    const consumer = await js.consumers.get(stream, { filterSubjects: subject });
    const out: BrokerMessage[] = [];
    // Fetches until one comes back empty: the stream holds no more on the subject.
    for (;;) {
      const batch = await consumer.fetch({ max_messages: 500, expires: 1000 });
      let n = 0;
      for await (const m of batch) {
        n++;
        out.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id'), seq: m.seq, body: m.string() });
      }
      if (n === 0) return out;
    }
  } finally {
    await nc.close();
  }
}

/** Removes a filter's messages from a stream (what a test published to the machine's server). */
export async function purgeStream(url: string, stream: string, subject: string): Promise<void> {
  const nc = await connect({ servers: url, timeout: 5000 });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.purge(stream, { filter: subject });
  } finally {
    await nc.close();
  }
}

/** Runs `f` on a connection to `url` (for stream management in tests). */
export async function withNats<T>(url: string, f: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: url, timeout: 5000 });
  try {
    return await f(nc);
  } finally {
    await nc.close();
  }
}

/**
 * A nats-server of the test's own, JetStream on, file storage in its temporary directory: `stop()`
 * ends it (SIGTERM, or SIGKILL), `start()` runs it again on the same port and directory, so its
 * streams survive the restart as a broker's do. The first start takes a port the server picks
 * itself, so two test files never race for one.
 */
export class OwnNats {
  readonly dir = mkdtempSync(join(tmpdir(), 'laurel-nats-'));
  port = 0;
  private child: ChildProcess | undefined;

  constructor() {
    created.add(this);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (this.child) return this;
    const port = this.port ? String(this.port) : '-1';
    const child = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', port, '-sd', this.dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let log = '';
    // Ready once this very process says so (a probe of the port could reach another one).
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`nats-server did not start:\n${log}`)), 20_000);
      const read = (s: string) => {
        log += s;
        const listening = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
        if (listening && /Server is ready/.test(log)) {
          clearTimeout(timer);
          this.port = Number(listening[1]);
          done();
        }
      };
      child.stdout!.setEncoding('utf8').on('data', read);
      child.stderr!.setEncoding('utf8').on('data', read);
      child.once('exit', (code) => {
        if (this.child === child) this.child = undefined;
        clearTimeout(timer);
        fail(new Error(`nats-server exited with ${code}:\n${log}`));
      });
    });
    return this;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    const gone = new Promise((done) => child.once('exit', done));
    child.kill(signal);
    await gone;
    this.child = undefined;
  }

  /** Stops the server and removes its directory. */
  async remove(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
    created.delete(this);
  }
}

const created = new Set<OwnNats>();

/**
 * Removes every nats-server a test of this file started and did not remove: register in afterAll,
 * so a test that timed out leaves no server running (it outlives the test process).
 */
export async function removeAllNats(): Promise<void> {
  for (const n of [...created]) await n.remove();
}
