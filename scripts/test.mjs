// The whole test suite: builds the CLI the tests spawn, runs every test (on PGlite, and on
// PostgreSQL too when DATABASE_URL is set, then the storage, scenario, compat and import suites once
// more on PostgreSQL with the member tables partitioned by member), and ends with one line
// `N passed, N failed`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', shell: false });

const build = run('npx', ['tsc', '-p', 'tsconfig.build.json']);
if (build.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

mkdirSync('.laurel', { recursive: true });

/** One vitest run; answers its counts from the JSON reporter. */
function vitestRun(results, args, env = process.env) {
  rmSync(results, { force: true });
  const vitest = spawnSync(
    'npx',
    ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...args],
    { stdio: 'inherit', shell: false, env },
  );
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  try {
    const r = JSON.parse(readFileSync(results, 'utf8'));
    passed = r.numPassedTests;
    failed =
      r.numFailedTests + (r.numFailedTestSuites > 0 && r.numFailedTests === 0 ? r.numFailedTestSuites : 0);
    skipped = r.numPendingTests + r.numTodoTests;
  } catch {
    failed = Math.max(failed, 1);
  }
  if (vitest.status !== 0 && failed === 0) failed = 1;
  return { passed, failed, skipped };
}

const runs = [vitestRun('.laurel/test-results.json', process.argv.slice(2))];
// Issue #19: with PostgreSQL, the storage, scenario, compat and import suites run again with the
// member tables hash-partitioned by member, as Citus distributes them (test/support/partitioned.ts):
// the imports have paths of their own there (rows alone, members' turns kept across servers). The
// whole suite a third time would take CI past its 30 minutes.
if (process.env.DATABASE_URL && process.argv.length === 2) {
  console.log('\nThe storage, scenario, compat and import suites on PostgreSQL, partitioned by member:');
  runs.push(
    vitestRun(
      '.laurel/test-results-partitioned.json',
      ['test/storage', 'test/scenarios', 'test/compat', 'src/import'],
      {
        ...process.env,
        LAUREL_TEST_PARTITIONED: '1',
      },
    ),
  );
}
const sum = (k) => runs.reduce((n, r) => n + r[k], 0);
const [passed, failed, skipped] = [sum('passed'), sum('failed'), sum('skipped')];
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 ? 0 : 1);
