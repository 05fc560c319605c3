import { createHash } from 'node:crypto';
import { readBasket } from '../domain/basket.js';
import { canonicalJson } from '../domain/canonical.js';
import { LaurelError } from '../errors.js';
import type { SendTransactionBody } from '../purchases/purchase.schema.js';
import { csvHeader, csvRecords, malformedCsvUnit, type CsvRecord } from './csv.js';
import type { ImportFormat, RejectEntry, SourceUnit } from './import.types.js';
import { ndjsonUnits, type PhysicalLine } from './line-reader.js';
import { checkTransaction } from './row-validation.js';

/**
 * Transactions files (docs/import.md): NDJSON of POS `send_transaction` bodies (or bare request
 * payloads carrying `store_id`), or CSV with one row per item line, consecutive rows with the same
 * `transaction_id` forming one transaction. Each transaction is checked as the API checks the body.
 */

/** Columns a transactions CSV must have. */
export const REQUIRED_TRANSACTION_COLUMNS = [
  'transaction_id',
  'store_id',
  'open_time',
  'line_id',
  'item_id',
  'quantity',
  'unit_price',
] as const;
/** Columns it may have. */
export const OPTIONAL_TRANSACTION_COLUMNS = [
  'user_id',
  'user_id_type',
  'subtotal',
  'category',
  'discount',
  'is_voided',
  'channel',
] as const;
/** Columns that describe the whole transaction: every row of it says the same, or nothing. */
const TRANSACTION_FIELDS = [
  'store_id',
  'open_time',
  'user_id',
  'user_id_type',
  'is_voided',
  'channel',
] as const;

/** The API's limit on items in one transaction (src/purchases/purchase.schema.ts). */
const MAX_ITEMS = 1000;
/** Unreadable lines held while deciding whether they fall inside a transaction. */
const MAX_HELD_MALFORMED = 100;

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)$/;
const TRUE = new Set(['true', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'no', 'n', '0', '']);

/**
 * The request id of an imported transaction: `import:` and a hash of the transaction itself, so
 * a re-run replays the stored answer and a changed basket for the same transaction is a return.
 */
export function importRequestId(withoutRequestId: unknown): string {
  const digest = createHash('sha256').update(canonicalJson(withoutRequestId)).digest('base64url');
  return `import:${digest}`;
}

export function checkTransactionHeader(header: readonly string[]): void {
  const known = new Set<string>([...REQUIRED_TRANSACTION_COLUMNS, ...OPTIONAL_TRANSACTION_COLUMNS]);
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) throw new LaurelError('validation', `the CSV header names column ${name} twice`);
    seen.add(name);
    if (!known.has(name)) {
      throw new LaurelError(
        'validation',
        `the CSV header has an unknown column ${JSON.stringify(name)}; transactions columns are ` +
          `${[...known].join(', ')} (see docs/import.md)`,
      );
    }
  }
  const missing = REQUIRED_TRANSACTION_COLUMNS.filter((c) => !seen.has(c));
  if (missing.length) {
    throw new LaurelError('validation', `the CSV header lacks the column(s) ${missing.join(', ')}`);
  }
}

/**
 * A POS body from the parts of a transaction, checked as the API checks it: its request id is the
 * given one or derived from the content. Returns the unit to apply or its reject.
 */
export function transactionUnit(
  base: { line: number; endLine: number; end: number; row: unknown },
  container: Record<string, unknown>,
  requestId: unknown,
): SourceUnit<SendTransactionBody> {
  const reject = (code: string, reason: string): SourceUnit<SendTransactionBody> => {
    const entry: RejectEntry = { line: base.line, code, reason, row: base.row };
    if (base.endLine !== base.line) entry.end_line = base.endLine;
    return { ...base, rejects: [entry] };
  };
  const body = { ...container, request_id: requestId ?? importRequestId(container) };
  const checked = checkTransaction(body);
  if (!checked.ok) return reject(checked.problem.code, checked.problem.reason);
  const p = checked.value.request_payload;
  try {
    // The basket's own rules (amounts, unique line ids), as the service will apply them.
    readBasket(p.items, p.discounts ?? [], p.is_voided ?? false, p.channel);
  } catch (err) {
    if (err instanceof LaurelError) return reject(err.code, err.message);
    throw err;
  }
  const transactionId = String(p.transaction_id).trim();
  const member = p.user_id ?? p.payments?.find((x) => x.user_id)?.user_id;
  return {
    ...base,
    value: checked.value,
    keys: [
      requestId === undefined
        ? { key: `tx\u0000${body.request_id}`, label: `transaction ${transactionId} with the same content` }
        : // A till's request id is unique per transaction, not per file (DESIGN §4).
          {
            key: `rq\u0000${requestId}\u0000${transactionId}`,
            label: `request_id ${requestId} of transaction ${transactionId}`,
          },
    ],
    // One member's purchases and one transaction's sends keep the file's order.
    serial: [`t\u0000${transactionId}`, ...(member ? [`m\u0000${member.trim().toLowerCase()}`] : [])],
  };
}

/** One NDJSON line: a POS body, or a bare request payload with `store_id` inside. */
function transactionFromJson(
  base: { line: number; endLine: number; end: number; row: unknown },
  value: unknown,
): SourceUnit<SendTransactionBody> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return {
      ...base,
      rejects: [{ line: base.line, code: 'validation', reason: 'the line is not a JSON object', row: value }],
    };
  }
  const { request_id, ...rest } = value as Record<string, unknown>;
  // A given request id is the idempotency key as given, and checked like the API checks it.
  const given: unknown = request_id;
  if ('request_payload' in rest) return transactionUnit(base, rest, given);
  const { store_id, client_id, ...payload } = rest;
  const container: Record<string, unknown> = { store_id, request_payload: payload };
  if (client_id !== undefined) container.client_id = client_id;
  return transactionUnit(base, container, given);
}

export async function* transactionNdjsonUnits(
  lines: AsyncIterable<PhysicalLine>,
): AsyncGenerator<SourceUnit<SendTransactionBody>> {
  yield* ndjsonUnits(lines, (base, value) => transactionFromJson({ ...base, row: value }, value));
}

interface Group {
  transactionId: string;
  line: number;
  endLine: number;
  end: number;
  rows: { line: number; cells: Record<string, string> }[];
  /** Item lines past MAX_ITEMS, counted, not kept. */
  dropped: number;
  /** Unreadable lines between its rows. */
  rejects: RejectEntry[];
}

function amount(row: Record<string, string>, column: string, line: number, problems: string[]) {
  const v = (row[column] ?? '').trim();
  if (v === '') return undefined;
  if (!NUMBER.test(v)) {
    problems.push(`line ${line}: ${column} ${JSON.stringify(v)} is not a number`);
    return undefined;
  }
  return Number(v);
}

/** The POS body of a CSV transaction, or the problems that keep it out. */
function groupUnit(g: Group): SourceUnit<SendTransactionBody> {
  const base = { line: g.line, endLine: g.endLine, end: g.end, row: g.rows.map((r) => r.cells) };
  const problems: string[] = [];
  if (g.dropped)
    problems.push(`the transaction has ${g.rows.length + g.dropped} item lines, at most ${MAX_ITEMS}`);
  const fields: Record<string, string> = {};
  const items: Record<string, unknown>[] = [];
  const discounts: { amount: number }[] = [];
  for (const { line, cells: row } of g.rows) {
    for (const f of TRANSACTION_FIELDS) {
      const v = (row[f] ?? '').trim();
      if (v === '') continue;
      if (fields[f] === undefined) fields[f] = v;
      else if (fields[f] !== v) {
        problems.push(
          `line ${line}: ${f} ${JSON.stringify(v)} differs from ${JSON.stringify(fields[f])} above`,
        );
      }
    }
    const item: Record<string, unknown> = {
      line_id: (row.line_id ?? '').trim(),
      item_id: (row.item_id ?? '').trim(),
      quantity: amount(row, 'quantity', line, problems),
      unit_price: amount(row, 'unit_price', line, problems),
    };
    const subtotal = amount(row, 'subtotal', line, problems);
    if (subtotal !== undefined) item.subtotal = subtotal;
    const category = (row.category ?? '').trim();
    if (category) item.category = category;
    items.push(item);
    const discount = amount(row, 'discount', line, problems);
    if (discount !== undefined) discounts.push({ amount: discount });
  }
  const voided = (fields.is_voided ?? '').toLowerCase();
  if (!TRUE.has(voided) && !FALSE.has(voided)) {
    problems.push(`is_voided must be true or false, not ${JSON.stringify(fields.is_voided)}`);
  }
  // The transaction's own entry comes first: it starts on the lowest line.
  const all: RejectEntry[] = [];
  if (problems.length) {
    const entry: RejectEntry = {
      line: g.line,
      code: 'validation',
      reason: problems.join('; '),
      row: base.row,
    };
    if (g.endLine !== g.line) entry.end_line = g.endLine;
    all.push(entry);
  } else if (g.rejects.length) {
    const entry: RejectEntry = {
      line: g.line,
      code: 'invalid_csv',
      reason: `line(s) ${g.rejects.map((r) => r.line).join(', ')} inside this transaction cannot be read; the transaction is imported whole or not at all`,
      row: base.row,
    };
    if (g.endLine !== g.line) entry.end_line = g.endLine;
    all.push(entry);
  }
  if (all.length) return { ...base, rejects: [...all, ...g.rejects] };

  const payload: Record<string, unknown> = {
    transaction_id: g.transactionId,
    open_time: fields.open_time,
    items,
  };
  if (discounts.length) payload.discounts = discounts;
  if (TRUE.has(voided)) payload.is_voided = true;
  if (fields.channel) payload.channel = fields.channel;
  if (fields.user_id) payload.user_id = fields.user_id;
  if (fields.user_id_type) payload.user_id_type = fields.user_id_type;
  return transactionUnit(base, { store_id: fields.store_id, request_payload: payload }, undefined);
}

/**
 * The transactions of a CSV file: consecutive rows with one transaction_id are one transaction. A
 * row that cannot be read between two rows of one transaction keeps the whole transaction out
 * (importing the rest would post a basket the till never rang); elsewhere it costs only itself.
 */
export async function* transactionCsvUnits(
  records: AsyncIterable<CsvRecord>,
): AsyncGenerator<SourceUnit<SendTransactionBody>> {
  let header: string[] | undefined;
  let group: Group | undefined;
  let held: Extract<CsvRecord, { error: string }>[] = [];

  function* flush(): Generator<SourceUnit<SendTransactionBody>> {
    if (group) yield groupUnit(group);
    group = undefined;
    for (const r of held) yield malformedCsvUnit(r);
    held = [];
  }

  for await (const r of records) {
    if (!header) {
      header = csvHeader(r, checkTransactionHeader);
      continue;
    }
    if ('error' in r) {
      held.push(r);
      if (held.length >= MAX_HELD_MALFORMED) yield* flush();
      continue;
    }
    const transactionId =
      r.fields.length === header.length ? (r.fields[header.indexOf('transaction_id')] ?? '').trim() : '';
    if (!transactionId) {
      // A row that belongs to no transaction stands alone, like an unreadable one.
      const row =
        r.fields.length === header.length
          ? Object.fromEntries(header.map((h, i) => [h, r.fields[i]!]))
          : r.fields;
      const reason =
        r.fields.length !== header.length
          ? `the row has ${r.fields.length} fields, the header ${header.length}`
          : 'transaction_id is required';
      yield* flush();
      const reject: RejectEntry = {
        line: r.line,
        code: r.fields.length !== header.length ? 'invalid_csv' : 'missing_data',
        reason,
        row,
      };
      yield { line: r.line, endLine: r.endLine, end: r.end, row, rejects: [reject] };
      continue;
    }
    const row = Object.fromEntries(header.map((h, i) => [h, r.fields[i]!]));
    if (group && group.transactionId === transactionId) {
      for (const m of held)
        group.rejects.push({ line: m.line, code: 'invalid_csv', reason: m.error, row: m.raw });
      held = [];
    } else {
      yield* flush();
      group = { transactionId, line: r.line, endLine: r.line, end: r.end, rows: [], dropped: 0, rejects: [] };
    }
    group.endLine = r.endLine;
    group.end = r.end;
    if (group.rows.length >= MAX_ITEMS) group.dropped++;
    else group.rows.push({ line: r.line, cells: row });
  }
  if (!header) throw new LaurelError('validation', 'the CSV file is empty: it needs a header line');
  yield* flush();
}

/** The transactions of a transactions file in `format`, read from `lines`. */
export const transactionUnits = (
  format: ImportFormat,
  lines: AsyncIterable<PhysicalLine>,
): AsyncGenerator<SourceUnit<SendTransactionBody>> =>
  format === 'csv' ? transactionCsvUnits(csvRecords(lines)) : transactionNdjsonUnits(lines);
