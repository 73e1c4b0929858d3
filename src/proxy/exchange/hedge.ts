/**
 * Hedging (gRPC A6): when an idempotent request has no answer within the
 * route's hedge delay, another copy goes to a different endpoint; the first
 * attempt to answer wins and the others are cancelled. Works over any
 * upstream protocol (the Upstream interface) and for any client.
 */
import { ErrorCode } from '../../http2/index.js';
import type { Endpoint, PoolWaiter } from '../endpoint.js';
import type { CompiledRoute } from '../router.js';
import type { ServiceRuntime } from '../service-runtime.js';
import { beginAttempt, endAttempt, type AttemptLoad } from './attempt-load.js';
import type { RequestBody } from './request-body.js';
import type { Upstream, UpstreamHandler, UpstreamRequest } from './upstream.js';

/** What hedging needs from its exchange. */
export interface HedgeOwner {
  readonly route: CompiledRoute<ServiceRuntime>;
  readonly service: ServiceRuntime;
  readonly reqHeaders: string[];
  readonly body: RequestBody;
  readonly hashKey: string | undefined;
  /** The endpoint of the last attempt: a hedge goes elsewhere. */
  readonly lastEndpoint: Endpoint | null;
  readonly attempts: number;
  /** The main attempt's first response byte arrived. */
  readonly firstByteSeen: boolean;
  /** Finished, answered, or holding a response: no hedge is useful any more. */
  readonly hedgeAbandoned: boolean;
  /** The hedge's response headers arrived first: it becomes the exchange's upstream. */
  adoptHedge(attempt: HedgeAttempt, headers: string[], endStream: boolean): void;
  /** A hedge failed before answering; `outstanding` hedges are still out. */
  hedgeFailed(outstanding: number): void;
}

/**
 * The hedges of one exchange: the delay timer and the attempts out. Made
 * only for routes that hedge.
 */
export class Hedges {
  /** Hedges sent so far. */
  sent = 0;
  private readonly out: HedgeAttempt[] = [];
  private timer: NodeJS.Timeout | undefined = undefined;

  constructor(private readonly ex: HedgeOwner) {}

  /** An attempt went upstream: start the hedge delay, unless hedging already began. */
  arm(): void {
    if (this.timer === undefined && this.sent === 0) this.timer = setTimeout(hedgeAfterDelay, this.ex.route.hedgeDelay, this);
  }

  get outstanding(): number {
    return this.out.length;
  }

  /** The hedge delay passed without an answer: send another attempt to a different endpoint. */
  fire(): void {
    this.timer = undefined;
    const ex = this.ex;
    if (ex.hedgeAbandoned || ex.firstByteSeen) return;
    // Only a complete, replayable request can be sent twice.
    const body = ex.body;
    if (!body.ended || body.trailers !== null || !body.replayable) return;
    const route = ex.route;
    if (ex.attempts + this.sent >= route.hedgeMaxAttempts) return;
    const service = ex.service;
    if (service.retriesInFlight >= service.config.circuitBreakers.maxRetries) return;
    if (route.retry !== undefined && !route.retry.tryRetry()) return;
    const ep = service.pick(ex.hashKey, ex.lastEndpoint);
    if (ep === undefined || ep === ex.lastEndpoint) return;
    const a = new HedgeAttempt(ex, this, ep);
    this.out.push(a);
    this.sent++;
    service.retriesInFlight++;
    ep.pool.dispatch(a);
    if (ex.attempts + this.sent < route.hedgeMaxAttempts) this.timer = setTimeout(hedgeAfterDelay, route.hedgeDelay, this);
  }

  /** `a` answered first: the others are cancelled, and it is no longer counted as out. */
  won(a: HedgeAttempt): void {
    this.remove(a);
    this.cancel();
  }

  failed(a: HedgeAttempt): void {
    if (this.remove(a)) this.ex.hedgeFailed(this.out.length);
  }

  private remove(a: HedgeAttempt): boolean {
    const i = this.out.indexOf(a);
    if (i < 0) return false;
    this.out.splice(i, 1);
    this.ex.service.retriesInFlight--;
    return true;
  }

  /** Stops the timer and cancels every hedge still out (an answer arrived, or the exchange ended). */
  cancel(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const out = this.out;
    while (out.length > 0) {
      out.pop()!.cancel();
      this.ex.service.retriesInFlight--;
    }
  }
}

function hedgeAfterDelay(h: Hedges): void {
  h.fire();
}

/**
 * One hedged copy of a request. It only waits for response headers; its load
 * record (flat AttemptLoad fields) passes to the exchange when it wins.
 */
export class HedgeAttempt implements UpstreamHandler, PoolWaiter, AttemptLoad {
  req: UpstreamRequest | null = null;
  endpoint: Endpoint | null = null;
  loadStart = 0;
  firstByteSeen = false;

  constructor(private readonly owner: HedgeOwner, private readonly hedges: Hedges, endpoint: Endpoint) {
    beginAttempt(this, endpoint);
  }

  get abandoned(): boolean {
    return this.endpoint === null || this.owner.hedgeAbandoned;
  }

  onPoolConnection(upstream: Upstream): void {
    if (this.abandoned) {
      endAttempt(this, false, false);
      return;
    }
    const body = this.owner.body.replayBody;
    const r = upstream.request(this.owner.reqHeaders, body.length === 0, this);
    this.req = r;
    for (let i = 0; i < body.length; i++) r.sendData(body[i]!, i === body.length - 1);
  }

  onPoolConnectFailed(): void {
    endAttempt(this, true, true);
    this.hedges.failed(this);
  }

  onHeaders(r: UpstreamRequest, h: string[], endStream: boolean): void {
    if (r !== this.req || this.endpoint === null) return;
    // The request and the endpoint's load record pass to the exchange.
    this.owner.adoptHedge(this, h, endStream);
  }

  onData(r: UpstreamRequest, d: Buffer): void {
    r.consume(d.length);
  }

  onTrailers(): void {}

  onReset(r: UpstreamRequest): void {
    if (r !== this.req) return;
    this.req = null;
    endAttempt(this, true, true);
    this.hedges.failed(this);
  }

  /** The body's credit went to the client with the first attempt: the copy's is not counted. */
  onDataSent(): void {}

  /** Cancels the attempt (another one answered first, or the exchange ended). */
  cancel(): void {
    if (this.req !== null) {
      this.req.reset(ErrorCode.CANCEL);
      this.req = null;
    }
    endAttempt(this, false, false);
  }
}
