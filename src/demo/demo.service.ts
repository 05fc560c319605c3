import type { Database } from '../db/database.js';
import { createUser } from '../customers/customer.service.js';
import { createAdminToken, createApp, createRetailer } from '../tenancy/tenancy.service.js';

export interface DemoCredentials {
  retailer_id: string;
  api_key: string;
  secret: string;
  admin_token: string;
}

/**
 * The first demo member answers the three searches of the seed's Step 1
 * (email test@example.com, external id eutest17, mobile 5089959991).
 */
const SEED_MEMBER = {
  external_id: 'eutest17',
  external_id_type: 'merchant_identifier',
  email: 'test@example.com',
  first_name: 'Test',
  last_name: 'Member',
  gender: 'f',
  dob: '1990-04-12',
  address: '222 Main St.',
  address2: 'APT 11',
  city: 'BOSTON',
  state: 'MA',
  zip: '02210',
  dma: '506',
  country: 'USA',
  locale: 'en-US',
  phone_numbers: [{ phone_number: '5089959991', phone_type: 'mobile', preference_flags: ['primary'] }],
  user_profile: { favorite_store: 'Boston Downtown', newsletter: true },
};

const FIRST = [
  'Ava',
  'Liam',
  'Maya',
  'Noah',
  'Zoe',
  'Ethan',
  'Iris',
  'Omar',
  'Lena',
  'Raj',
  'Sofia',
  'Jonas',
];
const LAST = ['Lei', 'Garcia', 'Okafor', 'Nguyen', 'Smith', 'Kowalski', 'Haddad', 'Rossi', 'Tanaka', 'Berg'];
const CITIES: [string, string, string, string][] = [
  ['BOSTON', 'MA', '02110', '506'],
  ['NEW YORK', 'NY', '10001', '501'],
  ['CHICAGO', 'IL', '60601', '602'],
  ['SEATTLE', 'WA', '98101', '819'],
  ['AUSTIN', 'TX', '78701', '635'],
];

/** A demo profile number `i` (1-based; 1 is the seed's member). Deterministic, so runs are comparable. */
export function demoProfile(i: number) {
  if (i === 1) return SEED_MEMBER;
  const first = FIRST[i % FIRST.length]!;
  const last = LAST[(i * 7) % LAST.length]!;
  const [city, state, zip, dma] = CITIES[i % CITIES.length]!;
  const year = 1950 + ((i * 13) % 55);
  const month = String(1 + (i % 12)).padStart(2, '0');
  const day = String(1 + (i % 28)).padStart(2, '0');
  return {
    external_id: `DEMO${String(i).padStart(6, '0')}`,
    external_id_type: 'merchant_identifier',
    email: `${first}.${last}.${i}@example.com`.toLowerCase(),
    first_name: first,
    last_name: last,
    gender: i % 2 ? 'm' : 'f',
    dob: `${year}-${month}-${day}`,
    address: `${100 + i} Market St.`,
    city,
    state,
    zip,
    dma,
    country: 'USA',
    locale: 'en-US',
    phone_numbers: [
      { phone_number: `+1 617 555 ${String(i % 10000).padStart(4, '0')}`, phone_type: 'mobile' },
    ],
  };
}

/** Creates a demo retailer with the ACME program, an app, an admin token and `customers` members. */
export async function createDemo(db: Database, now: Date, customers = 0): Promise<DemoCredentials> {
  const retailer = await createRetailer(db, 'ACME Demo Retailer', now);
  const app = await createApp(db, retailer.id, 'ACME Demo POS', now);
  const token = await createAdminToken(db, retailer.id, 'demo admin', now);
  for (let i = 1; i <= customers; i++) await createUser(db, retailer.id, demoProfile(i), now);
  return {
    retailer_id: retailer.id,
    api_key: app.api_key,
    secret: app.secret,
    admin_token: token.admin_token,
  };
}
