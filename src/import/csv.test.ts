import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { csvRecords, parseCsvRecord, type CsvRecord } from './csv.js';
import { readLines } from './line-reader.js';

const dir = mkdtempSync(join(tmpdir(), 'laurel-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function records(content: string | Buffer, maxLineBytes?: number): Promise<CsvRecord[]> {
  const path = join(dir, `f${n++}.csv`);
  writeFileSync(path, content);
  const out: CsvRecord[] = [];
  for await (const r of csvRecords(
    readLines(path, { highWaterMark: 7, ...(maxLineBytes ? { maxLineBytes } : {}) }),
  ))
    out.push(r);
  return out;
}

describe('parseCsvRecord', () => {
  it('splits plain fields and keeps empty ones', () => {
    expect(parseCsvRecord(['a,,c,'])).toEqual({ kind: 'ok', fields: ['a', '', 'c', ''], used: 1 });
  });

  it('reads quoted fields with commas, doubled quotes and line breaks', () => {
    expect(parseCsvRecord(['"a,b","say ""hi""",c'])).toEqual({
      kind: 'ok',
      fields: ['a,b', 'say "hi"', 'c'],
      used: 1,
    });
    expect(parseCsvRecord(['1,"two', 'lines",3'])).toEqual({
      kind: 'ok',
      fields: ['1', 'two\nlines', '3'],
      used: 2,
    });
    expect(parseCsvRecord(['1,"open'])).toEqual({ kind: 'open' });
  });

  it('keeps a quote inside an unquoted field and refuses text after a closing quote', () => {
    expect(parseCsvRecord(['5" screen,x'])).toEqual({ kind: 'ok', fields: ['5" screen', 'x'], used: 1 });
    expect(parseCsvRecord(['"a"b,c'])).toMatchObject({ kind: 'bad', used: 1 });
  });
});

describe('csvRecords', () => {
  it('numbers records by their first line, skips empty lines and reads CRLF and a BOM', async () => {
    const rs = await records('\uFEFFh1,h2\r\n\r\na,"b\r\nc"\r\nd,e\r\n');
    expect(rs).toEqual([
      { line: 1, endLine: 1, end: 10, fields: ['h1', 'h2'] },
      { line: 3, endLine: 4, end: 22, fields: ['a', 'b\nc'] },
      { line: 5, endLine: 5, end: 27, fields: ['d', 'e'] },
    ]);
  });

  it('rejects only the line of a stray quote and reads on at the next line', async () => {
    const rs = await records('h\n1,"unclosed\n2,ok\n3,"bad"x\n4,ok\n5,"never closed');
    expect(rs.map((r) => ('error' in r ? `${r.line}!` : `${r.line}:${r.fields.join('|')}`))).toEqual([
      '1:h',
      '2!',
      '3:2|ok',
      '4!',
      '5:4|ok',
      '6!',
    ]);
    const bad = rs.filter((r) => 'error' in r) as Extract<CsvRecord, { error: string }>[];
    expect(bad.map((r) => r.error)).toEqual([
      'a quoted field is not closed',
      expect.stringContaining('after a closing quote'),
      'a quoted field is not closed',
    ]);
    expect(bad[0]!.raw).toBe('1,"unclosed');
  });

  it('names a line that is too long or not UTF-8 and keeps going', async () => {
    const rs = await records(
      Buffer.concat([
        Buffer.from('h\n'),
        Buffer.from('x'.repeat(50)),
        Buffer.from('\n'),
        Buffer.from([0xff, 0x0a]),
        Buffer.from('ok'),
      ]),
      20,
    );
    expect(rs).toEqual([
      { line: 1, endLine: 1, end: 2, fields: ['h'] },
      { line: 2, endLine: 2, end: 53, error: 'the line is longer than 1 MiB', raw: '' },
      { line: 3, endLine: 3, end: 55, error: 'the line is not valid UTF-8', raw: '' },
      { line: 4, endLine: 4, end: 57, fields: ['ok'] },
    ]);
  });
});
