/**
 * HPACK header block decoder (RFC 7541 §3, §6).
 *
 * It also tells whether every field of a block passes the character rules of
 * RFC 9113 §8.2.1, so that the message rules scan only blocks that may not.
 * A field is known to pass when it comes from the static table (all its
 * entries do), from a dynamic table entry that was checked when added, or
 * from a literal checked now or, for a memo hit, when first decoded. The
 * check is made once per string instead of once per request; a field that
 * fails it marks the block, and the message rules name the fault.
 */
import { cleanName, invalidValue } from '../field-syntax.js';
import { DynamicTable } from './dynamic-table.js';
import { HpackError } from './errors.js';
import { LiteralMemo, MEMO_SLOT_BYTES, MEMO_SLOTS } from './field-memo.js';
import { huffmanDecode } from './huffman.js';
import { STATIC_NAMES, STATIC_TABLE_LENGTH, STATIC_VALUES } from './static-table.js';

/** Initial SETTINGS_HEADER_TABLE_SIZE of every HTTP/2 peer (RFC 9113 §6.5.2). */
const PROTOCOL_DEFAULT_TABLE_SIZE = 4096;
/** Largest integer accepted in any HPACK integer field. */
const MAX_INT = 0x7fffffff;
/** Continuation octets allowed after a full prefix (5 * 7 bits covers 2^31). */
const MAX_CONT_OCTETS = 5;
/** Strings shorter than this are assembled char by char instead of via latin1Slice. */
const SHORT_STRING = 8;

/** The role a string literal is read in, which decides its character rule. */
const AS_NAME = 1;
const AS_VALUE = 2;

type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

export class HpackDecoder {
  private readonly table: DynamicTable;
  /** Our advertised SETTINGS_HEADER_TABLE_SIZE: upper bound for size updates. */
  private limit: number;
  /** Set when our limit dropped below the current table size; the next block must start with a size update. */
  private updateRequired = false;
  /** Read cursor for the block being decoded. */
  private pos = 0;
  /** Position of the next Huffman literal in the block being decoded (field-memo.ts). */
  private literalSlot = 0;
  /** Created on the first Huffman literal, so that idle connections do not hold it. */
  private memo: LiteralMemo | null = null;
  /** Whether the string literal read last passes the character rule of its role. */
  private literalClean = false;
  /**
   * After decode(): every field of the block passes the character rules of
   * RFC 9113 §8.2.1 (field-syntax.ts). False means "not known", not "invalid".
   */
  checked = false;

  /**
   * @param maxTableSize our SETTINGS_HEADER_TABLE_SIZE: the largest size the
   * peer's dynamic table size updates may set. The table itself starts at the
   * protocol's initial 4096 octets, which is what the peer's encoder assumes
   * until it has seen our SETTINGS. If the advertised value is lower, call
   * setMaxTableSizeLimit() again when the SETTINGS frame is acknowledged so
   * that the peer's mandatory size update is enforced.
   */
  constructor(maxTableSize = PROTOCOL_DEFAULT_TABLE_SIZE) {
    checkSize(maxTableSize);
    this.limit = maxTableSize;
    // Every peer encoder starts out assuming the protocol default, whatever we
    // advertise, until it has processed our SETTINGS; so the table starts there.
    this.table = new DynamicTable(PROTOCOL_DEFAULT_TABLE_SIZE);
  }

  /**
   * Change the limit we advertise (SETTINGS_HEADER_TABLE_SIZE). Call once the
   * peer has acknowledged the SETTINGS frame carrying it. When the limit drops
   * below the current table size, the table is shrunk now and the peer's next
   * header block must start with a dynamic table size update (RFC 7541 §4.2).
   */
  setMaxTableSizeLimit(n: number): void {
    checkSize(n);
    this.limit = n;
    if (n < this.table.maxSize) {
      this.table.setMaxSize(n);
      this.updateRequired = true;
    }
  }

  /** Current dynamic table maximum size (as last set by the peer). */
  get tableMaxSize(): number {
    return this.table.maxSize;
  }

  /** Current dynamic table occupancy in octets (RFC 7541 §4.1). */
  get tableSize(): number {
    return this.table.size;
  }

  /** Number of entries in the dynamic table. */
  get tableLength(): number {
    return this.table.count;
  }

  /** Dynamic table contents, newest first, as flat [name, value, ...] (for tests/diagnostics). */
  tableEntries(): string[] {
    const out: string[] = [];
    for (let i = 1; i <= this.table.count; i++) out.push(this.table.nameAt(i), this.table.valueAt(i));
    return out;
  }

  /**
   * Decode one complete header block buf[start, end) and push name, value
   * pairs onto `out`. Returns the header list size per RFC 9113 §6.5.2.
   * Throws HpackError on malformed input.
   *
   * Fields past `maxListSize` are decoded (the dynamic table must stay in
   * step, RFC 9113 §10.5.1) but not pushed: a block of one-octet references
   * to a large table entry (an HPACK bomb) costs its decoded size only in the
   * returned number. A result above `maxListSize` means `out` is incomplete.
   */
  decode(buf: Uint8Array, start: number, end: number, out: string[], maxListSize = Infinity): number {
    if (start < 0 || end > buf.length || start > end) throw new RangeError('hpack: bad block bounds');
    const src: Latin1Buffer = (
      Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
    ) as Latin1Buffer;
    const table = this.table;
    let listSize = 0;
    let fieldsSeen = false;
    let checked = true;
    this.checked = false;
    this.pos = start;
    this.literalSlot = 0;

    if (this.updateRequired && start < end && (src[start]! & 0xe0) !== 0x20) {
      throw new HpackError('hpack: expected dynamic table size update at start of block');
    }

    while (this.pos < end) {
      const b = src[this.pos]!;
      let name: string;
      let value: string;
      if (b & 0x80) {
        // Indexed header field (§6.1).
        const index = this.readInt(src, end, 0x7f);
        if (index === 0) throw new HpackError('hpack: indexed header field with index 0');
        if (index <= STATIC_TABLE_LENGTH) {
          name = STATIC_NAMES[index]!;
          value = STATIC_VALUES[index]!;
        } else {
          const rel = index - STATIC_TABLE_LENGTH;
          if (rel > table.count) throw new HpackError('hpack: index out of range');
          name = table.nameAt(rel);
          value = table.valueAt(rel);
          if (!table.cleanAt(rel)) checked = false;
        }
      } else if (b & 0x40) {
        // Literal with incremental indexing (§6.2.1).
        const index = this.readInt(src, end, 0x3f);
        name = this.literalName(src, end, index);
        let clean = this.literalClean;
        value = this.readString(src, end, AS_VALUE);
        clean = clean && this.literalClean;
        table.add(name, value, clean);
        if (!clean) checked = false;
      } else if (b & 0x20) {
        // Dynamic table size update (§6.3).
        if (fieldsSeen) throw new HpackError('hpack: dynamic table size update after header field');
        const size = this.readInt(src, end, 0x1f);
        if (size > this.limit) throw new HpackError('hpack: dynamic table size update above limit');
        table.setMaxSize(size);
        this.updateRequired = false;
        continue;
      } else {
        // Literal without indexing (§6.2.2) or never indexed (§6.2.3).
        const index = this.readInt(src, end, 0x0f);
        name = this.literalName(src, end, index);
        const clean = this.literalClean;
        value = this.readString(src, end, AS_VALUE);
        if (!clean || !this.literalClean) checked = false;
      }
      fieldsSeen = true;
      listSize += name.length + value.length + 32;
      if (listSize <= maxListSize) out.push(name, value);
    }
    this.checked = checked;
    return listSize;
  }

  /** The name of a literal field (§6.2): a string literal, or a table entry's name; sets literalClean. */
  private literalName(src: Latin1Buffer, end: number, index: number): string {
    if (index === 0) return this.readString(src, end, AS_NAME);
    if (index <= STATIC_TABLE_LENGTH) {
      this.literalClean = true;
      return STATIC_NAMES[index]!;
    }
    const rel = index - STATIC_TABLE_LENGTH;
    if (rel > this.table.count) throw new HpackError('hpack: name index out of range');
    // A clean entry has a clean name; an unclean one may still have one.
    const name = this.table.nameAt(rel);
    this.literalClean = this.table.cleanAt(rel) || cleanName(name);
    return name;
  }

  /** Read an integer with the given prefix mask starting at this.pos (§5.1). */
  private readInt(src: Uint8Array, end: number, mask: number): number {
    let p = this.pos;
    let v = src[p++]! & mask;
    if (v === mask) {
      let mul = 1;
      let n = 0;
      for (;;) {
        if (p >= end) throw new HpackError('hpack: truncated integer');
        if (n === MAX_CONT_OCTETS) throw new HpackError('hpack: integer too long');
        const c = src[p++]!;
        v += (c & 0x7f) * mul;
        n++;
        if ((c & 0x80) === 0) break;
        mul *= 128;
      }
      if (v > MAX_INT) throw new HpackError('hpack: integer overflow');
    }
    this.pos = p;
    return v;
  }

  /** Read a string literal (§5.2) starting at this.pos; sets literalClean for its role. */
  private readString(src: Latin1Buffer, end: number, role: number): string {
    if (this.pos >= end) throw new HpackError('hpack: truncated header block');
    const huffman = src[this.pos]! & 0x80;
    const len = this.readInt(src, end, 0x7f);
    const s = this.pos;
    if (len > end - s) throw new HpackError('hpack: string literal past end of block');
    this.pos = s + len;
    let str: string;
    if (huffman !== 0) {
      if (len <= MEMO_SLOT_BYTES) return this.huffmanMemo(src, s, len, role);
      str = huffmanDecode(src, s, s + len);
    } else if (len < SHORT_STRING) {
      // Building short strings in JS beats the native slice call.
      str = '';
      for (let i = s; i < s + len; i++) str += String.fromCharCode(src[i]!);
    } else {
      str = src.latin1Slice(s, s + len);
    }
    this.literalClean = cleanAs(str, role);
    return str;
  }

  /** A short Huffman literal: the string of the same octets at this position last time, or a fresh decode. */
  private huffmanMemo(src: Latin1Buffer, s: number, len: number, role: number): string {
    const slot = this.literalSlot;
    if (slot === MEMO_SLOTS) {
      const str = huffmanDecode(src, s, s + len);
      this.literalClean = cleanAs(str, role);
      return str;
    }
    this.literalSlot = slot + 1;
    const memo = this.memo ?? (this.memo = new LiteralMemo());
    const bytes = memo.bytes;
    const at = slot * MEMO_SLOT_BYTES;
    if (memo.lengths[slot] === len) {
      let i = 0;
      while (i < len && bytes[at + i] === src[s + i]) i++;
      if (i === len) {
        const str = memo.strings[slot]!;
        const known = memo.clean[slot]!;
        if ((known & role) !== 0) {
          this.literalClean = true;
        } else {
          // Not yet checked in this role (or found unclean): check, and remember a pass.
          const clean = cleanAs(str, role);
          if (clean) memo.clean[slot] = known | role;
          this.literalClean = clean;
        }
        return str;
      }
    }
    // Decode first: invalid input throws before the memo is touched.
    const str = huffmanDecode(src, s, s + len);
    for (let i = 0; i < len; i++) bytes[at + i] = src[s + i]!;
    const clean = cleanAs(str, role);
    memo.lengths[slot] = len;
    memo.strings[slot] = str;
    memo.clean[slot] = clean ? role : 0;
    this.literalClean = clean;
    return str;
  }
}

function cleanAs(str: string, role: number): boolean {
  return role === AS_NAME ? cleanName(str) : !invalidValue(str);
}

function checkSize(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_INT) throw new RangeError('hpack: invalid table size');
}
