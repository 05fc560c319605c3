import { LaurelError } from '../errors.js';
import type { RejectEntry, SourceUnit } from './import.types.js';
import type { LineSpan, PhysicalLine } from './line-reader.js';

/**
 * CSV records (RFC 4180: comma-separated, fields in double quotes may hold commas, quotes written
 * twice and line breaks) assembled from physical lines. A malformed record is reported with its
 * line and the reader carries on at the next line, so one stray quote costs one row, never the rest
 * of the file (issue #6: "imports every good row and names every bad one").
 */

export type CsvRecord =
  | { line: number; endLine: number; end: number; fields: string[] }
  | { line: number; endLine: number; end: number; error: string; raw: string };

/** A quoted field may span at most this many lines; past it the opening quote is taken as a mistake. */
export const MAX_RECORD_LINES = 100;

type Parsed =
  { kind: 'ok'; fields: string[]; used: number } | { kind: 'bad'; error: string; used: 1 } | { kind: 'open' };

/**
 * Parses one record from the start of `lines`: `ok` with the number of lines it used, `bad` when
 * the first line cannot start a record (it alone is dropped), or `open` when a quoted field runs
 * past the last line given.
 */
export function parseCsvRecord(lines: readonly string[]): Parsed {
  const first = lines[0]!;
  // Most rows of an export hold no quote at all.
  if (!first.includes('"')) return { kind: 'ok', fields: first.split(','), used: 1 };
  const fields: string[] = [];
  let field = '';
  let state: 'start' | 'plain' | 'quoted' | 'closed' = 'start';
  for (let li = 0; li < lines.length; li++) {
    const text = lines[li]!;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (state === 'quoted') {
        if (c === '"') state = 'closed';
        else field += c;
      } else if (state === 'closed') {
        if (c === '"') {
          field += '"';
          state = 'quoted';
        } else if (c === ',') {
          fields.push(field);
          field = '';
          state = 'start';
        } else if (li === 0) {
          return {
            kind: 'bad',
            error: `unexpected ${JSON.stringify(c)} after a closing quote (a quote inside a quoted field is written "")`,
            used: 1,
          };
        } else {
          // The quote that "closed" on a later line more likely opened by mistake on the first:
          // only the first line is rejected, and the next one is read as a row of its own.
          return { kind: 'bad', error: 'a quoted field is not closed', used: 1 };
        }
      } else if (c === ',') {
        fields.push(field);
        field = '';
        state = 'start';
      } else if (c === '"' && state === 'start') {
        state = 'quoted';
      } else {
        // A quote inside an unquoted field is kept as a character, as spreadsheets read it.
        field += c;
        state = 'plain';
      }
    }
    if (state !== 'quoted') {
      fields.push(field);
      return { kind: 'ok', fields, used: li + 1 };
    }
    field += '\n';
  }
  return { kind: 'open' };
}

/** Streams the CSV records of `lines`; empty lines are skipped. */
export async function* csvRecords(lines: AsyncIterable<PhysicalLine>): AsyncGenerator<CsvRecord> {
  // Lines read ahead for a quoted field that spans lines; at most MAX_RECORD_LINES.
  const pending: PhysicalLine[] = [];
  const source = lines[Symbol.asyncIterator]();
  let exhausted = false;

  const fill = async (n: number): Promise<boolean> => {
    while (pending.length < n && !exhausted) {
      const next = await source.next();
      if (next.done) exhausted = true;
      else pending.push(next.value);
    }
    return pending.length >= n;
  };

  while (await fill(1)) {
    const head = pending[0]!;
    if (head.text === null) {
      pending.shift();
      yield {
        line: head.line,
        endLine: head.line,
        end: head.end,
        error: head.problem === 'too_long' ? 'the line is longer than 1 MiB' : 'the line is not valid UTF-8',
        raw: '',
      };
      continue;
    }
    if (head.text === '') {
      pending.shift();
      continue;
    }
    let n = 1;
    for (;;) {
      const texts: string[] = [];
      for (let i = 0; i < n; i++) {
        const t = pending[i]!.text;
        if (t === null) break;
        texts.push(t);
      }
      const parsed = texts.length === n ? parseCsvRecord(texts) : ({ kind: 'open' } as const);
      if (parsed.kind !== 'open') {
        const used = pending.splice(0, parsed.used);
        const last = used[used.length - 1]!;
        const base = { line: head.line, endLine: last.line, end: last.end };
        yield parsed.kind === 'ok'
          ? { ...base, fields: parsed.fields }
          : { ...base, error: parsed.error, raw: used.map((l) => l.text).join('\n') };
        break;
      }
      // A quoted field still open: read on, unless the next line is unreadable, the file ends or the
      // field is implausibly long; then only the first line is rejected and parsing restarts after it.
      if (texts.length < n || n >= MAX_RECORD_LINES || !(await fill(n + 1))) {
        pending.shift();
        yield {
          line: head.line,
          endLine: head.line,
          end: head.end,
          error: 'a quoted field is not closed',
          raw: head.text,
        };
        break;
      }
      n++;
    }
  }
}

/** The unit of a CSV record that could not be read: one reject naming its lines, nothing to import. */
export function malformedCsvUnit(r: Extract<CsvRecord, { error: string }>): SourceUnit<never> {
  const reject: RejectEntry = { line: r.line, code: 'invalid_csv', reason: r.error, row: r.raw };
  if (r.endLine !== r.line) reject.end_line = r.endLine;
  return { line: r.line, endLine: r.endLine, end: r.end, row: r.raw, rejects: [reject] };
}

/**
 * The header of a CSV file, names trimmed and checked by `check` (which throws on a bad one); an
 * unreadable header stops the import, as no row can be read without it.
 */
export function csvHeader(r: CsvRecord, check: (header: string[]) => void): string[] {
  if ('error' in r) throw new LaurelError('validation', `the CSV header (line ${r.line}): ${r.error}`);
  const header = r.fields.map((h) => h.trim());
  check(header);
  return header;
}

/**
 * The units of a CSV file whose rows are objects named by the header: reads and checks the header,
 * turns an unreadable record or a row of another width into its reject, and hands every other row,
 * as `{name: field}`, to `unit`. An empty file is refused: it needs a header line.
 */
export async function* csvRowUnits<T>(
  records: AsyncIterable<CsvRecord>,
  check: (header: string[]) => void,
  unit: (span: LineSpan & { row: Record<string, string> }) => SourceUnit<T>,
): AsyncGenerator<SourceUnit<T>> {
  let header: string[] | undefined;
  for await (const r of records) {
    if (!header) {
      header = csvHeader(r, check);
      continue;
    }
    if ('error' in r) {
      yield malformedCsvUnit(r);
      continue;
    }
    const span = { line: r.line, endLine: r.endLine, end: r.end };
    if (r.fields.length !== header.length) {
      const reason = `the row has ${r.fields.length} fields, the header ${header.length}`;
      yield {
        ...span,
        row: r.fields,
        rejects: [{ line: r.line, code: 'invalid_csv', reason, row: r.fields }],
      };
      continue;
    }
    yield unit({ ...span, row: Object.fromEntries(header.map((h, i) => [h, r.fields[i]!])) });
  }
  if (!header) throw new LaurelError('validation', 'the CSV file is empty: it needs a header line');
}
