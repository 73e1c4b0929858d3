/**
 * HPACK dynamic table (RFC 7541 §2.3.2, §4) stored as a ring buffer.
 *
 * Every inserted entry gets an absolute id (insertion counter). The entry with
 * id `a` lives in slot `a & mask`; the newest entry has id `inserted - 1` and
 * HPACK relative index 1. Insert and evict are O(1); capacity doubles when the
 * ring is full (bounded by maxSize / 32 entries).
 *
 * Sizes follow RFC 7541 §4.1: name.length + value.length + 32, with strings
 * treated as latin1 (one char per octet).
 */

/** Per-name lookup bucket used by the encoder side. */
export interface NameBucket {
  /** Id of the newest entry carrying this name. */
  id: number;
  /** value -> id of the newest entry with this exact (name, value). */
  values: Map<string, number>;
}

export const ENTRY_OVERHEAD = 32;

export class DynamicTable {
  names: string[];
  values: string[];
  /**
   * Per slot, 1 when the entry's name and value pass the field character
   * rules (decoder side, field-syntax.ts): a later reference to the entry
   * then needs no scan. The encoder leaves it 0.
   */
  clean: Uint8Array;
  /** Total number of entries ever inserted (next id). */
  inserted = 0;
  /** Number of live entries. */
  count = 0;
  /** Sum of entry sizes of live entries. */
  size = 0;
  /** Current maximum size (set via dynamic table size updates). */
  maxSize: number;
  private mask: number;
  /** Encoder-side index: name -> bucket. Null when lookups are not needed. */
  readonly byName: Map<string, NameBucket> | null;

  constructor(maxSize: number, indexed = false) {
    this.maxSize = maxSize;
    const cap = 16;
    this.names = new Array<string>(cap).fill('');
    this.values = new Array<string>(cap).fill('');
    this.clean = new Uint8Array(cap);
    this.mask = cap - 1;
    this.byName = indexed ? new Map() : null;
  }

  /** Name of the entry with HPACK relative index `rel` (1 = newest). Caller checks range. */
  nameAt(rel: number): string {
    return this.names[(this.inserted - rel) & this.mask]!;
  }

  /** Value of the entry with HPACK relative index `rel` (1 = newest). Caller checks range. */
  valueAt(rel: number): string {
    return this.values[(this.inserted - rel) & this.mask]!;
  }

  /** Whether the entry with relative index `rel` was marked clean when added. Caller checks range. */
  cleanAt(rel: number): boolean {
    return this.clean[(this.inserted - rel) & this.mask] === 1;
  }

  /** Relative index (1 = newest) for an absolute id, or 0 if evicted. */
  relativeIndex(id: number): number {
    return id >= this.inserted - this.count ? this.inserted - id : 0;
  }

  /**
   * Insert an entry (RFC 7541 §4.4): evicts from the oldest end until the new
   * entry fits. An entry larger than maxSize empties the table and is not added.
   */
  add(name: string, value: string, clean = false): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.maxSize) {
      this.evictTo(0);
      return;
    }
    this.evictTo(this.maxSize - entrySize);
    if (this.count > this.mask) this.grow();
    const id = this.inserted++;
    const slot = id & this.mask;
    this.names[slot] = name;
    this.values[slot] = value;
    this.clean[slot] = clean ? 1 : 0;
    this.count++;
    this.size += entrySize;
    const byName = this.byName;
    if (byName !== null) {
      let bucket = byName.get(name);
      if (bucket === undefined) {
        bucket = { id, values: new Map() };
        byName.set(name, bucket);
      } else {
        bucket.id = id;
      }
      bucket.values.set(value, id);
    }
  }

  /** Apply a new maximum size, evicting as needed (RFC 7541 §4.3). */
  setMaxSize(maxSize: number): void {
    this.maxSize = maxSize;
    this.evictTo(maxSize);
  }

  /** Evict oldest entries until size <= target. */
  private evictTo(target: number): void {
    const byName = this.byName;
    while (this.size > target) {
      const id = this.inserted - this.count;
      const slot = id & this.mask;
      const name = this.names[slot]!;
      const value = this.values[slot]!;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
      this.names[slot] = '';
      this.values[slot] = '';
      this.count--;
      if (byName !== null) {
        const bucket = byName.get(name);
        if (bucket !== undefined) {
          if (bucket.id === id) {
            // The newest entry with this name is also the oldest: none remain.
            byName.delete(name);
          } else if (bucket.values.get(value) === id) {
            bucket.values.delete(value);
          }
        }
      }
    }
  }

  private grow(): void {
    const oldCap = this.mask + 1;
    const newCap = oldCap * 2;
    const names = new Array<string>(newCap).fill('');
    const values = new Array<string>(newCap).fill('');
    const clean = new Uint8Array(newCap);
    const newMask = newCap - 1;
    for (let id = this.inserted - this.count; id < this.inserted; id++) {
      names[id & newMask] = this.names[id & this.mask]!;
      values[id & newMask] = this.values[id & this.mask]!;
      clean[id & newMask] = this.clean[id & this.mask]!;
    }
    this.names = names;
    this.values = values;
    this.clean = clean;
    this.mask = newMask;
  }
}
