import { readFileSync } from 'node:fs';
import type { Database } from '../../src/db/database.js';
import type { ImportSummary } from '../../src/import/import.service.js';

/** An import's rejects file as `[line, code, reason]`, in the file's order; none when it wrote no file. */
export function rejectsOf(s: ImportSummary): [number, string, string][] {
  if (!s.rejects_path) return [];
  return readFileSync(s.rejects_path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { line: number; code: string; reason: string })
    .map((r) => [r.line, r.code, r.reason]);
}

/**
 * `db` with `intercept` asked first about each statement run inside a transaction, as a database
 * under a concurrent writer would answer it: it may throw (a serialization failure, a unique key
 * taken meanwhile), answer rows in the statement's place, or answer undefined to let it run.
 */
export function interceptedInTransactions(
  db: Database,
  intercept: (sql: string, params: readonly unknown[] | undefined) => unknown[] | undefined,
): Database {
  return {
    kind: db.kind,
    query: (sql, params) => db.query(sql, params),
    exec: (sql) => db.exec(sql),
    close: () => db.close(),
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          inTransaction: true,
          exec: (sql) => tx.exec(sql),
          query: async <R>(sql: string, params?: readonly unknown[]) =>
            (intercept(sql, params) as R[] | undefined) ?? tx.query<R>(sql, params),
        }),
      ),
  };
}
