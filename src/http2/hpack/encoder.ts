/**
 * HPACK header block encoder (RFC 7541 §3, §6).
 *
 * Policy:
 *  - exact static or dynamic match -> indexed field;
 *  - sensitive fields (authorization, proxy-authorization, set-cookie, short
 *    cookies) -> never-indexed literal (§6.2.3, §7.1.3);
 *  - per-request values that would only churn the table (content-length, date,
 *    trace ids, long :path values, ...) and entries larger than 3/4 of the
 *    table -> literal without indexing (a per-request name found in no table
 *    is indexed once, so that later messages can refer to the name);
 *  - everything else -> literal with incremental indexing, reusing a static or
 *    dynamic name index when available;
 *  - string literals are Huffman-coded only when that is strictly shorter.
 */
import { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table.js';
import { FieldMemo, MEMO_SLOT_BYTES, MEMO_SLOTS } from './field-memo.js';
import { huffmanEncode, huffmanEncodedLength } from './huffman.js';
import { STATIC_NAME_INDEX, STATIC_TABLE_LENGTH, STATIC_VALUE_INDEX } from './static-table.js';

/** Initial SETTINGS_HEADER_TABLE_SIZE of every HTTP/2 peer (RFC 9113 §6.5.2). */
const PROTOCOL_DEFAULT_TABLE_SIZE = 4096;
/** :path values longer than this are sent without indexing. */
const MAX_INDEXED_PATH = 64;
/** Cookies shorter than this are guessable and sent never-indexed (RFC 7541 §7.1.3). */
const MIN_INDEXED_COOKIE = 20;
const MAX_INT = 0x7fffffff;

/** Header names whose values are (nearly) unique per message: not worth a table slot. */
const NO_INDEX_NAMES: ReadonlySet<string> = new Set([
  'content-length',
  'content-range',
  'range',
  'date',
  'age',
  'expires',
  'etag',
  'last-modified',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'if-range',
  'location',
  'x-request-id',
  'x-correlation-id',
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-amzn-trace-id',
  'x-cloud-trace-context',
  'grpc-timeout',
  'grpc-message',
  'grpc-trace-bin',
  'grpc-status-details-bin',
]);

/** Per-name encoding policy kinds. */
const KIND_NORMAL = 0;
const KIND_SENSITIVE = 1; // always never-indexed
const KIND_COOKIE = 2; // never-indexed when short
const KIND_NO_INDEX = 3; // per-request values
const KIND_PATH = 4; // indexed only when short

interface NamePolicy {
  kind: number;
  /** Lowest static index with this name, or 0. */
  staticIndex: number;
  /** value -> static index, when the name has static entries with non-empty values. */
  staticValues: ReadonlyMap<string, number> | null;
}

/** One lookup per field answers: static name index, static exact matches, and policy. */
const NAME_POLICY: ReadonlyMap<string, NamePolicy> = buildPolicy();

function buildPolicy(): Map<string, NamePolicy> {
  const m = new Map<string, NamePolicy>();
  const get = (name: string): NamePolicy => {
    let p = m.get(name);
    if (p === undefined) {
      p = { kind: KIND_NORMAL, staticIndex: STATIC_NAME_INDEX.get(name) ?? 0, staticValues: null };
      m.set(name, p);
    }
    return p;
  };
  for (const [name, values] of STATIC_VALUE_INDEX) {
    const p = get(name);
    // Names whose only static entry has an empty value are matched inline.
    if (values.size > 1 || !values.has('')) p.staticValues = values;
  }
  for (const name of NO_INDEX_NAMES) get(name).kind = KIND_NO_INDEX;
  get('authorization').kind = KIND_SENSITIVE;
  get('proxy-authorization').kind = KIND_SENSITIVE;
  get('set-cookie').kind = KIND_SENSITIVE;
  get('cookie').kind = KIND_COOKIE;
  get(':path').kind = KIND_PATH;
  return m;
}

type Latin1Buffer = Buffer & { latin1Write(s: string, offset: number, length: number): number };

export class HpackEncoder {
  private readonly table: DynamicTable;
  /** Our own upper bound on the table size. */
  private readonly cap: number;
  /** Table size currently in use (and announced, or about to be announced, to the peer). */
  private effective: number;
  /** Largest entry size we are willing to insert (3/4 of the table). */
  private maxEntry: number;
  private pendingUpdate = false;
  /** Smallest size chosen since the last emitted update (§4.2 shrink-then-grow). */
  private pendingMin = 0;
  private buf: Latin1Buffer;
  private pos = 0;
  /** Bumped on every change of the dynamic table (see field-memo.ts). */
  private epoch = 0;
  /** Created on the first block, so that idle connections do not hold it. */
  private memo: FieldMemo | null = null;

  constructor(maxTableSize = PROTOCOL_DEFAULT_TABLE_SIZE) {
    if (!Number.isInteger(maxTableSize) || maxTableSize < 0 || maxTableSize > MAX_INT) {
      throw new RangeError('hpack: invalid table size');
    }
    this.cap = maxTableSize;
    this.effective = Math.min(PROTOCOL_DEFAULT_TABLE_SIZE, maxTableSize);
    this.maxEntry = Math.floor(this.effective * 0.75);
    this.table = new DynamicTable(this.effective, true);
    if (this.effective !== PROTOCOL_DEFAULT_TABLE_SIZE) {
      // The peer's decoder starts at the protocol default: tell it our smaller size.
      this.pendingUpdate = true;
      this.pendingMin = this.effective;
    }
    this.buf = Buffer.allocUnsafe(1024) as Latin1Buffer;
  }

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE. The encoder uses min(n, own cap) and
   * announces changes with dynamic table size updates at the start of the next
   * block (RFC 7541 §4.2, §6.3).
   */
  setPeerMaxTableSize(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError('hpack: invalid table size');
    const eff = Math.min(n, this.cap);
    if (eff === this.effective) return;
    if (!this.pendingUpdate || eff < this.pendingMin) this.pendingMin = eff;
    this.pendingUpdate = true;
    this.effective = eff;
    this.maxEntry = Math.floor(eff * 0.75);
    this.table.setMaxSize(eff);
    this.epoch++;
  }

  /** Current dynamic table maximum size. */
  get tableMaxSize(): number {
    return this.table.maxSize;
  }

  /** Current dynamic table occupancy in octets. */
  get tableSize(): number {
    return this.table.size;
  }

  /** Number of entries in the dynamic table. */
  get tableLength(): number {
    return this.table.count;
  }

  /**
   * Encode headers[from, to) (flat name/value pairs) into the internal scratch
   * buffer. The returned view is valid only until the next encode() call.
   */
  encode(headers: readonly string[], from = 0, to = headers.length): Buffer {
    // Encode first: the scratch buffer may be replaced by a larger one.
    const n = this.encodeBlock(headers, from, to);
    return this.buf.subarray(0, n);
  }

  /**
   * The block of the last encodeBlock() call is output[0, returned length):
   * the scratch buffer itself, valid until the next call. The engine copies
   * it into its write slab from there; a view per block would be an object
   * per HEADERS frame sent.
   */
  get output(): Buffer {
    return this.buf;
  }

  /** encode() without the view: returns the block's length in `output`. */
  encodeBlock(headers: readonly string[], from = 0, to = headers.length): number {
    if (((to - from) & 1) !== 0 || from < 0 || to > headers.length) {
      throw new RangeError('hpack: header list must be name/value pairs');
    }
    this.pos = 0;
    if (this.pendingUpdate) {
      this.ensure(12);
      if (this.pendingMin < this.effective) this.writeInt(this.pendingMin, 0x1f, 0x20);
      this.writeInt(this.effective, 0x1f, 0x20);
      this.pendingUpdate = false;
    }
    const memo = this.memo ?? (this.memo = new FieldMemo());
    let slot = 0;
    for (let i = from; i < to; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (slot === MEMO_SLOTS) {
        this.encodeField(name, value);
        continue;
      }
      if (memo.epochs[slot] === this.epoch && memo.names[slot] === name && memo.values[slot] === value) {
        // Byte loops, not Buffer#copy: for a few octets the native call costs more than the copy.
        const n = memo.lengths[slot]!;
        this.ensure(n);
        const from = memo.bytes;
        const to = this.buf;
        const at = slot * MEMO_SLOT_BYTES;
        let p = this.pos;
        for (let k = 0; k < n; k++) to[p++] = from[at + k]!;
        this.pos = p;
      } else {
        const start = this.pos;
        const epoch = this.epoch;
        this.encodeField(name, value);
        const n = this.pos - start;
        if (this.epoch === epoch && n <= MEMO_SLOT_BYTES) {
          const from = this.buf;
          const to = memo.bytes;
          const at = slot * MEMO_SLOT_BYTES;
          for (let k = 0; k < n; k++) to[at + k] = from[start + k]!;
          memo.lengths[slot] = n;
          memo.names[slot] = name;
          memo.values[slot] = value;
          memo.epochs[slot] = epoch;
        } else {
          memo.epochs[slot] = -1;
        }
      }
      slot++;
    }
    return this.pos;
  }

  private encodeField(name: string, value: string): void {
    this.ensure(name.length + value.length + 20);
    const table = this.table;
    const policy = NAME_POLICY.get(name);
    let kind = KIND_NORMAL;
    let staticIndex = 0;
    if (policy !== undefined) {
      kind = policy.kind;
      staticIndex = policy.staticIndex;
      if (kind === KIND_SENSITIVE || (kind === KIND_COOKIE && value.length < MIN_INDEXED_COOKIE)) {
        // Never indexed (§6.2.3): 0001xxxx, name from the static table.
        this.writeInt(staticIndex, 0x0f, 0x10);
        this.writeString(value);
        return;
      }
      const staticValues = policy.staticValues;
      if (staticValues !== null) {
        const exact = staticValues.get(value);
        if (exact !== undefined) {
          this.writeInt(exact, 0x7f, 0x80);
          return;
        }
      } else if (value.length === 0 && staticIndex !== 0) {
        this.writeInt(staticIndex, 0x7f, 0x80);
        return;
      }
    }
    const bucket = table.byName!.get(name);
    let nameIdx = staticIndex;
    if (bucket !== undefined) {
      const id = bucket.values.get(value);
      if (id !== undefined) {
        this.writeInt(STATIC_TABLE_LENGTH + table.inserted - id, 0x7f, 0x80);
        return;
      }
      if (nameIdx === 0) nameIdx = STATIC_TABLE_LENGTH + table.inserted - bucket.id;
    }

    // Per-request values are not indexed, except that the first occurrence of
    // such a name that is in no table is inserted once so later messages can
    // reference the name instead of repeating it.
    if (
      name.length + value.length + ENTRY_OVERHEAD <= this.maxEntry &&
      (kind === KIND_NORMAL ||
        kind === KIND_COOKIE ||
        (kind === KIND_PATH && value.length <= MAX_INDEXED_PATH) ||
        (kind === KIND_NO_INDEX && nameIdx === 0))
    ) {
      // Literal with incremental indexing (§6.2.1): 01xxxxxx.
      this.writeInt(nameIdx, 0x3f, 0x40);
      if (nameIdx === 0) this.writeString(name);
      this.writeString(value);
      table.add(name, value);
      this.epoch++;
    } else {
      // Literal without indexing (§6.2.2): 0000xxxx.
      this.writeInt(nameIdx, 0x0f, 0x00);
      if (nameIdx === 0) this.writeString(name);
      this.writeString(value);
    }
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2)) as Latin1Buffer;
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Integer representation (§5.1) with `mask` = 2^N - 1 and the representation bits in `flags`. */
  private writeInt(v: number, mask: number, flags: number): void {
    const buf = this.buf;
    let p = this.pos;
    if (v < mask) {
      buf[p++] = flags | v;
    } else {
      buf[p++] = flags | mask;
      v -= mask;
      while (v >= 128) {
        buf[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[p++] = v;
    }
    this.pos = p;
  }

  /** String literal (§5.2); Huffman only when strictly shorter. */
  private writeString(s: string): void {
    const len = s.length;
    if (len === 0) {
      this.buf[this.pos++] = 0;
      return;
    }
    const hlen = huffmanEncodedLength(s);
    if (hlen < len) {
      this.writeInt(hlen, 0x7f, 0x80);
      this.pos = huffmanEncode(s, this.buf, this.pos);
      return;
    }
    this.writeInt(len, 0x7f, 0x00);
    const buf = this.buf;
    let p = this.pos;
    if (len < 24) {
      for (let i = 0; i < len; i++) buf[p++] = s.charCodeAt(i);
    } else {
      p += buf.latin1Write(s, p, len);
    }
    this.pos = p;
  }
}
