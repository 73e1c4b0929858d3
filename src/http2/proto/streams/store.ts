/**
 * The store of open streams (RFC 9113 §5.1: every stream not yet "closed"),
 * by id. Closed streams leave it at once; how they ended is remembered
 * briefly by state.ts.
 */
import type { Http2Stream } from './stream.js';

/**
 * Open streams by id: an open-addressing hash table (linear probing,
 * backward-shift deletion) over a preallocated id array and value array.
 *
 * Why not a Map: a long-lived Map that sees a set and a delete per request
 * keeps recently deleted streams reachable from its old-generation backing
 * store until it is rebuilt, so every young-generation GC copied them. Under
 * bursts from many client connections that made each scavenge 10–25 ms
 * instead of well under 1 ms, visible as a proxy p99 of several
 * milliseconds. Here a delete clears its slot, nothing is allocated in the
 * steady state, and a lookup is a multiply, a mask and a short probe.
 */
export class StreamTable {
  private ids: Int32Array;
  private values: (Http2Stream | undefined)[];
  private mask: number;
  size = 0;

  constructor(capacity = 64) {
    this.ids = new Int32Array(capacity);
    this.values = new Array<Http2Stream | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
  }

  private home(id: number): number {
    // Stream ids step by 2: a multiplicative hash spreads them over the table.
    return (Math.imul(id, 0x9e3779b1) >>> 0) & this.mask;
  }

  get(id: number): Http2Stream | undefined {
    const ids = this.ids;
    let i = this.home(id);
    for (;;) {
      const k = ids[i]!;
      if (k === id) return this.values[i];
      if (k === 0) return undefined;
      i = (i + 1) & this.mask;
    }
  }

  set(id: number, stream: Http2Stream): void {
    if ((this.size + 1) * 2 > this.ids.length) this.grow();
    const ids = this.ids;
    let i = this.home(id);
    while (ids[i] !== 0 && ids[i] !== id) i = (i + 1) & this.mask;
    if (ids[i] === 0) this.size++;
    ids[i] = id;
    this.values[i] = stream;
  }

  delete(id: number): boolean {
    const ids = this.ids;
    const values = this.values;
    const mask = this.mask;
    let i = this.home(id);
    while (ids[i] !== id) {
      if (ids[i] === 0) return false;
      i = (i + 1) & mask;
    }
    ids[i] = 0;
    values[i] = undefined;
    this.size--;
    // Backward-shift: move later entries of the probe run into the hole, so no tombstones are needed.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = ids[j]!;
      if (k === 0) return true;
      const h = this.home(k);
      // Entry j may move to i when its home is not in the cyclic range (i, j].
      const inRange = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!inRange) {
        ids[i] = k;
        values[i] = values[j];
        ids[j] = 0;
        values[j] = undefined;
        i = j;
      }
    }
  }

  /** The open streams, copied (for the rare paths that change many streams). */
  list(): Http2Stream[] {
    const out: Http2Stream[] = [];
    for (let i = 0; i < this.ids.length; i++) if (this.ids[i] !== 0) out.push(this.values[i]!);
    return out;
  }

  private grow(): void {
    const oldIds = this.ids;
    const oldValues = this.values;
    const capacity = oldIds.length * 2;
    this.ids = new Int32Array(capacity);
    this.values = new Array<Http2Stream | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
    this.size = 0;
    for (let i = 0; i < oldIds.length; i++) if (oldIds[i] !== 0) this.set(oldIds[i]!, oldValues[i]!);
  }
}
