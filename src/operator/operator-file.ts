import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where a server on an embedded database tells the `laurel` command how to reach it (issue #18):
 * beside the lock file, readable by its user only, holding the loopback address of its operator
 * endpoint and the token that endpoint takes. Removed when the server stops.
 */
export const OPERATOR_FILE = 'laurel.operator';

export interface OperatorAddress {
  pid: number;
  url: string;
  token: string;
}

export function writeOperatorFile(dataDir: string, address: OperatorAddress): string {
  const path = join(dataDir, OPERATOR_FILE);
  rmSync(path, { force: true });
  // Created with its final mode (`wx`: never through a file someone else put there).
  writeFileSync(path, `${JSON.stringify(address)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return path;
}

/** The address a live server left in `dataDir`, if the file is there and this user may read it. */
export function readOperatorFile(dataDir: string): OperatorAddress | undefined {
  try {
    const a = JSON.parse(readFileSync(join(dataDir, OPERATOR_FILE), 'utf8')) as Partial<OperatorAddress>;
    if (typeof a.pid === 'number' && typeof a.url === 'string' && typeof a.token === 'string') {
      return { pid: a.pid, url: a.url, token: a.token };
    }
  } catch {
    // Missing, unreadable or half-written: no server to ask.
  }
  return undefined;
}
