import {
  connect,
  ErrorCode,
  Events,
  nanos,
  NatsError,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type NatsConnection,
} from 'nats';
import type { EventEnvelope } from '../domain/events.js';
import { LaurelError } from '../errors.js';
import { BrokerUnavailable, type EventPublisher } from './relay.js';

/**
 * The events broker (issue #17, docs/decisions/0008-events-broker.md): NATS JetStream. Every event
 * is published to the subject `laurel.events.<retailer_id>.<type>` (so `tier.changed` is two
 * tokens: subscribers write `laurel.events.<retailer_id>.>` or `laurel.events.*.tier.changed`)
 * in the stream `LAUREL_EVENTS`, which this publisher creates when it is missing. The message id
 * is the event id, so JetStream drops a re-publish within its duplicate window; a publish counts
 * once the stream acknowledged it (stored), so a lost connection or a broker restart only delays
 * events, which the relay retries.
 */
export const EVENTS_STREAM = 'LAUREL_EVENTS';
export const SUBJECT_PREFIX = 'laurel.events';

/** The subject of an event. */
export const subjectOf = (e: Pick<EventEnvelope, 'retailer_id' | 'type'>): string =>
  `${SUBJECT_PREFIX}.${e.retailer_id}.${e.type}`;

/** Refuses a broker URL that is not NATS before any connection; the URL is never repeated (it may hold a password). */
export function checkBrokerUrl(url: string): string[] {
  const servers = url.split(',').map((s) => s.trim());
  for (const s of servers) {
    let protocol: string | undefined;
    try {
      protocol = new URL(s).protocol;
    } catch {
      protocol = undefined;
    }
    if (protocol !== 'nats:' && protocol !== 'tls:')
      throw new LaurelError('validation', '--events-broker must be a NATS URL, e.g. nats://127.0.0.1:4222');
  }
  return servers;
}

export class NatsPublisher implements EventPublisher {
  private connection: Promise<{ nc: NatsConnection; js: JetStreamClient }> | undefined;
  /** Whether the connection is up now: while it reconnects, a publish fails at once. */
  private up = false;

  constructor(
    private readonly servers: string[],
    private readonly timeoutMs = 5000,
  ) {}

  /** Connects once (reconnecting by itself from then on) and makes sure the stream exists. */
  private connected(): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
    this.connection ??= (async () => {
      const nc = await connect({
        servers: this.servers,
        name: 'laurel-events',
        timeout: this.timeoutMs,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
      });
      this.up = true;
      void this.watch(nc).catch(() => undefined);
      try {
        await this.ensureStream(nc);
        return { nc, js: nc.jetstream({ timeout: this.timeoutMs }) };
      } catch (err) {
        await nc.close().catch(() => undefined);
        throw err;
      }
    })().catch((err: unknown) => {
      this.connection = undefined;
      throw err;
    });
    return this.connection;
  }

  /** Follows the connection's state, so a publish while it is down fails at once. */
  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) this.up = false;
      else if (s.type === Events.Reconnect) this.up = true;
    }
  }

  /** Creates the stream when it is missing. */
  private async ensureStream(nc: NatsConnection): Promise<void> {
    const jsm = await nc.jetstreamManager({ timeout: this.timeoutMs });
    await jsm.streams.info(EVENTS_STREAM).catch(async () => {
      await jsm.streams.add({
        name: EVENTS_STREAM,
        subjects: [`${SUBJECT_PREFIX}.>`],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        duplicate_window: nanos(10 * 60_000),
      });
    });
  }

  async publish(event: EventEnvelope, body: string): Promise<void> {
    let c: { nc: NatsConnection; js: JetStreamClient };
    try {
      c = await this.connected();
    } catch (err) {
      throw new BrokerUnavailable(`broker unreachable: ${reason(err)}`);
    }
    if (c.nc.isClosed()) {
      this.connection = undefined;
      throw new BrokerUnavailable('broker connection closed');
    }
    // Buffering the message until the connection is back would hold the relay for the whole
    // timeout of every publish (issue #17: a broker that was down held back every webhook).
    if (!this.up) throw new BrokerUnavailable('broker unreachable: reconnecting');
    const send = () =>
      c.js.publish(subjectOf(event), new TextEncoder().encode(body), {
        msgID: event.id,
        timeout: this.timeoutMs,
      });
    try {
      await send();
    } catch (err) {
      // No stream takes the subject: it was deleted, or the broker came back without its storage.
      // Create it again and publish once more (issue #17: publishes used to fail until a restart).
      if (!(err instanceof NatsError && err.code === ErrorCode.NoResponders)) throw unavailable(err);
      try {
        await this.ensureStream(c.nc);
        await send();
      } catch (again) {
        throw unavailable(again);
      }
    }
  }

  async close(): Promise<void> {
    const c = this.connection;
    this.connection = undefined;
    if (c) await (await c.catch(() => undefined))?.nc.drain().catch(() => undefined);
  }
}

/** A failure of the broker rather than of one message: the relay stops its batch (src/events/relay.ts). */
function unavailable(err: unknown): Error {
  if (!(err instanceof NatsError)) return err instanceof Error ? err : new Error(String(err));
  const whole = [ErrorCode.Timeout, ErrorCode.NoResponders, ErrorCode.Disconnect, ErrorCode.ConnectionClosed];
  return whole.includes(err.code as ErrorCode)
    ? new BrokerUnavailable(`broker unavailable: ${err.code}`)
    : err;
}

/** Why a connection failed, by its code: never the URL, which may hold a password. */
const reason = (err: unknown): string =>
  err instanceof NatsError ? err.code : ((err as { code?: string }).code ?? 'connection failed');
