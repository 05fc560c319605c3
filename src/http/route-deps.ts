import type { Clock } from '../clock.js';
import type { Database } from '../db/database.js';
import type { CredentialVerifier } from '../tenancy/tenancy.service.js';

/**
 * What every route plugin is given: the database, the one clock, the credential verifier, and the
 * key gift-card codes derive from.
 */
export interface RouteDeps {
  db: Database;
  clock: Clock;
  verifier: CredentialVerifier;
  giftCardKey: Buffer;
}
