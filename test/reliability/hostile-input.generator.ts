import { randomUUID } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * The hostile-input fuzzer's request generator (issue #7 item 4). It reads the OpenAPI document, so
 * every documented route (and any added later) gets the same attacks without a list of routes:
 * broken credentials, broken JSON, wrong content types, bodies of the wrong shape, every required
 * field missing in turn, wrong types, hostile numbers and strings, junk in path parameters, another
 * retailer's ids, wrong methods. Each request is classed by construction:
 *
 * - `invalid`: must answer a 4xx in the envelope and change nothing (auth, syntax, a body or query
 *   the route's own schema refuses, a path id that names nothing of this retailer);
 * - `hostile`: may be valid (the schema accepts it): a clean 4xx, or a 2xx; never a 5xx;
 * - `cross-tenant`: another retailer's credentials with this retailer's ids and bodies, which must
 *   neither change nor show anything of this retailer.
 *
 * Bodies are classed by validating them against the documented schema with the server's own Ajv
 * settings, so "invalid by construction" means exactly "the route's contract refuses it".
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Schema = Record<string, any>;
type Path = (string | number)[];

/** Raw JSON text spliced into a body as is: numbers JSON.stringify cannot write (1e309, NaN). */
export class Raw {
  constructor(readonly text: string) {}
}

/** An object written from its entries, so a key can repeat or be `__proto__`. */
export class Entries {
  constructor(readonly entries: [string, unknown][]) {}
}

/** JSON text of a value that may hold Raw and Entries nodes. */
export function toJson(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Entries) {
    return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',')}}`;
  }
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v !== null && typeof v === 'object') return toJson(new Entries(Object.entries(v)));
  return JSON.stringify(v) ?? 'null';
}

export interface Param {
  name: string;
  schema: Schema;
  required: boolean;
}

/** One documented operation. */
export interface Operation {
  /** `METHOD /template`, as failures name it. */
  id: string;
  method: string;
  template: string;
  path: Param[];
  query: Param[];
  body: Schema | undefined;
  security: 'basic' | 'admin' | 'none';
}

const METHODS = ['get', 'post', 'put', 'delete', 'patch'] as const;

/** Inlines `#/components/schemas/X` references, so each schema stands alone. */
function deref(node: unknown, doc: Schema, depth = 0): unknown {
  if (depth > 40) throw new Error('schema nesting too deep to inline');
  if (Array.isArray(node)) return node.map((x) => deref(x, doc, depth + 1));
  if (node === null || typeof node !== 'object') return node;
  const ref = (node as Schema).$ref;
  if (typeof ref === 'string') {
    const target = ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((o, k) => (o as Schema | undefined)?.[k], doc);
    if (target === undefined) throw new Error(`unresolved ${ref}`);
    return deref(target, doc, depth + 1);
  }
  return Object.fromEntries(
    Object.entries(node as Schema)
      .filter(([k]) => k !== '$id')
      .map(([k, v]) => [k, deref(v, doc, depth + 1)]),
  );
}

/** Every operation of an OpenAPI 3 document. */
export function operationsOf(doc: Schema): Operation[] {
  const ops: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths as Record<string, Schema>)) {
    for (const method of METHODS) {
      const op = item[method] as Schema | undefined;
      if (!op) continue;
      const params = ((op.parameters ?? []) as Schema[]).map((p) => ({
        in: p.in as string,
        name: p.name as string,
        schema: deref(p.schema ?? {}, doc) as Schema,
        // A parameter with a default is filled in by the server: it may be left out.
        required: !!p.required && (p.schema as Schema | undefined)?.default === undefined,
      }));
      const security = Object.keys(((op.security ?? [])[0] ?? {}) as Schema)[0];
      ops.push({
        id: `${method.toUpperCase()} ${template}`,
        method: method.toUpperCase(),
        template,
        path: params.filter((p) => p.in === 'path'),
        query: params.filter((p) => p.in === 'query'),
        body: op.requestBody
          ? (deref(op.requestBody.content?.['application/json']?.schema ?? {}, doc) as Schema)
          : undefined,
        security: security === 'basic' ? 'basic' : security === 'admin' ? 'admin' : 'none',
      });
    }
  }
  return ops;
}

/** Validators with the server's settings (src/app.ts): bodies are not coerced, queries are. */
export class Contract {
  private readonly body: Ajv;
  private readonly query: Ajv;
  private readonly cache = new Map<Schema, ValidateFunction>();
  private readonly queryCache = new WeakMap<Param[], ValidateFunction>();

  constructor() {
    const base = { allErrors: false, useDefaults: true, removeAdditional: false as const, strict: false };
    this.body = new Ajv({ ...base, coerceTypes: false });
    this.query = new Ajv({ ...base, coerceTypes: 'array' });
    for (const ajv of [this.body, this.query]) addFormats.default(ajv);
  }

  private compiled(ajv: Ajv, cache: Map<Schema, ValidateFunction>, schema: Schema): ValidateFunction {
    let fn = cache.get(schema);
    if (!fn) {
      fn = ajv.compile(schema);
      cache.set(schema, fn);
    }
    return fn;
  }

  /** Whether a parsed JSON value satisfies a body schema (defaults are filled in: pass a throwaway). */
  accepts(schema: Schema, value: unknown): boolean {
    return !!this.compiled(this.body, this.cache, schema)(value);
  }

  /** Whether decoded query values satisfy the schema of one query parameter. */
  acceptsQuery(params: Param[], values: Record<string, string | string[]>): boolean {
    let fn = this.queryCache.get(params);
    if (!fn) {
      fn = this.query.compile({
        type: 'object',
        properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
        required: params.filter((p) => p.required).map((p) => p.name),
      });
      this.queryCache.set(params, fn);
    }
    return !!fn(structuredClone(values));
  }
}

/** What a body's text is, to the server: not JSON, poisoned JSON, or a value. */
export function parseBody(text: string): { ok: true; value: unknown } | { ok: false } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false };
  }
  // The server refuses `__proto__` keys and `constructor.prototype` (onProtoPoisoning, docs/errors.md).
  // Iterative: bodies nest 10,000 deep.
  const poisoned = (root: unknown): boolean => {
    if (!/__proto__|constructor/.test(text)) return false;
    const stack = [root];
    while (stack.length) {
      const v = stack.pop();
      if (v === null || typeof v !== 'object') continue;
      if (Object.prototype.hasOwnProperty.call(v, '__proto__')) return true;
      const c = (v as Schema).constructor;
      if (
        Object.prototype.hasOwnProperty.call(v, 'constructor') &&
        c &&
        typeof c === 'object' &&
        'prototype' in c
      )
        return true;
      stack.push(...Object.values(v));
    }
    return false;
  };
  return poisoned(value) ? { ok: false } : { ok: true, value };
}

const typeOf = (s: Schema): string | undefined =>
  typeof s.type === 'string' ? s.type : s.properties ? 'object' : s.items ? 'array' : undefined;

const branchesOf = (s: Schema): Schema[] | undefined => (s.anyOf ?? s.oneOf) as Schema[] | undefined;

/** The sub-schema of a member of an object or an element of an array. */
function childOf(s: Schema, key: string | number): Schema {
  const branches = branchesOf(s);
  if (branches) {
    const b = branches.find((x) => (typeof key === 'number' ? x.items : x.properties?.[key])) ?? branches[0];
    return b ? childOf(b, key) : {};
  }
  if (typeof key === 'number') return (s.items as Schema | undefined) ?? {};
  const own = (s.properties as Record<string, Schema> | undefined)?.[key];
  if (own) return own;
  return typeof s.additionalProperties === 'object' ? (s.additionalProperties as Schema) : {};
}

/**
 * Values by property name: the ids and strings that make a synthesized body mean something. A hint
 * sees the operation and may decline (undefined), e.g. a unique email only where a profile is created.
 */
export type Hints = Record<string, (op: Operation) => unknown>;

/** Builds valid-looking values from a schema, taking hinted values by property name where they fit. */
export class Synth {
  constructor(
    private readonly contract: Contract,
    private readonly hints: Hints,
    private readonly op: Operation,
  ) {}

  private hinted(schema: Schema, name: string | undefined): { value: unknown } | undefined {
    const hint = name !== undefined ? this.hints[name] : undefined;
    const value = hint?.(this.op);
    if (value === undefined) return undefined;
    return this.contract.accepts(schema, structuredClone(value)) ? { value } : undefined;
  }

  value(schema: Schema, name?: string): unknown {
    const hinted = this.hinted(schema, name);
    if (hinted) return hinted.value;
    if ('const' in schema) return schema.const;
    if (Array.isArray(schema.enum)) return schema.enum[0];
    const branches = branchesOf(schema);
    if (branches) return this.value(branches.find((b) => b.type !== 'null') ?? branches[0] ?? {}, name);
    switch (typeOf(schema)) {
      case 'object': {
        const out: Record<string, unknown> = {};
        const required = new Set<string>((schema.required as string[] | undefined) ?? []);
        for (const [k, s] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) {
          if (required.has(k)) out[k] = this.value(s, k);
          else {
            const h = this.hinted(s, k);
            if (h) out[k] = h.value;
          }
        }
        return out;
      }
      case 'array': {
        const n = Math.min(Math.max((schema.minItems as number | undefined) ?? 1, 1), schema.maxItems ?? 1);
        const singular = name?.replace(/s$/, '');
        return Array.from({ length: n }, () =>
          this.value((schema.items as Schema | undefined) ?? {}, singular),
        );
      }
      case 'string':
        return this.text(schema);
      case 'integer':
      case 'number': {
        let n = (schema.minimum as number | undefined) ?? 1;
        if (typeof schema.exclusiveMinimum === 'number') n = Math.max(n, schema.exclusiveMinimum + 1);
        if (typeof schema.maximum === 'number') n = Math.min(n, schema.maximum);
        return schema.type === 'integer' ? Math.ceil(n) : n;
      }
      case 'boolean':
        return false;
      case 'null':
        return null;
      default:
        return 'x';
    }
  }

  private text(schema: Schema): string {
    const today = new Date().toISOString().slice(0, 10);
    const candidates = [
      'x'.repeat(Math.max(1, (schema.minLength as number | undefined) ?? 1)),
      today,
      randomUUID(),
      new Date().toISOString(),
      'fuzz@example.com',
      'USA',
      'never',
      '2026-Q4',
      'Fuzz',
    ];
    return candidates.find((c) => this.contract.accepts(schema, c)) ?? candidates[0]!;
  }
}

/** Every property and array element of a schema, with its path and whether it is required. */
export function fieldsOf(
  schema: Schema,
  path: Path = [],
  depth = 0,
): { path: Path; schema: Schema; required: boolean }[] {
  if (depth > 6) return [];
  const branches = branchesOf(schema);
  const s = branches ? (branches.find((b) => b.properties || b.items) ?? schema) : schema;
  const out: { path: Path; schema: Schema; required: boolean }[] = [];
  const required = new Set<string>((s.required as string[] | undefined) ?? []);
  for (const [k, ps] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) {
    out.push({ path: [...path, k], schema: ps, required: required.has(k) });
    out.push(...fieldsOf(ps, [...path, k], depth + 1));
  }
  if (s.items) {
    out.push({ path: [...path, 0], schema: s.items as Schema, required: false });
    out.push(...fieldsOf(s.items as Schema, [...path, 0], depth + 1));
  }
  return out;
}

/**
 * A copy of `base` where the value at `path` is `fn(old)`; missing containers on the way are
 * synthesized from the schema, so a mutation reaches optional nested fields too.
 */
export function withAt(
  synth: Synth,
  schema: Schema,
  base: unknown,
  path: Path,
  fn: (old: unknown) => unknown,
): unknown {
  if (path.length === 0) return fn(base);
  const root = structuredClone(base) as Record<string | number, unknown>;
  let cur = root;
  let s = schema;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const next = path[i + 1]!;
    const cs = childOf(s, key);
    let child = cur[key];
    const wantArray = typeof next === 'number';
    if (
      wantArray ? !Array.isArray(child) : child === null || typeof child !== 'object' || Array.isArray(child)
    ) {
      child = wantArray ? [] : synth.value(cs, typeof key === 'string' ? key : undefined);
      if (child === null || typeof child !== 'object') child = wantArray ? [] : {};
    }
    if (Array.isArray(child) && child.length === 0 && wantArray) child.push(synth.value(childOf(cs, 0)));
    cur[key] = child;
    cur = child as Record<string | number, unknown>;
    s = cs;
  }
  const last = path[path.length - 1]!;
  const value = fn(cur[last]);
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return root;
}

/** The value at a path, if any. */
export function getAt(base: unknown, path: Path): unknown {
  return path.reduce<unknown>((o, k) => (o as Record<string | number, unknown> | undefined)?.[k], base);
}

// ---------------------------------------------------------------------------------------------
// The attacks.

export const SQL_AND_TEMPLATE_INJECTION = [
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  '" OR ""="',
  "1' AND pg_sleep(5)--",
  "' UNION SELECT secret_hash FROM apps --",
  '$where: 1',
  '{"$gt": ""}',
  '${7*7}',
  '{{7*7}}',
  '<%= 7*7 %>',
  '#{7*7}',
  '${jndi:ldap://example.invalid/a}',
  '<script>alert(1)</script>',
];

/** Strings that are valid JSON strings yet hostile to something downstream. */
export const HOSTILE_STRINGS = [
  ...SQL_AND_TEMPLATE_INJECTION,
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%00',
  '%2e%2e%2f',
  '\u0000',
  'a\u0000b',
  '\u0007\u0008\u000b',
  '\u001b[31mred',
  '\r\nX-Injected: 1',
  '\u2028\u2029',
  '\ud800',
  '\udfff',
  'a\ud83db',
  '\ufeffbom',
  '\uffff',
  '\u202eevil',
  'مرحبا بالعالم',
  'שלום',
  '😀👍🏽👨‍👩‍👧',
  'Z̴̡̛a̷l̵g̶o̸',
  'Ｆｕｌｌｗｉｄｔｈ１２３',
  'İı ß ﬁ',
  'null',
  'undefined',
  'NaN',
  'true',
  '-1',
  '1e309',
  '0x1F',
  '   ',
  '',
  "O'Brien",
  'quote " backslash \\',
  'tab\there',
];

/** Hostile numbers: out of range, fractional, beyond double, and the texts JSON has no number for. */
export const HOSTILE_NUMBERS: unknown[] = [
  -1,
  0,
  0.5,
  1.5,
  -0.0001,
  1e308,
  2 ** 31,
  2 ** 53,
  1e21,
  1e-7,
  123456789012,
  new Raw('9007199254740993'),
  new Raw('1e309'),
  new Raw('-1e309'),
  new Raw('1E+400'),
  new Raw('1e-400'),
  new Raw('-0'),
  '1',
  '1e3',
  'NaN',
  'Infinity',
  '-1',
  '0x10',
  new Raw('NaN'),
  new Raw('Infinity'),
  new Raw('-Infinity'),
  new Raw('01'),
  new Raw('.5'),
  new Raw('1.'),
  new Raw('+1'),
  new Raw('1e'),
  new Raw('0x10'),
];

const WRONG_TYPES: Record<string, unknown[]> = {
  string: [123, 0, true, null, [], {}, ['x'], { $gt: '' }, { $ne: null }],
  number: ['1', 'abc', '', true, null, [], {}, [1], { value: 1 }],
  integer: ['1', 'abc', 1.5, true, null, [], {}, [1]],
  boolean: ['yes', 1, 0, null, [], {}, 'TRUE'],
  object: [[], 'x', 1, true, null, [{}]],
  array: [{}, 'x', 1, true, null, { 0: 'x' }],
};

const DEPTH = 10_000;
const deepArray = () => new Raw('['.repeat(DEPTH) + ']'.repeat(DEPTH));
const deepObject = () => new Raw('{"a":'.repeat(DEPTH) + '1' + '}'.repeat(DEPTH));

/** Not JSON at all, or almost. */
export const MALFORMED_JSON = [
  '{',
  '{"a":',
  "{'a':1}",
  '{"a":1,}',
  '{"a" 1}',
  '[1,2',
  'NaN',
  'Infinity',
  'undefined',
  'nul',
  'tru',
  '{"a":1}}',
  '{"a":1} {"b":2}',
  '"unterminated',
  '{"a":"\\x41"}',
  '{"a":NaN}',
  '{"a":1e}',
  '{a:1}',
  '/* comment */ {}',
  '{"a":"line\nbreak"}',
  '{"a":"\u0000"}',
  '\u0000',
  ' ',
  '{"a":01}',
  '{"a":-}',
  '{"__proto__":{"admin":true}}',
  '{"a":{"__proto__":{"admin":true}}}',
  '{"constructor":{"prototype":{"admin":true}}}',
];

export const REFUSED_CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'text/html',
  'application/octet-stream',
  'image/png',
  'application/jsonx',
  'text/json',
];

/** Junk for a path parameter, already percent-encoded where it must be. */
export const PATH_JUNK = [
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '%2e%2e%2f%2e%2e%2f',
  '..%5C..%5Cwindows',
  '%00',
  'a%00b',
  '%2500',
  '%ff%fe',
  '%ED%A0%80',
  '%',
  '%zz',
  '%C0%AF',
  encodeURIComponent("' OR '1'='1"),
  encodeURIComponent('1; DROP TABLE users; --'),
  encodeURIComponent('{"$ne":null}'),
  encodeURIComponent('${7*7}'),
  encodeURIComponent('{{7*7}}'),
  encodeURIComponent('<script>alert(1)</script>'),
  encodeURIComponent('😀'),
  encodeURIComponent('\u202e'),
  encodeURIComponent('\u0007'),
  'x'.repeat(499),
  'x'.repeat(501),
  'x'.repeat(5000),
  '../../../../../../../../etc/passwd',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '0',
  '-1',
  '1e309',
  'null',
  'undefined',
  '%20',
  '..;',
];

/** Values for a query parameter; raw ones are sent without encoding. */
export const QUERY_JUNK: { value: string | string[]; raw?: boolean }[] = [
  { value: '' },
  { value: 'maybe' },
  { value: '-1' },
  { value: '0' },
  { value: '1.5' },
  { value: '1e309' },
  { value: 'NaN' },
  { value: '9007199254740993' },
  { value: 'x'.repeat(100_000) },
  { value: ['1', '2'] },
  { value: Array.from({ length: 101 }, (_, i) => String(i)) },
  { value: '\u0000' },
  { value: "' OR '1'='1" },
  { value: '{"$gt":""}' },
  { value: '😀' },
  { value: '%ff', raw: true },
  { value: '%ED%A0%80', raw: true },
  { value: '%', raw: true },
  { value: '%zz', raw: true },
  { value: '%00', raw: true },
];

// ---------------------------------------------------------------------------------------------
// Requests.

/**
 * `invalid`: refused by construction, changes nothing; `hostile`: may be valid, never a 5xx;
 * `cross-tenant`: another retailer's credentials with this retailer's ids, which reach nothing of it.
 */
export type Kind = 'invalid' | 'hostile' | 'cross-tenant';

export type Auth =
  'app' | 'admin' | 'none' | { key: string; secret: string } | { bearer: string } | { header: string };

export interface FuzzRequest {
  op: Operation;
  /** What the attack is, for the failure report. */
  label: string;
  kind: Kind;
  method: string;
  url: string;
  auth: Auth;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** Statuses the attack must answer with, when it is known (auth: 401, size: 413...). */
  expect?: number[];
  /** Hostile strings the answer may echo back (a message naming the bad value is not a leak). */
  echoes: string[];
  /** Always sent, whatever the budget. */
  must: boolean;
}

/** What the generator needs to know about the tenants it attacks. */
export interface Fixtures {
  apiKey: string;
  adminToken: string;
  /** The other retailer: its credentials and ids, which must never reach this retailer's data. */
  other: {
    apiKey: string;
    secret: string;
    adminToken: string;
    retailerId: string;
    userId: string;
    /** Its values of path parameters by name (api_key, user_id, external_id, campaign_id). */
    params: Record<string, string>;
  };
  /** Base values of path parameters by name (api_key, user_id, external_id, campaign_id, period). */
  params: Record<string, string>;
  /** Values by body property name (ids of this retailer, unique idempotency ids...). */
  body: Hints;
  /** Values by query parameter name. */
  query: Hints;
}

type Rnd = () => number;
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const pickN = <T>(rnd: Rnd, xs: readonly T[], n: number): T[] => shuffle(rnd, [...xs]).slice(0, n);

/** Fisher–Yates with the seeded generator. */
export function shuffle<T>(rnd: Rnd, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const TEN_MB = Buffer.from(`{"pad":"${'a'.repeat(10 * 1024 * 1024)}"}`);

/** A request not built yet: most candidates are never sampled, so only the chosen ones are. */
interface Candidate {
  must: boolean;
  /** Forged credentials the server checks with scrypt (tens of ms): only the `must` one is sent. */
  slow: boolean;
  make: () => FuzzRequest;
}

/** Every request of one operation: the `must` ones and a seeded sample of `pool` of the rest. */
export function requestsFor(
  op: Operation,
  all: Operation[],
  fx: Fixtures,
  contract: Contract,
  rnd: Rnd,
  pool: number,
): FuzzRequest[] {
  const bodySynth = new Synth(contract, fx.body, op);
  const querySynth = new Synth(contract, fx.query, op);
  const candidates: Candidate[] = [];
  const writes = op.method !== 'GET';
  const ownAuth: Auth = op.security === 'admin' ? 'admin' : 'app';

  const urlOf = (params: Record<string, string> = {}, query?: string) => {
    const path = op.template.replace(/\{([^}]+)\}/g, (_, name: string) =>
      name in params ? params[name]! : encodeURIComponent(fx.params[name] ?? 'x'),
    );
    return query ? `${path}?${query}` : path;
  };
  const baseQuery = (): Record<string, string | string[]> => {
    const q: Record<string, string | string[]> = {};
    for (const p of op.query) {
      if (p.required || fx.query[p.name]?.(op) !== undefined) {
        q[p.name] = querySynth.value(p.schema, p.name) as string | string[];
      }
    }
    return q;
  };
  const encodeQuery = (q: Record<string, string | string[]>, raw?: string) =>
    Object.entries(q)
      .flatMap(([k, v]) =>
        (Array.isArray(v) ? v : [v]).map(
          (x) => `${encodeURIComponent(k)}=${k === raw ? x : encodeURIComponent(String(x))}`,
        ),
      )
      .join('&');
  const baseUrl = () => urlOf({}, encodeQuery(baseQuery()));
  const baseBody = () => (op.body ? bodySynth.value(op.body) : undefined);
  const json = (payload: string | Buffer) => ({ payload, headers: { 'content-type': 'application/json' } });
  /** The route's own valid-looking body, for attacks on something else (credentials, path, query). */
  const ownBody = () => (writes ? json(op.body ? toJson(baseBody()) : '{}') : {});

  type Parts = Omit<FuzzRequest, 'op' | 'method' | 'url' | 'auth' | 'headers' | 'echoes' | 'must'> &
    Partial<Pick<FuzzRequest, 'method' | 'url' | 'auth' | 'headers' | 'echoes'>>;
  const add = (must: boolean, make: () => Parts, slow = false) =>
    candidates.push({
      must,
      slow,
      make: () => ({
        op,
        method: op.method,
        url: baseUrl(),
        auth: ownAuth,
        headers: {},
        echoes: [],
        must,
        ...make(),
      }),
    });

  // --- Credentials: every route is closed to missing, forged and other retailers' credentials.
  if (op.security !== 'none') {
    const auths: { label: string; auth: Auth; slow?: boolean; must?: boolean }[] = [
      { label: 'no credentials', auth: 'none', must: true },
      { label: 'Authorization: Basic (empty)', auth: { header: 'Basic ' } },
      { label: 'Authorization: Basic !!!', auth: { header: 'Basic !!!' } },
      { label: 'Basic without a colon', auth: { header: `Basic ${b64('nocolon')}` } },
      { label: 'Basic with an empty key', auth: { header: `Basic ${b64(':secret')}` } },
      { label: 'Authorization: Digest', auth: { header: 'Digest username="x"' } },
      { label: 'a 20 KB Authorization header', auth: { header: `Basic ${'A'.repeat(20_000)}` } },
      { label: 'Bearer with no token', auth: { header: 'Bearer ' } },
      { label: 'Bearer junk', auth: { header: "Bearer ' OR '1'='1" } },
    ];
    if (op.security === 'basic') {
      auths.push(
        { label: 'a forged secret for the real key', auth: { key: fx.apiKey, secret: 'forged' }, slow: true },
        { label: 'an unknown key', auth: { key: 'f'.repeat(40), secret: 'forged' }, slow: true },
        { label: 'the admin token as Bearer', auth: 'admin' },
        { label: "another retailer's admin token as Bearer", auth: { bearer: fx.other.adminToken } },
      );
      if (op.path.some((p) => p.name === 'api_key')) {
        auths.push({
          label: "another retailer's credentials on this retailer's path",
          auth: { key: fx.other.apiKey, secret: fx.other.secret },
          must: true,
        });
      }
    } else {
      auths.push(
        {
          label: 'a forged admin token',
          auth: { bearer: `lat_${'0'.repeat(16)}_${'A'.repeat(43)}` },
          slow: true,
        },
        {
          label: 'the real admin token, one character changed',
          auth: { bearer: fx.adminToken.slice(0, -1) + (fx.adminToken.endsWith('A') ? 'B' : 'A') },
          slow: true,
        },
        { label: 'app credentials on an admin route', auth: 'app' },
      );
    }
    // A wrong secret costs a scrypt on the server: one of them per route.
    const chosenSlow = pick(
      rnd,
      auths.filter((a) => a.slow),
    );
    for (const a of auths) {
      add(
        !!a.must || a === chosenSlow,
        () => ({ label: `auth: ${a.label}`, kind: 'invalid', auth: a.auth, expect: [401], ...ownBody() }),
        !!a.slow,
      );
    }
  }

  // --- Path parameters: junk, very long ids, another retailer's ids.
  for (const p of op.path) {
    const junk = PATH_JUNK.map((v) => ({ v, label: `junk ${v.slice(0, 40)}` }));
    const theirs = fx.other.params[p.name];
    if (theirs !== undefined)
      junk.push({ v: encodeURIComponent(theirs), label: `another retailer's ${p.name}` });
    const mustJunk = new Set([
      ...junk.filter((j) => j.v === encodeURIComponent(theirs ?? '')),
      ...pickN(rnd, junk, 2),
    ]);
    for (const j of junk) {
      add(mustJunk.has(j), () => ({
        label: `path ${p.name}: ${j.label}`,
        kind: 'invalid',
        url: urlOf({ [p.name]: j.v }, encodeQuery(baseQuery())),
        expect: [400, 401, 404, 414],
        echoes: [decodeURIComponentSafe(j.v)],
        ...ownBody(),
      }));
    }
    // Another retailer's admin token with this retailer's ids: as if the id did not exist.
    if (op.security === 'admin' && theirs !== undefined) {
      add(true, () => ({
        label: `another retailer's admin token with this retailer's ${p.name}`,
        kind: 'invalid',
        auth: { bearer: fx.other.adminToken },
        expect: [404],
        ...ownBody(),
      }));
    }
  }

  // --- Query parameters: the route's schema decides whether a value is invalid.
  for (const p of op.query) {
    for (const j of QUERY_JUNK) {
      add(false, () => {
        const q = { ...baseQuery(), [p.name]: j.value };
        // Percent junk is decoded by the server's parser, not ours: it may be valid, so hostile.
        const kind = j.raw || contract.acceptsQuery(op.query, q) ? 'hostile' : 'invalid';
        return {
          label: `query ${p.name}=${String(j.value).slice(0, 30)}`,
          kind,
          url: urlOf({}, encodeQuery(q, j.raw ? p.name : undefined)),
          expect: kind === 'invalid' ? [400] : undefined,
          echoes: (Array.isArray(j.value) ? j.value : [j.value]).map(decodeURIComponentSafe),
          ...ownBody(),
        };
      });
    }
  }

  // --- Bodies. Routes that take none still parse one: broken JSON, wrong types and sizes are refused.
  if (writes) {
    const base = () => (op.body ? toJson(baseBody()) : '{}');
    add(!op.body, () => ({ label: 'an empty JSON body', kind: 'invalid', ...json(''), expect: [400] }));
    const malformed = pick(rnd, MALFORMED_JSON);
    for (const m of MALFORMED_JSON) {
      add(m === malformed, () => ({
        label: `malformed JSON ${JSON.stringify(m).slice(0, 40)}`,
        kind: 'invalid',
        ...json(m),
        expect: [400],
      }));
    }
    const cut = rnd();
    add(true, () => {
      const text = base();
      const at = 1 + Math.floor(cut * (text.length - 1));
      return { label: `JSON truncated at ${at}`, kind: 'invalid', ...json(text.slice(0, at)), expect: [400] };
    });
    const refused = pick(rnd, REFUSED_CONTENT_TYPES);
    for (const ct of REFUSED_CONTENT_TYPES) {
      add(ct === refused, () => ({
        label: `content-type ${ct}`,
        kind: 'invalid',
        payload: base(),
        headers: { 'content-type': ct },
        expect: [415],
      }));
    }
    add(true, () => ({
      label: 'a body without a content type',
      kind: 'invalid',
      payload: base(),
      expect: [415],
    }));
    add(true, () => ({ label: 'a 10 MB body', kind: 'invalid', ...json(TEN_MB), expect: [413] }));
  }

  if (op.body) {
    const schema = op.body;
    const classify = (text: string): 'invalid' | 'hostile' => {
      const parsed = parseBody(text);
      return parsed.ok && contract.accepts(schema, parsed.value) ? 'hostile' : 'invalid';
    };
    /** A body attack: invalid when the route's schema refuses it, else hostile. */
    const body = (must: boolean, label: string, value: () => unknown, echoes: string[] = []) =>
      add(must, () => {
        const text = toJson(value());
        const kind = classify(text);
        // Refused by its schema, or first by its size when over the body limit.
        return { label, kind, ...json(text), expect: kind === 'invalid' ? [400, 413] : undefined, echoes };
      });
    const at = (path: Path, v: (old: unknown) => unknown) => () =>
      withAt(bodySynth, schema, baseBody(), path, v);

    // The whole body of the wrong JSON type, or nested 10,000 deep.
    const roots: [string, () => unknown][] = [
      ['an array', () => []],
      ['the body in an array', () => [baseBody()]],
      ['a string', () => 'body'],
      ['a number', () => 42],
      ['null', () => null],
      ['true', () => true],
      ['1e309', () => new Raw('1e309')],
      ['arrays 10,000 deep', deepArray],
      ['objects 10,000 deep', deepObject],
    ];
    const rootMust = pick(rnd, roots);
    for (const r of roots) body(r === rootMust, `body is ${r[0]}`, r[1]);

    const fields = fieldsOf(schema);
    for (const f of fields) {
      const name = f.path.join('.');
      const t = typeOf(branchesOf(f.schema)?.find((b) => b.type !== 'null') ?? f.schema) ?? 'string';
      const key = f.path[f.path.length - 1];

      // Every required field missing in turn.
      if (f.required)
        body(
          true,
          `missing ${name}`,
          at(f.path, () => undefined),
        );

      // Each field given a wrong type: one always, the others sampled.
      const wrong = WRONG_TYPES[t] ?? WRONG_TYPES.string!;
      const mustWrong = pick(rnd, wrong);
      for (const w of wrong)
        body(
          w === mustWrong,
          `${name} = ${JSON.stringify(w)}`,
          at(f.path, () => w),
        );
      body(
        false,
        `${name} nested 10,000 deep`,
        at(f.path, () => pick(rnd, [deepArray(), deepObject()])),
      );
      body(
        false,
        `${name} = null`,
        at(f.path, () => null),
      );

      if (t === 'number' || t === 'integer') {
        for (const n of HOSTILE_NUMBERS) {
          body(
            false,
            `${name} = ${n instanceof Raw ? n.text : JSON.stringify(n)}`,
            at(f.path, () => n),
          );
        }
      }
      if (t === 'string') {
        for (const s of HOSTILE_STRINGS)
          body(
            false,
            `${name} = ${JSON.stringify(s).slice(0, 40)}`,
            at(f.path, () => s),
            [s],
          );
        body(
          false,
          `${name} of 100 KB`,
          at(f.path, () => 'x'.repeat(100 * 1024)),
        );
        const max = f.schema.maxLength as number | undefined;
        if (max !== undefined)
          body(
            false,
            `${name} one over maxLength`,
            at(f.path, () => 'y'.repeat(max + 1)),
          );
      }
      if (t === 'object' && f.schema.additionalProperties !== false && !f.schema.properties) {
        // An open object (custom attributes): hostile keys and values, deep and long values.
        for (const s of HOSTILE_STRINGS)
          body(
            false,
            `${name} key ${JSON.stringify(s).slice(0, 30)}`,
            at([...f.path, s], () => s),
            [s],
          );
        body(
          false,
          `${name} value nested 10,000 deep`,
          at([...f.path, 'deep'], () => pick(rnd, [deepArray(), deepObject()])),
        );
        body(
          false,
          `${name} value of 100 KB`,
          at([...f.path, 'long'], () => 'z'.repeat(100 * 1024)),
        );
        body(
          false,
          `${name} value 1e309`,
          at([...f.path, 'n'], () => new Raw('1e309')),
        );
      }
      if (t === 'array') {
        body(false, `${name} with 20,000 elements`, () => {
          const b = baseBody();
          const one = getAt(
            withAt(bodySynth, schema, b, [...f.path, 0], (x) => x),
            [...f.path, 0],
          );
          return withAt(bodySynth, schema, b, f.path, () => Array.from({ length: 20_000 }, () => one));
        });
      }

      // Duplicate keys: the last one wins in JSON.parse; both orders are tried.
      if (typeof key === 'string') {
        const bad = pick(rnd, wrong);
        for (const order of ['bad last', 'bad first'] as const) {
          body(
            false,
            `duplicate key ${name} (${order})`,
            at(f.path.slice(0, -1), (parent) => {
              const entries = Object.entries((parent ?? {}) as Record<string, unknown>).filter(
                ([k]) => k !== key,
              );
              const good = getAt(parent, [key]) ?? bodySynth.value(f.schema, key);
              const pair: [string, unknown][] =
                order === 'bad last'
                  ? [
                      [key, good],
                      [key, bad],
                    ]
                  : [
                      [key, bad],
                      [key, good],
                    ];
              return new Entries([...entries, ...pair]);
            }),
          );
        }
      }

      // Another retailer's ids where this retailer's belong.
      if (key === 'retailer_id') {
        add(true, () => ({
          label: `${name}: another retailer's`,
          kind: 'invalid',
          ...json(toJson(at(f.path, () => fx.other.retailerId)())),
          expect: [403],
        }));
      }
      // A till may name anyone (the purchase is then simply not awarded): hostile, not invalid.
      if (key === 'user_id')
        body(
          true,
          `${name}: another retailer's user`,
          at(f.path, () => fx.other.userId),
        );
    }

    // `__proto__` and `constructor` keys wherever an object is.
    const objects = [{ path: [] as Path }, ...fields.filter((f) => typeOf(f.schema) === 'object')];
    for (const o of objects) {
      const where = o.path.join('.') || 'the root';
      const withKeys = (extra: [string, unknown][]) =>
        at(
          o.path,
          (parent) => new Entries([...Object.entries((parent ?? {}) as Record<string, unknown>), ...extra]),
        );
      const proto = withKeys([['__proto__', { admin: true }]]);
      add(o.path.length === 0, () => ({
        label: `__proto__ key at ${where}`,
        kind: 'invalid',
        ...json(toJson(proto())),
        expect: [400],
      }));
      const ctor = withKeys([['constructor', { prototype: { admin: true } }]]);
      add(false, () => ({
        label: `constructor.prototype at ${where}`,
        kind: 'invalid',
        ...json(toJson(ctor())),
        expect: [400],
      }));
      body(
        false,
        `constructor/toString keys at ${where}`,
        withKeys([
          ['constructor', 'x'],
          ['toString', 'x'],
          ['hasOwnProperty', 1],
        ]),
      );
    }

    // Bytes that are not UTF-8 in place of a string.
    const strings = fields.filter((f) => typeOf(f.schema) === 'string');
    if (strings.length) {
      const f = pick(rnd, strings);
      add(true, () => {
        const marker = 'MARKER-\u2603';
        const [before, after] = toJson(at(f.path, () => marker)()).split(marker) as [string, string];
        const bytes = Buffer.concat([
          Buffer.from(before),
          Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]),
          Buffer.from(after),
        ]);
        return {
          label: `${f.path.join('.')} with bytes that are not UTF-8`,
          kind: classify(bytes.toString('utf8')),
          ...json(bytes),
        };
      });
    }

    // Content types that are JSON after all: the body decides.
    for (const ct of ['application/json; charset=utf-8', 'APPLICATION/JSON']) {
      add(false, () => {
        const text = toJson(baseBody());
        return {
          label: `content-type ${ct}`,
          kind: classify(text),
          payload: text,
          headers: { 'content-type': ct },
        };
      });
    }
  }

  // --- Another retailer's credentials with this retailer's ids and body: its own path key does not
  // match (401); a body naming this retailer is refused (403); anything else acts for it alone.
  add(true, () => {
    const hasRetailer = fieldsOf(op.body ?? {}).some(
      (f) => f.path.length === 1 && f.path[0] === 'retailer_id',
    );
    const expect = op.path.some((p) => p.name === 'api_key') ? [401] : hasRetailer ? [403] : undefined;
    return {
      label: "another retailer's credentials",
      kind: 'cross-tenant',
      auth:
        op.security === 'admin'
          ? { bearer: fx.other.adminToken }
          : { key: fx.other.apiKey, secret: fx.other.secret },
      expect,
      ...ownBody(),
    };
  });

  // --- Wrong methods on this path (once per path: by its first operation). Another route may match
  // the same path (GET /cash_outs/run is GET /cash_outs/:period), so any 4xx will do.
  if (all.find((o) => o.template === op.template) === op) {
    const defined = new Set(all.filter((o) => o.template === op.template).map((o) => o.method));
    for (const m of [
      'GET',
      'POST',
      'PUT',
      'DELETE',
      'PATCH',
      'OPTIONS',
      ...(defined.has('GET') ? [] : ['HEAD']),
    ]) {
      if (defined.has(m)) continue;
      const bodyless = m === 'GET' || m === 'HEAD';
      add(true, () => ({
        label: `method ${m}`,
        kind: 'invalid',
        method: m,
        ...(bodyless ? {} : json('{}')),
      }));
    }
  }

  // The budget: every `must`, then a seeded sample of the rest (none of the slow ones).
  const chosen = [
    ...candidates.filter((c) => c.must),
    ...shuffle(
      rnd,
      candidates.filter((c) => !c.must && !c.slow),
    ).slice(0, pool),
  ];
  return chosen.map((c) => c.make());
}

export function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
