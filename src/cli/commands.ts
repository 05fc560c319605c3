import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { VERSION } from '../app.js';
import { openApiDocument } from '../openapi.js';
import { SimulatedClock } from '../clock.js';
import {
  DEFAULT_SWEEP_INTERVAL,
  envDatabaseUrl,
  envDataDir,
  envEventsLeaseMs,
  envFirstRetryMs,
  type ServeConfig,
} from '../config.js';
import { openDatabase, type Database } from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { parseInstant } from '../domain/time.js';
import { createDemoPopulation, type MemberWithHistory } from '../demo/simulate.js';
import { LaurelError } from '../errors.js';
import { checkImportFile } from '../import/import.cli.js';
import { DEFAULT_SWEEP_BATCH } from '../jobs/sweeper.js';
import { failLine } from './fail-line.js';
import { runDbCommand } from './run.js';

export { failLine };
import { QUICK_START_CUSTOMERS, startServer } from '../server.js';
import { startCluster } from '../cluster/primary.js';
import { runWorker } from '../cluster/worker.js';

/** The `laurel` command (issue #2). Errors: one clear line on stderr and a non-zero exit. */

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The demo members worth a look first, one line each (issue #18). */
function memberLines(members: MemberWithHistory[]): string[] {
  const width = Math.max(...members.map((m) => m.email.length));
  return [
    'Demo members with history (search by email, or open them in the console):',
    ...members.map(
      (m) =>
        `  ${m.email.padEnd(width)}  ${plural(m.purchases, 'purchase')}, ${plural(m.returns, 'return')}, ` +
        plural(m.spends, 'redemption'),
    ),
  ];
}

function int(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/**
 * How many processes serve (`--workers`, docs/decisions/0005-process-model.md): by default one per
 * core on PostgreSQL; always one on the embedded database, which one process holds (PGlite has a
 * single connection), said in one line when more were asked.
 */
function serveWorkers(asked: number | undefined, postgres: boolean): number {
  if (postgres) return asked ?? availableParallelism();
  if (asked !== undefined && asked > 1) {
    process.stderr.write(
      `laurel: --workers ${asked} needs PostgreSQL (DATABASE_URL): the embedded database is held by one process, so 1 worker serves\n`,
    );
  }
  return 1;
}

function instant(value: string): Date {
  const d = parseInstant(value);
  if (!d)
    throw new InvalidArgumentError('expected an ISO-8601 instant with an offset, e.g. 2026-11-01T12:00:00Z');
  return d;
}

const dataDirOption = () =>
  new Option('--data-dir <dir>', 'embedded database directory (ignored when DATABASE_URL is set)').default(
    envDataDir(),
  );

/** Opens the configured database, migrates it, runs `fn`, and closes it. */
async function withDatabase<T>(dataDir: string, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase({ databaseUrl: envDatabaseUrl(), dataDir });
  try {
    await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

function print(json: boolean, value: Record<string, unknown>): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  } else {
    for (const [k, v] of Object.entries(value)) process.stdout.write(`${k}: ${String(v)}\n`);
  }
}

export function buildCli(): Command {
  const program = new Command('laurel')
    .description('Laurel loyalty platform')
    .version(VERSION)
    .showHelpAfterError(false)
    .configureOutput({ outputError: (str, write) => write(str.replace(/\n+$/, '') + '\n') });

  program
    .command('serve')
    .description('run the API server (embedded database unless DATABASE_URL is set)')
    // .env(): PORT, HOST and LOG_LEVEL get the flags' checks (one clear line, before any database work).
    .addOption(
      new Option('--port <n>', 'port to listen on').env('PORT').argParser(int(0, 65535)).default(8080),
    )
    .addOption(new Option('--host <host>', 'address to listen on').env('HOST').default('127.0.0.1'))
    .addOption(dataDirOption())
    .addOption(
      new Option('--clock <kind>', 'real or simulated (moved by POST /admin/v1/clock)')
        .choices(['real', 'simulated'])
        .default('real'),
    )
    .addOption(new Option('--now <iso>', 'start of the simulated clock').argParser(instant))
    .option('--demo', 'on an empty database, create the demo retailer, ACME program and demo members')
    .addOption(
      new Option('--demo-customers <n>', 'members --demo creates')
        .argParser(int(1, 100_000))
        .default(QUICK_START_CUSTOMERS),
    )
    .addOption(
      new Option('--demo-months <m>', 'months of simulated purchases, returns and redemptions for them')
        .argParser(int(0, 120))
        .default(0),
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .env('LOG_LEVEL')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .addOption(
      new Option('--sweep-interval <seconds>', 'seconds between rollover sweeps; 0 disables the sweeper')
        .env('LAUREL_SWEEP_INTERVAL')
        .argParser(int(0, 86_400))
        .default(DEFAULT_SWEEP_INTERVAL),
    )
    .addOption(
      new Option(
        '--workers <n>',
        'processes serving the port (default: one per core on PostgreSQL; always 1 on the embedded database)',
      )
        .env('LAUREL_WORKERS')
        .argParser(int(1, 256)),
    )
    .addOption(
      new Option(
        '--events-broker <url>',
        'also publish every event to this NATS JetStream server (docs/events.md)',
      ).env('LAUREL_EVENTS_BROKER'),
    )
    .action(async (o) => {
      if (o.now && o.clock !== 'simulated')
        throw new LaurelError('validation', '--now needs --clock simulated');
      const cfg: ServeConfig = {
        host: o.host,
        port: o.port,
        dataDir: o.dataDir,
        databaseUrl: envDatabaseUrl(),
        clock: o.clock,
        now: o.now,
        demo: Boolean(o.demo),
        demoCustomers: o.demoCustomers,
        demoMonths: o.demoMonths,
        logLevel: o.logLevel,
        bodyLimit: 1024 * 1024,
        sweepInterval: o.sweepInterval,
        eventsBroker: o.eventsBroker,
      };
      // The relay's settings are read when it starts; a bad one is refused before anything starts.
      envFirstRetryMs();
      envEventsLeaseMs();
      // A worker of `--workers N` (src/cluster/): the primary prints the banner and handles signals.
      if (cluster.isWorker) return runWorker(cfg);
      const workers = serveWorkers(o.workers as number | undefined, Boolean(cfg.databaseUrl));
      const server = workers > 1 ? await startCluster(cfg, workers) : await startServer(cfg);
      const base = server.url.replace('://127.0.0.1', '://localhost');
      const lines = [
        `Laurel ${VERSION} listening on ${base}`,
        `  database: ${cfg.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded, ${cfg.dataDir}`}`,
        `  workers:  ${workers}`,
        `  clock:    ${cfg.clock}${cfg.clock === 'simulated' ? ` (now ${(await new SimulatedClock(server.db).now()).toISOString()})` : ''}`,
        `  console:  ${base}/console (sign in with an admin token)`,
        `  API docs: ${base}/docs`,
        `  OpenAPI:  ${base}/openapi.json`,
      ];
      if (server.demo) {
        const d = server.demo;
        lines.push(
          '',
          'Demo retailer created (these credentials are shown once; secrets are stored hashed):',
          `  base_url:    ${base}`,
          `  retailer_id: ${d.retailer_id}`,
          `  api_key:     ${d.api_key}`,
          `  secret:      ${d.secret}`,
          `  admin_token: ${d.admin_token}`,
          '',
          'Try (the first line sets API_KEY and SECRET in your shell):',
          `  export API_KEY=${d.api_key} SECRET=${d.secret}`,
          `  curl -u "$API_KEY:$SECRET" '${base}/priv/v1/apps/${d.api_key}/users/search?email=${d.members_with_history[0]?.email ?? 'test@example.com'}&expand_incentives=true'`,
        );
        if (d.members_with_history.length) lines.push('', ...memberLines(d.members_with_history));
      } else if (cfg.demo) {
        lines.push(
          '',
          'The database already has a retailer; its credentials were printed when it was created.',
        );
        lines.push(
          'New ones: npx laurel apps create --retailer <retailer_id> / npx laurel tokens create --retailer <retailer_id>',
        );
      }
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        // Later signals are ignored, not fatal: Ctrl-C under `npm start` reaches npm and node both, and
        // dying mid-close would leave the embedded database half-written and its lock behind.
        if (stopping) return;
        stopping = true;
        server.close().then(
          () => {
            // One line, so an operator knows the data directory was closed properly (issue #18).
            process.stdout.write(`Laurel stopped cleanly (${signal})\n`);
            process.exit(0);
          },
          (err: unknown) => {
            process.stderr.write(`laurel: could not stop cleanly: ${failLine(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      // The banner announces readiness, so it comes after the handlers: a supervisor that stops the
      // server as soon as it reads the banner must get a clean close, not the default kill.
      process.stdout.write(lines.join('\n') + '\n');
    });

  program
    .command('migrate')
    .description('apply pending database migrations')
    .addOption(dataDirOption())
    .action(async (o) => {
      const db = await openDatabase({ databaseUrl: envDatabaseUrl(), dataDir: o.dataDir });
      try {
        const applied = await migrate(db);
        process.stdout.write(
          applied.length ? `applied migrations ${applied.join(', ')}\n` : 'database is up to date\n',
        );
      } finally {
        await db.close();
      }
    });

  program
    .command('demo')
    .description('create a demo retailer with the ACME program, an app and an admin token')
    .addOption(dataDirOption())
    .addOption(
      new Option('--customers <n>', 'demo members to create').argParser(int(0, 1_000_000)).default(0),
    )
    .addOption(
      new Option(
        '--months <m>',
        'simulate this many months of purchases, returns, redemptions and opt-outs for the members, ending now',
      )
        .argParser(int(0, 120))
        .default(0),
    )
    .addOption(
      new Option('--seed <n>', 'seed of the simulation').argParser(int(0, 2 ** 31)).default(20261126),
    )
    .option('--json', 'print one JSON object {retailer_id, api_key, secret, admin_token}')
    .action(async (o) => {
      const tty = process.stderr.isTTY;
      const { history, members_with_history, ...creds } = await withDatabase(o.dataDir, (db) =>
        createDemoPopulation(db, new Date(), o.customers, o.months, {
          seed: o.seed,
          onMember: (done, total) => {
            if (tty) process.stderr.write(`\rsimulating members: ${done}/${total}`);
            else if (done === total || done % 1000 === 0)
              process.stderr.write(`simulated ${done}/${total} members\n`);
          },
        }),
      );
      if (tty && history) process.stderr.write('\n');
      print(Boolean(o.json), { ...creds, ...(history && !o.json ? history : {}) });
      if (!o.json && members_with_history.length) {
        process.stdout.write(`${memberLines(members_with_history).join('\n')}\n`);
      }
    });

  program
    .command('verify')
    .description('check the ledger invariants; exits non-zero naming what is wrong')
    .addOption(dataDirOption())
    .action(async (o) => runDbCommand('verify', {}, o.dataDir));

  program
    .command('sweep')
    .description(
      'roll over every escrow lot matured by --now and run the cash-out of the last period that ended ' +
        '(what the server sweeper does every --sweep-interval). ' +
        '--now defaults to the simulated clock stored in the database when it has one (a database served ' +
        'with --clock simulated lives on that time), else the real time; a --now later than that is ' +
        'refused, as it would settle points before they mature',
    )
    .addOption(dataDirOption())
    .addOption(
      new Option('--batch-size <n>', 'members per batch')
        .argParser(int(1, 100_000))
        .default(DEFAULT_SWEEP_BATCH),
    )
    .addOption(new Option('--now <iso>', 'roll over the lots matured by this instant').argParser(instant))
    .action(async (o) =>
      runDbCommand(
        'sweep',
        { batchSize: o.batchSize, now: (o.now as Date | undefined)?.toISOString() },
        o.dataDir,
      ),
    );

  const cashout = program.command('cashout').description('cash-outs of points into gift cards');
  cashout
    .command('report')
    .description(
      'the cash-out report of a period (default: every period): members, points converted, gift-card value, points left',
    )
    .option('--retailer <id>', 'retailer id (needed when the database has more than one)')
    .option('--period <YYYY-Qn>', 'one period, e.g. 2026-Q4')
    .addOption(dataDirOption())
    .option('--json', 'print one JSON object per period')
    .action(async (o) =>
      runDbCommand(
        'cashout report',
        { retailer: o.retailer, period: o.period, json: Boolean(o.json) },
        o.dataDir,
      ),
    );

  const json = () => new Option('--json', 'print JSON (one object a line for lists)');
  const retailers = program.command('retailers').description('manage retailers (tenants)');
  retailers
    .command('create')
    .description('create a retailer with the ACME program')
    .requiredOption('--name <name>', 'retailer name')
    .addOption(dataDirOption())
    .addOption(json())
    .action(async (o) =>
      runDbCommand('retailers create', { name: o.name, json: Boolean(o.json) }, o.dataDir),
    );
  retailers
    .command('list')
    .description('every retailer: id, name, when created, active apps and admin tokens')
    .addOption(dataDirOption())
    .addOption(json())
    .action(async (o) => runDbCommand('retailers list', { json: Boolean(o.json) }, o.dataDir));

  const apps = program.command('apps').description('manage apps (digital properties)');
  apps
    .command('create')
    .description('create an app: an API key and a secret, shown once')
    .requiredOption('--retailer <id>', 'retailer id')
    .option('--name <name>', 'app name', 'app')
    .addOption(dataDirOption())
    .addOption(json())
    .action(async (o) =>
      runDbCommand('apps create', { retailer: o.retailer, name: o.name, json: Boolean(o.json) }, o.dataDir),
    );
  apps
    .command('list')
    .description('the apps (of one retailer, or all), revoked ones with when; never their secrets')
    .option('--retailer <id>', 'only this retailer')
    .addOption(dataDirOption())
    .addOption(json())
    .action(async (o) =>
      runDbCommand('apps list', { retailer: o.retailer, json: Boolean(o.json) }, o.dataDir),
    );
  apps
    .command('revoke')
    .description('revoke an app: every running server refuses its key within 2 seconds')
    .argument('<api_key>', 'the API key of the app')
    .addOption(dataDirOption())
    .addOption(json())
    .action(async (apiKey: string, o) =>
      runDbCommand('apps revoke', { apiKey, json: Boolean(o.json) }, o.dataDir),
    );

  const tokens = program.command('tokens').description('manage admin tokens');
  tokens
    .command('create')
    .description('create an admin token, shown once')
    .requiredOption('--retailer <id>', 'retailer id')
    .option('--name <name>', 'token name', 'admin')
    .addOption(dataDirOption())
    .addOption(json())
    .action(async (o) =>
      runDbCommand('tokens create', { retailer: o.retailer, name: o.name, json: Boolean(o.json) }, o.dataDir),
    );
  tokens
    .command('list')
    .description(
      'the admin tokens (of one retailer, or all) by id, revoked ones with when; never their secrets',
    )
    .option('--retailer <id>', 'only this retailer')
    .addOption(dataDirOption())
    .addOption(json())
    .action(async (o) =>
      runDbCommand('tokens list', { retailer: o.retailer, json: Boolean(o.json) }, o.dataDir),
    );
  tokens
    .command('revoke')
    .description(
      'revoke an admin token: every running server refuses it within 2 seconds, and its console sessions end',
    )
    .argument('<token_id>', 'the id of the token (the 16 hex digits after lat_, as tokens list shows)')
    .addOption(dataDirOption())
    .addOption(json())
    .action(async (id: string, o) => runDbCommand('tokens revoke', { id, json: Boolean(o.json) }, o.dataDir));

  const imports = program
    .command('import')
    .description(
      'bulk import of customers, transactions or opening balances from CSV or NDJSON (docs/import.md)',
    );
  for (const kind of ['customers', 'transactions', 'balances'] as const) {
    const command = imports
      .command(kind)
      .description(
        kind === 'customers'
          ? "import customers through the API's rules: CSV of Core user fields, or NDJSON of user objects"
          : kind === 'balances'
            ? "import each member's opening balance, tier and tier points as the old platform showed them at the cut-over"
            : 'import purchases and returns as the till sends them, each at its own purchase time: CSV of item lines, or NDJSON of send_transaction bodies',
      )
      .argument('<file>', 'CSV with a header line (.csv) or NDJSON (.ndjson, .jsonl)')
      .option('--retailer <id>', 'retailer id (needed when the database has more than one)')
      .addOption(
        new Option('--format <format>', 'file format, when the extension does not tell').choices([
          'csv',
          'ndjson',
        ]),
      )
      .option('--rejects <path>', 'where bad rows are named (default FILE.rejects.ndjson)')
      .addOption(
        new Option(
          '--concurrency <n>',
          'rows in flight, written in batches of up to half of them (default 256 on PostgreSQL, 64 on the embedded database)',
        ).argParser(int(1, 1024)),
      )
      .option('--restart', 'ignore the checkpoint of an interrupted run and read the file from the start')
      .addOption(
        new Option('--progress-interval <seconds>', 'seconds between progress lines when not on a terminal')
          .argParser(int(1, 3600))
          .default(5),
      )
      .option('--json', 'print the summary as one JSON object (and no progress lines)')
      .addOption(dataDirOption());
    if (kind === 'customers') {
      command.addOption(
        new Option(
          '--cutover <instant>',
          'ISO 8601 instant Laurel takes over cash-outs; quarters ending by it are not cashed out (default: the import time)',
        ).argParser(instant),
      );
    }
    if (kind === 'balances') {
      command.addOption(
        new Option(
          '--cutover <instant>',
          'ISO 8601 instant the balances are of, not after the import time (default: the import time)',
        ).argParser(instant),
      );
    }
    if (kind === 'transactions') {
      command.option(
        '--history-only',
        "the old platform's history before the cut-over: recorded for later returns, earning nothing again",
      );
    }
    command.action(async (file: string, o) => {
      const format = checkImportFile(file, o.format);
      await runDbCommand(
        `import ${kind}`,
        {
          file,
          format,
          retailer: o.retailer,
          rejects: o.rejects,
          concurrency: o.concurrency,
          restart: Boolean(o.restart),
          progressInterval: o.progressInterval,
          json: Boolean(o.json),
          cutover: (o.cutover as Date | undefined)?.toISOString(),
          historyOnly: Boolean(o.historyOnly),
        },
        o.dataDir,
      );
    });
  }

  program
    .command('openapi')
    .description('print the OpenAPI document')
    .action(async () => {
      process.stdout.write(`${JSON.stringify(await openApiDocument(), null, 2)}\n`);
    });

  return program;
}
