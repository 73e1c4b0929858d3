import type { Balanceable, LoadBalancer } from './types.js';
import { hashString } from './hash.js';
import { eligible } from './util.js';
import { explainHash, type PickDecision } from './decision.js';

export interface RingHashOptions {
  /** Minimum ring entries in total; the actual size lies between ringSize and 2 × ringSize (each endpoint gets ≥ 1). Default 4096, at most 8,388,608. */
  ringSize?: number;
  /** Policy used for requests without a hash key. */
  fallback: LoadBalancer<Balanceable>;
}

export const DEFAULT_RING_SIZE = 4096;
export const MAX_RING_SIZE = 8_388_608;

/**
 * Consistent hashing on a Ketama-style ring: each endpoint owns
 * max(1, round(scale × weight)) points at hash(id + "_" + j), where scale is
 * the smallest power of two with scale × totalWeight ≥ ringSize;
 * a key goes to the owner of the first point at or after hash(key), found by
 * binary search. Removing an endpoint remaps only the keys it owned.
 * Requests without a key go to the fallback policy.
 */
export class RingHashBalancer<E extends Balanceable = Balanceable> implements LoadBalancer<E> {
  readonly name = 'ring-hash';
  private endpoints: E[] = [];
  private points = new Uint32Array(0);
  private owners = new Int32Array(0);
  private readonly ringSize: number;
  private readonly fallback: LoadBalancer<E>;

  constructor(options: RingHashOptions) {
    const size = options.ringSize ?? DEFAULT_RING_SIZE;
    if (!Number.isInteger(size) || size < 1 || size > MAX_RING_SIZE) throw new RangeError(`ringSize must be an integer in 1..${MAX_RING_SIZE}`);
    this.ringSize = size;
    this.fallback = options.fallback as LoadBalancer<E>;
  }

  update(endpoints: readonly E[]): void {
    this.fallback.update(endpoints);
    const list = eligible(endpoints);
    const n = list.length;
    this.endpoints = list;
    let total = 0;
    for (const e of list) total += e.weight;
    // Points per unit of weight, rounded up to a power of two: small changes in
    // the total weight (an endpoint leaving) keep everyone else's points as they were.
    let scale = n > 0 ? Math.pow(2, Math.ceil(Math.log2(this.ringSize / total))) : 1;
    const counts = new Int32Array(n);
    let entries = 0;
    for (;;) {
      entries = 0;
      for (let i = 0; i < n; i++) {
        const c = Math.max(1, Math.round(scale * list[i]!.weight));
        counts[i] = c;
        entries += c;
      }
      if (entries <= MAX_RING_SIZE || scale < 1e-9) break;
      scale /= 2;
    }
    const hashes = new Uint32Array(entries);
    const owner = new Int32Array(entries);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const id = list[i]!.id;
      for (let j = 0; j < counts[i]!; j++) {
        hashes[k] = hashString(`${id}_${j}`);
        owner[k] = i;
        k++;
      }
    }
    // Sort entries by (hash, id) so the ring does not depend on endpoint order.
    const order = new Int32Array(entries);
    for (let i = 0; i < entries; i++) order[i] = i;
    order.sort((a, b) => {
      const d = hashes[a]! - hashes[b]!;
      if (d !== 0) return d;
      const ia = list[owner[a]!]!.id;
      const ib = list[owner[b]!]!.id;
      return ia < ib ? -1 : ia > ib ? 1 : a - b;
    });
    this.points = new Uint32Array(entries);
    this.owners = new Int32Array(entries);
    for (let i = 0; i < entries; i++) {
      this.points[i] = hashes[order[i]!]!;
      this.owners[i] = owner[order[i]!]!;
    }
  }

  pick(hashKey?: string, explain?: PickDecision): E | undefined {
    if (hashKey === undefined) return this.fallback.pick(undefined, explain);
    const points = this.points;
    const m = points.length;
    if (m === 0) return undefined;
    const h = hashString(hashKey);
    let lo = 0;
    let hi = m;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    const e = this.endpoints[this.owners[lo === m ? 0 : lo]!]!;
    if (explain !== undefined) explainHash(explain, this.name, hashKey, e);
    return e;
  }
}
