// The whole test suite: builds the CLI the tests spawn, runs every test (on PGlite, and on
// PostgreSQL too when DATABASE_URL is set), and ends with one line `N passed, N failed`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', shell: false });

const build = run('npx', ['tsc', '-p', 'tsconfig.build.json']);
if (build.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

mkdirSync('.laurel', { recursive: true });
const results = '.laurel/test-results.json';
rmSync(results, { force: true });
const vitest = run('npx', [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${results}`,
  ...process.argv.slice(2),
]);

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
const code = vitest.status === 0 && failed === 0 ? 0 : 1;
if (code !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(code);
