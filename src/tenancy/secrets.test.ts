import { describe, expect, it } from 'vitest';
import { hashSecret, newApiKey, verifySecret } from './secrets.js';

describe('secrets', () => {
  it('stores scrypt hashes, never the secret, and verifies only the right secret', async () => {
    const stored = await hashSecret('s3cret-value');
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(stored).not.toContain('s3cret-value');
    expect(await verifySecret('s3cret-value', stored)).toBe(true);
    expect(await verifySecret('s3cret-valuf', stored)).toBe(false);
    expect(await verifySecret('s3cret-value', 'garbage')).toBe(false);
    expect(await hashSecret('s3cret-value')).not.toBe(stored);
  });

  it('makes 40-hex API keys', () => {
    expect(newApiKey()).toMatch(/^[0-9a-f]{40}$/);
  });
});
