/**
 * The SETTINGS exchange (RFC 9113 §6.5): our SETTINGS go out first (§3.4)
 * and must be acknowledged within `settingsTimeout` (§6.5.3,
 * SETTINGS_TIMEOUT); the peer's are validated (`frame/settings.ts`),
 * applied — HPACK table size (RFC 7541 §4.2), initial stream window
 * (§6.9.2) — and acknowledged.
 */
import { DEFAULT_WINDOW, SettingId } from '../constants.js';
import { scheduleFlush } from '../codec/flush-scheduler.js';
import { applySettings, checkSettings, initialSettings, writeSettings, writeSettingsAck, type PeerSettings } from '../frame/settings.js';
import type { Http2Connection } from './connection.js';
import { applyInitialWindowDelta } from './streams/flow-control.js';

export class Settings {
  /** The peer's settings, RFC defaults until its first SETTINGS frame. */
  readonly peer: PeerSettings = initialSettings();
  /** The peer's first SETTINGS frame arrived. */
  peerReceived = false;
  /** Our SETTINGS must be acknowledged by then (performance.now() ms); 0 once they are. */
  ackDeadline = 0;
}

/** Sends our SETTINGS (only the values that differ from the RFC defaults, plus the limits we always state). */
export function writeLocalSettings(c: Http2Connection): void {
  const o = c.options;
  const values: number[] = [];
  if (o.headerTableSize !== 4096) values.push(SettingId.HEADER_TABLE_SIZE, o.headerTableSize);
  // §8.4: a client disables push; a server never receives PUSH_PROMISE anyway.
  if (!c.isServer) values.push(SettingId.ENABLE_PUSH, 0);
  values.push(SettingId.MAX_CONCURRENT_STREAMS, o.maxConcurrentStreams);
  if (o.initialWindowSize !== DEFAULT_WINDOW) values.push(SettingId.INITIAL_WINDOW_SIZE, o.initialWindowSize);
  if (o.maxFrameSize !== 16384) values.push(SettingId.MAX_FRAME_SIZE, o.maxFrameSize);
  values.push(SettingId.MAX_HEADER_LIST_SIZE, o.maxHeaderListSize);
  if (o.enableConnectProtocol) values.push(SettingId.ENABLE_CONNECT_PROTOCOL, 1);
  writeSettings(c.writer, values);
  c.settings.ackDeadline = performance.now() + o.settingsTimeout;
}

export function recvSettings(c: Http2Connection, flags: number, streamId: number, buf: Buffer, start: number, length: number): void {
  const st = c.settings;
  if (checkSettings(flags, streamId, length)) {
    if (st.ackDeadline !== 0 && c.options.headerTableSize !== 4096) {
      // RFC 7541 §4.2: the peer may use a smaller table limit only once it has our SETTINGS.
      c.reader.decoder.setMaxTableSizeLimit(c.options.headerTableSize);
    }
    st.ackDeadline = 0;
    return;
  }
  c.flood.countSettings();
  const delta = applySettings(st.peer, buf, start, length, !c.isServer);
  c.writer.encoder.setPeerMaxTableSize(st.peer.headerTableSize);
  if (delta !== 0) applyInitialWindowDelta(c, delta);
  st.peerReceived = true;
  writeSettingsAck(c.writer);
  scheduleFlush(c);
  c.handler.onSettings?.(c);
}

/** §6.5.3: our SETTINGS were not acknowledged in time. */
export function settingsAckOverdue(st: Settings, now: number): boolean {
  return st.ackDeadline !== 0 && now > st.ackDeadline;
}
