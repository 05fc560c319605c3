/**
 * Limits failed authentications (issue #7 security basics): per credential key and per client
 * address, in a sliding window. Once a key or an address has failed too often, further attempts
 * answer 429 without checking the secret, so guessing is slow and a flood of bad credentials cannot
 * make the server spend its CPU on scrypt. Successful requests are never limited.
 *
 * The counts live in the process: each server limits what reaches it (docs/errors.md).
 */

export interface AuthLimits {
  /** Failures per credential key (an API key, an admin token's id) within the window. */
  perKey: number;
  /** Failures per client address within the window. */
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_AUTH_LIMITS: AuthLimits = { perKey: 10, perAddress: 50, windowMs: 60_000 };

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
    if (key) check(`k:${key}`, this.limits.perKey);
    return until ? Math.max(1, Math.ceil((until - now) / 1000)) : 0;
  }

  fail(address: string, key: string | null): void {
    const now = this.clock();
    for (const id of key ? [`a:${address}`, `k:${key}`] : [`a:${address}`]) {
      const times = this.recent(id, now);
      times.push(now);
      // Re-inserting moves the entry to the end: the first entries are the least recently failed.
      this.failures.delete(id);
      this.failures.set(id, times);
    }
    while (this.failures.size > MAX_TRACKED) this.failures.delete(this.failures.keys().next().value!);
  }
}
