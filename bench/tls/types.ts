/** What the TLS benchmark runs and records: systems, client modes, variants, one run's sample. */
import type { TlsParams } from "../lib/tls-setup.js";
import type { ScenarioId } from "./options.js";

export const CIPHER = "TLS_AES_128_GCM_SHA256";

// ---------------------------------------------------------------- systems and variants

export type SystemId = "switchyard" | "haproxy";
export const SYSTEMS: readonly SystemId[] = ["switchyard", "haproxy"];
export const LABEL: Record<SystemId, string> = { switchyard: "Switchyard", haproxy: "HAProxy" };

/**
 * How clients reach the proxy: h2c; TLS from h2load itself; TLS or mTLS
 * from the relay (h2load speaks h2c to it; it opens one TLS connection to
 * the proxy per connection h2load makes).
 */
/** Modes of the requests scenario: h2 over TLS, HTTP/1.1 over TLS, and h2c as the reference. */
export const REQUEST_MODES = ["tls", "tls-h1", "h2c"] as const;
/** Modes of the resumption scenario: full handshakes, then every client offering its last ticket. */
export const RESUMPTION_MODES = ["tls", "resumed"] as const;
export type Mode = "h2c" | "tls" | "tls-h1" | "h1" | "resumed" | "relay-tls" | "relay-mtls";
export const MODE_LABEL: Record<Mode, string> = {
  h2c: "h2c",
  tls: "TLS",
  "tls-h1": "TLS, HTTP/1.1",
  h1: "HTTP/1.1",
  resumed: "TLS, resumed",
  "relay-tls": "TLS via relay",
  "relay-mtls": "mTLS via relay",
};

export interface Variant {
  system: SystemId;
  mode: Mode;
  url: string;
  /** Listener (Switchyard) or frontend (HAProxy) the connections arrive on. */
  entry: string;
  port: number;
}


// ---------------------------------------------------------------- runs

export interface RunSample {
  scenario: ScenarioId;
  system: SystemId;
  mode: Mode;
  round: number;
  ok: boolean;
  error?: string;
  reqPerSec: number;
  /** Requests completed in the measured window. */
  done: number;
  /** handshakes: connections h2load made (= requests, one each). */
  connections: number;
  /** handshakes: connections per second achieved, against the rate asked for. */
  connPerSec: number;
  /** Proxy CPU over the measured window (schedstat run time of its threads). */
  cpuMs: number;
  /** The same from utime + stime (clock ticks), for comparison. */
  cpuTicksMs: number;
  cpuUsPerReq: number;
  /** handshakes: proxy CPU per connection. */
  cpuUsPerConn: number;
  handshakesPerCpuSec: number;
  /** Proxy CPU over the wall time of the run (1 = one core). */
  proxyShare: number;
  coreBusy: number[];
  foreign: number;
  /** Counter deltas over the run. */
  accepted: number;
  handshakes: number;
  resumed: number | undefined;
  tls: TlsParams;
  attempts: number;
}

