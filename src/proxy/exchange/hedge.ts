import { ErrorCode, type Http2Connection, type Http2Stream, type StreamHandler } from '../../http2/index.js';
import type { Endpoint, PoolWaiter } from '../endpoint.js';

/** What a hedge attempt needs from its exchange. */
export interface HedgeOwner {
  readonly reqHeaders: string[];
  /** The request body, complete (hedges are only sent for fully received requests). */
  readonly replayBody: readonly Buffer[];
  readonly hedgeAbandoned: boolean;
  /** The hedge's response headers arrived first: it becomes the exchange's upstream. */
  adoptHedge(attempt: HedgeAttempt, headers: string[], endStream: boolean): void;
  /** The hedge failed before answering. */
  hedgeFailed(attempt: HedgeAttempt): void;
}

/**
 * A second (or third) copy of an idempotent request, sent to another endpoint
 * when the first has not answered within the hedge delay (gRPC A6 hedging).
 * It only waits for response headers: the first attempt to answer wins and
 * the others are cancelled.
 */
export class HedgeAttempt implements StreamHandler, PoolWaiter {
  stream: Http2Stream | null = null;
  readonly loadStart: number;
  private released = false;

  constructor(private readonly owner: HedgeOwner, readonly endpoint: Endpoint) {
    this.loadStart = endpoint.load.begin();
    endpoint.requestsTotal++;
  }

  get abandoned(): boolean {
    return this.released || this.owner.hedgeAbandoned;
  }

  onPoolConnection(connection: unknown): void {
    if (this.abandoned) {
      this.release(false);
      return;
    }
    const body = this.owner.replayBody;
    const conn = connection as Http2Connection;
    const s = conn.request(this.owner.reqHeaders, body.length === 0, this);
    this.stream = s;
    for (let i = 0; i < body.length; i++) s.sendData(body[i]!, i === body.length - 1);
  }

  onPoolConnectFailed(): void {
    this.release(true);
    this.owner.hedgeFailed(this);
  }

  onHeaders(s: Http2Stream, h: string[], endStream: boolean): void {
    if (s !== this.stream || this.released) return;
    // Ownership of the stream and the endpoint's load record passes to the exchange.
    this.released = true;
    this.owner.adoptHedge(this, h, endStream);
  }

  onData(s: Http2Stream, d: Buffer): void {
    s.consume(d.length);
  }

  onTrailers(): void {}

  onReset(s: Http2Stream): void {
    if (s !== this.stream) return;
    this.stream = null;
    this.release(true);
    this.owner.hedgeFailed(this);
  }

  onDataSent(): void {}

  /** Cancels the attempt (another one answered first, or the exchange ended). */
  cancel(): void {
    if (this.stream !== null) {
      this.stream.reset(ErrorCode.CANCEL);
      this.stream = null;
    }
    this.release(false);
  }

  private release(failed: boolean): void {
    if (this.released) return;
    this.released = true;
    this.endpoint.load.end(this.loadStart, failed);
    if (failed) {
      this.endpoint.failuresTotal++;
      this.endpoint.recordOutcome(true);
    }
  }
}
