/**
 * SETTINGS frames (RFC 9113 §6.5): the frame's checks, the validation of each
 * value (§6.5.2) and the encoder. The exchange itself (our SETTINGS and the
 * ACK deadline of §6.5.3, applying the peer's) is `proto/settings.ts`.
 */
import {
  DEFAULT_WINDOW, ErrorCode, Flags, FrameType, MAX_MAX_FRAME_SIZE, MAX_WINDOW, MIN_MAX_FRAME_SIZE,
  SettingId,
} from '../constants.js';
import { connectionError } from '../errors.js';
import type { FramedWrite } from '../codec/framed-write.js';

/** The six settings of RFC 9113 §6.5.2 (and RFC 8441's) as one side announced them. */
export interface PeerSettings {
  headerTableSize: number;
  enablePush: number;
  maxConcurrentStreams: number;
  initialWindowSize: number;
  maxFrameSize: number;
  maxHeaderListSize: number;
  /** RFC 8441 §3: 1 when the peer accepts extended CONNECT. */
  enableConnectProtocol: number;
}

/** §6.5.2 initial values, before any SETTINGS frame is seen. */
export function initialSettings(): PeerSettings {
  return {
    headerTableSize: 4096,
    enablePush: 1,
    // Unlimited per the RFC; callers treat "not yet known" conservatively.
    maxConcurrentStreams: Number.MAX_SAFE_INTEGER,
    initialWindowSize: DEFAULT_WINDOW,
    maxFrameSize: MIN_MAX_FRAME_SIZE,
    maxHeaderListSize: Number.MAX_SAFE_INTEGER,
    enableConnectProtocol: 0,
  };
}

/**
 * Applies a SETTINGS payload to `into` after validating each value (§6.5.2).
 * Unknown identifiers are ignored (§6.5.2: "MUST ignore"). Returns the change
 * in SETTINGS_INITIAL_WINDOW_SIZE, which the caller applies to open streams (§6.9.2).
 */
export function applySettings(into: PeerSettings, buf: Buffer, start: number, length: number, fromServer: boolean): number {
  let windowDelta = 0;
  for (let p = start; p < start + length; p += 6) {
    const id = buf.readUInt16BE(p);
    const value = buf.readUInt32BE(p + 2);
    switch (id) {
      case SettingId.HEADER_TABLE_SIZE:
        into.headerTableSize = value;
        break;
      case SettingId.ENABLE_PUSH:
        if (value > 1) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH must be 0 or 1');
        // §6.5.2: a client MUST treat a server's ENABLE_PUSH of 1 as a PROTOCOL_ERROR.
        if (fromServer && value === 1) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'server sent SETTINGS_ENABLE_PUSH 1');
        into.enablePush = value;
        break;
      case SettingId.MAX_CONCURRENT_STREAMS:
        into.maxConcurrentStreams = value;
        break;
      case SettingId.INITIAL_WINDOW_SIZE:
        if (value > MAX_WINDOW) throw connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1');
        windowDelta += value - into.initialWindowSize;
        into.initialWindowSize = value;
        break;
      case SettingId.MAX_FRAME_SIZE:
        if (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) {
          throw connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE out of range');
        }
        into.maxFrameSize = value;
        break;
      case SettingId.MAX_HEADER_LIST_SIZE:
        into.maxHeaderListSize = value;
        break;
      case SettingId.ENABLE_CONNECT_PROTOCOL:
        // RFC 8441 §3: 0 or 1, and a 1 once sent is never taken back.
        if (value > 1) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_CONNECT_PROTOCOL must be 0 or 1');
        if (value === 0 && into.enableConnectProtocol === 1) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_CONNECT_PROTOCOL went from 1 to 0');
        into.enableConnectProtocol = value;
        break;
      default:
        break;
    }
  }
  return windowDelta;
}

/** Checks a received SETTINGS frame (§6.5); returns whether it is an ACK. */
export function checkSettings(flags: number, streamId: number, length: number): boolean {
  if (streamId !== 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
  if ((flags & Flags.ACK) !== 0) {
    if (length !== 0) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with payload');
    return true;
  }
  if (length % 6 !== 0) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length not a multiple of 6');
  return false;
}

/** `values` is a flat [id, value, id, value, …] list. */
export function writeSettings(w: FramedWrite, values: readonly number[]): void {
  const length = (values.length / 2) * 6;
  w.begin(length, FrameType.SETTINGS, 0, 0, length);
  for (let i = 0; i < values.length; i += 2) {
    w.slab.writeUInt16BE(values[i]!, w.pos);
    w.slab.writeUInt32BE(values[i + 1]! >>> 0, w.pos + 2);
    w.pos += 6;
  }
}

export function writeSettingsAck(w: FramedWrite): void {
  w.begin(0, FrameType.SETTINGS, Flags.ACK, 0, 0);
}
