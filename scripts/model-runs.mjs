// Long model-based runs of the ledger (issue #13): RUNS sequences of STEPS steps, each with a fresh
// random seed, on PGlite and, with DATABASE_URL, on PostgreSQL. Prints each seed; a failing seed
// replays exactly with `LAUREL_SEED=<seed> LAUREL_MODEL_STEPS=<steps> npx vitest run test/model`.
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

const runs = Number(process.env.RUNS ?? 5);
const steps = Number(process.env.STEPS ?? 1000);
let failed = 0;
for (let i = 0; i < runs; i++) {
  const seed = process.env.LAUREL_SEED ?? String(randomInt(1, 2 ** 31 - 1));
  console.log(`model run ${i + 1}/${runs}: LAUREL_SEED=${seed} LAUREL_MODEL_STEPS=${steps}`);
  const r = spawnSync('npx', ['vitest', 'run', 'test/model'], {
    stdio: 'inherit',
    env: { ...process.env, LAUREL_SEED: seed, LAUREL_MODEL_STEPS: String(steps), LAUREL_MODEL_STATS: '1' },
  });
  if (r.status !== 0) {
    failed += 1;
    console.log(`model run failed: LAUREL_SEED=${seed} LAUREL_MODEL_STEPS=${steps}`);
  }
}
console.log(`${runs - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
