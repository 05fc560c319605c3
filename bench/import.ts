/**
 * Bulk import beside PostgreSQL's COPY (issue #6: "the benchmark suite prints its rate
 * (purchases/s) beside PostgreSQL's own COPY rate for the same rows measured in the same run, and
 * peak memory"). Generates customers and purchases (plus 2% returns), imports them with the built
 * `laurel import` into a fresh schema of server PostgreSQL, then the customers' opening balances
 * (issue #16), COPYs the same purchase rows into a scratch table of that schema, and prints one
 * JSON line per figure.
 */
import { randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  rmSync,
  statSync,
  type WriteStream,
} from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import pgCopy from 'pg-copy-streams';
import type { ImportSummary } from '../src/import/import.service.js';
import { figure, laurel, log, mib, prng, round, urlWithSchema } from './lib.js';

/** Buffers lines into large writes and waits for the disk when the stream asks to. */
class LineWriter {
  private buffer: string[] = [];
  private size = 0;
  constructor(private readonly out: WriteStream) {}
  async line(s: string): Promise<void> {
    this.buffer.push(s);
    this.size += s.length + 1;
    if (this.size >= 1 << 16) await this.flush();
  }
  async flush(): Promise<void> {
    if (!this.buffer.length) return;
    const chunk = `${this.buffer.join('\n')}\n`;
    this.buffer = [];
    this.size = 0;
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }
  async close(): Promise<void> {
    await this.flush();
    this.out.end();
    await once(this.out, 'finish');
  }
}

const FIRST = ['Ava', 'Liam', 'Maya', 'Noah', 'Zoe', 'Ethan', 'Iris', 'Omar', 'Lena', 'Raj'];
const LAST = ['Lei', 'Garcia', 'Okafor', 'Nguyen', 'Smith', 'Kowalski', 'Haddad', 'Rossi'];
const STORES = ['BOS-01', 'NYC-02', 'CHI-03', 'SEA-04', 'AUS-05'];
const DAY = 86_400_000;

export async function writeCustomers(path: string, n: number): Promise<void> {
  const rand = prng(1);
  const w = new LineWriter(createWriteStream(path));
  await w.line('external_id,email,first_name,last_name,phone_numbers,dob,country,opted_in,enrolled_at');
  // Enrolled before the first purchase of the history (DESIGN §4: earlier ones would earn nothing).
  const enrolledAt = new Date(Date.now() - 402 * DAY).toISOString();
  for (let i = 1; i <= n; i++) {
    const year = 1950 + Math.floor(rand() * 55);
    const dob = `${year}-${String(1 + Math.floor(rand() * 12)).padStart(2, '0')}-${String(1 + Math.floor(rand() * 28)).padStart(2, '0')}`;
    await w.line(
      [
        `B-${i}`,
        `member${i}@example.com`,
        FIRST[i % FIRST.length],
        LAST[i % LAST.length],
        `617${String(1_000_000 + i).slice(-7)}`,
        dob,
        'USA',
        ...(rand() < 0.05 ? ['false', ''] : ['true', enrolledAt]),
      ].join(','),
    );
  }
  await w.close();
}

/**
 * Purchases over the last 400 days in time order, as an export would list them: NDJSON for the
 * import and the same rows in COPY's text format. 1% name an unknown member; 2% are followed later
 * by a return of their first line (the same transaction re-sent with that line at quantity 0).
 */
export async function writePurchases(
  ndjsonPath: string,
  copyPath: string,
  customers: number,
  purchases: number,
): Promise<number> {
  const rand = prng(2);
  const json = new LineWriter(createWriteStream(ndjsonPath));
  const copy = new LineWriter(createWriteStream(copyPath));
  const end = Date.now() - DAY;
  const start = end - 400 * DAY;
  const returns: { at: number; line: string }[] = [];
  let rows = 0;
  for (let i = 1; i <= purchases; i++) {
    const at = start + Math.floor(((end - start) * i) / purchases);
    const member = rand() < 0.01 ? `UNKNOWN-${i}` : `B-${1 + Math.floor(rand() * customers)}`;
    const items = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, k) => ({
      line_id: k + 1,
      item_id: `SKU-${Math.floor(rand() * 500)}`,
      quantity: 1 + Math.floor(rand() * 3),
      unit_price: Math.round(100 + rand() * 14_900) / 100,
    }));
    const body = {
      store_id: STORES[i % STORES.length],
      request_payload: {
        transaction_id: `P-${i}`,
        open_time: new Date(at).toISOString(),
        user_id: member,
        user_id_type: 'external_id',
        items,
      },
    };
    while (returns.length && returns[0]!.at <= at) {
      await json.line(returns.shift()!.line);
      rows++;
    }
    await json.line(JSON.stringify(body));
    rows++;
    await copy.line(
      [`P-${i}`, body.store_id, member, body.request_payload.open_time, JSON.stringify(items)].join('\t'),
    );
    if (rand() < 0.02) {
      const returned = {
        ...body,
        request_payload: {
          ...body.request_payload,
          items: items.map((it, k) => (k === 0 ? { ...it, quantity: 0 } : it)),
        },
      };
      returns.push({ at: at + Math.floor(rand() * 20 * DAY), line: JSON.stringify(returned) });
    }
  }
  for (const r of returns) {
    await json.line(r.line);
    rows++;
  }
  await json.close();
  await copy.close();
  return rows;
}

/**
 * Opening balances of the generated customers as the old platform showed them at the cut-over
 * (issue #16): Spendable balance, its lifetime value and this period's tier points, no tier column.
 */
export async function writeBalances(path: string, customers: number): Promise<void> {
  const rand = prng(3);
  const w = new LineWriter(createWriteStream(path));
  await w.line('user_id,user_id_type,balance,life_time_value,tier_points');
  for (let i = 1; i <= customers; i++) {
    const balance = Math.floor(rand() * 5_000);
    await w.line(
      [
        `B-${i}`,
        'external_id',
        balance,
        balance + Math.floor(rand() * 20_000),
        Math.floor(rand() * 1_500),
      ].join(','),
    );
  }
  await w.close();
}

/** The `--json` summary of `laurel import`. */
type ImportSummaryJson = ImportSummary & { peak_rss_bytes: number };

const lastJson = (stdout: string): ImportSummaryJson =>
  JSON.parse(stdout.trim().split('\n').at(-1)!) as ImportSummaryJson;

export interface ImportBenchOptions {
  customers: number;
  purchases: number;
  concurrency: number;
  keep: boolean;
  /** Node flags for the import processes (`--profile`: `--cpu-prof`). */
  nodeArgs?: string[];
}

/** Imports generated customers and purchases into a fresh schema of `url`, then COPYs the same rows. */
export async function importBench(url: string, args: ImportBenchOptions): Promise<void> {
  const schema = `laurel_bench_import_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const dir = mkdtempSync(join(tmpdir(), 'laurel-bench-import-'));
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
    const env = { ...process.env, DATABASE_URL: urlWithSchema(url, schema) };
    const customersFile = join(dir, 'customers.csv');
    const purchasesFile = join(dir, 'purchases.ndjson');
    const copyFile = join(dir, 'purchases.copy');
    const generated = Date.now();
    await writeCustomers(customersFile, args.customers);
    const purchaseRows = await writePurchases(purchasesFile, copyFile, args.customers, args.purchases);
    log(
      `generated ${args.customers} customers and ${purchaseRows} purchase rows ` +
        `(${mib(statSync(purchasesFile).size)} MiB NDJSON) in ${((Date.now() - generated) / 1000).toFixed(1)} s`,
    );

    await laurel(['migrate'], env);
    await laurel(['retailers', 'create', '--name', 'Bench', '--json'], env);
    const concurrency = ['--concurrency', String(args.concurrency)];
    // Customers at the command's default (256 in flight); purchases at `concurrency`.
    const customers = await laurel(['import', 'customers', customersFile, '--json'], env);
    const c = lastJson(customers.stdout);
    figure('import_customers_rate', c.run.rows_per_second, 'rows/s', {
      rows: c.run.rows,
      imported: c.counts.imported,
      seconds: Number((c.run.duration_ms / 1000).toFixed(1)),
      concurrency: 256,
      peak_rss_mib: mib(c.peak_rss_bytes),
    });

    const purchases = await laurel(
      ['import', 'transactions', purchasesFile, '--json', ...concurrency],
      env,
      args.nodeArgs,
    );
    const p = lastJson(purchases.stdout);
    figure('import_purchases_rate', p.run.rows_per_second, 'purchases/s', {
      rows: p.run.rows,
      imported: p.counts.imported,
      returns: p.counts.edits,
      not_awarded: p.counts.not_awarded,
      rejected: p.counts.rejected,
      seconds: Number((p.run.duration_ms / 1000).toFixed(1)),
      concurrency: args.concurrency,
      peak_rss_mib: mib(p.peak_rss_bytes),
    });

    // Opening balances of the same customers, at the command's default rows in flight. After the
    // purchases, so that no purchase is refused as before the cut-over; a customer imported as not
    // enrolled (5%) is rejected.
    const balancesFile = join(dir, 'balances.csv');
    await writeBalances(balancesFile, args.customers);
    const cutover = new Date(Date.now() - DAY).toISOString();
    const balances = await laurel(['import', 'balances', balancesFile, '--cutover', cutover, '--json'], env);
    const b = lastJson(balances.stdout);
    figure('import_balances_rate', b.run.rows_per_second, 'rows/s', {
      rows: b.run.rows,
      imported: b.counts.imported,
      rejected: b.counts.rejected,
      seconds: Number((b.run.duration_ms / 1000).toFixed(1)),
      peak_rss_mib: mib(b.peak_rss_bytes),
    });

    // PostgreSQL's own bulk path for the same purchase rows, on the same server in the same run.
    const client = new pg.Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    let copied = 0;
    let copySeconds = 0;
    try {
      await client.query(
        `CREATE TABLE bench_copy_purchases (transaction_id text PRIMARY KEY, store_id text NOT NULL,
           user_external_id text, open_time timestamptz NOT NULL, items jsonb NOT NULL)`,
      );
      const started = process.hrtime.bigint();
      const into = client.query(pgCopy.from('COPY bench_copy_purchases FROM STDIN'));
      await pipeline(createReadStream(copyFile), into);
      copySeconds = Number(process.hrtime.bigint() - started) / 1e9;
      copied = into.rowCount;
    } finally {
      await client.end();
    }
    const copyRate = Math.round(copied / copySeconds);
    figure('copy_purchases_rate', copyRate, 'rows/s', {
      rows: copied,
      seconds: Number(copySeconds.toFixed(2)),
    });
    figure('import_to_copy_ratio', round(p.run.rows_per_second / copyRate, 4), 'ratio', {
      ratio_to_baseline: round(p.run.rows_per_second / copyRate, 4),
      copy_is_faster_by: round(copyRate / p.run.rows_per_second, 1),
    });
  } finally {
    if (!args.keep) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    else log(`kept schema ${schema}`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
