/**
 * Encoded-field memo of one HPACK encoder: the representation chosen for the
 * field at each position of the previous header blocks, reused while the
 * dynamic table has not changed since.
 *
 * A proxy connection sends nearly the same header list on every request and
 * response (`:status 200`, `server`, `date`, `content-type`...), each time as
 * fresh strings decoded from another connection. Choosing the representation
 * costs up to three hashed Map lookups and, for literals, a Huffman pass; the
 * memo costs two string comparisons and a copy of a few octets. Measured
 * before/after in the commit that added it.
 *
 * Correctness: a representation depends only on (name, value) and on the
 * dynamic table (RFC 7541 §2.3.3 indexes, §4.4 evictions). The encoder bumps
 * `epoch` on every table change, and an entry recorded under another epoch
 * is ignored. A field whose encoding inserts into the table changes the epoch
 * itself, so it is never recorded.
 */

/** Positions remembered per block: enough for a typical request or response. */
export const MEMO_SLOTS = 16;
/** Longest representation kept; longer ones (long paths, cookies) are encoded each time. */
export const MEMO_SLOT_BYTES = 48;

export class FieldMemo {
  readonly names: string[] = new Array<string>(MEMO_SLOTS).fill('');
  readonly values: string[] = new Array<string>(MEMO_SLOTS).fill('');
  /** Epoch under which each slot was recorded; -1 = empty. */
  readonly epochs = new Float64Array(MEMO_SLOTS).fill(-1);
  readonly lengths = new Uint8Array(MEMO_SLOTS);
  readonly bytes = Buffer.allocUnsafe(MEMO_SLOTS * MEMO_SLOT_BYTES);
}

/**
 * The decoder's counterpart: the Huffman-coded string literals at each
 * position of the previous blocks, with the octets they were decoded from.
 * A peer re-sending the same literal (nginx's `date`, a client's `:path`)
 * then costs an octet comparison instead of a Huffman decode and a new
 * string, and the string handed on is the same object each time, which
 * makes the encoder's memo on the other side a pointer comparison. The
 * result of the field character check is kept with the string, so a memo
 * hit also saves the message rules' scan of it.
 */
export class LiteralMemo {
  readonly strings: string[] = new Array<string>(MEMO_SLOTS).fill('');
  /** Per slot, the roles (the decoder's AS_NAME | AS_VALUE bits) in which the string is known to pass the field character rules. */
  readonly clean = new Uint8Array(MEMO_SLOTS);
  /** Encoded length of each slot; 0 = empty. */
  readonly lengths = new Uint8Array(MEMO_SLOTS);
  readonly bytes = Buffer.allocUnsafe(MEMO_SLOTS * MEMO_SLOT_BYTES);
}
