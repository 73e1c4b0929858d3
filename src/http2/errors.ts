import { errorCodeName } from './constants.js';

/**
 * An HTTP/2 protocol error (RFC 9113 §5.4). `streamId` 0 means a connection
 * error (GOAWAY and close); otherwise a stream error (RST_STREAM, the
 * connection lives on). `code` is the RFC error code sent to the peer.
 */
export class Http2Error extends Error {
  readonly code: string = 'SWY_ERR_H2_PROTOCOL';
  constructor(
    readonly errorCode: number,
    readonly streamId: number,
    message: string,
  ) {
    super(`${errorCodeName(errorCode)}: ${message}`);
    this.name = 'Http2Error';
  }

  get isConnectionError(): boolean {
    return this.streamId === 0;
  }
}

export function connectionError(errorCode: number, message: string): Http2Error {
  return new Http2Error(errorCode, 0, message);
}

export function streamError(streamId: number, errorCode: number, message: string): Http2Error {
  return new Http2Error(errorCode, streamId, message);
}

/** The connection went away (socket closed, GOAWAY, or a protocol error) before the stream ended. */
export class Http2ConnectionClosedError extends Error {
  readonly code = 'SWY_ERR_H2_CONNECTION_CLOSED';
  constructor(message: string) {
    super(message);
    this.name = 'Http2ConnectionClosedError';
  }
}
