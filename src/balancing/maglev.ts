import type { Balanceable, LoadBalancer } from './types.js';
import { hashString } from './hash.js';
import { eligible } from './util.js';
import { explainHash, type PickDecision } from './decision.js';

export interface MaglevOptions {
  /** Lookup table size; must be prime. Default 65537. */
  tableSize?: number;
  /** Policy used for requests without a hash key. */
  fallback: LoadBalancer<Balanceable>;
}

export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;
const OFFSET_SEED = 0x2f1a8b33;
const SKIP_SEED = 0x6c3e95d1;

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016). Each endpoint has a
 * preference permutation of the M table slots, slot_j = (offset + j × skip) mod M
 * with offset and skip derived from two hashes of its id. The table is filled in
 * rounds; in each round an endpoint claims its next free preferred slot as many
 * times as its accumulated weight credit allows (credit += weight / maxWeight),
 * so table shares follow the weights. Lookup is table[hash(key) mod M]: O(1).
 * Requests without a key go to the fallback policy.
 */
export class MaglevBalancer<E extends Balanceable = Balanceable> implements LoadBalancer<E> {
  readonly name = 'maglev';
  private endpoints: E[] = [];
  private table = new Int32Array(0);
  private readonly size: number;
  private readonly fallback: LoadBalancer<E>;

  constructor(options: MaglevOptions) {
    const size = options.tableSize ?? DEFAULT_MAGLEV_TABLE_SIZE;
    if (!isPrime(size)) throw new RangeError('tableSize must be a prime number');
    this.size = size;
    this.fallback = options.fallback as LoadBalancer<E>;
  }

  update(endpoints: readonly E[]): void {
    this.fallback.update(endpoints);
    // Sort by id so the table does not depend on the order endpoints arrive in.
    const list = eligible(endpoints).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const n = list.length;
    this.endpoints = list;
    const m = this.size;
    const table = new Int32Array(m).fill(-1);
    this.table = table;
    if (n === 0) return;
    if (n > m) throw new RangeError(`maglev tableSize ${m} is smaller than the number of endpoints (${n})`);
    const offset = new Float64Array(n);
    const skip = new Float64Array(n);
    const next = new Float64Array(n);
    const credit = new Float64Array(n);
    const weight = new Float64Array(n);
    let maxW = 0;
    for (let i = 0; i < n; i++) {
      const e = list[i]!;
      offset[i] = hashString(e.id, OFFSET_SEED) % m;
      skip[i] = (hashString(e.id, SKIP_SEED) % (m - 1)) + 1;
      weight[i] = e.weight;
      if (e.weight > maxW) maxW = e.weight;
    }
    let filled = 0;
    while (filled < m) {
      for (let i = 0; i < n && filled < m; i++) {
        credit[i] = credit[i]! + weight[i]! / maxW;
        while (credit[i]! >= 1 && filled < m) {
          credit[i] = credit[i]! - 1;
          let c = (offset[i]! + next[i]! * skip[i]!) % m;
          while (table[c] !== -1) {
            next[i] = next[i]! + 1;
            c = (offset[i]! + next[i]! * skip[i]!) % m;
          }
          table[c] = i;
          next[i] = next[i]! + 1;
          filled++;
        }
      }
    }
  }

  pick(hashKey?: string, explain?: PickDecision): E | undefined {
    if (hashKey === undefined) return this.fallback.pick(undefined, explain);
    if (this.endpoints.length === 0) return undefined;
    const e = this.endpoints[this.table[hashString(hashKey) % this.size]!]!;
    if (explain !== undefined) explainHash(explain, this.name, hashKey, e);
    return e;
  }

  /** Number of table slots owned by each endpoint (by position in the id-sorted list). For tests and diagnostics. */
  tableShares(): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.endpoints) out.set(e.id, 0);
    for (let i = 0; i < this.table.length; i++) {
      const id = this.endpoints[this.table[i]!]!.id;
      out.set(id, out.get(id)! + 1);
    }
    return out;
  }
}
