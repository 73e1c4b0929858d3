/**
 * The one interface through which an exchange (or a hedge) talks to an
 * endpoint, whatever protocol the endpoint speaks. An HTTP/2 pool connection
 * (the engine's Http2Connection, whose streams are the requests) satisfies it
 * as it is, so the HTTP/2 path costs no adapter object; the HTTP/1.1 pool
 * implements it over the project's HTTP/1.1 client (upstream-h1-pool.ts).
 */
import { ResetReason } from '../../http2/index.js';

/** Something that can carry a request to the endpoint now: an HTTP/2 connection, or the HTTP/1.1 pool. */
export interface Upstream {
  /** Starts a request; its events go to `handler` (which may be moved later, see UpstreamRequest.handler). */
  request(headers: readonly string[], endStream: boolean, handler: UpstreamHandler): UpstreamRequest;
}

/** One request on its way to the endpoint: an HTTP/2 stream, or an HTTP/1.1 request. */
export interface UpstreamRequest {
  /** Where events go; a winning hedge moves its request to the exchange by setting it. */
  handler: UpstreamHandler;
  /** Request body octets accepted and not yet taken by the connection (reported later as sent or dropped). */
  readonly queuedBytes: number;
  /** Nothing more will happen on it (ended both ways, reset or aborted). */
  readonly closed: boolean;
  sendData(d: Buffer, endStream: boolean): void;
  /** Ends the request with trailers (HTTP/1.1: ends it; the trailers are not sent). */
  sendTrailers(t: readonly string[]): void;
  /** The client took `n` response octets: the endpoint may send that much more. */
  consume(n: number): void;
  /** Cancels the request (RST_STREAM, or an aborted HTTP/1.1 request); handlers are not called. */
  reset(code: number): void;
}

/** Events of an upstream request: the HTTP/2 engine's StreamHandler shape, with the request in place of the stream. */
export interface UpstreamHandler {
  /** Response headers, 1xx included (check :status). */
  onHeaders(req: UpstreamRequest, h: string[], endStream: boolean): void;
  onData(req: UpstreamRequest, d: Buffer, endStream: boolean): void;
  onTrailers(req: UpstreamRequest, t: string[]): void;
  /** The request ended abnormally; `reason` is an UpstreamReset value. Not called for resets asked for. */
  onReset(req: UpstreamRequest, code: number, reason: number): void;
  /** `n` request body octets were taken by the connection: the client may send that much more. */
  onDataSent(req: UpstreamRequest, n: number): void;
  /** `n` request body octets will never be taken (the request ended or was cancelled with them queued). */
  onDataDropped?(req: UpstreamRequest, n: number): void;
  /**
   * The request carried `Expect: 100-continue`, which an HTTP/1.1 upstream
   * does not forward: the client should get its `100 Continue` from the proxy.
   */
  continueRequest?(): void;
}

/** Why an upstream request ended abnormally: the engine's reasons, and one of the HTTP/1.1 pool. */
export const UpstreamReset = {
  ...ResetReason,
  /** Connecting to the endpoint failed: nothing reached it, the request may go elsewhere. */
  CONNECT_FAILED: 16,
} as const;
