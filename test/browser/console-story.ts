import { expect } from 'vitest';
import { accountByRole } from '../../src/domain/program.js';
import { getProgramAt } from '../../src/program/program.service.js';
import type { TestApp } from '../support/test-app.js';

/**
 * A member with half a year of real-looking history, made through the public APIs on a simulated
 * clock: purchases, a return, rollovers, a tier climb to SILVER, a quarterly cash-out into a gift
 * card, a goodwill adjustment, and two campaign bonuses still in escrow. The console pages of the
 * browser tests (and the README's screenshot) show this member.
 */

/** The clock the story starts at; `startTestApp(target, STORY_START)`. */
export const STORY_START = new Date('2026-06-01T14:00:00Z');
/** Where the story leaves the clock: Double Points Days has ended, Big Basket Bonus runs. */
export const STORY_NOW = '2026-12-03T15:00:00Z';

export const MEMBER = {
  email: 'maya.okafor@example.com',
  external_id: 'ACME-40217',
  phone: '617-555-0142',
  first_name: 'Maya',
  last_name: 'Okafor',
};

type Item = { line_id: string; item_id: string; quantity: number; unit_price: number };

export interface Story {
  userId: string;
  /** A second member, for the opt-out and opt-in steps. */
  otherUserId: string;
}

export async function tellStory(t: TestApp): Promise<Story> {
  let request = 0;
  const send = async (transactionId: string, openTime: string, items: Item[]) => {
    const total = items.reduce((n, i) => n + i.quantity * i.unit_price, 0);
    const res = await t.request('POST', '/api/2.0/send_transaction', {
      body: {
        store_id: 'BOSTON-01',
        client_id: 'pos-3',
        request_id: `story-${++request}`,
        request_payload: {
          transaction_id: transactionId,
          open_time: openTime,
          items,
          payments: [
            {
              payment_id: 'P1',
              amount: total,
              type: 'CARD',
              user_id: MEMBER.external_id,
              user_id_type: 'external_id',
            },
          ],
        },
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };

  const created = await t.request('POST', `${t.core}/users`, {
    body: {
      user: {
        ...MEMBER,
        phone: undefined,
        external_id_type: 'merchant_identifier',
        city: 'BOSTON',
        state: 'MA',
        zip: '02110',
        country: 'USA',
        phone_numbers: [{ phone_number: MEMBER.phone, phone_type: 'mobile' }],
      },
    },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  const userId = created.body.user.id as string;
  const other = await t.request('POST', `${t.core}/users`, {
    body: {
      user: {
        email: 'liam.garcia@example.com',
        external_id: 'ACME-40218',
        first_name: 'Liam',
        last_name: 'Garcia',
      },
    },
  });
  expect(other.status).toBe(200);

  await t.setNow('2026-06-06T16:00:00Z');
  await send('T-1001', '2026-06-06T11:30:00', [
    { line_id: '1', item_id: 'SOFA-3S', quantity: 1, unit_price: 1090 },
    { line_id: '2', item_id: 'CUSHION', quantity: 3, unit_price: 50 },
  ]);
  await t.setNow('2026-07-19T19:00:00Z');
  await send('T-1002', '2026-07-19T14:05:00', [
    { line_id: '1', item_id: 'DESK-OAK', quantity: 1, unit_price: 780 },
    { line_id: '2', item_id: 'LAMP', quantity: 2, unit_price: 100 },
  ]);
  const t1003: Item[] = [
    { line_id: '1', item_id: 'RUG-2X3', quantity: 1, unit_price: 225 },
    { line_id: '2', item_id: 'VASE', quantity: 1, unit_price: 85 },
  ];
  await t.setNow('2026-08-02T17:00:00Z');
  await send('T-1003', '2026-08-02T12:40:00', t1003);
  // The vase comes back within the return period: the return takes its points out of escrow.
  await t.setNow('2026-08-10T15:00:00Z');
  await send('T-1003', '2026-08-02T12:40:00', [t1003[0]!]);

  // After the Q3 cash-out (end of 30 September): a goodwill credit through the points API.
  await t.setNow('2026-10-15T14:00:00Z');
  const deposit = await t.request('POST', '/incentives/api/2.0/user_points/deposit', {
    body: {
      retailer_id: t.tenant.retailer_id,
      user_id: userId,
      deposit_details: [
        {
          point_account_id: await spendableAccountId(t),
          amount: 250,
          idempotency_id: 'goodwill-0001',
          reference_type: 'Goodwill',
          reference_id: 'delivery arrived late',
        },
      ],
    },
  });
  expect(deposit.status, JSON.stringify(deposit.body)).toBe(200);

  // Double Points Days (27–30 November), then a big basket in December: both still in escrow.
  await t.setNow('2026-11-28T17:00:00Z');
  await send('T-1004', '2026-11-28T11:15:00', [
    { line_id: '1', item_id: 'BOOKSHELF', quantity: 1, unit_price: 420 },
  ]);
  await t.setNow('2026-12-02T20:00:00Z');
  await send('T-1005', '2026-12-02T14:30:00', [
    { line_id: '1', item_id: 'CHAIR', quantity: 2, unit_price: 120 },
    { line_id: '2', item_id: 'THROW', quantity: 1, unit_price: 25 },
  ]);
  await t.setNow(STORY_NOW);
  return { userId, otherUserId: other.body.user.id as string };
}

async function spendableAccountId(t: TestApp): Promise<string> {
  const program = await getProgramAt(t.db, t.tenant.retailer_id, await t.clock.now());
  return accountByRole(program, 'spendable').id;
}

/** The member as the Core API shows it, with balances. */
export async function apiUser(t: TestApp, userId: string) {
  const res = await t.request('GET', `${t.core}/users/${userId}?expand_incentives=true`);
  expect(res.status).toBe(200);
  return res.body.user as {
    tier: string;
    opted_in: boolean;
    available_points: number;
    tier_points: number;
    next_tier_points: number | null;
    tier_resets_at: string | null;
    tier_details: {
      point_account_balances: {
        details: { account_name: string; point_account_id: string; available_balance: number }[];
      };
    };
  };
}
