import { Command, InvalidArgumentError, Option } from 'commander';
import { VERSION } from '../app.js';
import { openApiDocument } from '../openapi.js';
import { SimulatedClock } from '../clock.js';
import { DEFAULT_SWEEP_INTERVAL, envDatabaseUrl, envDataDir, type ServeConfig } from '../config.js';
import { openDatabase, type Database } from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { parseInstant } from '../domain/time.js';
import { createDemoPopulation } from '../demo/simulate.js';
import { LaurelError } from '../errors.js';
import { DEFAULT_SWEEP_BATCH, findStoredClock, sweepOnce } from '../jobs/sweeper.js';
import { verifyLedger } from '../ledger/verify.js';
import { cashOutReport, cashOutReports } from '../cashout/cashout.service.js';
import { isUuid } from '../domain/ids.js';
import { checkImportFile, importCommand, openImportDatabase } from '../import/import.cli.js';
import { QUICK_START_CUSTOMERS, startServer } from '../server.js';
import { createAdminToken, createApp, createRetailer } from '../tenancy/tenancy.service.js';

/** The `laurel` command (issue #2). Errors: one clear line on stderr and a non-zero exit. */

function int(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return n;
  };
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
      };
      const server = await startServer(cfg);
      const base = server.url.replace('://127.0.0.1', '://localhost');
      const lines = [
        `Laurel ${VERSION} listening on ${base}`,
        `  database: ${cfg.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded, ${cfg.dataDir}`}`,
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
          'Try:',
          `  curl -u ${d.api_key}:${d.secret} '${base}/priv/v1/apps/${d.api_key}/users/search?email=test@example.com&expand_incentives=true'`,
        );
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
      const stop = () => {
        // Later signals are ignored, not fatal: Ctrl-C under `npm start` reaches npm and node both, and
        // dying mid-close would leave the embedded database half-written and its lock behind.
        if (stopping) return;
        stopping = true;
        server.close().then(
          () => process.exit(0),
          () => process.exit(1),
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
      const { history, ...creds } = await withDatabase(o.dataDir, (db) =>
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
    });

  program
    .command('verify')
    .description('check the ledger invariants; exits non-zero naming what is wrong')
    .addOption(dataDirOption())
    .action(async (o) => {
      const started = performance.now();
      const report = await withDatabase(o.dataDir, (db) => verifyLedger(db));
      const seconds = (performance.now() - started) / 1000;
      if (report.problems.length) {
        for (const p of report.problems) process.stderr.write(`laurel verify: ${p}\n`);
        throw new LaurelError(
          'validation',
          `ledger verification failed: ${report.problems.length} problem(s)`,
        );
      }
      process.stdout.write(
        `ledger verified: ${report.journals} journals, ${report.postings} postings, ` +
          `${report.balances} balances, ${report.lots} lots in ${seconds.toFixed(1)} s ` +
          `(${Math.round(report.journals / Math.max(seconds, 0.001))} journals/s)\n`,
      );
    });

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
    .action(async (o) => {
      const result = await withDatabase(o.dataDir, async (db) => {
        const stored = await findStoredClock(db);
        const clockNow = stored ?? new Date();
        const source = stored ? 'simulated clock' : 'real clock';
        const now: Date = o.now ?? clockNow;
        if (now > clockNow) {
          throw new LaurelError(
            'validation',
            `--now ${now.toISOString()} is later than the database's ${source} (${clockNow.toISOString()}): ` +
              'sweeping ahead of it would settle points before they mature',
          );
        }
        // Waits for a server's sweeper rather than leaving the work to it: when this returns,
        // nothing matured by `now` waits any more.
        const r = await sweepOnce(db, { now: async () => now }, { batchSize: o.batchSize, wait: true });
        return { ...r, source: o.now ? '--now' : source };
      });
      for (const f of result.failures) {
        process.stderr.write(`laurel sweep: user ${f.user_id}: ${failLine(f.error)}\n`);
      }
      process.stdout.write(
        `swept ${result.lots} lots for ${result.members} members as of ${result.now.toISOString()} (${result.source})\n`,
      );
      // A run that visited nobody had nothing to convert: no line for it.
      for (const run of result.cash_outs.filter((c) => c.members > 0 || !c.completed)) {
        process.stdout.write(
          `cash-out ${run.period} of retailer ${run.retailer_id}: settled ${run.members} members` +
            `${run.completed ? '; run complete' : '; run not complete'}\n`,
        );
      }
      if (result.failures.length) {
        throw new LaurelError(
          'internal_server_error',
          `${result.failures.length} member(s) could not be settled`,
        );
      }
    });

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
    .action(async (o) => {
      const reports = await withDatabase(o.dataDir, async (db) => {
        const retailerId = await soleRetailer(db, o.retailer);
        const now = (await findStoredClock(db)) ?? new Date();
        return o.period
          ? [await cashOutReport(db, retailerId, o.period, now)]
          : await cashOutReports(db, retailerId, now);
      });
      if (o.json) {
        for (const r of reports) process.stdout.write(`${JSON.stringify(r)}\n`);
        return;
      }
      if (!reports.length) {
        process.stdout.write('no cash-outs yet\n');
        return;
      }
      const rows = reports.map((r) => [
        r.period,
        r.period_end.toISOString(),
        String(r.members),
        String(r.points_converted),
        `${r.gift_card_value.toFixed(2)} ${r.currency}`,
        String(r.points_left),
        r.run
          ? r.run.completed_at
            ? 'complete'
            : r.run.failures
              ? `incomplete: ${r.run.failures} failure(s), last: ${r.run.last_error ?? 'unknown'}`
              : 'running'
          : 'not started',
      ]);
      const head = [
        'period',
        'cash-out at',
        'members',
        'points converted',
        'gift-card value',
        'points left',
        'run',
      ];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const line of [head, ...rows]) {
        process.stdout.write(
          `${line
            .map((c, i) => c.padEnd(widths[i]!))
            .join('  ')
            .trimEnd()}\n`,
        );
      }
    });

  const retailers = program.command('retailers').description('manage retailers (tenants)');
  retailers
    .command('create')
    .description('create a retailer with the ACME program')
    .requiredOption('--name <name>', 'retailer name')
    .addOption(dataDirOption())
    .option('--json', 'print JSON')
    .action(async (o) => {
      const r = await withDatabase(o.dataDir, (db) => createRetailer(db, o.name, new Date()));
      print(Boolean(o.json), { retailer_id: r.id, name: r.name });
    });

  const apps = program.command('apps').description('manage apps (digital properties)');
  apps
    .command('create')
    .description('create an app: an API key and a secret, shown once')
    .requiredOption('--retailer <id>', 'retailer id')
    .option('--name <name>', 'app name', 'app')
    .addOption(dataDirOption())
    .option('--json', 'print JSON')
    .action(async (o) => {
      const a = await withDatabase(o.dataDir, (db) => createApp(db, o.retailer, o.name, new Date()));
      print(Boolean(o.json), { ...a });
    });

  const tokens = program.command('tokens').description('manage admin tokens');
  tokens
    .command('create')
    .description('create an admin token, shown once')
    .requiredOption('--retailer <id>', 'retailer id')
    .option('--name <name>', 'token name', 'admin')
    .addOption(dataDirOption())
    .option('--json', 'print JSON')
    .action(async (o) => {
      const t = await withDatabase(o.dataDir, (db) => createAdminToken(db, o.retailer, o.name, new Date()));
      print(Boolean(o.json), { ...t });
    });

  const imports = program
    .command('import')
    .description('bulk import of customers or transactions from CSV or NDJSON (docs/import.md)');
  for (const kind of ['customers', 'transactions'] as const) {
    imports
      .command(kind)
      .description(
        kind === 'customers'
          ? "import customers through the API's rules: CSV of Core user fields, or NDJSON of user objects"
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
          'rows in flight (default 8 on PostgreSQL, 1 on the embedded database)',
        ).argParser(int(1, 64)),
      )
      .option('--restart', 'ignore the checkpoint of an interrupted run and read the file from the start')
      .addOption(
        new Option('--progress-interval <seconds>', 'seconds between progress lines when not on a terminal')
          .argParser(int(1, 3600))
          .default(5),
      )
      .option('--json', 'print the summary as one JSON object (and no progress lines)')
      .addOption(dataDirOption())
      .action(async (file: string, o) => {
        const format = checkImportFile(file, o.format);
        const databaseUrl = envDatabaseUrl();
        const concurrency: number = o.concurrency ?? (databaseUrl ? 8 : 1);
        const db = await openImportDatabase({ databaseUrl, dataDir: o.dataDir, concurrency });
        try {
          await migrate(db);
          await importCommand(db, {
            kind,
            file,
            format,
            retailerId: await soleRetailer(db, o.retailer),
            rejects: o.rejects,
            concurrency,
            restart: Boolean(o.restart),
            clock: await findStoredClock(db),
            progressInterval: o.progressInterval,
            json: Boolean(o.json),
          });
        } finally {
          await db.close();
        }
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

/** The retailer a command works on: the one named, or the database's only one. */
async function soleRetailer(db: Database, named: string | undefined): Promise<string> {
  const rows = await db.query<{ id: string }>('SELECT id FROM retailers ORDER BY id LIMIT 2');
  if (named) {
    if (
      !isUuid(named) ||
      !(await db.query('SELECT 1 FROM retailers WHERE id = $1', [named.toLowerCase()])).length
    ) {
      throw new LaurelError('not_found', `retailer ${named} does not exist`);
    }
    return named.toLowerCase();
  }
  if (rows.length !== 1) {
    throw new LaurelError(
      'validation',
      rows.length
        ? 'the database has several retailers: name one with --retailer'
        : 'the database has no retailer',
    );
  }
  return rows[0]!.id;
}

/** One clear line for a failed command. */
export function failLine(err: unknown): string {
  if (err instanceof LaurelError) return err.message;
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    if (code === 'ECONNREFUSED') return `cannot reach the database at DATABASE_URL (${err.message})`;
    return err.message;
  }
  return String(err);
}
