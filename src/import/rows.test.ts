import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { UserRow } from '../customers/customer.repository.js';
import { normalizeProfile } from '../domain/profile.js';
import { customerDifferences, customerFromCsv, customerUnits } from './customer-rows.js';
import type { SourceUnit } from './import.types.js';
import { readLines } from './line-reader.js';
import { importRequestId, transactionUnits } from './transaction-rows.js';

const dir = mkdtempSync(join(tmpdir(), 'laurel-rows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const NOW = new Date('2026-12-20T12:00:00Z');

let n = 0;
async function units<T>(
  content: string,
  ext: 'csv' | 'ndjson',
  read: (lines: ReturnType<typeof readLines>) => AsyncGenerator<SourceUnit<T>>,
): Promise<SourceUnit<T>[]> {
  const path = join(dir, `f${n++}.${ext}`);
  writeFileSync(path, content);
  const out: SourceUnit<T>[] = [];
  for await (const u of read(readLines(path))) out.push(u);
  return out;
}

const HEADER =
  'transaction_id,store_id,open_time,user_id,user_id_type,line_id,item_id,quantity,unit_price,discount,is_voided';

describe('customers rows', () => {
  it('maps CSV cells to a Core user body: empty cells left out, phones split on ;, flags and custom attributes', () => {
    expect(
      customerFromCsv({
        external_id: ' C-1 ',
        email: '',
        phone_numbers: '5085550101; +1 617 555 0102',
        opted_in: 'No',
        'user_profile.store': 'Boston',
      }),
    ).toEqual({
      external_id: 'C-1',
      phone_numbers: [{ phone_number: '5085550101' }, { phone_number: '+1 617 555 0102' }],
      opted_in: false,
      user_profile: { store: 'Boston' },
    });
    expect(customerFromCsv({ opted_in: 'maybe' })).toBe('opted_in must be true or false, not "maybe"');
  });

  it('checks every row as the API checks a create body, and refuses an unknown column', async () => {
    const rows = await units(
      'external_id,email,dob\nC-1,a@example.com,1990-01-01\nC-2,not-an-email,\n,,\nC-3,c@example.com,2020-01-01\n',
      'csv',
      (l) => customerUnits('csv', l, () => NOW),
    );
    expect(rows.map((u) => u.rejects?.[0]?.reason ?? 'ok')).toEqual([
      'ok',
      'email is not a valid address',
      'user.email or user.external_id is required',
      'members must be at least 13 years old',
    ]);
    expect(rows[0]!.keys!.map((k) => k.label)).toEqual(['external_id C-1', 'email a@example.com']);
    await expect(
      units('external_id,nickname\n', 'csv', (l) => customerUnits('csv', l, () => NOW)),
    ).rejects.toThrow(/unknown column "nickname"/);
  });

  it('refuses a user_profile column whose attribute name no attribute may have (user_profile.__proto__ was dropped from every row)', async () => {
    const read = (header: string) =>
      units(`${header}\nC-1,x\n`, 'csv', (l) => customerUnits('csv', l, () => NOW));
    for (const column of ['user_profile.__proto__', 'user_profile._hidden', 'user_profile.a b']) {
      await expect(read(`external_id,${column}`), column).rejects.toThrow(
        `the CSV header has a column ${JSON.stringify(column)} whose attribute name is not allowed`,
      );
    }
    const [ok] = await read('external_id,user_profile.constructor');
    expect(ok!.value).toEqual({ user: { external_id: 'C-1', user_profile: { constructor: 'x' } } });
  });

  it('reads NDJSON user objects, bare or inside {"user": ...}, and names a line that is not JSON', async () => {
    const rows = await units(
      '{"external_id":"C-1"}\n\n{"user":{"email":"b@example.com"}}\n{"external_id": 5}\n{oops\n',
      'ndjson',
      (l) => customerUnits('ndjson', l, () => NOW),
    );
    expect(rows.map((u) => [u.line, u.rejects?.[0]?.code ?? 'ok'])).toEqual([
      [1, 'ok'],
      [3, 'ok'],
      [4, 'validation'],
      [5, 'invalid_json'],
    ]);
  });

  it('reads enrolled_at and registered_at as the past instants of a row, and names a bad one', async () => {
    const rows = await units(
      'external_id,registered_at,enrolled_at,opted_in\n' +
        'C-1,2026-03-01T10:00:00Z,2026-06-01T09:00:00-04:00,\n' +
        'C-2,,2026-06-01,\n' +
        'C-3,,2031-01-01T00:00:00Z,\n' +
        'C-4,2026-06-02T00:00:00Z,2026-06-01T00:00:00Z,\n' +
        'C-5,,2026-06-01T00:00:00Z,false\n',
      'csv',
      (l) => customerUnits('csv', l, () => NOW),
    );
    expect(rows[0]!.value).toEqual({
      user: { external_id: 'C-1' },
      registered_at: new Date('2026-03-01T10:00:00Z'),
      enrolled_at: new Date('2026-06-01T13:00:00Z'),
    });
    expect(rows.slice(1).map((u) => u.rejects?.[0]?.reason)).toEqual([
      'enrolled_at must be an ISO 8601 instant with its offset (2026-06-01T09:00:00Z), not "2026-06-01"',
      `enrolled_at 2031-01-01T00:00:00.000Z is after the import's clock (${NOW.toISOString()})`,
      'enrolled_at 2026-06-01T00:00:00.000Z is before registered_at 2026-06-02T00:00:00.000Z',
      'enrolled_at is given for a customer who is not opted in',
    ]);
    const [json] = await units(
      '{"user":{"email":"a@example.com","enrolled_at":"2026-05-01T00:00:00Z"}}\n',
      'ndjson',
      (l) => customerUnits('ndjson', l, () => NOW),
    );
    expect(json!.value).toEqual({
      user: { email: 'a@example.com' },
      enrolled_at: new Date('2026-05-01T00:00:00Z'),
    });
  });

  it('finds no difference with the profile a row created, and names each field that differs', () => {
    const input = { external_id: 'C-1', email: 'Ann@Example.com', first_name: 'Ann', country: 'usa' };
    const stored = {
      external_id: 'C-1',
      email: 'ann@example.com',
      first_name: 'Ann',
      country: 'USA',
      phone_numbers: [],
      user_profile: {},
    } as unknown as UserRow;
    expect(customerDifferences(normalizeProfile(input, NOW), stored, [])).toEqual([]);
    expect(customerDifferences(normalizeProfile({ ...input, first_name: 'Anne' }, NOW), stored, [])).toEqual([
      'first_name (stored "Ann", in the file "Anne")',
    ]);
  });
});

describe('transactions rows', () => {
  it('groups consecutive CSV rows of one transaction into one POS body with a request id from its content', async () => {
    const rows = await units(
      `${HEADER}\nT-1,S,2026-10-01T10:00:00,C-1,external_id,1,TV,1,500.00,,\nT-1,,,,,2,CABLE,2,10.5,5,\nT-2,S,2026-10-02T10:00:00,,,1,TV,1,100,,true\n`,
      'csv',
      (l) => transactionUnits('csv', l),
    );
    expect(rows.map((u) => [u.line, u.endLine])).toEqual([
      [2, 3],
      [4, 4],
    ]);
    const body = rows[0]!.value!;
    expect(body).toEqual({
      store_id: 'S',
      request_id: importRequestId({ store_id: 'S', request_payload: body.request_payload }),
      request_payload: {
        transaction_id: 'T-1',
        open_time: '2026-10-01T10:00:00',
        user_id: 'C-1',
        user_id_type: 'external_id',
        items: [
          { line_id: '1', item_id: 'TV', quantity: 1, unit_price: 500 },
          { line_id: '2', item_id: 'CABLE', quantity: 2, unit_price: 10.5 },
        ],
        discounts: [{ amount: 5 }],
      },
    });
    expect(body.request_id).toMatch(/^import:[A-Za-z0-9_-]{43}$/);
    expect(rows[1]!.value!.request_payload.is_voided).toBe(true);
    expect(rows[0]!.serial).toEqual(['t\u0000T-1', 'm\u0000c-1']);
  });

  it('keeps a transaction out whole when one of its rows is bad or an unreadable line falls inside it', async () => {
    const rows = await units(
      `${HEADER}\nT-1,S,2026-10-01T10:00:00,C-1,external_id,1,TV,x,1,,\nT-1,S,2026-10-02T10:00:00,C-1,external_id,2,TV,1,1,,\n` +
        `T-2,S,2026-10-01T10:00:00,C-1,external_id,1,TV,1,1,,\n"broken\nT-2,S,2026-10-01T10:00:00,C-1,external_id,2,TV,1,1,,\n` +
        `T-3,S,2026-10-01T10:00:00,C-1,external_id,1,TV,1,1,,\n"broken\nT-4,S,2026-10-01T10:00:00,C-1,external_id,1,TV,1,1,,\n`,
      'csv',
      (l) => transactionUnits('csv', l),
    );
    expect(
      rows.map((u) => [
        u.line,
        u.endLine,
        u.value ? 'ok' : u.rejects!.map((r) => `${r.line}:${r.code}`).join(' '),
      ]),
    ).toEqual([
      [2, 3, '2:validation'],
      [4, 6, '4:invalid_csv 5:invalid_csv'],
      [7, 7, 'ok'],
      [8, 8, '8:invalid_csv'],
      [9, 9, 'ok'],
    ]);
    expect(rows[0]!.rejects![0]!.reason).toBe(
      'line 2: quantity "x" is not a number; line 3: open_time "2026-10-02T10:00:00" differs from "2026-10-01T10:00:00" above',
    );
  });

  it('reads NDJSON POS bodies and bare payloads alike, keeping a given request id', async () => {
    const payload = {
      transaction_id: 'T-1',
      open_time: '2026-10-01T10:00:00Z',
      items: [{ line_id: 1, item_id: 'TV', quantity: 1, unit_price: 10 }],
    };
    const rows = await units(
      [
        JSON.stringify({ store_id: 'S', request_payload: payload }),
        JSON.stringify({ store_id: 'S', ...payload }),
        JSON.stringify({ store_id: 'S', request_id: 'till-1', request_payload: payload }),
        JSON.stringify({ store_id: 'S', request_payload: { ...payload, items: [{ line_id: 1 }] } }),
      ].join('\n'),
      'ndjson',
      (l) => transactionUnits('ndjson', l),
    );
    expect(rows[0]!.value!.request_id).toBe(rows[1]!.value!.request_id);
    expect(rows[2]!.value!.request_id).toBe('till-1');
    expect(rows[3]!.rejects![0]).toMatchObject({
      code: 'missing_data',
      reason: 'request_payload.items.0.item_id is required',
    });
  });
});
