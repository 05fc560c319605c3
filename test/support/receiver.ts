import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a receiver got. */
export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** What it answered; 0 for a request it held until the sender gave up or died. */
  status: number;
}

/**
 * A real webhook receiver on loopback (issue #17 tests): records every request and answers what
 * `answer` says (200 by default), or, for `'hold'`, never answers: the request is recorded with
 * status 0 once the sender closes the connection. `down()` closes its port and `up()` opens the
 * same port again.
 */
export class Receiver {
  readonly got: Received[] = [];
  answer: (body: string, n: number) => number | 'hold' = () => 200;
  /** Requests held unanswered right now. */
  holding = 0;
  private server: Server | undefined;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async up(): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const status = this.answer(body, this.got.length);
        if (status === 'hold') {
          this.holding += 1;
          res.once('close', () => {
            this.holding -= 1;
            this.got.push({ headers: req.headers, body, status: 0 });
          });
          return;
        }
        this.got.push({ headers: req.headers, body, status });
        res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' }).end('ok');
      });
    });
    await new Promise<void>((done) => server.listen(this.port, '127.0.0.1', done));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((done) => s.close(() => done()));
  }

  /** The events it answered 2xx, parsed, in arrival order. */
  delivered(): { id: string; type: string; data: Record<string, unknown> }[] {
    return this.got.filter((g) => g.status >= 200 && g.status < 300).map((g) => JSON.parse(g.body));
  }
}

/** Waits until `cond` holds, checking every `ms`; fails after `tries` (no timing is asserted). */
export async function eventually(
  cond: () => Promise<boolean> | boolean,
  tries = 600,
  ms = 50,
): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, ms));
  }
  throw new Error('condition not reached');
}
