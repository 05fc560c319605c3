import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import type { Database } from '../db/database.js';
import { DB_COMMANDS, type CommandIo, type Options } from '../cli/db-commands.js';
import { failLine } from '../cli/fail-line.js';
import { writeOperatorFile } from './operator-file.js';

/**
 * The operator endpoint of a server on the embedded database (issue #18 item 3). PGlite lets one
 * process open a data directory, so while a server runs, `laurel verify`, `sweep`, `import`,
 * `cashout report` and the tenant commands could not. The server listens on a loopback port of its
 * own (never on the API's address), takes a random token it writes beside its lock file (mode 0600,
 * never logged), and runs those commands on its own database, streaming their output back.
 *
 * Protocol: `POST /run` `{command, options, tty, columns}` with `Authorization: Bearer <token>`
 * answers NDJSON lines: `{"run":id}` first, then `{"out":text}` / `{"err":text}`, and last
 * `{"exit":0}` or `{"exit":1,"error":line}`. `POST /runs/<id>/stop` stops a run as Ctrl-C would.
 */

export interface OperatorEndpoint {
  url: string;
  close(): Promise<void>;
}

export interface OperatorLog {
  info(obj: object, msg: string): void;
}

const MAX_BODY = 64 * 1024;
const digest = (s: string) => createHash('sha256').update(s).digest();

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

function answer(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startOperatorEndpoint(
  db: Database,
  dataDir: string,
  log: OperatorLog,
): Promise<OperatorEndpoint> {
  const token = randomBytes(32).toString('base64url');
  const expected = digest(token);
  const runs = new Map<string, { stop: AbortController; done: Promise<void> }>();

  const authorized = (req: IncomingMessage): boolean => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    return !!m && timingSafeEqual(digest(m[1]!), expected);
  };

  const run = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const text = await readBody(req);
    let body: { command?: unknown; options?: unknown; tty?: unknown; columns?: unknown };
    try {
      body = text === undefined ? {} : (JSON.parse(text) as typeof body);
    } catch {
      body = {};
    }
    const name = typeof body.command === 'string' ? body.command : '';
    const command = Object.hasOwn(DB_COMMANDS, name) ? DB_COMMANDS[name] : undefined;
    if (!command || typeof body.options !== 'object' || body.options === null) {
      answer(res, 400, { error: `not a command this server runs: ${name.slice(0, 40)}` });
      return;
    }
    const id = randomUUID();
    const stop = new AbortController();
    const write = (frame: object) => {
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(frame)}\n`);
    };
    const io: CommandIo = {
      out: (s) => write({ out: s }),
      err: (s) => write({ err: s }),
      tty: body.tty === true,
      columns: typeof body.columns === 'number' ? body.columns : 120,
      signal: stop.signal,
    };
    // The CLI gone (killed, connection cut): the command stops as it would on Ctrl-C.
    res.on('close', () => stop.abort());
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    write({ run: id });
    log.info({ command: name }, 'operator command started');
    const done = command.run(db, body.options as Options, io).then(
      () => {
        write({ exit: 0 });
        log.info({ command: name }, 'operator command done');
      },
      (err: unknown) => {
        write({ exit: 1, error: failLine(err) });
        log.info({ command: name, error: failLine(err) }, 'operator command failed');
      },
    );
    runs.set(id, { stop, done });
    try {
      await done;
    } finally {
      runs.delete(id);
      res.end();
    }
  };

  const server = createServer((req, res) => {
    if (!isLoopback(req.socket.remoteAddress)) return answer(res, 403, { error: 'loopback only' });
    if (!authorized(req)) return answer(res, 401, { error: 'the operator token is missing or wrong' });
    if (req.method === 'POST' && req.url === '/run') {
      run(req, res).catch(() => res.destroy());
      return;
    }
    const stopping = /^\/runs\/([0-9a-f-]{36})\/stop$/.exec(req.url ?? '');
    if (req.method === 'POST' && stopping) {
      runs.get(stopping[1]!)?.stop.abort();
      return answer(res, 200, { stopping: runs.has(stopping[1]!) });
    }
    return answer(res, 404, { error: 'no such route' });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let file: string;
  try {
    file = writeOperatorFile(dataDir, { pid: process.pid, url, token });
  } catch (err) {
    server.close();
    throw err;
  }

  return {
    url,
    async close() {
      rmSync(file, { force: true });
      // Running commands stop as on Ctrl-C (an import keeps its checkpoint) before the database closes.
      for (const r of runs.values()) r.stop.abort();
      await Promise.all([...runs.values()].map((r) => r.done.catch(() => undefined)));
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      });
    },
  };
}
