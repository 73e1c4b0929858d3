import type { Http2Stream, StreamHandler } from '../http2/index.js';
import { ProxyErrors } from '../errors.js';
import { errorResponse } from './error-responses.js';
import type { RelayingExchange as Exchange } from './exchange/response-relay.js';
import type { AuthzDenial } from './policy-hooks.js';

/**
 * The refusal of a body over `maxRequestBody` (413, gRPC RESOURCE_EXHAUSTED).
 * Like an authorization refusal it is the client's doing: telemetry counts
 * it as `refused` with reason `body-too-large`, outside the success rate.
 */
export const BODY_LIMIT_REFUSAL: AuthzDenial = Object.freeze({
  rule: 'maxRequestBody',
  kind: ProxyErrors.BODY_TOO_LARGE,
  response: errorResponse(ProxyErrors.BODY_TOO_LARGE),
});

/** Ends an exchange whose body went over the limit while it streamed: 413, or a reset when the response has started. */
function overLimit(ex: Exchange): void {
  if (ex.finished) return;
  ex.refusal = BODY_LIMIT_REFUSAL;
  ex.fail(ProxyErrors.BODY_TOO_LARGE);
}

/**
 * Counts the request body of an HTTP/2 client stream as it arrives (nothing
 * is buffered for it) and hands every event on to the exchange. Made only
 * for requests of a route with a limit whose body is still to come.
 */
export class H2BodyLimit implements StreamHandler {
  private received = 0;

  constructor(private readonly ex: Exchange, private readonly limit: number) {}

  onData(s: Http2Stream, d: Buffer, endStream: boolean): void {
    this.received += d.length;
    if (this.received > this.limit) overLimit(this.ex);
    this.ex.onData(s, d, endStream);
  }

  onHeaders(s: Http2Stream, h: string[], endStream: boolean): void {
    this.ex.onHeaders(s, h, endStream);
  }

  onTrailers(s: Http2Stream, t: string[]): void {
    this.ex.onTrailers(s, t);
  }

  onReset(s: Http2Stream, code: number, reason: number): void {
    this.ex.onReset(s, code, reason);
  }

  onDataSent(s: Http2Stream, n: number): void {
    this.ex.onDataSent(s, n);
  }

  onDataDropped(s: Http2Stream, n: number): void {
    this.ex.onDataDropped(s, n);
  }

  onIdle(): void {
    this.ex.onIdle();
  }
}

/** The same for an HTTP/1.1 request: H1Exchange counts each body chunk here before relaying it. */
export class H1BodyLimit {
  private received = 0;

  constructor(private readonly ex: Exchange, private readonly limit: number) {}

  readonly onData = (d: Buffer): void => {
    this.received += d.length;
    if (this.received > this.limit) overLimit(this.ex);
  };
}

