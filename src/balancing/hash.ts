/**
 * MurmurHash3 (x86, 32-bit) over the UTF-16 code units of a string, two code
 * units per 32-bit block. Allocation-free; good avalanche, so consecutive keys
 * ("user-1", "user-2", …) spread evenly. Not byte-compatible with other
 * proxies' hashes: consistent hashing is consistent within Switchyard only.
 */
export function hashString(key: string, seed = 0): number {
  let h = seed | 0;
  const len = key.length;
  let i = 0;
  for (; i + 1 < len; i += 2) {
    let k = key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < len) {
    let k = key.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= len * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
