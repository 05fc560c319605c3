import { isDeepStrictEqual } from 'node:util';
import type { Queryable } from '../../src/db/database.js';
import { verifyLedger } from '../../src/ledger/verify.js';
import { prng } from '../support/prng.js';
import { ConservationModel, DAY_MS, pointsFor, quarterEndsBetween } from './conservation.model.js';

/**
 * The conservation workload (issue #7, items 1–3): C clients run random purchases, returns, voids,
 * deposits, spends, replays and reads against a hot set of members while the simulated clock moves
 * in phases through escrow maturities, quarter-end cash-outs and a year end. Every acknowledged
 * request goes into the reference model (conservation.model.ts); at the end of every phase the
 * API's balances and gift cards must equal the model's, the ledger must verify, and the journals
 * must hold every acknowledged request exactly once. An unacknowledged request (connection error,
 * 503) is retried with the same request or idempotency id until it is acknowledged.
 */

/** An HTTP answer; an endpoint throws instead when no answer came (connection refused or reset). */
export interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  retryAfter: string | null;
}

/** One server the clients can reach. */
export interface Endpoint {
  readonly label: string;
  call(method: string, path: string, authorization: string, body?: unknown): Promise<Reply>;
}

/** Laurel over real HTTP at `base()` (read at each call: a restarted server keeps its port). */
export function httpEndpoint(label: string, base: () => string, timeoutMs = 30_000): Endpoint {
  return {
    label,
    async call(method, path, authorization, body) {
      const res = await fetch(`${base()}${path}`, {
        method,
        headers: {
          authorization,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: kept as text, and reported as a discrepancy where JSON was due
      }
      return { status: res.status, body: parsed, retryAfter: res.headers.get('retry-after') };
    },
  };
}

export interface Credentials {
  apiKey: string;
  secret: string;
  adminToken: string;
  retailerId: string;
}

/** The fault injector of a scenario: runs from the first phase to the last, until `signal` aborts. */
export interface Faults {
  run(signal: AbortSignal): Promise<void>;
  /** Every server up again (before the final checks). */
  ensureUp(): Promise<void>;
  /** `kills=N terminations=N (backends N) ...` for the summary line. */
  describe(): string;
}

/** What a scenario runs the workload on. */
export interface Deployment {
  name: string;
  endpoints: Endpoint[];
  credentials: Credentials;
  /** Runs `fn` on the test's own connection to the database, in one snapshot. */
  inspect<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  faults?: Faults;
  /** A deployment without a server sweeper sweeps here (in-process); runs during phases and at the end. */
  sweep?: () => Promise<void>;
  /** Problems the deployment saw by itself (a server that exited without being killed). */
  problems?: () => string[];
  /** The servers' error logs, for a discrepancy's diagnosis. */
  serverErrors?: () => string;
}

export interface WorkloadOptions {
  seed: number;
  scale: number;
  start: Date;
  /** The last phase starts at or after this instant. */
  until: Date;
  members: number;
  clients: number;
  opsPerPhase: number;
  /** A progress line per phase (`LAUREL_RELIABILITY_VERBOSE=1`). */
  verbose: boolean;
  log: (line: string) => void;
}

export interface Summary {
  scenario: string;
  seed: number;
  phases: number;
  operations: number;
  acknowledged: number;
  retries: number;
  unavailable: number;
  connectionErrors: number;
  /** What the operations were, e.g. `412 purchases, 120 returns, ...`. */
  mix: string;
  /** Gift cards the quarter-end cash-outs gave, by the model. */
  cashOuts: number;
  faults: string;
  discrepancies: string[];
  seconds: number;
}

export function summaryLine(s: Summary): string {
  return (
    `reliability ${s.scenario}: seed ${s.seed}, ${s.phases} phases, ${s.operations} operations (${s.mix}), ` +
    `${s.cashOuts} gift cards, ` +
    `${s.acknowledged} acknowledged, ${s.retries} retries (${s.unavailable} answered 503, ` +
    `${s.connectionErrors} connection errors), faults: ${s.faults || 'none'}, ` +
    `discrepancies: ${s.discrepancies.length}, ${s.seconds.toFixed(1)} s`
  );
}

/** CI scale 1; `LAUREL_RELIABILITY_SCALE` and `LAUREL_RELIABILITY_SEED` override (docs/reliability.md). */
export function workloadOptions(log: (line: string) => void): WorkloadOptions {
  const scale = Math.max(1, Number(process.env.LAUREL_RELIABILITY_SCALE ?? 1) || 1);
  const seed = Number(process.env.LAUREL_RELIABILITY_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const start = new Date('2026-11-02T16:00:00Z');
  return {
    seed,
    scale,
    start,
    // Two quarter ends and a year end at scale 1 (2026-Q4, 2027-Q1); five and two at larger scales.
    until: new Date(scale > 1 ? '2028-01-20T00:00:00Z' : '2027-04-08T00:00:00Z'),
    members: 5 * scale,
    clients: 8 * Math.min(scale, 4),
    opsPerPhase: 15 * scale,
    verbose: process.env.LAUREL_RELIABILITY_VERBOSE === '1',
    log,
  };
}

/** The phase instants: random gaps of 4–24 days at 16:00Z plus up to 10 hours, never a midnight in New York. */
export function phaseTimes(seed: number, start: Date, until: Date): Date[] {
  const random = prng(seed ^ 0x5eed);
  const out = [start];
  for (let t = start; t < until;) {
    const day = new Date(t.getTime() + (4 + Math.floor(random() * 21)) * DAY_MS);
    const at = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), 16);
    t = new Date(at + Math.floor(random() * 600) * 60_000);
    out.push(t);
  }
  return out;
}

const SPENDABLE = 'spendable';
type Role = 'spendable' | 'spendable_escrow' | 'tier' | 'tier_escrow';
const ROLES: Role[] = ['spendable', 'spendable_escrow', 'tier', 'tier_escrow'];

interface Line {
  line_id: string;
  item_id: string;
  quantity: number;
  unitCents: number;
}

interface Owned {
  tx: string;
  member: Member;
  /** How the till names the member: its Laurel id or its external id. */
  byExternalId: boolean;
  purchaseTime: Date;
  lines: Line[];
  voided: boolean;
  award: number;
}

interface Member {
  id: string;
  externalId: string;
}

interface Acked {
  kind: 'pos' | 'deposit' | 'spend';
  path: string;
  body: unknown;
  reply: Reply;
}

interface Request {
  method: string;
  path: string;
  body?: unknown;
  admin?: boolean;
}

const eligible = (lines: Line[]) => lines.reduce((n, l) => n + l.unitCents * l.quantity, 0);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const RETRY_DEADLINE_MS = 120_000;

/** Runs the whole workload on `d` and answers its summary; discrepancies are collected, not thrown. */
export async function runConservation(d: Deployment, o: WorkloadOptions): Promise<Summary> {
  const began = Date.now();
  const discrepancies: string[] = [];
  const stats = { operations: 0, acknowledged: 0, retries: 0, unavailable: 0, connectionErrors: 0 };
  const mix = {
    purchases: 0,
    returns: 0,
    voids: 0,
    resends: 0,
    deposits: 0,
    spent: 0,
    refused: 0,
    replays: 0,
    reads: 0,
  };
  const { apiKey, secret, adminToken, retailerId } = d.credentials;
  const appAuth = `Basic ${Buffer.from(`${apiKey}:${secret}`).toString('base64')}`;
  const adminAuth = `Bearer ${adminToken}`;
  const core = `/priv/v1/apps/${apiKey}`;
  const points = '/incentives/api/1.0/user_points';
  const note = (what: string) => {
    discrepancies.push(what);
    if (discrepancies.length <= 20) o.log(`DISCREPANCY ${d.name}: ${what}`);
  };

  /**
   * Sends one request until it is acknowledged: a connection error or a 503 is retried with the
   * very same body (same request id, same idempotency id), on another server. A 503 must be
   * the envelope with Retry-After; any other 5xx is a discrepancy (and retried too, so the model
   * stays exact). Answers the acknowledgement and how many attempts it took.
   */
  async function send(
    req: Request,
    prefer: number,
    random: () => number,
  ): Promise<{ reply: Reply; attempts: number }> {
    const deadline = Date.now() + RETRY_DEADLINE_MS;
    const n = d.endpoints.length;
    let which = prefer % n;
    for (let attempt = 1; ; attempt++) {
      // A retry goes to another server when there is one, as a load balancer would send it.
      if (attempt > 1 && n > 1) which = (which + 1 + Math.floor(random() * (n - 1))) % n;
      const endpoint = d.endpoints[which]!;
      let reply: Reply | undefined;
      try {
        reply = await endpoint.call(req.method, req.path, req.admin ? adminAuth : appAuth, req.body);
      } catch (err) {
        stats.connectionErrors++;
        // A server that is up answers; one that hangs is a bug even if a retry succeeds.
        if ((err as Error).name === 'TimeoutError') {
          note(`${endpoint.label} ${req.method} ${req.path}: no answer within the client's timeout`);
        }
        if (Date.now() > deadline) {
          throw new Error(
            `${req.method} ${req.path} unacknowledged after ${attempt} attempts: ${String(err)}`,
          );
        }
      }
      if (reply && reply.status < 500) return { reply, attempts: attempt };
      if (reply?.status === 503) {
        stats.unavailable++;
        const b = reply.body as { status?: string; errors?: { code?: string } } | null;
        if (b?.status !== 'error' || b.errors?.code !== 'service_unavailable' || !reply.retryAfter) {
          note(
            `${endpoint.label} ${req.method} ${req.path}: 503 without the envelope and Retry-After: ${JSON.stringify(reply.body)}`,
          );
        }
      } else if (reply) {
        note(`${endpoint.label} ${req.method} ${req.path}: ${reply.status} ${JSON.stringify(reply.body)}`);
      }
      if (Date.now() > deadline)
        throw new Error(`${req.method} ${req.path} unacknowledged after ${attempt} attempts`);
      stats.retries++;
      await sleep(20 + Math.floor(random() * 150));
    }
  }

  const setup = prng(o.seed);
  const admin = (method: string, path: string, body?: unknown) =>
    send({ method, path, body, admin: true }, 0, setup);

  // The exact model needs the program without the demo campaigns (DESIGN §2): one version from now.
  const current = (await admin('GET', '/admin/v1/program')).reply;
  if (current.status !== 200) throw new Error(`GET program: ${JSON.stringify(current.body)}`);
  const program = current.body.program_version.program as {
    point_accounts: { id: string; role: Role }[];
  };
  const replaced = (await admin('PUT', '/admin/v1/program', { program: { ...program, campaigns: [] } }))
    .reply;
  if (replaced.status !== 200) throw new Error(`PUT program: ${JSON.stringify(replaced.body)}`);
  const roleOf = new Map(program.point_accounts.map((a) => [a.id, a.role]));
  const spendableId = program.point_accounts.find((a) => a.role === SPENDABLE)!.id;

  const members: Member[] = [];
  for (let i = 0; i < o.members; i++) {
    const externalId = `HOT-${i + 1}`;
    const { reply } = await send(
      { method: 'POST', path: `${core}/users`, body: { user: { external_id: externalId } } },
      i,
      setup,
    );
    if (reply.status !== 200) throw new Error(`create member: ${JSON.stringify(reply.body)}`);
    members.push({ id: reply.body.user.id as string, externalId });
  }
  const model = new ConservationModel(
    o.start,
    members.map((m) => m.id),
  );

  /** Journals each idempotency key must have, and the request ids the tills sent. */
  const expectedKeys = new Map<string, number>();
  const posRequests = new Set<string>();
  /** Per transaction: its member, revision and return journals, as acknowledged. */
  const transactions = new Map<string, { member: string; revision: number; returns: number }>();

  const phases = phaseTimes(o.seed, o.start, o.until);
  const crossed = quarterEndsBetween(o.start, phases.at(-1)!).map((q) => q.period);
  o.log(
    `reliability ${d.name}: seed ${o.seed}, scale ${o.scale}, ${o.clients} clients, ${o.members} members, ` +
      `${phases.length} phases ${phases[0]!.toISOString()} → ${phases.at(-1)!.toISOString()} (cash-outs ${crossed.join(', ')})`,
  );

  class Client {
    readonly random: () => number;
    readonly owned: Owned[] = [];
    readonly acked: Acked[] = [];
    private n = 0;
    constructor(
      readonly index: number,
      seed: number,
    ) {
      this.random = prng(seed);
    }

    private pick<T>(xs: readonly T[]): T {
      return xs[Math.floor(this.random() * xs.length)]!;
    }
    private id(kind: string) {
      return `c${this.index}-${kind}-${++this.n}`;
    }
    private send(req: Request) {
      return send(req, this.index, this.random);
    }

    async runPhase(ops: number): Promise<void> {
      for (let i = 0; i < ops; i++) {
        stats.operations++;
        await this.step();
        stats.acknowledged++;
        // The in-process deployment sweeps between requests, as a server's sweeper would.
        if (d.sweep && this.random() < 0.05) await d.sweep();
      }
    }

    private async step(): Promise<void> {
      const r = this.random();
      const waiting = this.owned.filter((p) => !p.voided && model.inEscrow(p.tx));
      if (r < 0.28 || (r < 0.47 && !waiting.length)) return this.purchase();
      if (r < 0.41) return this.change(this.pick(waiting), false);
      if (r < 0.45) return this.change(this.pick(waiting), true);
      if (r < 0.47) return this.resendUnchanged(this.pick(waiting));
      if (r < 0.62) return this.deposit();
      if (r < 0.78) return this.spend();
      if (r < 0.88 && this.acked.length) return this.replay(this.pick(this.acked));
      return this.read();
    }

    private posBody(p: Owned, requestId: string) {
      return {
        store_id: 'REL-01',
        request_id: requestId,
        request_payload: {
          transaction_id: p.tx,
          open_time: p.purchaseTime.toISOString(),
          items: p.lines.map((l) => ({
            line_id: l.line_id,
            item_id: l.item_id,
            quantity: l.quantity,
            unit_price: l.unitCents / 100,
          })),
          ...(p.voided ? { is_voided: true } : {}),
          user_id: p.byExternalId ? p.member.externalId : p.member.id,
          user_id_type: p.byExternalId ? 'external_id' : 'SessionM_ID',
        },
      };
    }

    private async pos(p: Owned, what: string): Promise<Reply | null> {
      const requestId = this.id('pos');
      const body = this.posBody(p, requestId);
      const path = '/api/2.0/send_transaction';
      const { reply } = await this.send({ method: 'POST', path, body });
      if (reply.status !== 200) {
        note(`${what} ${p.tx} (${requestId}): ${reply.status} ${JSON.stringify(reply.body)}`);
        return null;
      }
      posRequests.add(requestId);
      this.acked.push({ kind: 'pos', path, body, reply });
      return reply;
    }

    private async purchase(): Promise<void> {
      const lines: Line[] = Array.from({ length: 1 + Math.floor(this.random() * 4) }, (_, i) => ({
        line_id: String(i + 1),
        item_id: `SKU-${Math.floor(this.random() * 50)}`,
        quantity: 1 + Math.floor(this.random() * 3),
        unitCents: 100 + Math.floor(this.random() * 15_000),
      }));
      const p: Owned = {
        tx: this.id('tx'),
        member: this.pick(members),
        byExternalId: this.random() < 0.3,
        purchaseTime: model.now,
        lines,
        voided: false,
        award: pointsFor(eligible(lines)),
      };
      const reply = await this.pos(p, 'purchase');
      if (!reply) return;
      const payload = reply.body.payload;
      if (payload.awarded !== true || payload.base_points !== p.award || payload.user_id !== p.member.id) {
        note(
          `purchase ${p.tx}: expected ${p.award} points for ${p.member.id}, answer ${JSON.stringify(payload)}`,
        );
      }
      this.owned.push(p);
      mix.purchases++;
      model.purchase(p.member.id, p.tx, p.purchaseTime, p.award);
      transactions.set(p.tx, { member: p.member.id, revision: 1, returns: 0 });
    }

    /** A return (fewer items) or a void of a purchase whose escrow still waits. */
    private async change(p: Owned, voiding: boolean): Promise<void> {
      const before = p.lines.map((l) => ({ ...l }));
      if (voiding) p.voided = true;
      else {
        const candidates = p.lines.filter((l) => l.quantity > 0);
        if (!candidates.length) {
          p.voided = true;
        } else {
          const line = this.pick(candidates);
          const r = this.random();
          if (r < 0.4) line.quantity -= 1;
          else if (r < 0.7) line.quantity = 0;
          else p.lines = p.lines.filter((l) => l !== line);
        }
      }
      const award = p.voided ? 0 : pointsFor(eligible(p.lines));
      const reply = await this.pos(p, voiding ? 'void' : 'return');
      if (!reply) {
        p.lines = before;
        p.voided = false;
        return;
      }
      if (reply.body.payload.base_points !== award) {
        note(`return ${p.tx}: expected ${award} points, answer ${JSON.stringify(reply.body.payload)}`);
      }
      const t = transactions.get(p.tx)!;
      t.revision += 1;
      if (award < p.award) t.returns += 1;
      p.award = award;
      mix[voiding ? 'voids' : 'returns']++;
      model.changeAward(p.tx, award);
    }

    /** The same basket again under a new request id: nothing changes. */
    private async resendUnchanged(p: Owned): Promise<void> {
      const reply = await this.pos(p, 'unchanged re-send');
      if (!reply) return;
      mix.resends++;
      const payload = reply.body.payload;
      if (payload.base_points !== p.award || payload.points_awarded.length !== 0) {
        note(`unchanged re-send of ${p.tx} moved points: ${JSON.stringify(payload)}`);
      }
    }

    private async deposit(): Promise<void> {
      const member = this.pick(members);
      const amount = 1 + Math.floor(this.random() * 800);
      const idempotencyId = this.id('dep');
      const path = `${points}/deposit`;
      const body = {
        retailer_id: retailerId,
        user_id: member.id,
        deposit_details: [{ point_account_id: spendableId, amount, idempotency_id: idempotencyId }],
      };
      const { reply, attempts } = await this.send({ method: 'POST', path, body });
      const line = reply.body?.payload?.details?.[0];
      // A retry may find the first attempt applied: then it answers applied: false, and that is once.
      if (reply.status !== 200 || line?.amount !== amount || (line.applied !== true && attempts === 1)) {
        note(`deposit ${idempotencyId}: ${reply.status} ${JSON.stringify(reply.body)}`);
        if (reply.status !== 200) return;
      }
      expectedKeys.set(`${member.id}/deposit:${idempotencyId}`, 1);
      mix.deposits++;
      model.deposit(member.id, amount);
      this.acked.push({ kind: 'deposit', path, body, reply });
    }

    private async spend(): Promise<void> {
      const member = this.pick(members);
      const amount = 1 + Math.floor(this.random() * 1200);
      const idempotencyId = this.id('spend');
      const path = `${points}/spend_multiple`;
      const body = {
        retailer_id: retailerId,
        user_id: member.id,
        spend_details: [{ amount, idempotency_id: idempotencyId }],
      };
      const { reply, attempts } = await this.send({ method: 'POST', path, body });
      const key = `${member.id}/spend:${idempotencyId}`;
      if (reply.status === 400 && reply.body?.errors?.code === 'insufficient_points') {
        expectedKeys.set(key, 0);
        mix.refused++;
        return;
      }
      const line = reply.body?.payload?.details?.[0];
      const spent = reply.status === 200 && line?.amount_spent === amount && line.error_status === 0;
      if (!spent || (line.idempotency_summary !== 'new' && attempts === 1)) {
        note(`spend ${idempotencyId}: ${reply.status} ${JSON.stringify(reply.body)}`);
        if (!spent) return;
      }
      expectedKeys.set(key, 1);
      mix.spent++;
      model.spend(member.id, amount);
      this.acked.push({ kind: 'spend', path, body, reply });
    }

    /** An earlier acknowledged request, verbatim: it answers as the first time and changes nothing. */
    private async replay(a: Acked): Promise<void> {
      mix.replays++;
      const { reply } = await this.send({ method: 'POST', path: a.path, body: a.body });
      let expected: unknown;
      let got: unknown = reply.body;
      if (a.kind === 'pos') expected = a.reply.body;
      else if (a.kind === 'deposit') {
        expected = { ...a.reply.body.payload.details[0], applied: false };
        got = reply.body?.payload?.details?.[0];
      } else {
        expected = { ...a.reply.body.payload.details[0], idempotency_summary: 'duplicate' };
        got = reply.body?.payload?.details?.[0];
      }
      if (reply.status !== 200 || !isDeepStrictEqual(got, expected)) {
        note(
          `replay of ${a.kind} ${JSON.stringify(a.body).slice(0, 120)}: expected ${JSON.stringify(expected)}, got ${reply.status} ${JSON.stringify(reply.body)}`,
        );
      }
    }

    private async read(): Promise<void> {
      mix.reads++;
      const member = this.pick(members);
      const r = this.random();
      const req: Request =
        r < 0.4
          ? {
              method: 'POST',
              path: `${points}/all_balances`,
              body: { retailer_id: retailerId, user_id: member.id },
            }
          : r < 0.7
            ? { method: 'GET', path: `${core}/users/${member.id}?expand_incentives=true` }
            : r < 0.85
              ? { method: 'GET', path: `${core}/users/${member.id}/gift_cards` }
              : {
                  method: 'POST',
                  path: `${points}/fetch_point_audit_logs`,
                  body: { retailer_id: retailerId, user_id: member.id, take: 5 },
                };
      const { reply } = await this.send(req);
      if (reply.status !== 200) note(`read ${req.path}: ${reply.status} ${JSON.stringify(reply.body)}`);
      // Mid-phase the exact values race the other clients, but no balance is ever below zero.
      const details = (reply.body?.payload?.details ??
        reply.body?.user?.tier_details?.point_account_balances?.details ??
        []) as {
        available_balance: number;
      }[];
      if (details.some((dt) => dt.available_balance < 0))
        note(`read ${req.path}: a negative balance ${JSON.stringify(details)}`);
    }
  }

  const clients = Array.from({ length: o.clients }, (_, i) => new Client(i, o.seed + 7919 * (i + 1)));

  /** Balances by role from an answer's `details`. */
  const byRole = (details: { point_account_id: string; available_balance: number }[] | undefined) => {
    const out: Record<Role, number> = { spendable: 0, spendable_escrow: 0, tier: 0, tier_escrow: 0 };
    for (const dt of details ?? []) {
      const role = roleOf.get(dt.point_account_id);
      if (role) out[role] = dt.available_balance;
    }
    return out;
  };

  async function checkpoint(label: string, final: boolean): Promise<void> {
    const n = d.endpoints.length;
    for (const [i, m] of members.entries()) {
      const want = model.expected(m.id);
      const wantRoles: Record<Role, number> = {
        spendable: want.spendable,
        spendable_escrow: want.spendableEscrow,
        tier: want.tier,
        tier_escrow: want.tierEscrow,
      };
      const balances = (
        await send(
          {
            method: 'POST',
            path: `${points}/all_balances`,
            body: { retailer_id: retailerId, user_id: m.id },
          },
          i % n,
          setup,
        )
      ).reply;
      const user = (
        await send({ method: 'GET', path: `${core}/users/${m.id}?expand_incentives=true` }, i + 1, setup)
      ).reply;
      const cards = (await send({ method: 'GET', path: `${core}/users/${m.id}/gift_cards` }, i, setup)).reply;
      const seen = {
        all_balances: byRole(balances.body?.payload?.details),
        user: byRole(user.body?.user?.tier_details?.point_account_balances?.details),
      };
      for (const [source, got] of Object.entries(seen)) {
        const wrong = ROLES.filter((role) => got[role] !== wantRoles[role]);
        if (wrong.length) {
          note(
            `${label}: ${source} of ${m.externalId}: ${wrong.map((r) => `${r} ${got[r]} ≠ model ${wantRoles[r]}`).join(', ')}`,
          );
        }
      }
      const gotCards: Record<string, number> = {};
      for (const c of (cards.body?.gift_cards ?? []) as { period: string; points: number }[]) {
        gotCards[c.period] = (gotCards[c.period] ?? 0) + c.points;
      }
      if (cards.status !== 200 || !isDeepStrictEqual(gotCards, want.cashOuts)) {
        note(
          `${label}: gift cards of ${m.externalId}: ${JSON.stringify(gotCards)} ≠ model ${JSON.stringify(want.cashOuts)}`,
        );
      }
    }

    await d.inspect(async (q) => {
      const report = await verifyLedger(q);
      for (const p of report.problems) note(`${label}: verify: ${p}`);

      const keys = await q.query<{ user_id: string; idempotency_key: string; n: number }>(
        `SELECT user_id, idempotency_key, count(*)::int AS n FROM journals
         WHERE idempotency_key IS NOT NULL GROUP BY 1, 2`,
      );
      const seenKeys = new Map(keys.map((k) => [`${k.user_id}/${k.idempotency_key}`, k.n]));
      for (const [key, n] of expectedKeys) {
        if ((seenKeys.get(key) ?? 0) !== n)
          note(`${label}: ${key} has ${seenKeys.get(key) ?? 0} journals, expected ${n}`);
      }
      for (const key of seenKeys.keys())
        if (!expectedKeys.has(key)) note(`${label}: unexpected journal ${key}`);

      const purchases = await q.query<{
        transaction_id: string;
        user_id: string;
        revision: number;
        award: number;
      }>(`SELECT transaction_id, user_id, revision, (award->>'spendable')::int AS award FROM purchases`);
      const awards = model.awards();
      if (purchases.length !== transactions.size) {
        note(`${label}: ${purchases.length} purchases stored, ${transactions.size} acknowledged`);
      }
      for (const p of purchases) {
        const t = transactions.get(p.transaction_id);
        if (!t) note(`${label}: purchase ${p.transaction_id} was never acknowledged`);
        else if (
          t.member !== p.user_id ||
          t.revision !== p.revision ||
          awards.get(p.transaction_id) !== p.award
        ) {
          note(
            `${label}: purchase ${p.transaction_id} is revision ${p.revision} with ${p.award} points, ` +
              `model revision ${t.revision} with ${awards.get(p.transaction_id)}`,
          );
        }
      }

      const journals = await q.query<{ tx: string; kind: string; n: number }>(
        `SELECT reference_id AS tx, kind, count(*)::int AS n FROM journals
         WHERE kind IN ('purchase', 'return') GROUP BY 1, 2`,
      );
      const perTx = new Map(journals.map((j) => [`${j.tx}/${j.kind}`, j.n]));
      for (const [tx, t] of transactions) {
        const bought = perTx.get(`${tx}/purchase`) ?? 0;
        const returned = perTx.get(`${tx}/return`) ?? 0;
        if (bought !== 1 || returned !== t.returns) {
          note(
            `${label}: ${tx} has ${bought} purchase and ${returned} return journals, expected 1 and ${t.returns}`,
          );
        }
      }

      // Nothing half-written: each purchase has its two lots, holding its award until they mature.
      const lots = await q.query<{ tx: string; account: string; remaining: number; rolled: boolean }>(
        `SELECT p.transaction_id AS tx, l.account, l.remaining, l.rolled_over_at IS NOT NULL AS rolled
         FROM lots l JOIN purchases p ON p.id = l.purchase_id`,
      );
      const lotsOf = new Map<string, typeof lots>();
      for (const l of lots) lotsOf.set(l.tx, [...(lotsOf.get(l.tx) ?? []), l]);
      for (const [tx] of transactions) {
        const mine = lotsOf.get(tx) ?? [];
        const waiting = model.inEscrow(tx);
        const award = awards.get(tx) ?? 0;
        // A matured lot holds its award until a writer rolls it over (reads never write), then 0.
        const wrong = (l: (typeof lots)[number]) =>
          l.rolled ? waiting || l.remaining !== 0 : l.remaining !== award;
        if (mine.length !== 2 || mine.some(wrong)) {
          note(
            `${label}: lots of ${tx}: ${JSON.stringify(mine)}, model ${award} points, ${waiting ? 'waiting' : 'matured'}`,
          );
        }
      }

      const [requests] = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM pos_requests');
      if (requests!.n !== posRequests.size) {
        note(`${label}: ${requests!.n} POS requests stored, ${posRequests.size} acknowledged`);
      }
      const twice = await q.query<{ what: string }>(
        `SELECT 'request ' || request_id AS what FROM journals WHERE request_id IS NOT NULL
           GROUP BY request_id HAVING count(*) > 1
         UNION ALL
         SELECT 'rollover of purchase ' || purchase_id FROM journals WHERE kind = 'rollover'
           GROUP BY purchase_id HAVING count(*) > 1
         UNION ALL
         SELECT 'cash-out ' || user_id || ' ' || (details->>'period') FROM journals WHERE kind = 'cash_out'
           GROUP BY user_id, details->>'period' HAVING count(*) > 1`,
      );
      for (const t of twice) note(`${label}: more than one journal for ${t.what}`);

      const cards = await q.query<{ user_id: string; period: string; points: number }>(
        'SELECT user_id, period, points FROM gift_cards',
      );
      const wantCards = model.allCashOuts();
      for (const c of cards) {
        if (wantCards.get(`${c.user_id}/${c.period}`) !== c.points) {
          note(
            `${label}: gift card ${c.user_id}/${c.period} of ${c.points} points, model ${wantCards.get(`${c.user_id}/${c.period}`)}`,
          );
        }
      }
      if (final) {
        // By now the sweepers have written every rollover and cash-out that was due.
        if (cards.length !== wantCards.size)
          note(`${label}: ${cards.length} gift cards written, model ${wantCards.size}`);
        const [rolled] = await q.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM journals WHERE kind = 'rollover'",
        );
        if (rolled!.n !== model.maturedPurchases()) {
          note(
            `${label}: ${rolled!.n} rollover journals, model ${model.maturedPurchases()} matured purchases`,
          );
        }
      }
    });
  }

  // Faults strike at any moment from the first phase to the last: during the clients' work, the
  // clock moves and the checkpoints' reads alike (the checks' own connection is never cut).
  const stop = new AbortController();
  const faults = d.faults?.run(stop.signal);
  faults?.catch(() => undefined);
  try {
    for (const [i, at] of phases.entries()) {
      const moved = (await admin('POST', '/admin/v1/clock', { now: at.toISOString() })).reply;
      if (moved.status !== 200) throw new Error(`clock: ${JSON.stringify(moved.body)}`);
      model.advance(at);
      await Promise.all(clients.map((c) => c.runPhase(o.opsPerPhase)));
      await checkpoint(`phase ${i} (${at.toISOString()})`, false);
      if (o.verbose) {
        o.log(
          `  ${d.name} phase ${i} ${at.toISOString()}: ${stats.operations} operations, ${stats.retries} retries, ` +
            `${discrepancies.length} discrepancies, ${((Date.now() - began) / 1000).toFixed(1)} s${d.faults ? `; ${d.faults.describe()}` : ''}`,
        );
      }
    }
  } finally {
    stop.abort();
    await faults;
  }
  // Every server back, and answering by itself (no retry, no failover).
  await d.faults?.ensureUp();
  for (const [k, endpoint] of d.endpoints.entries()) {
    const probe = { retailer_id: retailerId, user_id: members[k % members.length]!.id };
    const reply = await endpoint
      .call('POST', `${points}/all_balances`, appAuth, probe)
      .catch((err: unknown) => ({ status: 0, body: String(err), retryAfter: null }));
    if (reply.status !== 200)
      note(`${endpoint.label} after the faults: ${reply.status} ${JSON.stringify(reply.body)}`);
  }

  // The end: every due rollover and cash-out written by the sweepers, then the exact counts.
  if (d.sweep) await d.sweep();
  else await waitForSweepers(d, model.now, model.allCashOuts().size);
  await checkpoint('end', true);

  for (const p of d.problems?.() ?? []) note(p);
  if (discrepancies.length && d.serverErrors) o.log(`server errors of ${d.name}:\n${d.serverErrors()}`);
  return {
    scenario: d.name,
    seed: o.seed,
    phases: phases.length,
    ...stats,
    mix: Object.entries(mix)
      .map(([k, v]) => `${v} ${k === 'spent' ? 'spends' : k === 'refused' ? 'spends refused' : k}`)
      .join(', '),
    cashOuts: model.allCashOuts().size,
    faults: d.faults?.describe() ?? '',
    discrepancies,
    seconds: (Date.now() - began) / 1000,
  };
}

/** Waits (up to 30 s) until the servers' sweepers have written every rollover and cash-out due by `now`. */
async function waitForSweepers(d: Deployment, now: Date, cashOuts: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const done = await d.inspect(async (q) => {
      const [due] = await q.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM lots WHERE rolled_over_at IS NULL AND matures_at <= $1',
        [now],
      );
      const [cards] = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM gift_cards');
      return due!.n === 0 && cards!.n >= cashOuts;
    });
    if (done) return;
    await sleep(250);
  }
}
