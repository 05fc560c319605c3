import { ERRORS } from '../errors.js';

/**
 * The browsable API reference at `/docs` (issue #6 item 3), rendered on the server from the same
 * OpenAPI document the routes generate, so it can never drift from the code. One self-contained
 * HTML page: inline CSS, no script, no external asset (the machines have no internet).
 */

type Schema = {
  $ref?: string;
  type?: string | string[];
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  examples?: unknown[];
  example?: unknown;
};

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Schema;
}

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, unknown>[];
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}

export interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

const esc = (s: unknown): string =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** Inline code spans of the descriptions (`x`), everything else escaped. */
const prose = (s: string | undefined): string => (s ? esc(s).replace(/`([^`]+)`/g, '<code>$1</code>') : '');

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function resolve(doc: OpenApiDocument, s: Schema | undefined): Schema | undefined {
  if (!s?.$ref) return s;
  const name = s.$ref.split('/').pop()!;
  return doc.components?.schemas?.[name] ?? s;
}

/** A short type label: `string`, `integer ≥ 1`, `array of object`, `"ok"`. */
function typeLabel(doc: OpenApiDocument, raw: Schema | undefined): string {
  const s = resolve(doc, raw);
  if (!s) return 'any';
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(' | ');
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map((a) => typeLabel(doc, a)).join(' | ');
  const type = Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'object');
  if (type === 'array') return `array of ${typeLabel(doc, s.items)}`;
  const bounds: string[] = [];
  if (s.minimum !== undefined) bounds.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) bounds.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) bounds.push(`≤ ${s.maximum}`);
  if (s.maxLength !== undefined) bounds.push(`≤ ${s.maxLength} chars`);
  if (s.format) bounds.push(s.format);
  return [type, ...bounds].join(', ');
}

interface Field {
  path: string;
  type: string;
  required: boolean;
  description: string;
}

/** The fields of an object schema, nested objects and arrays of objects flattened with dotted paths. */
function fields(doc: OpenApiDocument, raw: Schema | undefined, prefix = '', depth = 0): Field[] {
  const s = resolve(doc, raw);
  if (!s || depth > 6) return [];
  const props = s.properties ?? {};
  const out: Field[] = [];
  for (const [name, child] of Object.entries(props)) {
    const path = prefix ? `${prefix}.${name}` : name;
    const c = resolve(doc, child)!;
    out.push({
      path,
      type: typeLabel(doc, child),
      required: (s.required ?? []).includes(name),
      description: c.description ?? child.description ?? '',
    });
    if (c.properties) out.push(...fields(doc, c, path, depth + 1));
    const items = resolve(doc, c.items);
    if (c.type === 'array' && items?.properties) out.push(...fields(doc, items, `${path}[]`, depth + 1));
  }
  return out;
}

/** An example value built from the schema: its own example if it has one, else from its type. */
export function exampleOf(doc: OpenApiDocument, raw: Schema | undefined, depth = 0): unknown {
  const s = resolve(doc, raw);
  if (!s || depth > 6) return null;
  if (s.examples?.length) return s.examples[0];
  if (s.example !== undefined) return s.example;
  if (s.default !== undefined) return s.default;
  if (s.const !== undefined) return s.const;
  if (s.enum?.length) return s.enum[0];
  const alt = (s.anyOf ?? s.oneOf)?.[0];
  if (alt) return exampleOf(doc, alt, depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string':
      return s.format === 'date-time'
        ? '2026-11-25T12:00:00Z'
        : s.pattern?.includes('\\d{4}-')
          ? '2026-11-27'
          : 'string';
    case 'integer':
      return s.minimum !== undefined && s.minimum > 0 ? s.minimum : 0;
    case 'number':
      return 12.34;
    case 'boolean':
      return true;
    case 'array':
      return [exampleOf(doc, s.items, depth + 1)];
    default:
      return Object.fromEntries(
        Object.entries(s.properties ?? {})
          .filter(([name]) => (s.required ?? []).includes(name) || depth < 2)
          .map(([name, child]) => [name, exampleOf(doc, child, depth + 1)]),
      );
  }
}

const slug = (method: string, path: string): string =>
  `${method}-${path.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;

function fieldTable(rows: Field[]): string {
  if (!rows.length) return '';
  return `<table><thead><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr></thead><tbody>${rows
    .map(
      (f) =>
        `<tr><td><code>${esc(f.path)}</code></td><td>${esc(f.type)}</td><td>${f.required ? 'yes' : ''}</td><td>${prose(f.description)}</td></tr>`,
    )
    .join('')}</tbody></table>`;
}

function operationHtml(doc: OpenApiDocument, method: string, path: string, op: Operation): string {
  const auth = (op.security ?? []).map((s) => Object.keys(s)[0]).join(', ');
  const params = (op.parameters ?? []).map((p) => ({
    path: p.name,
    type: `${p.in}: ${typeLabel(doc, p.schema)}`,
    required: Boolean(p.required),
    description: p.description ?? p.schema?.description ?? '',
  }));
  const body = op.requestBody?.content?.['application/json']?.schema;
  const ok = Object.entries(op.responses ?? {}).find(([code]) => code.startsWith('2'));
  const okSchema = ok?.[1].content?.['application/json']?.schema;
  const statuses = Object.keys(op.responses ?? {}).join(', ');
  return `<section class="op" id="${slug(method, path)}">
<h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code></h3>
<p>${prose(op.summary)}</p>${op.description ? `<p>${prose(op.description)}</p>` : ''}
<p class="meta">Credentials: ${auth === 'basic' ? 'HTTP Basic <code>api_key:secret</code>' : auth === 'admin' ? 'Bearer admin token' : 'none'} · Answers: ${esc(statuses)}</p>
${params.length ? `<h4>Parameters</h4>${fieldTable(params)}` : ''}
${body ? `<h4>Request body</h4>${fieldTable(fields(doc, body))}<details><summary>Example request</summary><pre>${esc(JSON.stringify(exampleOf(doc, body), null, 2))}</pre></details>` : ''}
${okSchema ? `<h4>Answer ${esc(ok![0])}</h4>${fieldTable(fields(doc, okSchema))}<details><summary>Example answer</summary><pre>${esc(JSON.stringify(exampleOf(doc, okSchema), null, 2))}</pre></details>` : ''}
</section>`;
}

const CSS = `
body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
header,main{max-width:1100px;margin:0 auto;padding:0 1rem}
header{padding-top:1.5rem}
a{color:#0b5cad}a:focus,summary:focus{outline:3px solid #f0b400;outline-offset:2px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
pre{background:#f0f2f5;padding:.75rem;overflow:auto;border-radius:4px}
table{border-collapse:collapse;width:100%;margin:.5rem 0;display:block;overflow-x:auto}
th,td{border-bottom:1px solid #dde1e7;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f5}
.op{border:1px solid #dde1e7;border-radius:6px;padding:.25rem 1rem 1rem;margin:1rem 0;background:#fff}
.m{display:inline-block;min-width:3.5rem;text-align:center;border-radius:4px;color:#fff;font-size:.8em;padding:.1rem .4rem}
.get{background:#1a7f37}.post{background:#0b5cad}.put{background:#9a6700}.delete{background:#b42318}.patch{background:#6e40c9}
.meta{color:#555;font-size:.9em}
nav ul{padding-left:1.2rem;margin:.25rem 0}
nav>ul{columns:2 22rem;column-gap:2rem}nav>ul>li{break-inside:avoid;margin-bottom:.5rem}
nav a,h3 code,td code,p code{overflow-wrap:anywhere}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
`;

/** The anchor of a tag's section: `#tag-POS` (issue #18 item 7: it once read `#tag-tag-POS`). */
const tagAnchor = (tag: string): string => `tag-${tag.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;

/** The whole reference page. */
export function renderReference(doc: OpenApiDocument): string {
  const ops: { tag: string; method: string; path: string; op: Operation }[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (op) ops.push({ tag: op.tags?.[0] ?? 'Other', method, path, op });
    }
  }
  const tags = [...new Set(ops.map((o) => o.tag))];
  const nav = tags
    .map(
      (tag) =>
        `<li><a href="#${esc(tagAnchor(tag))}">${esc(tag)}</a><ul>${ops
          .filter((o) => o.tag === tag)
          .map(
            (o) =>
              `<li><a href="#${slug(o.method, o.path)}">${o.method.toUpperCase()} ${esc(o.path)}</a></li>`,
          )
          .join('')}</ul></li>`,
    )
    .join('');
  const sections = tags
    .map(
      (tag) =>
        `<h2 id="${esc(tagAnchor(tag))}">${esc(tag)}</h2>${ops
          .filter((o) => o.tag === tag)
          .map((o) => operationHtml(doc, o.method, o.path, o.op))
          .join('\n')}`,
    )
    .join('\n');
  const errors = Object.entries(ERRORS)
    .map(
      ([code, e]) => `<tr><td><code>${code}</code></td><td>${e.status}</td><td>${esc(e.message)}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(doc.info.title)} ${esc(doc.info.version)} — reference</title><style>${CSS}</style></head>
<body><a class="skip" href="#main">Skip to the reference</a>
<header><h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1>
<p>${prose(doc.info.description)}</p>
<p>The machine-readable document is <a href="/openapi.json">/openapi.json</a>. Every error answers
<code>{"status":"error","errors":{"code","message","field?"}}</code> with the HTTP status below.</p>
<nav aria-label="Routes"><ul>${nav}<li><a href="#errors">Error codes</a></li></ul></nav></header>
<main id="main">${sections}
<h2 id="errors">Error codes</h2>
<table><thead><tr><th>Code</th><th>Status</th><th>Meaning</th></tr></thead><tbody>${errors}</tbody></table>
</main></body></html>`;
}
