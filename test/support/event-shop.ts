import { createHmac, timingSafeEqual } from 'node:crypto';
import { expect } from 'vitest';
import pg from 'pg';
import { basic, call, serve, type ApiResponse, type Server } from './cli.js';
import { createTestSchema, dropTestSchema, urlWithSchema } from './databases.js';

/**
 * A retailer on server PostgreSQL driven through `laurel serve`'s HTTP API, for the events tests
 * of issue #17 (test/reliability/events-*.test.ts): the changes a till, the incentives API and
 * the admin API make, and the events the database recorded for them, read with a client of the
 * test's own.
 */

/** One event as the outbox recorded it. */
export interface RecordedEvent {
  user_id: string;
  id: string;
  type: string;
  created_at: Date;
  effective_at: Date;
  retailer_id: string;
  data: Record<string, unknown>;
}

/** The body docs/events.md promises for an event: these keys, in this order. */
export const bodyOf = (e: RecordedEvent): string =>
  JSON.stringify({
    id: e.id,
    type: e.type,
    created_at: e.created_at.toISOString(),
    effective_at: e.effective_at.toISOString(),
    retailer_id: e.retailer_id,
    data: e.data,
  });

/** What both purchase events carry. */
const PURCHASE_DATA = [
  'purchase_id',
  'transaction_id',
  'store_id',
  'purchase_time',
  'revision',
  'voided',
  'awarded',
  'eligible_cents',
  'points',
  'matures_at',
];

/**
 * The `data` of each type, besides the member's `user_id` and `external_id`: docs/events.md's table
 * (`reason` only when a purchase earned nothing).
 */
export const DOCUMENTED_DATA: Record<string, string[]> = {
  'member.created': ['opted_in'],
  'purchase.posted': PURCHASE_DATA,
  'purchase.adjusted': [...PURCHASE_DATA, 'points_changed', 'shortfall', 'shortfall_repaid'],
  'points.deposited': ['point_account_id', 'account_name', 'amount', 'idempotency_id', 'reference_id'],
  'points.spent': ['point_account_id', 'account_name', 'amount', 'idempotency_id', 'reference_id'],
  'points.rolled_over': ['purchase_id', 'matured_at', 'points'],
  'tier.changed': ['from', 'to', 'from_level_id', 'to_level_id', 'cause', 'tier_system_id'],
};

/** Checks an event's `data` against the documented fields of its type. */
export function expectDocumentedData(e: { type: string; data: Record<string, unknown> }): void {
  const documented = DOCUMENTED_DATA[e.type];
  expect(documented, `a documented type: ${e.type}`).toBeDefined();
  const member = ['user_id', ...('external_id' in e.data ? ['external_id'] : [])];
  expect(Object.keys(e.data).sort(), e.type).toEqual([...member, ...documented!].sort());
}

/** The receiver's check, exactly as docs/events.md shows it (Node.js). */
export function verifyAsDocumented(
  secret: string,
  rawBody: string,
  header: string,
  toleranceS = 300,
): boolean {
  const { t, v1 } = Object.fromEntries(header.split(',').map((p) => p.split('=')));
  if (!t || !v1 || Math.abs(Date.now() / 1000 - Number(t)) > toleranceS) return false;
  const want = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest('hex');
  return v1.length === want.length && timingSafeEqual(Buffer.from(v1), Buffer.from(want));
}

/** The instant the shop's simulated clock starts at; purchases are made that morning (New York). */
export const SHOP_START = '2026-10-01T16:00:00Z';
export const OPEN_TIME = '2026-10-01T10:00:00';

export class EventShop {
  /** The server currently serving the shop (the first, or one started again). */
  server: Server;
  readonly retailerId: string;
  readonly auth: string;
  readonly admin: string;
  readonly core: string;
  readonly db: pg.Client;
  private readonly accounts = new Map<string, string>();

  private constructor(
    readonly url: string,
    readonly schema: string,
    readonly env: Record<string, string>,
    first: Server,
    db: pg.Client,
  ) {
    this.server = first;
    this.retailerId = first.field('retailer_id');
    this.auth = basic(first.field('api_key'), first.field('secret'));
    this.admin = `Bearer ${first.field('admin_token')}`;
    this.core = `/priv/v1/apps/${first.field('api_key')}`;
    this.db = db;
  }

  /**
   * A demo retailer with one member on a fresh schema of `url`, served by `laurel serve ...args`
   * on a simulated clock at SHOP_START, the sweeper off; `env` is added to the server's.
   */
  static async open(url: string, args: string[], env: Record<string, string> = {}): Promise<EventShop> {
    const schema = await createTestSchema(url);
    const full = { ...env, DATABASE_URL: urlWithSchema(url, schema) };
    try {
      const first = await serve(
        [
          '--demo',
          '--demo-customers',
          '1',
          '--clock',
          'simulated',
          '--now',
          SHOP_START,
          ...SERVE_ARGS,
          ...args,
        ],
        full,
        /expand_incentives=true'\n/,
      );
      const db = new pg.Client({ connectionString: full.DATABASE_URL });
      await db.connect();
      return new EventShop(url, schema, full, first, db);
    } catch (err) {
      await dropTestSchema(url, schema);
      throw err;
    }
  }

  /** Serves the shop again (after the last server stopped or died) with `args`. */
  async serveAgain(args: string[], env: Record<string, string> = {}): Promise<Server> {
    this.server = await serve(['--clock', 'simulated', ...SERVE_ARGS, ...args], { ...this.env, ...env });
    return this.server;
  }

  async close(): Promise<void> {
    await this.db.end().catch(() => undefined);
    await dropTestSchema(this.url, this.schema);
  }

  call(method: string, path: string, auth: string, body?: unknown): Promise<ApiResponse> {
    return call(this.server.base, method, path, auth, body);
  }

  /** Creates a member; answers its id. */
  async member(externalId: string): Promise<string> {
    const r = await this.call('POST', `${this.core}/users`, this.auth, { user: { external_id: externalId } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.user.id as string;
  }

  /** A till's send of one line of `price` dollars for the member `externalId`. */
  send(requestId: string, transactionId: string, externalId: string, price: number): Promise<ApiResponse> {
    return this.call('POST', '/api/2.0/send_transaction', this.auth, {
      store_id: 'S-1',
      request_id: requestId,
      request_payload: {
        transaction_id: transactionId,
        open_time: OPEN_TIME,
        user_id: externalId,
        user_id_type: 'external_id',
        items: [{ line_id: 1, item_id: 'SKU', quantity: 1, unit_price: price }],
      },
    });
  }

  /** The member's Spendable account id. */
  async spendable(userId: string): Promise<string> {
    const known = this.accounts.get(userId);
    if (known) return known;
    const r = await this.call('POST', '/incentives/api/1.0/user_points/all_balances', this.auth, {
      retailer_id: this.retailerId,
      user_id: userId,
    });
    expect(r.status).toBe(200);
    const id = (r.body.payload.details as { account_name: string; point_account_id: string }[]).find(
      (d) => d.account_name === 'ACME Spendable Account',
    )!.point_account_id;
    this.accounts.set(userId, id);
    return id;
  }

  async deposit(userId: string, amount: number, idempotencyId: string): Promise<ApiResponse> {
    return this.call('POST', '/incentives/api/1.0/user_points/deposit', this.auth, {
      retailer_id: this.retailerId,
      user_id: userId,
      deposit_details: [
        { point_account_id: await this.spendable(userId), amount, idempotency_id: idempotencyId },
      ],
    });
  }

  spend(userId: string, amount: number, idempotencyId: string): Promise<ApiResponse> {
    return this.call('POST', '/incentives/api/1.0/user_points/spend_multiple', this.auth, {
      retailer_id: this.retailerId,
      user_id: userId,
      spend_details: [{ amount, idempotency_id: idempotencyId }],
    });
  }

  async setNow(now: string): Promise<void> {
    const r = await this.call('POST', '/admin/v1/clock', this.admin, { now });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }

  /** Subscribes a webhook; answers it with its secret. */
  async webhook(url: string, events: string[] = ['*']): Promise<{ id: string; secret: string }> {
    const r = await this.call('POST', '/admin/v1/webhooks', this.admin, { webhook: { url, events } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.webhook;
  }

  /** Every event the outbox holds for the retailer, in the order they were written. */
  async events(): Promise<RecordedEvent[]> {
    const r = await this.db.query<RecordedEvent>(
      `SELECT user_id, id, type, created_at, effective_at, retailer_id, data FROM events
       WHERE retailer_id = $1 ORDER BY seq`,
      [this.retailerId],
    );
    return r.rows;
  }

  /** Deliveries of the retailer by destination kind and status. */
  async deliveries(
    broker: boolean,
  ): Promise<{ event_id: string; status: string; attempts: number; last_error: string | null }[]> {
    const r = await this.db.query(
      `SELECT event_id, status, attempts, last_error FROM event_deliveries
       WHERE retailer_id = $1 AND (webhook_id = '00000000-0000-0000-0000-000000000000') = $2`,
      [this.retailerId, broker],
    );
    return r.rows;
  }
}

/** One process, no sweeper: the tests move the clock and settle members by their writes. */
const SERVE_ARGS = ['--sweep-interval', '0', '--workers', '1'];

/** Ids in the order of their first appearance. */
export const firstSeen = (ids: string[]): string[] => [...new Set(ids)];

/** The ids of each member's events, in order. */
export function byMember<T>(
  items: T[],
  member: (x: T) => string,
  id: (x: T) => string,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const x of items) {
    const list = out.get(member(x)) ?? [];
    list.push(id(x));
    out.set(member(x), list);
  }
  return out;
}
