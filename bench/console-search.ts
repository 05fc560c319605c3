/**
 * The console's member search at a million members on server PostgreSQL (issue #18 item 9): how
 * long one search takes for each kind of text an agent types, with migration 0007's btree
 * (text_pattern_ops) indexes. Its own schema, dropped at the end. Run it alone:
 *   npm run build && npx tsc -p bench/tsconfig.json && \
 *   DATABASE_URL=postgres://... node .laurel/bench/bench/console-search.js [members]
 * Timings are for reading, never asserted.
 */
import { performance } from 'node:perf_hooks';
import { searchMembers } from '../src/console/console.repository.js';
import { searchTermsOf } from '../src/console/console.service.js';
import { openPostgres } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { figure, log, percentile, round } from './lib.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('set DATABASE_URL to a PostgreSQL server');
const members = Number(process.argv[2] ?? 1_000_000);
const schema = `bench_search_${process.pid}`;
const admin = await openPostgres({ url, max: 1 });
await admin.query(`CREATE SCHEMA ${schema}`);
const db = await openPostgres({ url, schema, max: 2 });
try {
  await migrate(db);
  const retailer = '00000000-0000-4000-8000-000000000001';
  await db.query(`INSERT INTO retailers (id, name, created_at) VALUES ($1, 'bench', now())`, [retailer]);
  const t0 = performance.now();
  // Names from small lists, so a short prefix matches tens of thousands of members.
  await db.query(
    `INSERT INTO users (id, retailer_id, external_id, email, opted_in, first_name, last_name, phone_numbers,
                        created_at, updated_at, registered_at)
     SELECT md5('u' || n)::uuid, $1, 'EXT-' || n, 'member' || n || '@example.com', true,
            (ARRAY['Maya','Liam','Ana','Noah','Olivia','Ethan','Zoe','Lucas'])[1 + n % 8],
            (ARRAY['Okafor','Garcia','Smith','Nguyen','Kowalski','Haddad','Brown','Rossi','Ito','Silva'])[1 + (n / 8) % 10],
            '[]', now(), now(), now()
     FROM generate_series(1, $2::int) n`,
    [retailer, members],
  );
  await db.query(
    `INSERT INTO user_identifiers (retailer_id, external_id, user_id, is_primary, created_at)
     SELECT $1, 'EXT-' || n, md5('u' || n)::uuid, true, now() FROM generate_series(1, $2::int) n`,
    [retailer, members],
  );
  await db.query(
    `INSERT INTO user_phones (retailer_id, user_id, position, phone_key)
     SELECT $1, md5('u' || n)::uuid, 0, (6170000000 + n)::text FROM generate_series(1, $2::int) n`,
    [retailer, members],
  );
  await db.query('ANALYZE');
  log(`${members} members loaded in ${round((performance.now() - t0) / 1000, 1)} s`);

  const now = new Date();
  const queries: [string, string][] = [
    ['one letter', 'm'],
    ['short name prefix', 'ma'],
    ['last name', 'okafor'],
    ['full name', 'maya okafor'],
    ['email prefix', 'member12345'],
    ['whole email', 'member777777@example.com'],
    ['phone any format', '(617) 050-0042'],
    ['phone prefix', '617050'],
    ['external id', 'ext-424242'],
    ['no match', 'zzzz'],
  ];
  for (const [label, q] of queries) {
    const terms = searchTermsOf(q);
    const times: number[] = [];
    let found = 0;
    for (let i = 0; i < 200; i++) {
      const s = performance.now();
      found = (await searchMembers(db, retailer, terms, now, 25)).length;
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    figure(`console search: ${label}`, round(percentile(times, 50), 2), 'ms p50', {
      p99: round(percentile(times, 99), 2),
      max: round(times[times.length - 1]!, 2),
      found,
      members,
    });
  }
} finally {
  await db.close();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.close();
}
