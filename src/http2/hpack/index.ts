export { HpackError, COMPRESSION_ERROR } from './errors.js';
export { HpackDecoder } from './decoder.js';
export { HpackEncoder } from './encoder.js';
export { DynamicTable } from './dynamic-table.js';
export {
  STATIC_TABLE_LENGTH,
  STATIC_NAMES,
  STATIC_VALUES,
  STATIC_NAME_INDEX,
  STATIC_PAIR_INDEX,
  STATIC_VALUE_INDEX,
} from './static-table.js';
export { huffmanDecode, huffmanEncode, huffmanEncodedLength } from './huffman.js';
