/**
 * Limits failed authentications (issue #7 security basics; issue #13 item 4). API keys are in every
 * Core URL, so anyone can name one: failures are counted per credential key *and* client address
 * together, so a stranger failing from elsewhere never locks out the key's own clients. Once a
 * (key, address) pair or an address has failed too often, further attempts from there answer 429
 * without checking the secret, so guessing is slow and a flood cannot make the server spend its
 * CPU on scrypt. Past a global ceiling of failures on one key, from anywhere, each further failure
 * is answered late (`slowFailures`): that only slows guessing, a correct secret is never refused.
 * Successful requests are never limited.
 *
 * The counts live in the process: each server limits what reaches it (docs/errors.md).
 */

export interface AuthLimits {
  /** Failures of one credential key (an API key, an admin token's id) from one address. */
  perKey: number;
  /** Failures per client address within the window, whatever the key. */
  perAddress: number;
  /** Failures of one key from all addresses past which failed answers are slowed, never refused. */
  perKeyGlobal?: number;
  windowMs: number;
}

export const DEFAULT_AUTH_LIMITS: AuthLimits = {
  perKey: 10,
  perAddress: 50,
  perKeyGlobal: 100,
  windowMs: 60_000,
};

/** How late a failed answer comes once its key is past the global ceiling. */
export const SLOW_FAILURE_MS = 1_000;

/** Counters kept at most; beyond it the oldest are dropped (memory stays bounded under a flood). */
const MAX_TRACKED = 100_000;

export class FailedAuthLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    readonly limits: AuthLimits = DEFAULT_AUTH_LIMITS,
    private readonly clock: () => number = Date.now,
  ) {}

  private recent(id: string, now: number): number[] {
    const times = this.failures.get(id);
    if (!times) return [];
    const from = now - this.limits.windowMs;
    const kept = times.filter((t) => t > from);
    if (kept.length) this.failures.set(id, kept);
    else this.failures.delete(id);
    return kept;
  }

  /** Seconds to wait before trying again, or 0 when the attempt may go ahead. */
  retryAfter(address: string, key: string | null): number {
    const now = this.clock();
    let until = 0;
    const check = (id: string, limit: number) => {
      const times = this.recent(id, now);
      if (times.length >= limit) until = Math.max(until, times[times.length - limit]! + this.limits.windowMs);
    };
    check(`a:${address}`, this.limits.perAddress);
    if (key) check(`p:${key}\n${address}`, this.limits.perKey);
    return until ? Math.max(1, Math.ceil((until - now) / 1000)) : 0;
  }

  /** Whether failures of this key, from anywhere, passed the global ceiling within the window. */
  slowFailures(key: string | null): boolean {
    const ceiling = this.limits.perKeyGlobal;
    return !!key && ceiling !== undefined && this.recent(`k:${key}`, this.clock()).length >= ceiling;
  }

  fail(address: string, key: string | null): void {
    const now = this.clock();
    const ids = key ? [`a:${address}`, `p:${key}\n${address}`, `k:${key}`] : [`a:${address}`];
    for (const id of ids) {
      const times = this.recent(id, now);
      times.push(now);
      // Re-inserting moves the entry to the end: the first entries are the least recently failed.
      this.failures.delete(id);
      this.failures.set(id, times);
    }
    while (this.failures.size > MAX_TRACKED) this.failures.delete(this.failures.keys().next().value!);
  }
}

/**
 * One queue per client address, each running one task at a time: a credential check (scrypt) from
 * an address waits for that address's previous one, so however many bad credentials one source
 * sends at once, it holds at most one of libuv's threads, and a first sign-in from anywhere else is
 * checked at once (issue #13 item 4: 400 bad requests had delayed one by 8.5 s). Idle queues are
 * dropped, so memory follows the addresses with a check in flight.
 */
export class AddressLanes {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(address: string, task: () => Promise<T>): Promise<T> {
    const before = this.tails.get(address) ?? Promise.resolve();
    const mine = before.then(task, task);
    const tail = mine.catch(() => undefined);
    this.tails.set(address, tail);
    try {
      return await mine;
    } finally {
      if (this.tails.get(address) === tail) this.tails.delete(address);
    }
  }

  /** Addresses with a check in flight or waiting. */
  get size(): number {
    return this.tails.size;
  }
}
