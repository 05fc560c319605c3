import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { SimulatedClock } from '../src/clock.js';
import { ERRORS } from '../src/errors.js';
import { openApiDocument } from '../src/openapi.js';

describe('OpenAPI document', () => {
  it('docs/openapi.json matches the routes in the code (regenerate with npm run openapi)', async () => {
    const committed = JSON.parse(readFileSync(new URL('../docs/openapi.json', import.meta.url), 'utf8'));
    expect(JSON.parse(JSON.stringify(await openApiDocument()))).toEqual(committed);
  });

  it('gives every operation a summary, credentials and the error envelope', async () => {
    const doc = (await openApiDocument()) as {
      paths: Record<
        string,
        Record<string, { summary?: string; security?: unknown[]; responses: Record<string, unknown> }>
      >;
    };
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method, op })),
    );
    expect(operations.length).toBeGreaterThan(10);
    for (const { path, method, op } of operations) {
      expect(op.summary, `${method} ${path}`).toBeTruthy();
      expect(op.security?.length, `${method} ${path}`).toBe(1);
      expect(JSON.stringify(op.responses['401']), `${method} ${path}`).toContain('ErrorResponse');
    }
  });

  it('every parameter and every field of every request and answer has a description', async () => {
    interface Schema {
      $ref?: string;
      description?: string;
      properties?: Record<string, Schema>;
      items?: Schema;
      anyOf?: Schema[];
      oneOf?: Schema[];
      allOf?: Schema[];
    }
    interface Operation {
      parameters?: { name: string; description?: string }[];
      requestBody?: { content: Record<string, { schema: Schema }> };
      responses?: Record<string, { content?: Record<string, { schema: Schema }> }>;
    }
    const doc = (await openApiDocument()) as {
      paths: Record<string, Record<string, Operation>>;
      components?: { schemas?: Record<string, Schema> };
    };
    let fields = 0;
    const missing: string[] = [];
    // A field given by a $ref is described where the shared schema is defined (a component).
    const walk = (schema: Schema | undefined, at: string): void => {
      if (!schema || typeof schema !== 'object' || schema.$ref) return;
      for (const [name, field] of Object.entries(schema.properties ?? {})) {
        fields++;
        if (!field.description && !field.$ref) missing.push(`${at}.${name}`);
        walk(field, `${at}.${name}`);
      }
      walk(schema.items, `${at}[]`);
      for (const alternatives of [schema.anyOf, schema.oneOf, schema.allOf]) {
        for (const alternative of alternatives ?? []) walk(alternative, at);
      }
    };
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const c of Object.values(op.requestBody?.content ?? {}))
          walk(c.schema, `${method} ${path} body`);
        for (const p of op.parameters ?? []) {
          fields++;
          if (!p.description) missing.push(`${method} ${path} param ${p.name}`);
        }
        for (const [status, answer] of Object.entries(op.responses ?? {})) {
          for (const c of Object.values(answer.content ?? {})) walk(c.schema, `${method} ${path} ${status}`);
        }
      }
    }
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) walk(schema, `#${name}`);
    expect(fields).toBeGreaterThan(900);

    expect(missing, 'fields without a description').toEqual([]);
  });
});

describe('OpenAPI parameters', () => {
  it('a parameter with a default is not required: a client may leave it out', async () => {
    const doc = (await openApiDocument()) as {
      paths: Record<
        string,
        Record<
          string,
          { parameters?: { name: string; required?: boolean; schema?: { default?: unknown } }[] }
        >
      >;
    };
    const wrong: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const p of op.parameters ?? []) {
          if (p.schema?.default !== undefined && p.required) wrong.push(`${method} ${path} ${p.name}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('API reference at /docs', () => {
  it('shows every operation, its fields and an example, and every error code, with no external asset', async () => {
    const app = await buildApp({
      db: new Proxy({} as never, {
        get: () => {
          throw new Error('the reference needs no database');
        },
      }),
      clock: Object.create(SimulatedClock.prototype) as SimulatedClock,
      giftCardKey: randomBytes(32),
    });
    const res = await app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    const html = res.body;
    const doc = app.swagger() as unknown as { paths: Record<string, Record<string, { summary: string }>> };
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const id = `${method}-${path.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;
        expect(html, `${method} ${path}`).toContain(`id="${id}"`);
        expect(html, `${method} ${path}`).toContain(`href="#${id}"`);
        const summary = op.summary.replace(/&/g, '&amp;').replace(/'/g, '&#39;').replace(/"/g, '&quot;');
        expect(html, `${method} ${path}`).toContain(summary.replace(/`([^`]+)`/g, '<code>$1</code>'));
      }
    }
    for (const code of Object.keys(ERRORS)) expect(html).toContain(`<code>${code}</code>`);
    // The send_transaction example is a request a till could send.
    const section = html.slice(html.indexOf('id="post-api-2-0-send-transaction"'));
    const example = /<summary>Example request<\/summary><pre>([^<]+)<\/pre>/.exec(section)![1]!;
    const body = JSON.parse(example.replace(/&quot;/g, '"').replace(/&amp;/g, '&'));
    expect(Object.keys(body)).toEqual(expect.arrayContaining(['store_id', 'request_id', 'request_payload']));
    expect(html).toContain('<code>request_payload.items[].unit_price</code>');
    // Self-contained: no script, no stylesheet, image or link leaving the server.
    expect(html).not.toMatch(/<script|<link|<img|src=|href="https?:/i);
    await app.close();
  });
});
