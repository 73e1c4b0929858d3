import { ErrorCode, type Http2Stream } from '../../http2/index.js';
import type { ProxyErrorKind } from '../../errors.js';
import { errorResponse, type ErrorResponse } from '../error-responses.js';
import type { ExchangeObserver } from './exchange.js';
import { RelayingExchange } from './response-relay.js';
import type { CompiledRoute } from '../router.js';
import type { ServiceRuntime } from '../service-runtime.js';

/** An exchange whose client speaks HTTP/2: the downstream is one engine stream. */
export class H2Exchange extends RelayingExchange {
  constructor(
    route: CompiledRoute<ServiceRuntime>,
    service: ServiceRuntime,
    observer: ExchangeObserver | undefined,
    listenerName: string,
    headers: string[],
    method: string,
    path: string,
    isGrpc: boolean,
    readonly down: Http2Stream,
    /** The request's HEADERS carried END_STREAM. */
    endStream: boolean,
  ) {
    super(route, service, observer, listenerName, headers, method, path, isGrpc);
    this.downStream = down;
    this.body.ended = endStream;
  }
  get clientAddress(): string | undefined {
    // The listener labels each client connection with its peer's address.
    const user = this.down.connection.user;
    return typeof user === 'string' ? user : undefined;
  }


  protected downHeaders(h: readonly string[], endStream: boolean): void {
    this.down.respond(h, endStream);
  }

  protected downData(d: Buffer, endStream: boolean): void {
    this.down.sendData(d, endStream);
  }

  protected downTrailers(t: readonly string[]): void {
    this.down.sendTrailers(t);
  }

  protected downReset(code: number): void {
    this.down.reset(code);
  }

  protected downConsume(n: number): void {
    this.down.consume(n);
  }

  private continued = false;

  /** An HTTP/1.1 upstream will take the body: the proxy answers the client's `Expect: 100-continue` (RFC 9110 §10.1.1), once. */
  continueRequest(): void {
    if (this.responded || this.continued) return;
    this.continued = true;
    this.down.respond(CONTINUE, false);
  }

  protected downError(kind: ProxyErrorKind, r: ErrorResponse = errorResponse(kind)): void {
    if (this.isGrpc) {
      this.down.respond(r.grpcHeaders, true);
    } else {
      this.down.respond(r.httpHeaders, false);
      this.down.sendData(r.httpBody, true);
    }
    if (!this.body.ended) this.requestCutShort();
  }

  /** §8.1: a complete response before the request ended: once it is sent, tell the client to stop sending. */
  protected requestCutShort(): void {
    this.down.resetWhenSent(ErrorCode.NO_ERROR);
  }
}

const CONTINUE: readonly string[] = [':status', '100'];
