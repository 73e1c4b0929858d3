/** HPACK static table (RFC 7541 Appendix A). Index 1..61; slot 0 is unused. */

export const STATIC_TABLE_LENGTH = 61;

// prettier-ignore
const ENTRIES: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** STATIC_NAMES[i] / STATIC_VALUES[i] for i in 1..61 (index 0 is an empty placeholder). */
export const STATIC_NAMES: readonly string[] = ['', ...ENTRIES.map((e) => e[0])];
export const STATIC_VALUES: readonly string[] = ['', ...ENTRIES.map((e) => e[1])];

/** name -> lowest static index carrying that name. */
export const STATIC_NAME_INDEX: ReadonlyMap<string, number> = new Map();
/** "name\0value" -> static index of the exact entry. */
export const STATIC_PAIR_INDEX: ReadonlyMap<string, number> = new Map();
/**
 * name -> (value -> index) for every static entry. Lets the encoder test for an
 * exact match without building a concatenated key.
 */
export const STATIC_VALUE_INDEX: ReadonlyMap<string, ReadonlyMap<string, number>> = new Map();

{
  const names = STATIC_NAME_INDEX as Map<string, number>;
  const pairs = STATIC_PAIR_INDEX as Map<string, number>;
  const values = STATIC_VALUE_INDEX as Map<string, Map<string, number>>;
  for (let i = 1; i <= STATIC_TABLE_LENGTH; i++) {
    const name = STATIC_NAMES[i]!;
    const value = STATIC_VALUES[i]!;
    if (!names.has(name)) names.set(name, i);
    const key = name + '\0' + value;
    if (!pairs.has(key)) pairs.set(key, i);
    let byValue = values.get(name);
    if (byValue === undefined) {
      byValue = new Map();
      values.set(name, byValue);
    }
    if (!byValue.has(value)) byValue.set(value, i);
  }
}

/** Static index of the exact (name, value) entry, or 0. */
export function staticPairIndex(name: string, value: string): number {
  const byValue = STATIC_VALUE_INDEX.get(name);
  if (byValue === undefined) return 0;
  return byValue.get(value) ?? 0;
}
