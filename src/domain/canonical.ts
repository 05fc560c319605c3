import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so equal values give equal text (jsonb reorders keys). */
export function canonicalJson(v: unknown): string {
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export const sameJson = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

/** SHA-256 of the canonical JSON: the fingerprint of a request body for idempotency. */
export const jsonHash = (v: unknown): string =>
  createHash('sha256').update(canonicalJson(v)).digest('base64');
