import { isConnectionError, type Database } from '../db/database.js';
import {
  DEFAULT_RETRY,
  DELIVERY_TIMEOUT_MS,
  nextAttemptAt,
  signatureHeader,
  type EventEnvelope,
  type RetrySchedule,
} from '../domain/events.js';
import {
  claimDeliveries,
  dispatchEvents,
  recordAttempt,
  type ClaimedDelivery,
} from './delivery.repository.js';
import { SecretBox } from './secret-box.js';
import { findWebhooksByIds } from './webhook.repository.js';

/** A message broker the relay publishes every event to (src/events/broker.ts). */
export interface EventPublisher {
  /** Resolves once the broker has stored the message; throws when it has not. */
  publish(event: EventEnvelope, body: string): Promise<void>;
  close(): Promise<void>;
}

export interface RelayLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RelayOptions {
  /** The server key webhook secrets are sealed under (the gift-card key). */
  serverKey: Buffer;
  log: RelayLog;
  /** Pause when there is nothing to do (default 250 ms). */
  idleMs?: number;
  /** Events fanned out per statement, and attempts made at once (defaults 500 and 32). */
  dispatchBatch?: number;
  concurrency?: number;
  retry?: RetrySchedule;
  /** How long a claimed attempt is this server's before another may take it over (default 30 s). */
  leaseMs?: number;
  timeoutMs?: number;
  broker?: EventPublisher;
}

/** The JSON body of an event: built from the stored row, so every attempt sends the same bytes. */
export const eventBody = (e: EventEnvelope): string =>
  JSON.stringify({
    id: e.id,
    type: e.type,
    created_at: e.created_at,
    effective_at: e.effective_at,
    retailer_id: e.retailer_id,
    data: e.data,
  });

/**
 * The event relay of `laurel serve` (issue #17, docs/events.md): apart from the request path, it
 * fans committed outbox rows out into deliveries, then POSTs each due delivery to its webhook,
 * signed, and publishes to the broker when one is configured. Every instant here is the wall
 * clock: retries are an operational matter, not a program rule, and a simulated clock may stand
 * still. Failures of the database are logged and retried at the next tick.
 */
export class EventRelay {
  private readonly box: SecretBox;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly secrets = new Map<string, { url: string; secret: string }>();
  /** Counters since start, for the bench and the log. */
  readonly stats = { dispatched: 0, delivered: 0, failedAttempts: 0, published: 0 };

  constructor(
    private readonly db: Database,
    private readonly opts: RelayOptions,
  ) {
    this.box = new SecretBox(opts.serverKey);
  }

  start(): void {
    if (this.stopped || this.timer || this.running) return;
    this.schedule(0);
  }

  /** Ends the loop after the attempts in flight; what was not sent stays queued. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    await this.opts.broker?.close().catch(() => undefined);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick()
        .catch((err: unknown) => {
          if (!this.stopped)
            this.opts.log[isConnectionError(err) ? 'warn' : 'error']({ err }, 'events: relay tick failed');
          return false;
        })
        .then((busy) => {
          this.running = undefined;
          if (!this.stopped) this.schedule(busy ? 0 : (this.opts.idleMs ?? 250));
        });
    }, ms);
    this.timer.unref();
  }

  /** One round: fan out, then one batch of attempts of each kind. True when there may be more. */
  async tick(): Promise<boolean> {
    const now = new Date();
    const dispatched = await dispatchEvents(this.db, this.opts.dispatchBatch ?? 500, now);
    this.stats.dispatched += dispatched;
    const limit = this.opts.concurrency ?? 32;
    const lease = this.opts.leaseMs ?? 30_000;
    const hooks = await claimDeliveries(this.db, false, limit, now, lease);
    const published = this.opts.broker ? await claimDeliveries(this.db, true, limit, now, lease) : [];
    await Promise.all([
      ...hooks.map((d) => this.attempt(d, () => this.post(d))),
      this.publishInOrder(published),
    ]);
    return dispatched > 0 || hooks.length === limit || published.length === limit;
  }

  /** Runs ticks until nothing is due (tests and the bench). */
  async drain(): Promise<void> {
    while (await this.tick());
  }

  /** Broker messages go out one at a time in claim order (one per member's head at most). */
  private async publishInOrder(claimed: ClaimedDelivery[]): Promise<void> {
    for (const d of claimed) {
      await this.attempt(d, async () => {
        await this.opts.broker!.publish(d.event, eventBody(d.event));
        this.stats.published += 1;
        return { code: null };
      });
    }
  }

  private async attempt(
    d: ClaimedDelivery,
    send: () => Promise<{ code: number | null; error?: string }>,
  ): Promise<void> {
    let code: number | null = null;
    let error: string | null = null;
    try {
      const r = await send();
      code = r.code;
      error = r.error ?? null;
    } catch (err) {
      error = describe(err);
    }
    const at = new Date();
    if (error === null) {
      if (code !== null) this.stats.delivered += 1;
      await recordAttempt(this.db, d, { status: 'delivered', code, error: null, at, next: null });
      return;
    }
    this.stats.failedAttempts += 1;
    const next = nextAttemptAt(d.attempts, d.created_at, at, Math.random(), this.opts.retry ?? DEFAULT_RETRY);
    await recordAttempt(this.db, d, {
      status: next ? 'pending' : 'failed',
      code,
      error,
      at,
      next,
    });
  }

  /** One signed POST (issue #17): delivered on a 2xx within the timeout; redirects are not followed. */
  private async post(d: ClaimedDelivery): Promise<{ code: number | null; error?: string }> {
    const hook = await this.webhook(d.webhook_id);
    if (!hook) return { code: null, error: 'webhook deleted' };
    const body = eventBody(d.event);
    const res = await fetch(hook.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? DELIVERY_TIMEOUT_MS),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Laurel-Webhooks/1',
        'laurel-event-id': d.event.id,
        'laurel-event-type': d.event.type,
        'laurel-signature': signatureHeader(hook.secret, body, new Date()),
      },
      body,
    });
    // The body is not read beyond what the connection needs; it could be large.
    await res.body?.cancel().catch(() => undefined);
    return res.status >= 200 && res.status < 300
      ? { code: res.status }
      : { code: res.status, error: `HTTP ${res.status}` };
  }

  private async webhook(id: string): Promise<{ url: string; secret: string } | undefined> {
    const known = this.secrets.get(id);
    if (known) return known;
    const [row] = await findWebhooksByIds(this.db, [id]);
    if (!row) return undefined;
    const hook = { url: row.url, secret: this.box.open(row.secret_sealed) };
    this.secrets.set(id, hook);
    return hook;
  }
}

/** An attempt's error in one line, without the event or the secret. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'no answer within the timeout';
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return (cause?.code ?? cause?.message ?? err.message).slice(0, 200);
}
