import { isConnectionError } from './database.js';

/**
 * Reads asked for in the same turn of the event loop, gathered by group and read with one
 * statement per group (issue #16): an import prepares its rows in flight together, and each read
 * alone would cost a round trip per row. A group's statement that fails on one item's values (a
 * NUL in a key, say) is tried again item by item, so that item fails alone; a lost connection
 * fails them all.
 */
export class TurnReads<G, I, R> {
  private waiting = new Map<string, { group: G; reads: Waiting<I, R>[] }>();
  private scheduled = false;

  constructor(
    /** One answer per item, in order, read in one statement for the group. */
    private readonly readGroup: (group: G, items: I[]) => Promise<R[]>,
    /** Most items in one statement; a fuller group is read at once. */
    private readonly maxSize = 500,
  ) {}

  /**
   * Reads `item` with the other items of group `key`: `open` makes the group when it is the first,
   * `join` lets a later read amend it (the latest instant of the group's reads, say).
   */
  read(key: string, open: () => G, join: (group: G) => void, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let waiting = this.waiting.get(key);
      if (!waiting) {
        waiting = { group: open(), reads: [] };
        this.waiting.set(key, waiting);
      } else join(waiting.group);
      waiting.reads.push({ item, resolve, reject });
      if (waiting.reads.length >= this.maxSize) {
        this.waiting.delete(key);
        this.run(waiting.group, waiting.reads);
      } else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          const all = [...this.waiting.values()];
          this.waiting.clear();
          for (const w of all) this.run(w.group, w.reads);
        });
      }
    });
  }

  private run(group: G, reads: Waiting<I, R>[]): void {
    this.readGroup(
      group,
      reads.map((r) => r.item),
    ).then(
      (answers) => reads.forEach((r, i) => r.resolve(answers[i]!)),
      (err: unknown) => {
        if (reads.length > 1 && !isConnectionError(err)) for (const r of reads) this.run(group, [r]);
        else reads.forEach((r) => r.reject(err));
      },
    );
  }
}

interface Waiting<I, R> {
  item: I;
  resolve(answer: R): void;
  reject(err: unknown): void;
}
