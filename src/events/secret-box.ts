import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Webhook signing secrets at rest (issue #17, docs/events.md): sealed with AES-256-GCM under a key
 * derived (HKDF-SHA256, its own label) from the server key every server of a database already
 * shares, the gift-card key (`LAUREL_GIFT_CARD_KEY` or its file). The database alone never yields
 * a secret; the server can still sign. A sealed value is `v1.<base64url(iv | ciphertext | tag)>`.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(serverKey: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', serverKey, Buffer.alloc(0), 'laurel webhook secrets v1', 32));
  }

  seal(secret: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return `v1.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
  }

  /** The secret; throws when the value was sealed under another key or altered. */
  open(sealed: string): string {
    if (!sealed.startsWith('v1.')) throw new Error('not a sealed webhook secret');
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString(
      'utf8',
    );
  }
}

/** A new signing secret: 32 random bytes, prefixed so it is recognisable in a receiver's config. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;
