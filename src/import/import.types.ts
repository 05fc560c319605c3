/** Shapes shared by the bulk import's readers and its runner (issue #6 item 4). */

export type ImportKind = 'customers' | 'transactions' | 'balances';
export type ImportFormat = 'csv' | 'ndjson';

/**
 * Codes of rejected rows that no API request can produce: the rest are the API's own error codes
 * (docs/errors.md), as the same row sent as a request would have been answered.
 */
export type ImportRejectCode = 'invalid_csv' | 'duplicate_row' | 'before_cutover';

/** One line of the rejects file. */
export interface RejectEntry {
  /** The row's first line in the file (1-based; the CSV header is line 1). */
  line: number;
  /** Its last line, when it spans several (a CSV transaction of several item lines). */
  end_line?: number;
  reason: string;
  code: string;
  /** The row as read: an object of the CSV's columns, the JSON value, or the raw text when unreadable. */
  row: unknown;
}

/** A key that may appear once in a file, with the words that name it in a duplicate's reason. */
export interface RowKey {
  key: string;
  label: string;
}

/**
 * What a reader makes of one row (or, for CSV transactions, one transaction of several rows):
 * a value to apply, or the problems that keep it out, found without the database.
 */
export interface SourceUnit<T> {
  line: number;
  endLine: number;
  /** Byte offset just past the unit. */
  end: number;
  row: unknown;
  value?: T;
  /** Keys that make a later row a duplicate of this one. */
  keys?: RowKey[];
  /** Keys that rows for the same customer or transaction share: those run in file order. */
  serial?: string[];
  rejects?: RejectEntry[];
}

/** What applying a row did. */
export type Outcome =
  | { status: 'imported'; notAwarded?: string | null; edit?: boolean }
  | { status: 'present' }
  | { status: 'rejected'; code: string; reason: string };
