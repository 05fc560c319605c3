import { MAX_LEDGER_AMOUNT } from '../domain/bounds.js';
import { parseInstant } from '../domain/time.js';
import { LaurelError } from '../errors.js';
import { bodyProblem } from '../http/body-guards.js';
import { csvRecords, csvRowUnits } from './csv.js';
import type { ImportFormat, SourceUnit } from './import.types.js';
import { ndjsonUnits, type PhysicalLine } from './line-reader.js';

/**
 * Opening balances files (issue #16 item 2, docs/import.md): one row per member, the positions the
 * old platform showed at the cut-over. CSV with the columns below, or NDJSON of objects with the
 * same fields (numbers as JSON numbers). Each row is checked here, before any database work.
 */

export const BALANCE_COLUMNS = [
  'user_id',
  'user_id_type',
  'account',
  'balance',
  'life_time_value',
  'tier',
  'tier_entered_at',
  'tier_expires_at',
  'tier_points',
] as const;
const REQUIRED = ['user_id', 'balance'] as const;

export type MemberKeyType = 'SessionM_ID' | 'external_id' | 'email';

/** One member's opening position. */
export interface BalanceRow {
  member: { type: MemberKeyType; id: string };
  /** The account the balance is of, as the file names it: the program's Spendable account. */
  account?: string;
  balance: number;
  /** Points ever credited to the account there; at least the balance. */
  life_time_value: number;
  /** The tier level's name or id; absent: the tier the points give. */
  tier?: string;
  tier_entered_at?: Date;
  tier_expires_at?: Date;
  /** Tier-qualifying points of the qualifying period the cut-over lies in. */
  tier_points: number;
}

export function checkBalanceHeader(header: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) throw new LaurelError('validation', `the CSV header names column ${name} twice`);
    seen.add(name);
    if (!(BALANCE_COLUMNS as readonly string[]).includes(name)) {
      throw new LaurelError(
        'validation',
        `the CSV header has an unknown column ${JSON.stringify(name)}; balances columns are ` +
          `${BALANCE_COLUMNS.join(', ')} (see docs/import.md)`,
      );
    }
  }
  const missing = REQUIRED.filter((c) => !seen.has(c));
  if (missing.length) {
    throw new LaurelError('validation', `the CSV header lacks the column(s) ${missing.join(', ')}`);
  }
}

type Problem = { code: string; reason: string };

const POINTS = /^\d+$/;

/** A whole number of points from a CSV cell (text) or a JSON number; undefined when absent. */
function points(v: unknown, field: string): number | undefined | Problem {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && POINTS.test(v.trim()) ? Number(v.trim()) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > MAX_LEDGER_AMOUNT) {
    return {
      code: 'validation',
      reason: `${field} must be a whole number of points from 0 to ${MAX_LEDGER_AMOUNT}, not ${JSON.stringify(v)}`,
    };
  }
  return n;
}

function instantOf(v: unknown, field: string): Date | undefined | Problem {
  if (v === undefined || v === null || v === '') return undefined;
  const at = typeof v === 'string' ? parseInstant(v.trim()) : null;
  return (
    at ?? {
      code: 'validation',
      reason: `${field} must be an ISO 8601 instant with its offset (2026-06-01T09:00:00Z), not ${JSON.stringify(v)}`,
    }
  );
}

const isProblem = (v: unknown): v is Problem => typeof v === 'object' && v !== null && 'reason' in v;

const TYPES: Record<string, MemberKeyType> = {
  sessionm_id: 'SessionM_ID',
  user_id: 'SessionM_ID',
  external_id: 'external_id',
  email: 'email',
};

/** A row's fields checked and read, or why not; `cutover` is the instant the positions are of. */
export function checkBalanceRow(fields: Record<string, unknown>, cutover: Date): BalanceRow | Problem {
  const unknown = Object.keys(fields).filter((k) => !(BALANCE_COLUMNS as readonly string[]).includes(k));
  if (unknown.length) {
    return { code: 'validation', reason: `unknown field(s) ${unknown.join(', ')}; see docs/import.md` };
  }
  // Text the database cannot store (a NUL, a lone surrogate) is refused as the API's body guard
  // refuses it: a row's key reaches statements shared with the rows read beside it (issue #16).
  const unfit = bodyProblem(fields);
  if (unfit) return { code: 'validation', reason: unfit.message };
  const text = (k: string): string | undefined | Problem => {
    const v = fields[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') return { code: 'validation', reason: `${k} must be a string` };
    return v.trim() || undefined;
  };
  const userId = text('user_id');
  if (isProblem(userId)) return userId;
  if (!userId) return { code: 'missing_data', reason: 'user_id is required' };
  const rawType = text('user_id_type');
  if (isProblem(rawType)) return rawType;
  const type = rawType === undefined ? 'SessionM_ID' : TYPES[rawType.toLowerCase()];
  if (!type) {
    return {
      code: 'validation',
      reason: `user_id_type ${rawType} is not one of SessionM_ID, external_id, email`,
    };
  }
  const balance = points(fields.balance, 'balance');
  if (isProblem(balance)) return balance;
  if (balance === undefined) return { code: 'missing_data', reason: 'balance is required' };
  const lifetime = points(fields.life_time_value, 'life_time_value');
  if (isProblem(lifetime)) return lifetime;
  if (lifetime !== undefined && lifetime < balance) {
    return {
      code: 'validation',
      reason: `life_time_value ${lifetime} is less than the balance ${balance}: it counts every point ever credited`,
    };
  }
  const tierPoints = points(fields.tier_points, 'tier_points');
  if (isProblem(tierPoints)) return tierPoints;
  const account = text('account');
  if (isProblem(account)) return account;
  const tier = text('tier');
  if (isProblem(tier)) return tier;
  const entered = instantOf(fields.tier_entered_at, 'tier_entered_at');
  if (isProblem(entered)) return entered;
  const expires = instantOf(fields.tier_expires_at, 'tier_expires_at');
  if (isProblem(expires)) return expires;
  if ((entered || expires) && !tier) {
    return { code: 'missing_data', reason: 'tier is required with tier_entered_at or tier_expires_at' };
  }
  if (entered && entered > cutover) {
    return {
      code: 'validation',
      reason: `tier_entered_at ${entered.toISOString()} is after the cut-over ${cutover.toISOString()}`,
    };
  }
  if (expires && expires <= cutover) {
    return {
      code: 'validation',
      reason: `tier_expires_at ${expires.toISOString()} is not after the cut-over ${cutover.toISOString()}: the tier had already ended`,
    };
  }
  return {
    member: { type, id: type === 'SessionM_ID' ? userId.toLowerCase() : userId },
    ...(account ? { account } : {}),
    balance,
    life_time_value: lifetime ?? balance,
    ...(tier ? { tier } : {}),
    ...(entered ? { tier_entered_at: entered } : {}),
    ...(expires ? { tier_expires_at: expires } : {}),
    tier_points: tierPoints ?? 0,
  };
}

function unitOf(
  base: { line: number; endLine: number; end: number; row: unknown },
  fields: unknown,
  cutover: Date,
): SourceUnit<BalanceRow> {
  const reject = (p: Problem) => ({ ...base, rejects: [{ line: base.line, ...p, row: base.row }] });
  if (!fields || typeof fields !== 'object' || Array.isArray(fields)) {
    return reject({ code: 'validation', reason: 'the line is not a JSON object' });
  }
  const row = checkBalanceRow(fields as Record<string, unknown>, cutover);
  if (isProblem(row)) return reject(row);
  const key = `${row.member.type}\u0000${row.member.type === 'email' ? row.member.id.toLowerCase() : row.member.id}`;
  return {
    ...base,
    value: row,
    // One opening position per member and file.
    keys: [{ key: `b\u0000${key}`, label: `${row.member.type} ${row.member.id}` }],
    serial: [key],
  };
}

/** The rows of a balances file in `format`, read from `lines`, as of the cut-over. */
export const balanceUnits = (
  format: ImportFormat,
  lines: AsyncIterable<PhysicalLine>,
  cutover: Date,
): AsyncGenerator<SourceUnit<BalanceRow>> =>
  format === 'csv'
    ? csvRowUnits(csvRecords(lines), checkBalanceHeader, (span) => unitOf(span, span.row, cutover))
    : ndjsonUnits(lines, (span, value) => unitOf({ ...span, row: value }, value, cutover));
