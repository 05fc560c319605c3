import { describe, expect, it } from 'vitest';
import { derivedId, isUuid, newId } from './ids.js';

describe('ids', () => {
  it('derives RFC 4122 v5 ids (the RFC example: DNS namespace, www.example.com)', () => {
    expect(derivedId('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('makes v7 ids that sort by time and are unique', () => {
    const a = newId(1_700_000_000_000);
    const b = newId(1_700_000_000_001);
    expect(isUuid(a)).toBe(true);
    expect(a[14]).toBe('7');
    expect(a < b).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => newId())).size).toBe(1000);
  });

  it('recognises UUIDs and nothing else', () => {
    expect(isUuid('6cb9eee8-4a90-11e9-b863-0242ac11000c')).toBe(true);
    expect(isUuid('../etc/passwd')).toBe(false);
    expect(isUuid("6cb9eee8-4a90-11e9-b863-0242ac11000c' OR 1=1")).toBe(false);
  });
});
