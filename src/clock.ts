import type { Database } from './db/database.js';
import { LaurelError } from './errors.js';

/**
 * The one injected clock (DESIGN §5). Everything that needs "now" asks it once per request.
 * The simulated clock lives in the database so every server process on it agrees, and moves only
 * when set through the admin API, never backwards.
 */
export interface Clock {
  readonly simulated: boolean;
  now(): Promise<Date>;
}

export class SystemClock implements Clock {
  readonly simulated = false;
  now(): Promise<Date> {
    return Promise.resolve(new Date());
  }
}

export class SimulatedClock implements Clock {
  readonly simulated = true;
  constructor(private readonly db: Database) {}

  /** Starts the clock at `start`, or keeps a stored time when `start` is undefined. */
  async init(start: Date | undefined): Promise<void> {
    if (start) {
      await this.db.query(
        `INSERT INTO simulated_clock (id, now_at) VALUES (true, $1)
         ON CONFLICT (id) DO UPDATE SET now_at = EXCLUDED.now_at`,
        [start],
      );
    } else {
      await this.db.query(
        `INSERT INTO simulated_clock (id, now_at) VALUES (true, $1) ON CONFLICT (id) DO NOTHING`,
        [new Date()],
      );
    }
  }

  async now(): Promise<Date> {
    const rows = await this.db.query<{ now_at: Date }>('SELECT now_at FROM simulated_clock');
    if (!rows[0]) throw new Error('simulated clock is not initialised');
    return rows[0].now_at;
  }

  /** Moves the clock to `to`; moving it backwards is a `validation` error and changes nothing. */
  async set(to: Date): Promise<Date> {
    const rows = await this.db.query<{ now_at: Date }>(
      'UPDATE simulated_clock SET now_at = $1 WHERE now_at <= $1 RETURNING now_at',
      [to],
    );
    if (!rows[0]) {
      const current = await this.now();
      throw new LaurelError(
        'validation',
        `the simulated clock never moves backwards: it is ${current.toISOString()}, asked for ${to.toISOString()}`,
      );
    }
    return rows[0].now_at;
  }
}
