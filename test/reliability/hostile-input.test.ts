import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { ERRORS, wireCode } from '../../src/errors.js';
import { verifyLedger } from '../../src/ledger/verify.js';
import type { DemoCredentials } from '../../src/demo/demo.service.js';
import { describeEachDatabase } from '../support/databases.js';
import { prng } from '../support/prng.js';
import { basic, startTestApp, type TestApp } from '../support/test-app.js';
import {
  Contract,
  HOSTILE_STRINGS,
  operationsOf,
  requestsFor,
  shuffle,
  type Auth,
  type Fixtures,
  type FuzzRequest,
  type Kind,
  type Operation,
} from './hostile-input.generator.js';

/**
 * The hostile-input fuzzer (issue #7 item 4). Every operation of the OpenAPI document gets requests
 * that are invalid by construction — each must answer a 4xx in the envelope, leak nothing, and leave
 * every table as it was — and requests that are hostile yet may be valid — a clean 4xx or a 2xx,
 * never a 5xx; hostile strings that are accepted must read back exactly as sent.
 *
 * LAUREL_FUZZ_SEED replays a run (the seed is printed); LAUREL_FUZZ_SCALE=10 tries ten times as many
 * sampled attacks per route.
 */

const SEED = process.env.LAUREL_FUZZ_SEED
  ? Number(process.env.LAUREL_FUZZ_SEED)
  : Math.floor(Math.random() * 2 ** 31);
const SCALE = Number(process.env.LAUREL_FUZZ_SCALE ?? 1);
/** Sampled attacks per operation, on top of the ones always sent. */
const POOL = Math.round(40 * SCALE);
/** Each phase's time limit grows with the scale. */
const TIMEOUT = 60_000 * Math.max(1, SCALE);

/** Traces of internals that must never reach a client: stack frames, source paths, SQL, driver text. */
const LEAKS = [
  /\n\s+at\s/,
  /\.(ts|js):\d+/,
  /node_modules|\/work\/|\/src\//,
  /\b(SELECT\s.+\sFROM|INSERT INTO|UPDATE\s+\w+\s+SET|DELETE FROM)\b/i,
  /duplicate key|violates|constraint|relation "|syntax error at|invalid byte sequence|pglite|\bpg\b/i,
  /FST_ERR|"statusCode"|"stack"|TypeError|RangeError|SyntaxError|ReferenceError/,
];

/** Strings accepted by the API that must come back exactly as sent. */
const ROUND_TRIP = [
  "O'Brien",
  'quote " and \\ backslash',
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  '{"$gt": ""}',
  '${7*7}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '😀👍🏽👨‍👩‍👧',
  'مرحبا بالعالم',
  'שלום \u202eevil',
  'Z̴̡̛a̷l̵g̶o̸',
  'Ｆｕｌｌｗｉｄｔｈ１２３',
  'İı ß ﬁ',
  '日本語テキスト',
  'null',
  '%00',
  '..%2F..%2Fetc',
  '\ud800',
  'a\udfffb',
  'a\ufeffb',
  'a\u0000b',
  'tab\there',
];

const V1 = '/incentives/api/1.0';

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

type Snapshot = Record<string, string>;

describeEachDatabase('Hostile input', (target) => {
  let t: TestApp;
  let other: DemoCredentials;
  let ops: Operation[];
  let fx: Fixtures;
  const generated: Record<Kind, FuzzRequest[]> = { invalid: [], hostile: [], 'cross-tenant': [] };
  /** The member path parameters name. */
  let target0: { id: string; external_id: string; email: string };
  /** This retailer's ids and personal data, which no answer to another retailer may show. */
  let ours: string[] = [];
  const stats = {
    byStatus: new Map<number, number>(),
    byKind: new Map<string, number>(),
    routes: new Set<string>(),
    started: 0,
  };
  /** Failures of the running test; `failed` counts them over the whole file. */
  const failures: string[] = [];
  let failed = 0;

  // --- Sending and judging.

  function authHeader(auth: Auth): string | undefined {
    if (auth === 'app') return basic(t.tenant.api_key, t.tenant.secret);
    if (auth === 'admin') return `Bearer ${t.tenant.admin_token}`;
    if (auth === 'none') return undefined;
    if ('header' in auth) return auth.header;
    if ('bearer' in auth) return `Bearer ${auth.bearer}`;
    return basic(auth.key, auth.secret);
  }

  async function send(
    method: string,
    url: string,
    opts: { auth?: Auth; headers?: Record<string, string>; payload?: string | Buffer; body?: unknown } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const authorization = authHeader(opts.auth ?? 'app');
    if (authorization !== undefined) headers.authorization = authorization;
    let payload = opts.payload;
    if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await t.app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload !== undefined ? { payload } : {}),
    });
    let body: unknown;
    try {
      body = res.json();
    } catch {
      body = undefined;
    }
    stats.byStatus.set(res.statusCode, (stats.byStatus.get(res.statusCode) ?? 0) + 1);
    return { status: res.statusCode, headers: res.headers, text: res.body, body };
  }

  /** What is wrong with an answer: a 5xx, a broken envelope, a leak, an unexpected status. */
  function problemsOf(
    res: Answer,
    kind: Kind | 'round-trip',
    expectStatus?: number[],
    echoes: string[] = [],
    method = 'POST',
  ) {
    const problems: string[] = [];
    if (res.status >= 500) problems.push(`answered ${res.status}`);
    if (kind === 'invalid' && (res.status < 400 || res.status >= 500))
      problems.push('an invalid request not refused');
    if (expectStatus && !expectStatus.includes(res.status))
      problems.push(`expected ${expectStatus.join('/')}`);
    // A HEAD answer has no body to judge.
    if (res.status >= 400 && method !== 'HEAD') {
      const b = res.body;
      if (!String(res.headers['content-type']).startsWith('application/json')) problems.push('not JSON');
      else if (!b || typeof b !== 'object' || Array.isArray(b)) problems.push('no envelope');
      else {
        const keys = Object.keys(b).sort().join(',');
        const e = b.errors;
        if (keys !== 'errors,status' || b.status !== 'error' || !e || typeof e !== 'object') {
          problems.push('not the envelope');
        } else {
          const code = e.code as unknown;
          // A code's statuses: its own, and those of the registered errors it stands for on the
          // wire (email_taken answers as validation with 409, issue #14).
          const statuses = (Object.keys(ERRORS) as (keyof typeof ERRORS)[])
            .filter((c) => wireCode(c) === code)
            .map((c): number => ERRORS[c].status);
          if (typeof code !== 'string' || !(code in ERRORS) || code !== code.toLowerCase()) {
            problems.push(`unregistered code ${JSON.stringify(code)}`);
          } else if (!statuses.includes(res.status)) {
            problems.push(`code ${code} is registered with ${statuses.join(' or ')}`);
          }
          if (typeof e.message !== 'string' || !e.message) problems.push('no message');
          if (e.field !== undefined && typeof e.field !== 'string') problems.push('field not a string');
          if (Object.keys(e).some((k) => !['code', 'user', 'message', 'field'].includes(k)))
            problems.push('extra keys');
          // SessionM's per-field map: one user field and a sentence, on validation errors only.
          if (
            e.user !== undefined &&
            (code !== 'validation' ||
              typeof e.user !== 'object' ||
              Object.values(e.user as object).some((v) => typeof v !== 'string'))
          )
            problems.push('user map malformed');
        }
      }
      // What the fuzzer sent may come back in a message (this request's values, or a hostile name
      // an earlier request stored: "not a level of ' UNION SELECT ..."); anything else internal may not.
      let text = res.text;
      for (const echo of [...echoes, ...HOSTILE_STRINGS].filter((x) => x.length > 2)) {
        for (const form of [echo, JSON.stringify(echo).slice(1, -1)]) text = text.split(form).join('');
      }
      for (const leak of LEAKS) if (leak.test(text)) problems.push(`leaks ${leak}`);
    } else if (
      res.status >= 200 &&
      res.status < 300 &&
      res.body?.status !== 'ok' &&
      res.body?.status !== 'OK'
    ) {
      problems.push('a 2xx without status ok');
    }
    return problems;
  }

  function fail(what: string, res: Answer | undefined, problems: string[]): void {
    const body = res ? ` -> ${res.status} ${res.text.slice(0, 300)}` : '';
    failures.push(`${what}: ${problems.join('; ')}${body}`);
    failed++;
  }

  // --- The database, table by table (simulated_clock aside: moving time is not a write).

  const snapshotSql = new Map<string, string>();
  /** Every table's row count and hash; with `retailerId`, of the rows of that retailer only. */
  async function snapshot(retailerId?: string): Promise<Snapshot> {
    const key = retailerId ?? '';
    if (!snapshotSql.has(key)) {
      const tables = await t.db.query<{ name: string; scoped: boolean }>(
        `SELECT t.table_name AS name, bool_or(c.column_name = 'retailer_id') AS scoped
         FROM information_schema.tables t JOIN information_schema.columns c USING (table_schema, table_name)
         WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND t.table_name <> 'simulated_clock'
         GROUP BY 1 ORDER BY 1`,
      );
      expect(tables.length).toBeGreaterThan(10);
      const where = (name: string, scoped: boolean) =>
        !retailerId
          ? ''
          : scoped
            ? `WHERE r.retailer_id = '${retailerId}'`
            : name === 'retailers'
              ? `WHERE r.id = '${retailerId}'`
              : '';
      snapshotSql.set(
        key,
        tables
          .map(
            ({ name, scoped }) =>
              `SELECT '${name}' AS name, count(*)::int || ':' || md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) AS state FROM "${name}" r ${where(name, scoped)}`,
          )
          .join(' UNION ALL '),
      );
    }
    const rows = await t.db.query<{ name: string; state: string }>(snapshotSql.get(key)!);
    return Object.fromEntries(rows.map((r) => [r.name, r.state]));
  }
  const changed = (a: Snapshot, b: Snapshot) => Object.keys({ ...a, ...b }).filter((k) => a[k] !== b[k]);

  /**
   * The next transaction id not yet assigned: unchanged across a request, nothing was written (a
   * write needs one). Only when it moved is the whole database compared.
   */
  async function xidHorizon(): Promise<string> {
    const [row] = await t.db.query<{ x: string }>(
      `SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x`,
    );
    return row!.x;
  }

  /**
   * Sends requests one after the other; every 4xx must leave the database as it was. With `ours`
   * (another retailer's requests), nothing of this retailer may change or show, whatever the answer.
   */
  async function run(requests: FuzzRequest[], scope?: string): Promise<void> {
    let base = await snapshot(scope);
    let horizon = await xidHorizon();
    for (const r of requests) {
      stats.routes.add(r.op.id);
      stats.byKind.set(r.kind, (stats.byKind.get(r.kind) ?? 0) + 1);
      const what = `[${r.kind}] ${r.op.id} — ${r.label} (${r.method} ${r.url.slice(0, 120)})`;
      let res: Answer;
      try {
        res = await send(r.method, r.url, { auth: r.auth, headers: r.headers, payload: r.payload });
      } catch (err) {
        fail(what, undefined, [`inject threw ${(err as Error).message}`]);
        continue;
      }
      const problems = problemsOf(res, r.kind, r.expect, r.echoes, r.method);
      if (scope) {
        const sent = `${r.url} ${r.payload?.toString() ?? ''}`;
        const shown = ours.filter((x) => !sent.includes(x) && res.text.includes(x));
        if (shown.length) problems.push(`shows this retailer's ${shown.join(', ')}`);
      }
      const next = await xidHorizon();
      if (next !== horizon) {
        const now = await snapshot(scope);
        const diff = changed(base, now);
        if (diff.length && (res.status >= 400 || r.kind !== 'hostile')) {
          problems.push(`wrote to ${diff.join(', ')}`);
        }
        base = now;
        horizon = await xidHorizon();
      }
      if (problems.length) fail(what, res, problems);
      // An accepted profile update may have renamed the member the path parameters name: name it
      // back, so later attacks on /external/users/... still reach a member.
      if (
        r.kind === 'hostile' &&
        res.status < 300 &&
        r.method === 'PUT' &&
        r.op.template.includes('/users/')
      ) {
        const { id, external_id, email } = target0;
        const back = await send('PUT', `${t.core}/users/${id}`, { body: { user: { external_id, email } } });
        expect(back.status, back.text).toBe(200);
        base = await snapshot(scope);
        horizon = await xidHorizon();
      }
    }
  }

  // --- Setup: one retailer with members, purchases, a deposit and a spend; another retailer.

  beforeAll(async () => {
    stats.started = Date.now();
    rmSync(`.laurel/hostile-input-${target.name}.log`, { force: true });
    t = await startTestApp(target);
    const now = (await t.clock.now()).toISOString();
    const ok = async (p: Promise<Answer>) => {
      const res = await p;
      expect(res.status, res.text).toBe(200);
      return res.body;
    };

    const members: { id: string; external_id: string; email: string }[] = [];
    for (let i = 1; i <= 4; i++) {
      const user = { external_id: `FZ-A-${i}`, email: `member${i}@fuzz.example`, first_name: `Member ${i}` };
      const body = await ok(send('POST', `${t.core}/users`, { body: { user } }));
      members.push({ id: body.user.id, external_id: user.external_id, email: user.email });
    }
    const balances = await ok(
      send('POST', `${V1}/user_points/all_balances`, {
        body: { retailer_id: t.tenant.retailer_id, user_id: members[0]!.id },
      }),
    );
    const accounts = Object.fromEntries(
      (balances.payload.details as { account_name: string; point_account_id: string }[]).map((d) => [
        d.account_name,
        d.point_account_id,
      ]),
    );
    const spendable = accounts['ACME Spendable Account']!;
    for (const [i, m] of members.slice(0, 3).entries()) {
      await ok(
        send('POST', '/api/2.0/send_transaction', {
          body: {
            store_id: 'STORE-1',
            request_id: `setup-req-${i}`,
            request_payload: {
              transaction_id: `setup-tx-${i}`,
              open_time: now,
              items: [{ line_id: '1', item_id: 'SKU-1', quantity: 2, unit_price: 60 }],
              user_id: m.id,
            },
          },
        }),
      );
    }
    await ok(
      send('POST', `${V1}/user_points/deposit`, {
        body: {
          retailer_id: t.tenant.retailer_id,
          user_id: members[0]!.id,
          deposit_details: [{ point_account_id: spendable, amount: 500, idempotency_id: 'setup-deposit' }],
        },
      }),
    );
    await ok(
      send('POST', `${V1}/user_points/spend_multiple`, {
        body: {
          retailer_id: t.tenant.retailer_id,
          user_id: members[0]!.id,
          spend_details: [{ amount: 100, idempotency_id: 'setup-spend' }],
        },
      }),
    );
    const program = (await ok(send('GET', '/admin/v1/program', { auth: 'admin' }))).program_version.program;
    const campaigns = (await ok(send('GET', '/admin/v1/campaigns', { auth: 'admin' }))).campaigns;
    ours = [
      t.tenant.retailer_id,
      t.tenant.api_key,
      spendable,
      ...campaigns.map((c: { id: string }) => c.id),
      ...members.flatMap((m) => [m.id, m.email, m.external_id]),
    ];

    other = await t.newTenant();
    const otherAuth = { key: other.api_key, secret: other.secret };
    const otherUser = await ok(
      send('POST', `/priv/v1/apps/${other.api_key}/users`, {
        auth: otherAuth,
        body: { user: { external_id: 'FZ-B-1', email: 'member1@other.example' } },
      }),
    );
    const otherCampaigns = (
      await ok(send('GET', '/admin/v1/campaigns', { auth: { bearer: other.admin_token } }))
    ).campaigns;

    target0 = members[1]!;
    let n = 0;
    const unique = (prefix: string) => () => `${prefix}-${SEED}-${++n}`;
    const creates = (op: Operation) => op.method === 'POST';
    const silver = (program.tier_system.levels as { id: string; name: string }[]).find(
      (l) => l.name === 'SILVER',
    )!;
    const today = now.slice(0, 10);
    fx = {
      apiKey: t.tenant.api_key,
      adminToken: t.tenant.admin_token,
      other: {
        apiKey: other.api_key,
        secret: other.secret,
        adminToken: other.admin_token,
        retailerId: other.retailer_id,
        userId: otherUser.user.id,
        params: {
          api_key: other.api_key,
          user_id: otherUser.user.id,
          external_id: 'FZ-B-1',
          campaign_id: otherCampaigns[0].id,
        },
      },
      params: {
        api_key: t.tenant.api_key,
        user_id: target0.id,
        external_id: target0.external_id,
        campaign_id: campaigns[0].id,
        period: '2026-Q4',
      },
      body: {
        retailer_id: () => t.tenant.retailer_id,
        user_id: () => target0.id,
        point_account_id: () => spendable,
        point_account_ids: () => [spendable],
        tier_system_id: () => program.tier_system.id,
        tier_level_id: () => silver.id,
        // A new profile needs an email or an external id; updates keep the member's own.
        email: (op) => (creates(op) ? `${unique('fz')()}@fuzz.example` : undefined),
        external_id: (op) => (creates(op) ? unique('FZ')() : undefined),
        idempotency_id: unique('idem'),
        request_id: unique('req'),
        transaction_id: unique('tx'),
        reference_id: unique('ref'),
        line_id: unique('line'),
        item_id: () => 'SKU-1',
        store_id: () => 'STORE-1',
        open_time: () => now,
        now: () => now,
        dob: () => '1990-01-01',
        country: () => 'USA',
        name: unique('Fuzz campaign'),
        starts_on: () => today,
        ends_on: () => '2027-01-31',
        factor: () => 2,
        tags: () => ['fuzz'],
        program: () => structuredClone(program),
      },
      query: {
        email: () => target0.email,
        'user_ids[]': () => [target0.id, members[2]!.id],
        'user[user_profile]': () => 'true',
        expand_incentives: () => 'true',
        show_identifiers: () => 'true',
      },
    };

    await t.app.ready();
    ops = operationsOf(t.app.swagger() as Record<string, unknown>);
    const contract = new Contract();
    const rnd = prng(SEED);
    for (const op of ops) {
      for (const r of requestsFor(op, ops, fx, contract, rnd, POOL)) generated[r.kind].push(r);
    }
    shuffle(rnd, generated.invalid);
    shuffle(rnd, generated.hostile);
  });

  afterAll(async () => {
    const byStatus = [...stats.byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    const sent = [...stats.byStatus.values()].reduce((a, b) => a + b, 0);
    console.log(
      `hostile-input [${target.name}] seed=${SEED} scale=${SCALE}: ${stats.routes.size}/${ops?.length ?? 0} routes covered, ` +
        `${sent} requests (${stats.byKind.get('invalid') ?? 0} invalid, ${stats.byKind.get('hostile') ?? 0} hostile, ` +
        `${stats.byKind.get('cross-tenant') ?? 0} cross-tenant, ${stats.byKind.get('round-trip') ?? 0} round-trip checks) in ${((Date.now() - stats.started) / 1000).toFixed(1)} s; ` +
        `by status {${byStatus}}; ${failed} failures` +
        (failed ? ` (replay with LAUREL_FUZZ_SEED=${SEED})` : ''),
    );
    await t?.close();
  });

  beforeEach(() => {
    failures.length = 0;
  });

  /** The first failures in the assertion; all of them in .laurel/hostile-input-<database>.log. */
  const report = () => {
    if (failures.length) {
      mkdirSync('.laurel', { recursive: true });
      appendFileSync(`.laurel/hostile-input-${target.name}.log`, `seed ${SEED}\n${failures.join('\n')}\n`);
    }
    const shown = failures.slice(0, 40);
    return `${failures.length} failures (LAUREL_FUZZ_SEED=${SEED}; all in .laurel/hostile-input-${target.name}.log):\n${shown.join('\n')}`;
  };

  it('covers every documented operation', () => {
    expect(ops.length).toBeGreaterThanOrEqual(40);
    const covered = new Set([...generated.invalid, ...generated.hostile].map((r) => r.op.id));
    expect(ops.filter((o) => !covered.has(o.id)).map((o) => o.id)).toEqual([]);
  });

  it(
    'every invalid request answers a 4xx in the envelope, leaks nothing and changes nothing',
    async () => {
      const before = await snapshot();
      await run(generated.invalid);
      expect(failures, report()).toEqual([]);
      expect(changed(before, await snapshot()), 'tables changed by invalid requests').toEqual([]);
    },
    TIMEOUT,
  );

  it(
    "another retailer's credentials reach nothing of this retailer, on any route",
    async () => {
      await run(generated['cross-tenant'], t.tenant.retailer_id);
      expect(failures, report()).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'hostile strings an API accepts read back exactly as sent; the rest are refused cleanly',
    async () => {
      const program = (await send('GET', '/admin/v1/program', { auth: 'admin' })).body.program_version
        .program;
      const spendable = (program.point_accounts as { id: string; role: string }[]).find(
        (a) => a.role === 'spendable',
      )!.id;
      const silver = (program.tier_system.levels as { id: string; name: string }[]).find(
        (l) => l.name === 'SILVER',
      )!;
      const now = (await t.clock.now()).toISOString();

      /** One write, then (if it was accepted) a read that must show `sent` where `read` looks. */
      async function roundTrip(
        what: string,
        write: () => Promise<Answer>,
        read: (res: Answer) => Promise<unknown>,
        sent: unknown,
      ): Promise<void> {
        stats.byKind.set('round-trip', (stats.byKind.get('round-trip') ?? 0) + 1);
        const before = await snapshot();
        const res = await write();
        const problems = problemsOf(res, 'hostile');
        if (res.status >= 400 && changed(before, await snapshot()).length)
          problems.push('a refused write wrote');
        if (res.status >= 200 && res.status < 300) {
          const got = await read(res);
          if (got !== sent)
            problems.push(`read back ${JSON.stringify(got)} instead of ${JSON.stringify(sent)}`);
        }
        if (problems.length) fail(`round trip ${what}`, res, problems);
      }

      for (const [i, s] of ROUND_TRIP.entries()) {
        const member = await send('POST', `${t.core}/users`, {
          body: { user: { external_id: `RT-${SEED}-${i}` } },
        });
        expect(member.status, member.text).toBe(200);
        const id = member.body.user.id as string;
        const user = async () =>
          (await send('GET', `${t.core}/users/${id}?user%5Buser_profile%5D=true`)).body.user;
        const label = JSON.stringify(s);

        for (const field of ['first_name', 'last_name', 'address', 'city']) {
          await roundTrip(
            `${field} ${label}`,
            () => send('PUT', `${t.core}/users/${id}`, { body: { user: { [field]: s } } }),
            async () => (await user())[field],
            s,
          );
        }
        const email = `${s}@fuzz.example`;
        await roundTrip(
          `email ${JSON.stringify(email)}`,
          () => send('PUT', `${t.core}/users/${id}`, { body: { user: { email } } }),
          async () => (await user()).email,
          email,
        );
        const externalId = `x-${s}`;
        await roundTrip(
          `external_id ${JSON.stringify(externalId)}`,
          () => send('PUT', `${t.core}/users/${id}`, { body: { user: { external_id: externalId } } }),
          async () => {
            const found = await send('GET', `${t.core}/external/users/${encodeURIComponent(externalId)}`);
            const searched = await send(
              'GET',
              `${t.core}/users/search?external_id=${encodeURIComponent(externalId)}`,
            );
            return found.body?.user?.id === id && searched.body?.user?.id === id
              ? found.body.user.external_id
              : `not found by it: ${found.status}/${searched.status}`;
          },
          externalId,
        );
        await roundTrip(
          `custom attribute ${label}`,
          () =>
            send('POST', `${t.core}/users/${id}/models/user_profile`, {
              body: { user_profile: { [`k-${s}`]: s } },
            }),
          async () => (await user()).user_profile?.[`k-${s}`],
          s,
        );
        await roundTrip(
          `tag ${label}`,
          () => send('POST', `${t.core}/users/${id}/tags`, { body: { tags: [s] } }),
          async () => {
            const tags = (await send('GET', `${t.core}/users/${id}/tags`)).body.tags as { tag: string }[];
            return tags.find((x) => x.tag === s)?.tag ?? tags.map((x) => x.tag).join('|');
          },
          s,
        );

        const audit = async () =>
          (
            await send('POST', `${V1}/user_points/fetch_point_audit_logs`, {
              body: { retailer_id: t.tenant.retailer_id, user_id: id, take: 500 },
            })
          ).body.payload.results as Record<string, unknown>[];
        const deposit = (line: Record<string, unknown>) =>
          send('POST', `${V1}/user_points/deposit`, {
            body: {
              retailer_id: t.tenant.retailer_id,
              user_id: id,
              deposit_details: [{ point_account_id: spendable, amount: 10, ...line }],
            },
          });
        expect((await deposit({ idempotency_id: `float-${i}` })).status).toBe(200);
        for (const field of ['reference_id', 'reference_type', 'idempotency_id'] as const) {
          const line = { idempotency_id: `dep-${field}-${i}`, [field]: s };
          await roundTrip(
            `deposit ${field} ${label}`,
            () => deposit(line),
            async () => (await audit()).find((r) => r.idempotency_id === line.idempotency_id)?.[field],
            s,
          );
        }
        for (const field of ['reference_id', 'reference_type', 'idempotency_id'] as const) {
          const line = { amount: 1, idempotency_id: `spend-${field}-${i}`, [field]: s };
          await roundTrip(
            `spend ${field} ${label}`,
            () =>
              send('POST', `${V1}/user_points/spend_multiple`, {
                body: { retailer_id: t.tenant.retailer_id, user_id: id, spend_details: [line] },
              }),
            async () =>
              (await audit()).find(
                (r) => r.idempotency_id === line.idempotency_id && r.modification_type === 'spend',
              )?.[field],
            s,
          );
        }
        await roundTrip(
          `transaction_id ${label}`,
          () =>
            send('POST', '/api/2.0/send_transaction', {
              body: {
                store_id: s,
                request_id: `rt-req-${SEED}-${i}`,
                request_payload: {
                  transaction_id: s,
                  open_time: now,
                  items: [{ line_id: s, item_id: s, quantity: 1, unit_price: 5, category: s }],
                  user_id: id,
                },
              },
            }),
          async (res) => {
            const row = (await audit()).find((r) => r.modification_type === 'purchase');
            return res.body.payload.transaction_id === row?.transaction_id ? row?.transaction_id : 'differs';
          },
          s,
        );
        await roundTrip(
          `tier move reason ${label}`,
          () =>
            send('POST', `${V1}/movement/move_user`, {
              body: {
                retailer_id: t.tenant.retailer_id,
                user_id: id,
                tier_system_id: program.tier_system.id,
                tier_level_id: silver.id,
                reason: s,
              },
            }),
          async () => {
            const history = (await send('GET', `${t.core}/users/${id}/tier_history`)).body.tier_history as {
              cause: string;
              reason: string;
            }[];
            return history.filter((h) => h.cause === 'manual_move').at(-1)?.reason;
          },
          `Moved by app:${t.tenant.api_key}: ${s}`,
        );
        await roundTrip(
          `campaign name ${label}`,
          () =>
            send('POST', '/admin/v1/campaigns', {
              auth: 'admin',
              body: {
                campaign: {
                  name: `${s} ${i}`,
                  starts_on: '2027-02-01',
                  ends_on: '2027-02-28',
                  award: { type: 'multiplier', factor: 2 },
                  tier_qualifying: false,
                },
              },
            }),
          async (res) =>
            (await send('GET', `/admin/v1/campaigns/${res.body.campaign.id}`, { auth: 'admin' })).body
              .campaign?.name,
          `${s} ${i}`,
        );
      }
      expect(failures, report()).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'hostile requests that may be valid answer a clean 4xx or a 2xx, never a 5xx',
    async () => {
      await run(generated.hostile);
      expect(failures, report()).toEqual([]);
    },
    TIMEOUT,
  );

  it('the ledger still verifies', async () => {
    expect((await verifyLedger(t.db)).problems).toEqual([]);
  });
});
