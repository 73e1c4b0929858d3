/** Engine limits and windows. Every limit has a safe default so hardening is configuration. */
export interface Http2Options {
  /** SETTINGS_MAX_CONCURRENT_STREAMS we advertise (peer-initiated streams). Default 1000 (server), 0 streams pushed to a client. */
  maxConcurrentStreams?: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE we advertise: the per-stream receive window. Default 1 MiB. */
  initialWindowSize?: number;
  /** Connection receive window. Default 16 MiB. */
  connectionWindowSize?: number;
  /** SETTINGS_MAX_FRAME_SIZE we accept. Default 16384. */
  maxFrameSize?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE we advertise and enforce. Default 64 KiB. */
  maxHeaderListSize?: number;
  /** SETTINGS_HEADER_TABLE_SIZE for our HPACK decoder. Default 4096. */
  headerTableSize?: number;
  /** How long the peer has to acknowledge our SETTINGS (§6.5.3). Default 10 s. */
  settingsTimeout?: number;
  /** Send a PING after this long without reading anything; 0 = off. */
  keepaliveInterval?: number;
  /** Close the connection when a PING is not answered within this. Default 20 s. */
  keepaliveTimeout?: number;
  /** CONTINUATION frames allowed in one header block (CVE-2024-27316). Default 32. */
  maxContinuationFrames?: number;
  /** Length of the window in which the flood counters below are counted. Default 10 s. */
  floodWindow?: number;
  /** Streams the peer may reset (or we refuse) per window (CVE-2023-44487 rapid reset). Default 1000. */
  maxResetsPerWindow?: number;
  /** PING frames per window. Default 1000. */
  maxPingsPerWindow?: number;
  /** SETTINGS frames per window. Default 100. */
  maxSettingsPerWindow?: number;
  /** Empty DATA frames without END_STREAM per window. Default 1000. */
  maxEmptyDataPerWindow?: number;
  /** PRIORITY frames per window. Default 1000. */
  maxPriorityPerWindow?: number;
  /** WINDOW_UPDATE frames per window, plus one per KiB of DATA sent in the window. Default 1000. */
  maxWindowUpdatesPerWindow?: number;
  /**
   * Report a connection whose flow control made no progress for this long
   * (ConnectionHandler.onStall); 0 = off. Default off.
   */
  stallTimeout?: number;
  /**
   * Streams on which nothing moved (no frame received, no DATA sent) for this
   * long are handed to StreamHandler.onIdle, then reset; 0 = off. Default off.
   */
  streamIdleTimeout?: number;
  /**
   * Server role: advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3) and
   * accept CONNECT requests with :protocol (WebSockets over HTTP/2). Default off.
   */
  enableConnectProtocol?: boolean;
  /** Counters to feed (shared by all connections by default). */
  counters?: EngineCounters;
}

/** Events worth counting, read by telemetry. Plain numbers: incremented on rare paths only. */
export interface EngineCounters {
  connectionErrors: number;
  streamErrors: number;
  /** Connections closed with ENHANCE_YOUR_CALM because a flood limit was exceeded. */
  floodsDetected: number;
  refusedStreams: number;
  /** Header lists above maxHeaderListSize: requests answered 431, responses and trailers reset. */
  headerListsTooLarge: number;
  keepaliveTimeouts: number;
  /** Connections whose flow control made no progress for stallTimeout. */
  flowControlStalls: number;
  /** Streams that hit streamIdleTimeout. */
  streamIdleTimeouts: number;
}

export const engineCounters: EngineCounters = {
  connectionErrors: 0,
  streamErrors: 0,
  floodsDetected: 0,
  refusedStreams: 0,
  headerListsTooLarge: 0,
  keepaliveTimeouts: 0,
  flowControlStalls: 0,
  streamIdleTimeouts: 0,
};

export interface ResolvedOptions {
  maxConcurrentStreams: number;
  initialWindowSize: number;
  connectionWindowSize: number;
  maxFrameSize: number;
  maxHeaderListSize: number;
  headerTableSize: number;
  settingsTimeout: number;
  keepaliveInterval: number;
  keepaliveTimeout: number;
  maxContinuationFrames: number;
  floodWindow: number;
  maxResetsPerWindow: number;
  maxPingsPerWindow: number;
  maxSettingsPerWindow: number;
  maxEmptyDataPerWindow: number;
  maxPriorityPerWindow: number;
  maxWindowUpdatesPerWindow: number;
  stallTimeout: number;
  streamIdleTimeout: number;
  enableConnectProtocol: boolean;
  counters: EngineCounters;
}

export function resolveOptions(o: Http2Options | undefined, isServer: boolean): ResolvedOptions {
  return {
    maxConcurrentStreams: o?.maxConcurrentStreams ?? (isServer ? 1000 : 0),
    initialWindowSize: o?.initialWindowSize ?? 1 << 20,
    connectionWindowSize: o?.connectionWindowSize ?? 16 << 20,
    maxFrameSize: o?.maxFrameSize ?? 16384,
    maxHeaderListSize: o?.maxHeaderListSize ?? 64 * 1024,
    headerTableSize: o?.headerTableSize ?? 4096,
    settingsTimeout: o?.settingsTimeout ?? 10_000,
    keepaliveInterval: o?.keepaliveInterval ?? 0,
    keepaliveTimeout: o?.keepaliveTimeout ?? 20_000,
    maxContinuationFrames: o?.maxContinuationFrames ?? 32,
    floodWindow: o?.floodWindow ?? 10_000,
    maxResetsPerWindow: o?.maxResetsPerWindow ?? 1000,
    maxPingsPerWindow: o?.maxPingsPerWindow ?? 1000,
    maxSettingsPerWindow: o?.maxSettingsPerWindow ?? 100,
    maxEmptyDataPerWindow: o?.maxEmptyDataPerWindow ?? 1000,
    maxPriorityPerWindow: o?.maxPriorityPerWindow ?? 1000,
    maxWindowUpdatesPerWindow: o?.maxWindowUpdatesPerWindow ?? 1000,
    stallTimeout: o?.stallTimeout ?? 0,
    streamIdleTimeout: o?.streamIdleTimeout ?? 0,
    enableConnectProtocol: isServer && o?.enableConnectProtocol === true,
    counters: o?.counters ?? engineCounters,
  };
}
