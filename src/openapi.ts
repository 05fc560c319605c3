import { randomBytes } from 'node:crypto';
import { buildApp } from './app.js';
import { SimulatedClock } from './clock.js';
import type { Database } from './db/database.js';

/** The OpenAPI document of every route, documented as on a server with the simulated clock. */
export async function openApiDocument(): Promise<unknown> {
  const noDatabase = new Proxy({} as Database, {
    get: () => {
      throw new Error('the OpenAPI generator does not use a database');
    },
  });
  const app = await buildApp({
    db: noDatabase,
    clock: Object.create(SimulatedClock.prototype) as SimulatedClock,
    giftCardKey: randomBytes(32),
  });
  await app.ready();
  const doc = app.swagger();
  await app.close();
  return doc;
}
