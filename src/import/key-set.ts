import { createHash } from 'node:crypto';

/**
 * The keys seen earlier in a file, to name duplicates inside it (issue #6): a 64-bit fingerprint
 * and the line it was first seen on, 12 bytes a slot in an open-addressed table of typed arrays
 * kept at most three quarters full. A million keys take 16 to 32 MiB instead of the hundreds a Set
 * of strings would; this table is the only part of an import's memory that grows with the file.
 * Two different keys share a fingerprint with a chance of about n²/2⁶⁵ (one in 37 million for a
 * million keys); the later one would then be reported as a duplicate.
 */
export class KeySet {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private lines: Uint32Array;
  private count = 0;

  constructor(capacity = 1 << 16) {
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.lines = new Uint32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** The line `key` was added with, or undefined when it has not been. */
  lineOf(key: string): number | undefined {
    const i = this.slot(fingerprint(key));
    return this.hi[i] === 0 ? undefined : this.lines[i];
  }

  /** Adds `key`, first seen on `line`; a key already in keeps its first line. */
  add(key: string, line: number): void {
    const f = fingerprint(key);
    const i = this.slot(f);
    if (this.hi[i] !== 0) return;
    this.hi[i] = f.hi;
    this.lo[i] = f.lo;
    this.lines[i] = line;
    if (++this.count * 4 > this.hi.length * 3) this.grow();
  }

  /** The slot holding `f`, or the empty slot where it would go. */
  private slot(f: { hi: number; lo: number }): number {
    const mask = this.hi.length - 1;
    let i = f.lo & mask;
    while (this.hi[i] !== 0 && (this.hi[i] !== f.hi || this.lo[i] !== f.lo)) i = (i + 1) & mask;
    return i;
  }

  private grow(): void {
    const { hi, lo, lines } = this;
    const capacity = hi.length * 2;
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.lines = new Uint32Array(capacity);
    const mask = capacity - 1;
    for (let j = 0; j < hi.length; j++) {
      if (hi[j] === 0) continue;
      let i = lo[j]! & mask;
      while (this.hi[i] !== 0) i = (i + 1) & mask;
      this.hi[i] = hi[j]!;
      this.lo[i] = lo[j]!;
      this.lines[i] = lines[j]!;
    }
  }
}

function fingerprint(key: string): { hi: number; lo: number } {
  const digest = createHash('sha256').update(key).digest();
  // Zero marks an empty slot, so no fingerprint starts with zero.
  return { hi: digest.readUInt32LE(0) || 1, lo: digest.readUInt32LE(4) };
}
