/**
 * The webhook scenario of the benchmark (issue #17): one webhook subscribed to `*`, created through
 * the admin API and pointed at the bench's own receiver (bench/receiver.ts), while the server's
 * relay (src/events/relay.ts) delivers in its own loop beside the load; then how fast the relay
 * empties the backlog.
 */
import pg from 'pg';
import { request, type Server } from './lib.js';
import { startReceiver, type Receiver, type ReceiverCounts } from './receiver.js';

const POLL_MS = 100;

/** What the relay delivered to the receiver between a load's start and an empty backlog. */
export interface Delivery {
  /** Distinct events the receiver answered 200 for, and every POST it got (repeats included). */
  events: number;
  posts: number;
  /** The webhook's deliveries by status in the database once the backlog was empty (or the wait ended). */
  delivered: number;
  pending: number;
  failed: number;
  /** Events answered between the load's start and the last one, in seconds. */
  seconds: number;
  /** Of them, after the load ended: the backlog the relay still had then, and how long it took. */
  afterLoad: number;
  drainSeconds: number;
  /** False when the wait ran out with deliveries still pending. */
  emptied: boolean;
}

const seconds = (from: bigint, to: bigint) => Number(to - from) / 1e9;

export class WebhookBench {
  private constructor(
    private readonly server: Server,
    private readonly admin: string,
    private readonly db: pg.Client,
    private readonly receiver: Receiver,
    readonly webhookId: string,
  ) {}

  /**
   * Waits until the relay has fanned out every event written so far (a webhook hears the events
   * fanned out after it exists, so earlier scenarios' events stay out of its count), then starts
   * the receiver and subscribes it to every event type through `POST /admin/v1/webhooks`.
   */
  static async start(server: Server, admin: string, databaseUrl: string): Promise<WebhookBench> {
    // Not one of the server's sessions, whose CPU the bench counts per request.
    const url = new URL(databaseUrl);
    url.searchParams.set('application_name', 'laurel_bench_receiver');
    const db = new pg.Client({ connectionString: url.toString() });
    await db.connect();
    let receiver: Receiver | undefined;
    try {
      for (let waited = 0; (await backlog(db)).undispatched > 0; waited += POLL_MS) {
        if (waited > 120_000)
          throw new Error('webhook: the relay did not fan out the earlier events in 2 minutes');
        await sleep(POLL_MS);
      }
      receiver = await startReceiver();
      const answer = await request(
        server.base,
        'POST',
        '/admin/v1/webhooks',
        { authorization: admin },
        JSON.stringify({ webhook: { url: receiver.url, events: ['*'], description: 'benchmark receiver' } }),
      );
      if (answer.status !== 200)
        throw new Error(`POST /admin/v1/webhooks answered ${answer.status}: ${answer.body}`);
      const hook = (JSON.parse(answer.body) as { webhook: { id: string; secret: string } }).webhook;
      receiver.setSecret(hook.secret);
      return new WebhookBench(server, admin, db, receiver, hook.id);
    } catch (err) {
      await receiver?.close();
      await db.end();
      throw err;
    }
  }

  counts(): Promise<ReceiverCounts> {
    return this.receiver.counts();
  }

  /**
   * After a load that ran from `startedAt` to `endedAt` (`process.hrtime.bigint()`): waits until
   * every event is fanned out and none of this webhook's deliveries is pending, or `timeoutMs`
   * passes, and says what was delivered. Fails the run on a POST the receiver refused (a signature
   * that does not verify) or on a delivery the database records and the receiver never got.
   */
  async drain(startedAt: bigint, endedAt: bigint, timeoutMs: number): Promise<Delivery> {
    const atLoadEnd = await this.receiver.counts();
    const deadline = endedAt + BigInt(timeoutMs) * 1_000_000n;
    let emptied = false;
    for (;;) {
      const b = await backlog(this.db, this.webhookId);
      if (b.undispatched === 0 && b.pending === 0) {
        emptied = true;
        break;
      }
      if (process.hrtime.bigint() > deadline) break;
      await sleep(POLL_MS);
    }
    const end = await this.receiver.counts();
    const { rows } = await this.db.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM event_deliveries WHERE webhook_id = $1 GROUP BY status`,
      [this.webhookId],
    );
    const by = (s: string) => rows.find((r) => r.status === s)?.n ?? 0;
    const d: Delivery = {
      events: end.events,
      posts: end.posts,
      delivered: by('delivered'),
      pending: by('pending'),
      failed: by('failed'),
      seconds: end.lastAt ? seconds(startedAt, end.lastAt) : 0,
      afterLoad: end.events - atLoadEnd.events,
      drainSeconds: end.lastAt > endedAt ? seconds(endedAt, end.lastAt) : 0,
      emptied,
    };
    if (end.rejected) throw new Error(`webhook: the receiver refused ${end.rejected} POSTs (bad signature)`);
    // A delivery is recorded as delivered only after the receiver answered it; with nothing pending,
    // every event the receiver answered is recorded as delivered.
    if (d.delivered > d.events || (emptied && d.delivered !== d.events))
      throw new Error(
        `webhook: ${d.delivered} deliveries recorded as delivered, ${d.events} events received`,
      );
    return d;
  }

  /** Deletes the webhook through the admin API (later scenarios run without it) and stops the receiver. */
  async close(): Promise<void> {
    try {
      const answer = await request(this.server.base, 'DELETE', `/admin/v1/webhooks/${this.webhookId}`, {
        authorization: this.admin,
      });
      if (answer.status !== 200)
        throw new Error(`DELETE /admin/v1/webhooks answered ${answer.status}: ${answer.body}`);
    } finally {
      await this.receiver.close();
      await this.db.end();
    }
  }
}

/** Events not yet fanned out, and (with a webhook) that webhook's deliveries still pending. */
async function backlog(
  db: pg.Client,
  webhookId?: string,
): Promise<{ undispatched: number; pending: number }> {
  const { rows } = await db.query<{ undispatched: number; pending: number }>(
    `SELECT (SELECT count(*) FROM events WHERE dispatched_at IS NULL)::int AS undispatched,
            (SELECT count(*) FROM event_deliveries WHERE webhook_id = $1 AND status = 'pending')::int AS pending`,
    [webhookId ?? null],
  );
  return rows[0]!;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
