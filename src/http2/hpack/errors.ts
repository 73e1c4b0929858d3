/**
 * Error raised for any malformed HPACK input (RFC 7541). A connection that sees
 * one must be torn down with the HTTP/2 COMPRESSION_ERROR code because the
 * shared dynamic table state can no longer be trusted.
 */
export class HpackError extends Error {
  readonly code = 'SWY_ERR_HPACK';
  /** HTTP/2 error code to send in GOAWAY (RFC 9113 §7: COMPRESSION_ERROR). */
  readonly http2ErrorCode = 0x9;

  constructor(message: string) {
    super(message);
    this.name = 'HpackError';
  }
}

/** HTTP/2 COMPRESSION_ERROR (0x9). */
export const COMPRESSION_ERROR = 0x9;
