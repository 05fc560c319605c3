import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepOnce } from '../../src/jobs/sweeper.js';
import { cleanUp, ensureBuilt } from '../support/cli.js';
import { TEST_DATABASES } from '../support/databases.js';
import { startTestApp } from '../support/test-app.js';
import { Cluster, CrashFaults } from './conservation.cluster.js';
import {
  runConservation,
  summaryLine,
  workloadOptions,
  type Deployment,
  type Endpoint,
  type Summary,
} from './conservation.workload.js';

/**
 * Conservation under concurrency, several servers, crash and restart (issue #7, items 1–3;
 * docs/reliability.md). On server PostgreSQL (DATABASE_URL) the same random workload runs through
 * real HTTP against real `laurel serve` processes: one server; two servers on one schema; two
 * servers killed with SIGKILL and cut off from the database at random moments. Without
 * DATABASE_URL the workload runs in process on PGlite, so the model is exercised everywhere.
 * Each scenario prints one summary line; every discrepancy fails it.
 */

const DATABASE_URL = process.env.DATABASE_URL;
const options = workloadOptions((line) => console.log(line));
// Work grows with the square of the scale (clients × operations), and the phases with it too.
const TIMEOUT = 170_000 * options.scale ** 2;
const summaries: Summary[] = [];

function expectConserved(s: Summary): void {
  summaries.push(s);
  expect(
    s.discrepancies.slice(0, 20),
    `seed ${s.seed}: LAUREL_RELIABILITY_SEED=${s.seed} replays it`,
  ).toEqual([]);
  expect(s.acknowledged).toBe(s.operations);
}

beforeAll(ensureBuilt, 120_000);
afterAll(async () => {
  await cleanUp();
  // The suite's report: one line per scenario (issue #7).
  if (summaries.length) console.log(summaries.map(summaryLine).join('\n'));
});

describe.skipIf(!DATABASE_URL)('Conservation on server PostgreSQL through laurel serve', () => {
  const url = DATABASE_URL!;

  it(
    'one server: every acknowledged request is reflected exactly once',
    async () => {
      const cluster = await Cluster.open(url, 1, options.start);
      try {
        expectConserved(await runConservation(cluster.deployment('one server'), options));
      } finally {
        await cluster.close();
      }
    },
    TIMEOUT,
  );

  it(
    'two servers on one schema, both sweeping: the same results',
    async () => {
      const cluster = await Cluster.open(url, 2, options.start);
      try {
        expectConserved(await runConservation(cluster.deployment('two servers'), options));
      } finally {
        await cluster.close();
      }
    },
    TIMEOUT,
  );

  it(
    'two servers killed and cut off from the database at random: nothing lost, nothing doubled',
    async () => {
      const cluster = await Cluster.open(url, 2, options.start);
      try {
        const faults = new CrashFaults(cluster, options.seed);
        expectConserved(await runConservation(cluster.deployment('crash and restart', faults), options));
      } finally {
        await cluster.close();
      }
    },
    // 82–89 s on a quiet machine, 190–200 s beside the rest of the suite (every retry waits out a
    // restart, and the faults keep coming while it does): twice the others' limit.
    2 * TIMEOUT,
  );
});

/** Laurel in this process through inject(): the same workload without HTTP, servers or faults. */
function injectEndpoint(app: FastifyInstance): Endpoint {
  return {
    label: 'in-process',
    async call(method, path, authorization, body) {
      const res = await app.inject({
        method: method as 'GET' | 'POST' | 'PUT',
        url: path,
        headers: {
          authorization,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });
      let parsed: unknown = res.body;
      try {
        parsed = res.json();
      } catch {
        // not JSON
      }
      const retryAfter = res.headers['retry-after'];
      return { status: res.statusCode, body: parsed, retryAfter: retryAfter ? String(retryAfter) : null };
    },
  };
}

// The embedded database always runs it too: the model and the engine on PGlite, one connection.
describe('Conservation in process on PGlite', () => {
  it(
    'one in-process server, swept at random moments: every acknowledged request is reflected exactly once',
    async () => {
      const t = await startTestApp(TEST_DATABASES[0]!, options.start);
      try {
        const deployment: Deployment = {
          name: 'in-process PGlite',
          endpoints: [injectEndpoint(t.app)],
          credentials: {
            apiKey: t.tenant.api_key,
            secret: t.tenant.secret,
            adminToken: t.tenant.admin_token,
            retailerId: t.tenant.retailer_id,
          },
          inspect: (fn) => t.db.transaction((tx) => fn(tx)),
          sweep: async () => {
            await sweepOnce(t.db, t.clock, { wait: true });
          },
        };
        expectConserved(await runConservation(deployment, options));
      } finally {
        await t.close();
      }
    },
    TIMEOUT,
  );
});
