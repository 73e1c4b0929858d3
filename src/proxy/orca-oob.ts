/**
 * ORCA out-of-band: one `xds.service.orca.v3.OpenRcaService/StreamCoreMetrics`
 * stream per endpoint, a server-streaming gRPC call whose messages are
 * OrcaLoadReports sent every `reportingPeriod`. It runs on the endpoint's
 * own HTTP/2 pool — the connection requests use — rather than on a separate
 * gRPC client: reports then describe the backend as the proxy reaches it,
 * no second connection per endpoint is opened (nor kept alive, nor
 * secured), and the stream ends with the pool when the endpoint leaves.
 * The stream does not count as a request (no load record, no telemetry of
 * requests). When it ends or cannot start, it is opened again after an
 * exponential backoff with jitter; a report resets the backoff.
 */
import { ErrorCode } from '../http2/index.js';
import type { OrcaReport } from '../balancing/index.js';
import { decodeOrcaReport } from '../balancing/index.js';
import type { Endpoint, PoolWaiter } from './endpoint.js';
import type { Upstream, UpstreamHandler, UpstreamRequest } from './exchange/upstream.js';

export const STREAM_CORE_METRICS_PATH = '/xds.service.orca.v3.OpenRcaService/StreamCoreMetrics';

/** A report larger than this ends the stream (a report is tens of bytes; named metrics make it hundreds). */
const MAX_MESSAGE = 1 << 20;

/** What the streams of one service share. */
export interface OrcaOobSettings {
  /** The interval asked of the endpoint (ms). */
  reportingPeriod: number;
  /** Reconnect backoff (ms): the service's reconnectBackoff. */
  backoffBase: number;
  backoffMax: number;
  /** 'http' or 'https' (the service's tls). */
  scheme: string;
  /** Uniform [0, 1) for the jitter. */
  random(): number;
  /** Where decoded reports go (the service's scratch record). */
  readonly report: OrcaReport;
}

/** The request message: OrcaLoadReportRequest { report_interval (google.protobuf.Duration) = 1 }, gRPC-framed. */
export function encodeStreamRequest(reportingPeriodMs: number): Buffer {
  const seconds = Math.floor(reportingPeriodMs / 1000);
  const nanos = Math.round((reportingPeriodMs - seconds * 1000) * 1e6);
  const duration: number[] = [];
  if (seconds > 0) duration.push(0x08, ...varint(seconds));
  if (nanos > 0) duration.push(0x10, ...varint(nanos));
  const message = [0x0a, ...varint(duration.length), ...duration];
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

export class OrcaOobStream implements PoolWaiter, UpstreamHandler {
  /** Set once stopped: the pool drops it if it is still waiting for a connection. */
  abandoned = false;
  /** Streams opened, and those that ended (by the endpoint, a reset or a failed connect). */
  opened = 0;
  ended = 0;
  private req: UpstreamRequest | null = null;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined = undefined;
  /** Bytes of an incomplete gRPC message. */
  private pending: Buffer | null = null;
  private readonly headers: string[];

  constructor(
    readonly endpoint: Endpoint,
    private readonly settings: OrcaOobSettings,
  ) {
    this.headers = [
      ':method', 'POST', ':scheme', settings.scheme, ':authority', endpoint.id, ':path', STREAM_CORE_METRICS_PATH,
      'content-type', 'application/grpc', 'te', 'trailers',
    ];
  }

  start(): void {
    if (this.abandoned || this.req !== null) return;
    this.endpoint.pool.dispatch(this);
  }

  stop(): void {
    this.abandoned = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const req = this.req;
    this.req = null;
    if (req !== null && !req.closed) req.reset(ErrorCode.CANCEL);
  }

  // ------------------------------------------------------------ PoolWaiter

  onPoolConnection(upstream: Upstream): void {
    if (this.abandoned) return;
    this.opened++;
    this.pending = null;
    const req = upstream.request(this.headers, false, this);
    this.req = req;
    req.sendData(encodeStreamRequest(this.settings.reportingPeriod), true);
  }

  onPoolConnectFailed(): void {
    this.retry();
  }

  // ------------------------------------------------------------ UpstreamHandler

  onHeaders(req: UpstreamRequest, h: string[], endStream: boolean): void {
    if (req !== this.req) return;
    // Trailers-only (UNIMPLEMENTED from a backend without the service) or an HTTP error: try again later.
    if (endStream || h[1] !== '200') this.end(req);
  }

  onData(req: UpstreamRequest, d: Buffer, endStream: boolean): void {
    req.consume(d.length);
    if (req !== this.req) return;
    let b = this.pending === null ? d : Buffer.concat([this.pending, d]);
    this.pending = null;
    while (b.length >= 5) {
      const len = b.readUInt32BE(1);
      if (len > MAX_MESSAGE || b[0] !== 0) {
        // Too large, or compressed though we offered no grpc-accept-encoding.
        this.malformed();
        this.end(req);
        return;
      }
      if (b.length < 5 + len) break;
      this.message(b.subarray(5, 5 + len));
      b = b.subarray(5 + len);
    }
    if (b.length > 0) this.pending = Buffer.from(b);
    if (endStream) this.end(req);
  }

  onTrailers(req: UpstreamRequest): void {
    if (req === this.req) this.end(req);
  }

  onReset(req: UpstreamRequest): void {
    if (req === this.req) this.end(null);
  }

  onDataSent(): void {}

  private message(m: Buffer): void {
    const state = this.endpoint.load.orca;
    if (state === null) return;
    try {
      state.record(decodeOrcaReport(m, this.settings.report));
      this.failures = 0;
    } catch {
      this.malformed();
    }
  }

  private malformed(): void {
    const state = this.endpoint.load.orca;
    if (state !== null) state.malformed++;
  }

  /** The stream is over (`req` still open: cancel it); open another after a backoff. */
  private end(req: UpstreamRequest | null): void {
    this.req = null;
    this.pending = null;
    if (req !== null && !req.closed) req.reset(ErrorCode.CANCEL);
    this.retry();
  }

  private retry(): void {
    this.ended++;
    if (this.abandoned || this.timer !== undefined) return;
    this.failures++;
    const { backoffBase, backoffMax } = this.settings;
    const cap = Math.min(backoffMax, backoffBase * 2 ** Math.min(this.failures - 1, 30));
    const delay = backoffBase + this.settings.random() * (cap - backoffBase);
    this.timer = setTimeout(reopen, delay, this);
    this.timer.unref();
  }

  /** Timer: the backoff passed. */
  reopen(): void {
    this.timer = undefined;
    this.start();
  }
}

function reopen(s: OrcaOobStream): void {
  s.reopen();
}
