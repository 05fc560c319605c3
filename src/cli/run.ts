import { resolve } from 'node:path';
import { envDatabaseUrl, envPreparedStatements } from '../config.js';
import {
  dataDirHolder,
  hasEmbeddedDatabase,
  openPGlite,
  openPostgres,
  type Database,
} from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { LaurelError } from '../errors.js';
import { readOperatorFile, type OperatorAddress } from '../operator/operator-file.js';
import { DB_COMMANDS, type CommandIo, type Options } from './db-commands.js';

/**
 * Runs a database command (src/cli/db-commands.ts) where its database is: on PostgreSQL directly;
 * on the embedded database directly, or, when a Laurel server holds the data directory, through
 * that server's operator endpoint (issue #18 item 3). A command that only reads refuses a
 * directory or database that holds no Laurel database rather than creating an empty one.
 */
export async function runDbCommand(name: string, options: Options, dataDir: string): Promise<void> {
  const command = DB_COMMANDS[name];
  if (!command) throw new Error(`unknown database command ${name}`);
  const databaseUrl = envDatabaseUrl();
  if (!databaseUrl) {
    if (!command.creates && !hasEmbeddedDatabase(dataDir)) {
      throw new LaurelError(
        'not_found',
        `${resolve(dataDir)} holds no Laurel database: check --data-dir (or LAUREL_DATA_DIR), ` +
          'or create one with laurel serve or laurel migrate',
      );
    }
    const holder = dataDirHolder(dataDir);
    const server = holder === undefined ? undefined : readOperatorFile(dataDir);
    if (server && server.pid === holder) {
      const absolute = { ...options };
      for (const k of command.paths ?? []) {
        if (typeof absolute[k] === 'string') absolute[k] = resolve(absolute[k]);
      }
      return runThroughServer(server, name, absolute, Boolean(command.stoppable));
    }
  }
  const db: Database = databaseUrl
    ? await openPostgres({
        url: databaseUrl,
        max: command.connections?.(options) ?? 10,
        prepare: envPreparedStatements(),
      })
    : await openPGlite(dataDir);
  const io = terminalIo(Boolean(command.stoppable));
  try {
    if (!command.creates)
      await requireLaurelSchema(db, databaseUrl ? 'the database at DATABASE_URL' : resolve(dataDir));
    await migrate(db);
    await command.run(db, options, io);
  } finally {
    io.dispose();
    await db.close();
  }
}

/** Refuses a database without Laurel's tables (a typo in DATABASE_URL's database name, say). */
async function requireLaurelSchema(db: Database, where: string): Promise<void> {
  const rows = await db.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
  if (!rows[0]?.t) {
    throw new LaurelError(
      'not_found',
      `${where} holds no Laurel database: check it, or create one with laurel serve or laurel migrate`,
    );
  }
}

/**
 * The user's terminal. A command that stops cleanly (an import) hears Ctrl-C through `signal`;
 * the others keep the default, so Ctrl-C ends them at once.
 */
function terminalIo(stoppable: boolean): CommandIo & { dispose(): void } {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  if (stoppable) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    tty: Boolean(process.stderr.isTTY),
    columns: process.stderr.columns || 120,
    signal: stop.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Has the server holding the data directory run the command, its output streamed back here. */
async function runThroughServer(
  server: OperatorAddress,
  name: string,
  options: Options,
  stoppable: boolean,
): Promise<void> {
  const headers = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' };
  let runId: string | undefined;
  let stopAsked = false;
  // Ctrl-C asks the server to stop the run as it would stop here (an import keeps its checkpoint),
  // and the summary still comes back.
  const onSignal = () => {
    if (stopAsked || !runId) return;
    stopAsked = true;
    void fetch(`${server.url}/runs/${runId}/stop`, { method: 'POST', headers }).catch(() => undefined);
  };
  if (stoppable) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    let res: Response;
    try {
      res = await fetch(`${server.url}/run`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          command: name,
          options,
          tty: Boolean(process.stderr.isTTY),
          columns: process.stderr.columns || 120,
        }),
      });
    } catch (err) {
      throw new LaurelError(
        'service_unavailable',
        `the Laurel server (pid ${server.pid}) holding the data directory did not answer: ${(err as Error).message}`,
      );
    }
    if (res.status !== 200 || !res.body) {
      const text = await res.text();
      throw new LaurelError(
        'service_unavailable',
        `the Laurel server (pid ${server.pid}) refused: ${text.trim()}`,
      );
    }
    let exit: { exit: number; error?: string } | undefined;
    let pending = '';
    const decoder = new TextDecoder();
    const frame = (line: string) => {
      if (!line) return;
      const f = JSON.parse(line) as {
        run?: string;
        out?: string;
        err?: string;
        exit?: number;
        error?: string;
      };
      if (f.run) runId = f.run;
      if (f.out !== undefined) process.stdout.write(f.out);
      if (f.err !== undefined) process.stderr.write(f.err);
      if (f.exit !== undefined) exit = { exit: f.exit, ...(f.error !== undefined ? { error: f.error } : {}) };
    };
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        frame(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    }
    frame(pending);
    if (!exit) {
      throw new LaurelError(
        'service_unavailable',
        `the Laurel server (pid ${server.pid}) stopped before the command finished`,
      );
    }
    if (exit.exit !== 0) throw new LaurelError('validation', exit.error ?? 'the command failed');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
