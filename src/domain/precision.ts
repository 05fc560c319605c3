import type { AccountRole, ProgramDocument } from './program.js';

/**
 * Decimal precision of point accounts (issue #14 item 3; docs/decisions/0010-account-precision.md),
 * pure. An account of precision 2 holds hundredths of a point: the ledger stores integer minor
 * units (points × 10^precision, DESIGN §3 "integer minor units of points end to end"), and the wire
 * reads and writes major units (12.5). Precision 0, every program's default, changes nothing.
 * No float arithmetic reaches the ledger: amounts are parsed from their decimal text and scaled by
 * integers; major units are made from the minor integer's digits.
 */

export type Precision = 0 | 2;

/** The precisions a program may declare. */
export const PRECISIONS: readonly Precision[] = [0, 2];

/** Minor units per point: 1 or 100. */
export const scaleOf = (precision: Precision): number => (precision === 2 ? 100 : 1);

/**
 * The precision of the account with `role`. An escrow account always has its settled account's
 * precision (its lots roll over into it unchanged), which `normalizeProgram` enforces.
 */
export function precisionOf(program: ProgramDocument, role: AccountRole | string): Precision {
  const account = program.point_accounts.find((a) => a.role === role);
  return account?.precision === 2 ? 2 : 0;
}

/** Minor units of a whole number of points (a rule's amount: earning, campaigns, behaviours, imports). */
export const toMinor = (points: number, precision: Precision): number => points * scaleOf(precision);

/**
 * An amount's decimal text, as the JSON number was written at its shortest (`String` of a double is
 * the shortest text that reads back as it: 12.5, 0.1, 1e-7).
 */
const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

export type ParsedAmount = { minor: number } | { error: string };

/**
 * A positive wire amount in major units as minor units of an account of `precision`, exactly: 12.5
 * on precision 2 is 1250. Refused with a reason when it has more decimals than the account holds
 * (12.345 on 2, 12.5 on 0), is written in exponent notation, or is not a finite positive number.
 */
export function parseAmount(amount: number, precision: Precision): ParsedAmount {
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0) {
    return { error: `must be a positive number, not ${String(amount)}` };
  }
  const m = DECIMAL.exec(String(amount));
  const decimals = m ? (m[2] ?? '').replace(/0+$/, '') : undefined;
  if (!m || decimals === undefined || decimals.length > precision) {
    return {
      error:
        precision === 0
          ? `${String(amount)} is not a whole number of points: this account holds whole points`
          : `${String(amount)} has more than ${precision} decimals: this account holds hundredths of a point`,
    };
  }
  const digits = BigInt(m[1]! + decimals.padEnd(precision, '0'));
  if (digits > BigInt(Number.MAX_SAFE_INTEGER)) return { error: `${String(amount)} is too large` };
  return { minor: Number(digits) };
}

/** Minor units as the decimal text of major units: 1250 on precision 2 is "12.5", -5 is "-0.05". */
export const formatMajor = (minor: number, precision: Precision): string =>
  precision === 0 ? String(minor) : formatBig(BigInt(minor), precision);

/**
 * Minor units as a JSON number of major units: 1250 on precision 2 is 12.5, exactly the decimal
 * (every amount within `MAX_LEDGER_AMOUNT` has at most 15 significant digits, so the double read
 * from its text prints back as that text). Precision 0 answers the integer itself.
 */
export const toMajor = (minor: number, precision: Precision): number =>
  precision === 0 ? minor : Number(formatMajor(minor, precision));

/** Major units of an account of the program (the role's precision), for answers. */
export const majorOf = (program: ProgramDocument, role: AccountRole | string, minor: number): number =>
  toMajor(minor, precisionOf(program, role));

/**
 * The exact sum, in major units, of amounts of accounts with different precisions (`total_points`
 * over every account): summed as integers at the finest precision, then made major once.
 */
export function sumMajor(parts: readonly { minor: number; precision: Precision }[]): number {
  const finest = parts.reduce<Precision>((p, x) => (x.precision > p ? x.precision : p), 0);
  if (finest === 0) return parts.reduce((n, x) => n + x.minor, 0);
  const total = parts.reduce(
    (n, x) => n + BigInt(x.minor) * BigInt(scaleOf(finest) / scaleOf(x.precision)),
    0n,
  );
  return Number(formatBig(total, finest));
}

function formatBig(minor: bigint, precision: Precision): string {
  const sign = minor < 0n ? '-' : '';
  const digits = (minor < 0n ? -minor : minor).toString().padStart(precision + 1, '0');
  const whole = digits.slice(0, digits.length - precision);
  const fraction = digits.slice(digits.length - precision).replace(/0+$/, '');
  return `${sign}${whole}${fraction ? `.${fraction}` : ''}`;
}
