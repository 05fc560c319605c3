import { isConnectionError, type Database } from '../db/database.js';
import { isOneServer } from '../db/distribution.js';
import { refreshStaleStatistics } from '../db/statistics.js';
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

/**
 * A publish that failed because the broker cannot be reached or does not answer, rather than
 * because of the message: the relay does not try the rest of its batch.
 */
export class BrokerUnavailable extends Error {
  override name = 'BrokerUnavailable';
}

/** A message broker the relay publishes every event to (src/events/broker.ts). */
export interface EventPublisher {
  /** Resolves once the broker has stored the message; throws when it has not (BrokerUnavailable when it cannot be reached). */
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
  /**
   * Claim member by member, each claim on one shard (issue #19; `dispatchEvents`). By default where
   * the members are not whole on one server (`isOneServer`): on Citus, which refuses a row lock
   * across shards, and on the layout partitioned as Citus distributes them, held to its rules.
   */
  perMember?: boolean;
}

/** How often the relay looks for tables that outgrew their planner statistics. */
const STATISTICS_EVERY_MS = 10_000;

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
 * signed, and publishes to the broker when one is configured. Webhooks and the broker run in loops
 * of their own, so a broker that is down or slow never holds back a webhook, nor a slow receiver
 * the broker. Every instant here is the wall clock: retries are an operational matter, not a
 * program rule, and a simulated clock may stand still. Failures of the database are logged and
 * retried at the next round.
 */
export class EventRelay {
  private readonly box: SecretBox;
  private readonly loops: Loop[];
  private readonly secrets = new Map<string, { url: string; secret: string }>();
  /** Webhook attempts in flight. */
  private readonly posting = new Set<Promise<void>>();
  /** When the relay last looked for tables that outgrew their statistics (epoch ms). */
  private statisticsAt = 0;
  /** Counters since start, for the bench and the log. */
  readonly stats = { dispatched: 0, delivered: 0, failedAttempts: 0, published: 0 };

  constructor(
    private readonly db: Database,
    private readonly opts: RelayOptions,
  ) {
    this.box = new SecretBox(opts.serverKey);
    const idle = opts.idleMs ?? 250;
    const failed = (err: unknown) =>
      opts.log[isConnectionError(err) ? 'warn' : 'error']({ err }, 'events: relay tick failed');
    this.loops = [
      new Loop(() => this.deliverRound(), idle, failed),
      ...(opts.broker ? [new Loop(() => this.publishRound(), idle, failed)] : []),
    ];
  }

  start(): void {
    for (const l of this.loops) l.start();
  }

  /** Ends the loops after the attempts in flight; what was not sent stays queued. */
  async stop(): Promise<void> {
    await Promise.all(this.loops.map((l) => l.stop()));
    await Promise.all(this.posting);
    await this.opts.broker?.close().catch(() => undefined);
  }

  /** One round of each loop at once, waiting for its attempts. True when there may be more. */
  async tick(): Promise<boolean> {
    const busy = await Promise.all([this.deliverRound(), this.publishRound()]);
    await Promise.all(this.posting);
    return busy.includes(true);
  }

  /** Runs ticks until nothing is due (tests and the bench). */
  async drain(): Promise<void> {
    while (await this.tick());
  }

  /**
   * The outbox and the delivery queue grow fastest under load, and the claim's plan goes quadratic
   * on statistics taken while they were small (src/db/statistics.ts): every `STATISTICS_EVERY_MS`
   * the relay analyzes the tables that outgrew theirs, without waiting for the sweeper's tick.
   */
  private async keepStatistics(): Promise<void> {
    if (Date.now() - this.statisticsAt < STATISTICS_EVERY_MS) return;
    this.statisticsAt = Date.now();
    try {
      const analyzed = await refreshStaleStatistics(this.db);
      if (analyzed.length)
        this.opts.log.info({ tables: analyzed }, `events: analyzed ${analyzed.length} grown tables`);
    } catch (err) {
      this.opts.log.warn({ err }, 'events: could not analyze grown tables');
    }
  }

  /** Whether claims go member by member (`RelayOptions.perMember`); asked once per database. */
  private perMember(): Promise<boolean> {
    if (this.opts.perMember !== undefined) return Promise.resolve(this.opts.perMember);
    return isOneServer(this.db).then((one) => !one);
  }

  /** Fans out what is new; true when it found some. */
  private async dispatch(now: Date): Promise<boolean> {
    const dispatched = await dispatchEvents(
      this.db,
      this.opts.dispatchBatch ?? 500,
      now,
      await this.perMember(),
    );
    this.stats.dispatched += dispatched;
    return dispatched > 0;
  }

  /**
   * Fans out, then starts attempts for as many due webhook deliveries as there are free places
   * (`concurrency` in flight at most), without waiting for them: a receiver that takes its whole
   * timeout holds only its own place, never the next round (issue #17: every delivery used to wait
   * for the slowest of its round). When every place is taken it waits for one. True when there
   * may be more.
   */
  private async deliverRound(): Promise<boolean> {
    const limit = this.opts.concurrency ?? 32;
    while (this.posting.size >= limit) await Promise.race(this.posting);
    await this.keepStatistics();
    const now = new Date();
    const dispatched = await this.dispatch(now);
    const free = limit - this.posting.size;
    const hooks = await claimDeliveries(
      this.db,
      false,
      free,
      now,
      this.opts.leaseMs ?? 30_000,
      await this.perMember(),
    );
    for (const d of hooks) {
      const attempt: Promise<void> = this.attempt(d, () => this.post(d))
        .catch((err: unknown) => this.opts.log.warn({ err }, 'events: an attempt could not be recorded'))
        .finally(() => this.posting.delete(attempt));
      this.posting.add(attempt);
    }
    return dispatched || hooks.length === free;
  }

  /**
   * Fans out (the webhooks' loop may be waiting on a slow receiver), then one batch of broker
   * messages. True when there may be more.
   */
  private async publishRound(): Promise<boolean> {
    if (!this.opts.broker) return false;
    const now = new Date();
    const dispatched = await this.dispatch(now);
    const limit = this.opts.concurrency ?? 32;
    const claimed = await claimDeliveries(
      this.db,
      true,
      limit,
      now,
      this.opts.leaseMs ?? 30_000,
      await this.perMember(),
    );
    await this.publishInOrder(claimed);
    return dispatched || claimed.length === limit;
  }

  /**
   * Broker messages go out one at a time in claim order (one per member's head at most). Once the
   * broker is unavailable, the rest of the batch is not tried: each would wait out its own timeout.
   */
  private async publishInOrder(claimed: ClaimedDelivery[]): Promise<void> {
    let unavailable: string | undefined;
    for (const d of claimed) {
      await this.attempt(d, async () => {
        if (unavailable !== undefined) return { code: null, error: unavailable };
        try {
          await this.opts.broker!.publish(d.event, eventBody(d.event));
        } catch (err) {
          if (err instanceof BrokerUnavailable) unavailable = err.message;
          throw err;
        }
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

/** A loop of rounds: the next round at once after a busy one, `idleMs` after an idle one. */
class Loop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly round: () => Promise<boolean>,
    private readonly idleMs: number,
    private readonly failed: (err: unknown) => void,
  ) {}

  start(): void {
    if (this.stopped || this.timer || this.running) return;
    this.schedule(0);
  }

  /** No round after the one running, which it waits for. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.round()
        .catch((err: unknown) => {
          if (!this.stopped) this.failed(err);
          return false;
        })
        .then((busy) => {
          this.running = undefined;
          if (!this.stopped) this.schedule(busy ? 0 : this.idleMs);
        });
    }, ms);
    this.timer.unref();
  }
}
