import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
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
});
