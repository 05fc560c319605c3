import type { Database } from '../db/database.js';
import { LaurelError } from '../errors.js';
import { isUuid } from '../domain/ids.js';
import { DEFAULT_SWEEP_BATCH, findStoredClock, sweepOnce } from '../jobs/sweeper.js';
import { verifyLedger } from '../ledger/verify.js';
import { cashOutReport, cashOutReports } from '../cashout/cashout.service.js';
import { importCommand } from '../import/import.cli.js';
import type { ImportFormat, ImportKind } from '../import/import.types.js';
import { listAdminTokens, listApps, listRetailers } from '../tenancy/tenancy.repository.js';
import {
  createAdminToken,
  createApp,
  createRetailer,
  revokeAdminToken,
  revokeApp,
} from '../tenancy/tenancy.service.js';

/**
 * The `laurel` commands that work on a database, each a function of the database, plain JSON
 * options and where to write. The CLI runs them on the database it opens; when a Laurel server
 * holds the embedded database, the CLI has that server run them (src/cli/operator.ts, issue #18),
 * and they write back through the same `CommandIo`.
 */

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  /** Whether the user's stderr is a terminal (progress redrawn in place), and its width. */
  tty: boolean;
  columns: number;
  /** Aborted when the user stops the command (Ctrl-C): it stops cleanly where it can. */
  signal: AbortSignal;
}

export interface DbCommand {
  /** Creates what it needs: runs on a directory or database that holds no Laurel database yet. */
  creates?: boolean;
  /** Options that are file paths: resolved against the user's directory before a server gets them. */
  paths?: readonly string[];
  /** Stops cleanly on Ctrl-C (through `CommandIo.signal`) rather than ending at once. */
  stoppable?: boolean;
  /** Connections an import keeps busy on PostgreSQL. */
  connections?(o: Options): number;
  run(db: Database, o: Options, io: CommandIo): Promise<void>;
}

export type Options = Record<string, unknown>;

const str = (o: Options, k: string): string | undefined =>
  typeof o[k] === 'string' ? (o[k] as string) : undefined;

/** One JSON object a line with `--json`; else `key: value` lines. */
function print(io: CommandIo, json: boolean, value: Record<string, unknown>): void {
  if (json) io.out(`${JSON.stringify(value)}\n`);
  else for (const [k, v] of Object.entries(value)) io.out(`${k}: ${String(v)}\n`);
}

/** Rows as aligned columns under a header, or one JSON object a line with `--json`. */
function table(io: CommandIo, json: boolean, rows: Record<string, unknown>[], empty: string): void {
  if (json) {
    for (const r of rows) io.out(`${JSON.stringify(r)}\n`);
    return;
  }
  if (!rows.length) {
    io.out(`${empty}\n`);
    return;
  }
  const head = Object.keys(rows[0]!);
  const cells = rows.map((r) =>
    head.map((h) => {
      const v = r[h];
      return v === null || v === undefined ? '-' : v instanceof Date ? v.toISOString() : String(v);
    }),
  );
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  for (const line of [head, ...cells]) {
    io.out(
      `${line
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  }
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The retailer a command works on: the one named, or the database's only one. */
export async function soleRetailer(db: Database, named: string | undefined): Promise<string> {
  if (named) return namedRetailer(db, named);
  const rows = await db.query<{ id: string; name: string }>(
    'SELECT id, name FROM retailers ORDER BY created_at, id LIMIT 6',
  );
  if (rows.length === 1) return rows[0]!.id;
  if (!rows.length) throw new LaurelError('validation', 'the database has no retailer');
  // Named in the error, so the operator can copy one (issue #18).
  const listed = rows
    .slice(0, 5)
    .map((r) => `${r.id} (${r.name})`)
    .join(', ');
  throw new LaurelError(
    'validation',
    `the database has several retailers: name one with --retailer: ${listed}${rows.length > 5 ? ', ... (laurel retailers list shows all)' : ''}`,
  );
}

async function namedRetailer(db: Database, named: string): Promise<string> {
  if (
    !isUuid(named) ||
    !(await db.query('SELECT 1 FROM retailers WHERE id = $1', [named.toLowerCase()])).length
  ) {
    throw new LaurelError('not_found', `retailer ${named} does not exist`);
  }
  return named.toLowerCase();
}

const verify: DbCommand = {
  async run(db, _o, io) {
    const started = performance.now();
    const report = await verifyLedger(db);
    const seconds = (performance.now() - started) / 1000;
    if (report.problems.length) {
      for (const p of report.problems) io.err(`laurel verify: ${p}\n`);
      throw new LaurelError('validation', `ledger verification failed: ${report.problems.length} problem(s)`);
    }
    io.out(
      `ledger verified: ${report.journals} journals, ${report.postings} postings, ` +
        `${report.balances} balances, ${report.lots} lots in ${seconds.toFixed(1)} s ` +
        // Its rate, so a nightly run on a large database can be planned (issue #13).
        `(${Math.round(report.journals / Math.max(seconds, 0.001))} journals/s)\n`,
    );
  },
};

const sweep: DbCommand = {
  async run(db, o, io) {
    const stored = await findStoredClock(db);
    const clockNow = stored ?? new Date();
    const source = stored ? 'simulated clock' : 'real clock';
    const asked = str(o, 'now');
    const now = asked ? new Date(asked) : clockNow;
    if (now > clockNow) {
      throw new LaurelError(
        'validation',
        `--now ${now.toISOString()} is later than the database's ${source} (${clockNow.toISOString()}): ` +
          'sweeping ahead of it would settle points before they mature',
      );
    }
    // Waits for a server's sweeper rather than leaving the work to it: when this returns,
    // nothing matured by `now` waits any more.
    const result = await sweepOnce(
      db,
      { now: async () => now },
      { batchSize: (o.batchSize as number | undefined) ?? DEFAULT_SWEEP_BATCH, wait: true },
    );
    for (const f of result.failures) {
      const message = f.error instanceof Error ? f.error.message : String(f.error);
      io.err(`laurel sweep: user ${f.user_id}: ${message}\n`);
    }
    io.out(
      `swept ${result.lots} lots for ${result.members} members as of ${result.now.toISOString()} (${asked ? '--now' : source})\n`,
    );
    // A run that visited nobody had nothing to convert: no line for it.
    for (const run of result.cash_outs.filter((c) => c.members > 0 || !c.completed)) {
      io.out(
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
  },
};

const cashoutReport: DbCommand = {
  async run(db, o, io) {
    const retailerId = await soleRetailer(db, str(o, 'retailer'));
    const now = (await findStoredClock(db)) ?? new Date();
    const period = str(o, 'period');
    const reports = period
      ? [await cashOutReport(db, retailerId, period, now)]
      : await cashOutReports(db, retailerId, now);
    if (o.json) {
      for (const r of reports) io.out(`${JSON.stringify(r)}\n`);
      return;
    }
    if (!reports.length) {
      io.out('no cash-outs yet\n');
      return;
    }
    table(
      io,
      false,
      reports.map((r) => ({
        period: r.period,
        'cash-out at': r.period_end.toISOString(),
        members: r.members,
        'points converted': r.points_converted,
        'gift-card value': `${r.gift_card_value.toFixed(2)} ${r.currency}`,
        'points left': r.points_left,
        // A run that cannot complete says why (issue #13).
        run: r.run
          ? r.run.completed_at
            ? 'complete'
            : r.run.failures
              ? `incomplete: ${r.run.failures} failure(s), last: ${r.run.last_error ?? 'unknown'}`
              : 'running'
          : 'not started',
      })),
      '',
    );
  },
};

const retailersCreate: DbCommand = {
  creates: true,
  async run(db, o, io) {
    const r = await createRetailer(db, str(o, 'name') ?? '', new Date());
    print(io, Boolean(o.json), { retailer_id: r.id, name: r.name });
  },
};

const retailersList: DbCommand = {
  async run(db, o, io) {
    const rows = await listRetailers(db);
    table(
      io,
      Boolean(o.json),
      rows.map((r) => ({
        retailer_id: r.id,
        name: r.name,
        created_at: r.created_at.toISOString(),
        apps: r.apps,
        admin_tokens: r.admin_tokens,
      })),
      'no retailers',
    );
  },
};

const appsCreate: DbCommand = {
  async run(db, o, io) {
    const a = await createApp(db, str(o, 'retailer') ?? '', str(o, 'name') ?? 'app', new Date());
    print(io, Boolean(o.json), { ...a });
  },
};

const appsList: DbCommand = {
  async run(db, o, io) {
    const named = str(o, 'retailer');
    const rows = await listApps(db, named ? await namedRetailer(db, named) : undefined);
    table(
      io,
      Boolean(o.json),
      rows.map((a) => ({
        api_key: a.api_key,
        retailer_id: a.retailer_id,
        name: a.name,
        created_at: a.created_at.toISOString(),
        revoked_at: iso(a.revoked_at),
      })),
      'no apps',
    );
  },
};

const appsRevoke: DbCommand = {
  async run(db, o, io) {
    const { row, revoked } = await revokeApp(db, str(o, 'apiKey') ?? '', new Date());
    if (o.json) {
      print(io, true, {
        api_key: row.api_key,
        retailer_id: row.retailer_id,
        revoked_at: iso(row.revoked_at),
        changed: revoked,
      });
    } else {
      io.out(
        revoked
          ? `revoked app ${row.api_key} (${row.name}) of retailer ${row.retailer_id}: every server refuses it from now\n`
          : `app ${row.api_key} was already revoked at ${iso(row.revoked_at)}\n`,
      );
    }
  },
};

const tokensCreate: DbCommand = {
  async run(db, o, io) {
    const t = await createAdminToken(db, str(o, 'retailer') ?? '', str(o, 'name') ?? 'admin', new Date());
    print(io, Boolean(o.json), { ...t });
  },
};

const tokensList: DbCommand = {
  async run(db, o, io) {
    const named = str(o, 'retailer');
    const rows = await listAdminTokens(db, named ? await namedRetailer(db, named) : undefined);
    table(
      io,
      Boolean(o.json),
      rows.map((t) => ({
        id: t.id,
        retailer_id: t.retailer_id,
        name: t.name,
        created_at: t.created_at.toISOString(),
        revoked_at: iso(t.revoked_at),
      })),
      'no admin tokens',
    );
  },
};

const tokensRevoke: DbCommand = {
  async run(db, o, io) {
    const { row, revoked } = await revokeAdminToken(db, str(o, 'id') ?? '', new Date());
    if (o.json) {
      print(io, true, {
        id: row.id,
        retailer_id: row.retailer_id,
        revoked_at: iso(row.revoked_at),
        changed: revoked,
      });
    } else {
      io.out(
        revoked
          ? `revoked admin token ${row.id} (${row.name}) of retailer ${row.retailer_id}: every server and console session refuses it from now\n`
          : `admin token ${row.id} was already revoked at ${iso(row.revoked_at)}\n`,
      );
    }
  },
};

/**
 * Rows an import keeps in flight. Purchases, new customers and opening balances are batched by the
 * import's group commit (issue #16), so many rows in flight make large batches on few connections,
 * on the embedded database too.
 */
function defaultConcurrency(db: Database['kind']): number {
  return db === 'postgres' ? 256 : 64;
}

function importOf(kind: ImportKind): DbCommand {
  return {
    paths: ['file', 'rejects'],
    stoppable: true,
    // Rows share batches and context reads: a few connections serve any number in flight.
    connections: (o) => Math.max(10, Math.min((o.concurrency as number | undefined) ?? 8, 32) + 2),
    async run(db, o, io) {
      const concurrency = (o.concurrency as number | undefined) ?? defaultConcurrency(db.kind);
      await importCommand(
        db,
        {
          kind,
          file: str(o, 'file') ?? '',
          format: str(o, 'format') as ImportFormat | undefined,
          retailerId: await soleRetailer(db, str(o, 'retailer')),
          rejects: str(o, 'rejects'),
          concurrency,
          restart: Boolean(o.restart),
          clock: await findStoredClock(db),
          progressInterval: (o.progressInterval as number | undefined) ?? 5,
          json: Boolean(o.json),
          cutover: str(o, 'cutover') === undefined ? undefined : new Date(str(o, 'cutover')!),
          historyOnly: Boolean(o.historyOnly),
        },
        io,
      );
    },
  };
}

/** Every command that works on a database, by its words on the command line. */
export const DB_COMMANDS: Readonly<Record<string, DbCommand>> = {
  verify,
  sweep,
  'cashout report': cashoutReport,
  'retailers create': retailersCreate,
  'retailers list': retailersList,
  'apps create': appsCreate,
  'apps list': appsList,
  'apps revoke': appsRevoke,
  'tokens create': tokensCreate,
  'tokens list': tokensList,
  'tokens revoke': tokensRevoke,
  'import customers': importOf('customers'),
  'import transactions': importOf('transactions'),
  'import balances': importOf('balances'),
};
