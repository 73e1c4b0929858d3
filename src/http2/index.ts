/**
 * Switchyard's HTTP/2 engine (RFC 9113, RFC 7541): server and client roles
 * over any duplex socket. It knows nothing of proxying.
 */
export { Http2Connection, type ConnectionHandler } from './proto/connection.js';
export { Http2Stream, ResetReason, IGNORE_STREAM, type StreamHandler } from './proto/streams/stream.js';
export { StreamState } from './proto/streams/state.js';
export { ErrorCode, FrameType, Flags, SettingId, CLIENT_PREFACE, errorCodeName } from './constants.js';
export { Http2Error, Http2ConnectionClosedError } from './errors.js';
export { engineCounters, type EngineCounters, type Http2Options } from './options.js';
export { acceptHttp2 } from './server.js';
export { connectHttp2 } from './client.js';
