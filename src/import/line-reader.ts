import { createReadStream } from 'node:fs';
import type { RejectEntry, SourceUnit } from './import.types.js';

/**
 * The physical lines of a file, read as a stream (issue #6: memory stays flat at any size). The
 * reader pulls the next chunk only when the consumer asks for the next line, so a slow consumer
 * holds the file back instead of buffering it.
 */

/** One line of the file, without its line break (`\n` or `\r\n`). */
export interface PhysicalLine {
  /** 1-based line number. */
  line: number;
  /** Byte offset just past this line's line break: where the next line starts. */
  end: number;
  /** The text, or null when the line could not be read (see `problem`). */
  text: string | null;
  problem?: 'too_long' | 'not_utf8';
}

/** Lines longer than this are reported, not kept: the API's own body limit (1 MiB). */
export const MAX_LINE_BYTES = 1024 * 1024;

const NEWLINE = 0x0a;
const decoder = new TextDecoder('utf-8', { fatal: true });

function decode(bytes: Buffer, first: boolean): string | null {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return null;
  }
  if (text.endsWith('\r')) text = text.slice(0, -1);
  // A byte-order mark is not data (spreadsheets write one).
  if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text;
}

/** Streams the lines of `path` from byte 0, with their numbers and end offsets. */
export async function* readLines(
  path: string,
  opts: { maxLineBytes?: number; highWaterMark?: number } = {},
): AsyncGenerator<PhysicalLine> {
  const max = opts.maxLineBytes ?? MAX_LINE_BYTES;
  const stream = createReadStream(path, { highWaterMark: opts.highWaterMark ?? 256 * 1024 });
  let parts: Buffer[] = [];
  let partBytes = 0;
  let tooLong = false;
  let offset = 0; // bytes of the file before the current chunk
  let line = 0;

  const finish = (tail: Buffer, end: number): PhysicalLine => {
    line++;
    if (tooLong || partBytes + tail.length > max) {
      parts = [];
      partBytes = 0;
      tooLong = false;
      return { line, end, text: null, problem: 'too_long' };
    }
    const bytes = parts.length ? Buffer.concat([...parts, tail]) : tail;
    parts = [];
    partBytes = 0;
    const text = decode(bytes, line === 1);
    return text === null ? { line, end, text: null, problem: 'not_utf8' } : { line, end, text };
  };

  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(NEWLINE, from); nl !== -1; nl = chunk.indexOf(NEWLINE, from)) {
      yield finish(chunk.subarray(from, nl), offset + nl + 1);
      from = nl + 1;
    }
    if (from < chunk.length) {
      const rest = chunk.subarray(from);
      if (tooLong || partBytes + rest.length > max) {
        // Keep nothing of a line that is already too long: memory stays bounded on any input.
        tooLong = true;
        parts = [];
      } else {
        // Copied: the stream may reuse the chunk's memory.
        parts.push(Buffer.from(rest));
      }
      partBytes += rest.length;
    }
    offset += chunk.length;
  }
  if (partBytes > 0 || tooLong) yield finish(Buffer.alloc(0), offset);
}

/** One NDJSON line: its value, a reject, or undefined for a blank line. */
function parseJsonLine(l: PhysicalLine): { value: unknown } | { reject: RejectEntry } | undefined {
  if (l.text === null) {
    const reason = l.problem === 'too_long' ? 'the line is longer than 1 MiB' : 'the line is not valid UTF-8';
    return { reject: { line: l.line, code: 'invalid_json', reason, row: null } };
  }
  if (l.text.trim() === '') return undefined;
  try {
    return { value: JSON.parse(l.text) as unknown };
  } catch (err) {
    return {
      reject: {
        line: l.line,
        code: 'invalid_json',
        reason: `the line is not valid JSON: ${(err as Error).message}`,
        row: l.text,
      },
    };
  }
}

/** Where an NDJSON line sits in the file, for the unit made of it. */
export interface LineSpan {
  line: number;
  endLine: number;
  end: number;
}

/**
 * The units of an NDJSON file: each non-blank line parsed and made a unit by `unit`; a line that
 * cannot be read or parsed is a unit holding only its reject.
 */
export async function* ndjsonUnits<T>(
  lines: AsyncIterable<PhysicalLine>,
  unit: (span: LineSpan, value: unknown) => SourceUnit<T>,
): AsyncGenerator<SourceUnit<T>> {
  for await (const l of lines) {
    const span = { line: l.line, endLine: l.line, end: l.end };
    const parsed = parseJsonLine(l);
    if (parsed === undefined) continue;
    if ('reject' in parsed) yield { ...span, row: parsed.reject.row, rejects: [parsed.reject] };
    else yield unit(span, parsed.value);
  }
}
