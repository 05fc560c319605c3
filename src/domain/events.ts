import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Events and their delivery rules (issue #17, docs/events.md): the event types, which webhook
 * hears which, the retry schedule and the signature. Pure: no I/O.
 */

export const EVENT_TYPES = [
  'member.created',
  'member.updated',
  'member.deleted',
  'purchase.posted',
  'purchase.adjusted',
  'points.deposited',
  'points.spent',
  'points.rolled_over',
  'tier.changed',
  'gift_card.issued',
  'campaign.changed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** What a webhook subscribes to: event types, or `*` for every type. */
export const WILDCARD = '*';

/** Whether a webhook subscribed to `events` hears an event of `type`. */
export const subscribes = (events: readonly string[], type: string): boolean =>
  events.includes(WILDCARD) || events.includes(type);

/** An event as it travels: the body of a webhook's POST and of a broker message. */
export interface EventEnvelope {
  id: string;
  type: EventType;
  created_at: string;
  effective_at: string;
  retailer_id: string;
  data: Record<string, unknown>;
}

/** How long a receiver has to answer 2xx before the attempt counts as failed. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** The first retry comes within this long (issue #17); each later one waits twice as long. */
export const FIRST_RETRY_MS = 5_000;
/** No wait between attempts exceeds this. */
export const MAX_RETRY_MS = 3_600_000;
/** After this long since the first attempt a delivery is failed, not retried. */
export const RETRY_WINDOW_MS = 24 * 3_600_000;

export interface RetrySchedule {
  firstRetryMs: number;
  maxRetryMs: number;
  windowMs: number;
}

export const DEFAULT_RETRY: RetrySchedule = {
  firstRetryMs: FIRST_RETRY_MS,
  maxRetryMs: MAX_RETRY_MS,
  windowMs: RETRY_WINDOW_MS,
};

/**
 * When a delivery that failed its `attempts`-th attempt is tried again: exponential backoff
 * (first retry, doubling, capped) with jitter in the upper half of the step, so receivers that
 * come back are not hit by every sender at once; null once `firstAttemptAt` is past the window.
 * `random` is in [0, 1).
 */
export function nextAttemptAt(
  attempts: number,
  firstAttemptAt: Date,
  failedAt: Date,
  random: number,
  schedule: RetrySchedule = DEFAULT_RETRY,
): Date | null {
  const step = Math.min(schedule.maxRetryMs, schedule.firstRetryMs * 2 ** Math.max(0, attempts - 1));
  const wait = Math.round(step * (0.5 + random / 2));
  const at = failedAt.getTime() + wait;
  return at - firstAttemptAt.getTime() > schedule.windowMs ? null : new Date(at);
}

/** The `laurel-signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. */
export function signatureHeader(secret: string, body: string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/**
 * What a receiver checks (docs/events.md shows it in ten lines): the header's `v1` is the HMAC of
 * `"<t>.<raw body>"`, compared in constant time, and `t` is within `toleranceS` of now.
 */
export function verifySignature(
  secret: string,
  body: string,
  header: string,
  now: Date,
  toleranceS = 300,
): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(now.getTime() / 1000 - t) > toleranceS || !parts.v1) return false;
  const want = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const got = Buffer.from(parts.v1);
  return got.length === want.length && timingSafeEqual(got, want);
}
