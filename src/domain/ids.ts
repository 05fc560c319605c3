import { createHash, randomBytes } from 'node:crypto';

/** UUID v7: time-ordered, so new rows land at the right end of btree indexes. */
export function newId(nowMs: number = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return format(b);
}

/**
 * A UUID v7 whose time is `ms` and whose other bits come from a hash of `name`: the same event
 * found twice (a tier change seen by two settlements) gets the same id, so the outbox keeps one.
 */
export function stableV7(ms: number, name: string): string {
  const b = createHash('sha256').update(name, 'utf8').digest().subarray(0, 16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return format(b);
}

/**
 * UUID v5 (name-based, SHA-1): the same namespace and name always give the same id. Program
 * entities (point accounts, tier levels, rules) get ids derived from the retailer, so a retailer's
 * ids are stable across program versions and distinct from every other retailer's (DESIGN §2).
 */
export function derivedId(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const b = hash.subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return format(b);
}

function format(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (s: string): boolean => UUID_RE.test(s);
