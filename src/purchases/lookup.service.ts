import { getUser, type UserRef } from '../customers/customer.service.js';
import { searchUser, type UserRow } from '../customers/customer.repository.js';
import { toWireUser } from '../customers/customer.view.js';
import type { Queryable } from '../db/database.js';
import { pointAccountBalances } from '../domain/loyalty-view.js';
import { phoneKey } from '../domain/profile.js';
import { LaurelError, validationError } from '../errors.js';
import { getProgramAt } from '../program/program.service.js';
import { memberStandingAt } from '../tiers/tier.service.js';
import { findPurchaseOwner, findUserIdsByPhoneKey } from './lookup.repository.js';
import type { LookupPayload } from './lookup.schema.js';

const KEYS = ['user_id', 'external_customer_id', 'email', 'phone'] as const;

const NO_FLAGS = { user_profile: false, expand_incentives: false, show_identifiers: false };

/**
 * The POS user lookup (reference §6, issue #14 item 7): the member the payload names, as the Core
 * API shows it, with the all_balances payload, as of `at`. A lookup changes nothing. Several
 * members with one phone is an error, as on SessionM's POS (a till must not pick one at random).
 */
export async function lookupMember(db: Queryable, retailerId: string, p: LookupPayload, at: Date) {
  const given = KEYS.filter((k) => (p[k] ?? '').trim() !== '');
  if (given.length > 1) {
    throw validationError(
      `request_payload names the member ${given.length} ways (${given.join(', ')}); give one`,
      `request_payload.${given[1]}`,
    );
  }
  const row = await findMember(db, retailerId, p, given[0]);
  const program = await getProgramAt(db, retailerId, at);
  const standing = await memberStandingAt(db, program, row, at);
  return {
    user: toWireUser(row, program, NO_FLAGS, undefined, standing),
    point_account_balances: pointAccountBalances(program, standing),
    offers: [] as Record<string, unknown>[],
  };
}

async function findMember(
  db: Queryable,
  retailerId: string,
  p: LookupPayload,
  key: (typeof KEYS)[number] | undefined,
): Promise<UserRow> {
  const byRef = (ref: UserRef) => getUser(db, retailerId, ref);
  switch (key) {
    case 'user_id':
      return byRef({ id: p.user_id!.trim() });
    case 'external_customer_id':
      return byRef({ external_id: p.external_customer_id!.trim() });
    case 'email': {
      const row = await searchUser(db, retailerId, { email: p.email!.trim() });
      if (!row) throw new LaurelError('user_not_found');
      return row;
    }
    case 'phone': {
      const digits = phoneKey(p.phone!);
      if (!digits)
        throw validationError('request_payload.phone must contain digits', 'request_payload.phone');
      const ids = await findUserIdsByPhoneKey(db, retailerId, digits);
      if (ids.length > 1) {
        throw validationError(
          'request_payload.phone belongs to more than one member; look up by email, user_id or external_customer_id',
          'request_payload.phone',
        );
      }
      if (!ids.length) throw new LaurelError('user_not_found');
      return byRef({ id: ids[0]! });
    }
    case undefined: {
      const tx = p.transaction?.transaction_id;
      const transactionId = tx === undefined ? '' : String(tx).trim();
      if (!transactionId) {
        throw new LaurelError(
          'missing_data',
          'request_payload needs one of email, phone, user_id, external_customer_id or transaction.transaction_id',
        );
      }
      const owner = await findPurchaseOwner(db, retailerId, transactionId);
      if (!owner)
        throw new LaurelError('user_not_found', `no member's purchase has transaction ${transactionId}`);
      return byRef({ id: owner });
    }
  }
}
