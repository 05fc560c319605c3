import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * The key gift-card codes derive from (docs/cash-out.md): codes are HMACs of the card's id, so the
 * database never holds one. `LAUREL_GIFT_CARD_KEY` (64 hex digits) wins; otherwise the key file
 * (`LAUREL_GIFT_CARD_KEY_FILE`, by default `gift-card.key` beside the embedded data directory, so
 * `./.laurel/gift-card.key`), created with a fresh random key on first use, readable by its owner
 * only. Every server of a database must share the key, and it must never change: a new key gives
 * every card a new code.
 */

/** The default key file for a data directory: beside it, not inside the database's own files. */
export const defaultGiftCardKeyFile = (dataDir: string): string => join(dirname(dataDir), 'gift-card.key');

const HEX_KEY = /^[0-9a-fA-F]{64,}$/;

export interface GiftCardKey {
  key: Buffer;
  /** Where it came from, for the startup banner; never the key itself. */
  source: string;
  created: boolean;
}

function parse(text: string, where: string): Buffer {
  const hex = text.trim();
  if (!HEX_KEY.test(hex) || hex.length % 2) {
    throw new Error(`${where} must hold at least 64 hexadecimal digits (32 bytes)`);
  }
  return Buffer.from(hex, 'hex');
}

export async function loadGiftCardKey(
  dataDir: string,
  env: string | undefined = process.env.LAUREL_GIFT_CARD_KEY,
  file: string = process.env.LAUREL_GIFT_CARD_KEY_FILE || defaultGiftCardKeyFile(dataDir),
): Promise<GiftCardKey> {
  if (env) return { key: parse(env, 'LAUREL_GIFT_CARD_KEY'), source: 'LAUREL_GIFT_CARD_KEY', created: false };
  try {
    return { key: parse(await readFile(file, 'utf8'), file), source: file, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(file), { recursive: true });
  try {
    // 'wx': two servers starting together never write two different keys.
    await writeFile(file, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
    return { key: parse(await readFile(file, 'utf8'), file), source: file, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { key: parse(await readFile(file, 'utf8'), file), source: file, created: false };
  }
}
