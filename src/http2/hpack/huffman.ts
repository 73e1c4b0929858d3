/**
 * HPACK static Huffman code (RFC 7541 Appendix B).
 *
 * The code in Appendix B is canonical: codes of equal length are consecutive
 * integers assigned in symbol order, and shorter codes numerically precede
 * longer ones. So only the per-symbol code lengths are listed here; the code
 * words are derived from them at module load.
 *
 * Decoding uses a byte-at-a-time state machine: the 256 internal nodes of the
 * code tree are the states, and for every (state, input octet) pair a
 * precomputed 32-bit transition records the next state, up to two emitted
 * symbols, whether the EOS symbol was hit and whether the resulting state is a
 * valid place for the string to end (RFC 7541 §5.2 padding rules).
 */
import { HpackError } from './errors.js';

// prettier-ignore
const CODE_LENGTHS: readonly number[] = [
  // 0x00 - 0x1f
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  // 0x20 - 0x3f  ' ' ! " # $ % & ' ( ) * + , - . /  0-9 : ; < = > ?
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  // 0x40 - 0x5f  @ A-Z [ \ ] ^ _
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  // 0x60 - 0x7f  ` a-z { | } ~ DEL
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  // 0x80 - 0x9f
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  // 0xa0 - 0xbf
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  // 0xc0 - 0xdf
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  // 0xe0 - 0xff
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  // EOS
  30,
];

const EOS = 256;

/** Code length in bits for each octet (index 0..255) and EOS (256). */
export const HUFFMAN_LENGTHS = new Uint8Array(257);
/** Code word (right-aligned, HUFFMAN_LENGTHS[i] bits) for each octet and EOS. */
export const HUFFMAN_CODES = new Uint32Array(257);

function buildCodes(): void {
  if (CODE_LENGTHS.length !== 257) throw new Error('huffman: bad code length table');
  // Canonical assignment: sort symbols by (length, symbol).
  const order: number[] = [];
  for (let i = 0; i < 257; i++) order.push(i);
  order.sort((a, b) => CODE_LENGTHS[a]! - CODE_LENGTHS[b]! || a - b);
  let code = 0;
  let prevLen = CODE_LENGTHS[order[0]!]!;
  for (let k = 0; k < order.length; k++) {
    const sym = order[k]!;
    const len = CODE_LENGTHS[sym]!;
    if (k > 0) {
      code = (code + 1) * 2 ** (len - prevLen);
      prevLen = len;
    }
    HUFFMAN_LENGTHS[sym] = len;
    HUFFMAN_CODES[sym] = code;
  }
  // The last (EOS) code must be all ones for a complete canonical code.
  if (HUFFMAN_CODES[EOS] !== 0x3fffffff) throw new Error('huffman: code table is not complete');
}
buildCodes();

// ---------------------------------------------------------------------------
// Decoder state machine.

/** Transition entry layout (Uint32). */
const T_STATE_MASK = 0xff; // bits 0-7: next state
const T_SYM1_SHIFT = 8; // bits 8-15: first emitted symbol
const T_SYM2_SHIFT = 16; // bits 16-23: second emitted symbol
const T_COUNT_SHIFT = 24; // bits 24-25: number of emitted symbols (0..2)
const T_FAIL = 1 << 26; // EOS decoded: error
const T_ACCEPT = 1 << 27; // next state is a valid end of string

/** Flattened [state * 256 + octet] transition table. */
const TRANSITIONS = new Uint32Array(256 * 256);

function buildDecoder(): void {
  // Build the code tree. Internal nodes are numbered 0..255 (root = 0).
  // child[node*2 + bit] >= 0 : internal node id; < 0 : leaf, symbol = -(v + 1).
  const child = new Int32Array(256 * 2).fill(0x7fffffff);
  const depth = new Uint8Array(256);
  const allOnes = new Uint8Array(256);
  allOnes[0] = 1;
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const len = HUFFMAN_LENGTHS[sym]!;
    const code = HUFFMAN_CODES[sym]!;
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = (code >>> i) & 1;
      const slot = node * 2 + bit;
      if (i === 0) {
        child[slot] = -(sym + 1);
      } else {
        let next = child[slot]!;
        if (next === 0x7fffffff) {
          next = nodes++;
          child[slot] = next;
          depth[next] = depth[node]! + 1;
          allOnes[next] = allOnes[node]! & bit;
        }
        node = next;
      }
    }
  }
  if (nodes !== 256) throw new Error('huffman: unexpected tree shape');

  // A string may end in a state whose path from the root is at most 7 one-bits
  // (a strict prefix of EOS that fits in the padding).
  const accept = new Uint8Array(256);
  for (let s = 0; s < 256; s++) accept[s] = allOnes[s]! && depth[s]! <= 7 ? 1 : 0;

  // First the 4-bit transitions (at most one symbol per nibble, since the
  // shortest code is 5 bits), then octet transitions as pairs of nibbles.
  const nibNext = new Uint8Array(256 * 16);
  const nibSym = new Int16Array(256 * 16).fill(-1); // -1: none, 256: EOS
  for (let state = 0; state < 256; state++) {
    for (let nib = 0; nib < 16; nib++) {
      let node = state;
      let sym = -1;
      for (let i = 3; i >= 0; i--) {
        const next = child[node * 2 + ((nib >>> i) & 1)]!;
        if (next >= 0) {
          node = next;
        } else {
          sym = -next - 1;
          node = 0;
          if (sym === EOS) break;
        }
      }
      nibNext[state * 16 + nib] = node;
      nibSym[state * 16 + nib] = sym;
    }
  }
  for (let state = 0; state < 256; state++) {
    for (let octet = 0; octet < 256; octet++) {
      const k1 = state * 16 + (octet >>> 4);
      const mid = nibNext[k1]!;
      const k2 = mid * 16 + (octet & 15);
      const s1 = nibSym[k1]!;
      const s2 = nibSym[k2]!;
      const node = nibNext[k2]!;
      let entry = node;
      let count = 0;
      if (s1 >= 0) entry |= s1 === EOS ? T_FAIL : (s1 & 0xff) << (T_SYM1_SHIFT + 8 * count++);
      if (s2 >= 0) entry |= s2 === EOS ? T_FAIL : (s2 & 0xff) << (T_SYM1_SHIFT + 8 * count++);
      entry |= count << T_COUNT_SHIFT;
      if (accept[node]) entry |= T_ACCEPT;
      TRANSITIONS[state * 256 + octet] = entry >>> 0;
    }
  }
}
buildDecoder();

let decodeScratch: Buffer = Buffer.allocUnsafe(1024);

type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/**
 * Decode the Huffman-encoded octets src[start, end) into a latin1 string.
 * Throws HpackError on EOS in the input, or padding that is longer than
 * 7 bits or not a prefix of EOS (RFC 7541 §5.2).
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string {
  // Shortest code is 5 bits, so at most 8/5 symbols per octet.
  const maxOut = (((end - start) * 8) / 5 + 1) | 0;
  let out = decodeScratch;
  if (out.length < maxOut) {
    out = Buffer.allocUnsafe(Math.max(maxOut, out.length * 2));
    decodeScratch = out;
  }
  const table = TRANSITIONS;
  let state = 0;
  let accept = T_ACCEPT;
  let n = 0;
  for (let i = start; i < end; i++) {
    const t = table[(state << 8) | src[i]!]!;
    const count = (t >>> T_COUNT_SHIFT) & 3;
    if (count !== 0) {
      out[n++] = (t >>> T_SYM1_SHIFT) & 0xff;
      if (count === 2) out[n++] = (t >>> T_SYM2_SHIFT) & 0xff;
    }
    if ((t & T_FAIL) !== 0) throw new HpackError('hpack: EOS symbol in Huffman-encoded string');
    state = t & T_STATE_MASK;
    accept = t & T_ACCEPT;
  }
  if (accept === 0) throw new HpackError('hpack: invalid Huffman padding');
  if (n < 8) {
    // Building short strings in JS beats the native slice call.
    let str = '';
    for (let i = 0; i < n; i++) str += String.fromCharCode(out[i]!);
    return str;
  }
  return (out as Latin1Buffer).latin1Slice(0, n);
}

/** Number of octets needed to Huffman-encode the latin1 string `str`. */
export function huffmanEncodedLength(str: string): number {
  const lengths = HUFFMAN_LENGTHS;
  let bits = 0;
  for (let i = 0; i < str.length; i++) bits += lengths[str.charCodeAt(i) & 0xff]!;
  return (bits + 7) >>> 3;
}

/** Alias of {@link huffmanEncodedLength}. */
export const encodedLength = huffmanEncodedLength;

/**
 * Huffman-encode the latin1 string `str` into `buf` starting at `offset`.
 * The caller must ensure `huffmanEncodedLength(str)` octets are available.
 * Returns the offset just past the encoded octets.
 */
export function huffmanEncode(str: string, buf: Uint8Array, offset: number): number {
  const lengths = HUFFMAN_LENGTHS;
  const codes = HUFFMAN_CODES;
  let p = offset;
  let acc = 0; // pending bits, right-aligned; fewer than 8 between symbols
  let accBits = 0;
  for (let i = 0; i < str.length; i++) {
    const sym = str.charCodeAt(i) & 0xff;
    let len = lengths[sym]!;
    let code = codes[sym]!;
    if (len > 24) {
      // Split long codes so the accumulator stays within 31 bits.
      const hiLen = len - 16;
      acc = (acc << hiLen) | (code >>> 16);
      accBits += hiLen;
      while (accBits >= 8) {
        accBits -= 8;
        buf[p++] = acc >>> accBits;
      }
      acc &= (1 << accBits) - 1;
      len = 16;
      code &= 0xffff;
    }
    acc = (acc << len) | code;
    accBits += len;
    while (accBits >= 8) {
      accBits -= 8;
      buf[p++] = acc >>> accBits;
    }
    acc &= (1 << accBits) - 1;
  }
  if (accBits > 0) {
    // Pad with the most significant bits of EOS (all ones).
    buf[p++] = (acc << (8 - accBits)) | (0xff >>> accBits);
  }
  return p;
}

/** Alias of {@link huffmanEncode}. */
export const encode = huffmanEncode;
/** Alias of {@link huffmanDecode}. */
export const decode = huffmanDecode;
