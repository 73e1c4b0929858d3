import type net from 'node:net';
import type { RandomSource } from '../../balancing/index.js';
import { ErrorCode, type Http2Stream } from '../../http2/index.js';
import type { H1ServerRequest } from '../../http1/index.js';
import { ProxyErrors } from '../../errors.js';
import { errorResponse, type ErrorResponse } from '../error-responses.js';
import { hostOf, type CompiledRoute, type RequestHead, type Router } from '../router.js';
import type { ServiceRuntime } from '../service-runtime.js';
import type { ExchangeObserver } from '../exchange/observed-exchange.js';
import { ExtendedConnectClient } from './extended-connect.js';
import { H1UpgradeClient, answerAndClose } from './h1-upgrade.js';
import { UpgradeAttempt } from './upgrade-attempt.js';
import { upgradeToken } from './upgrade-fields.js';

/** What the upgrade path needs of its listener. */
export interface UpgradeOwner {
  readonly name: string;
  readonly router: Router<ServiceRuntime>;
  readonly observer: ExchangeObserver | undefined;
}

/**
 * Entry of a listener's upgraded connections: HTTP/1.1 `Upgrade` requests
 * (handed over by the HTTP/1.1 codec) and HTTP/2 extended CONNECTs (RFC 8441).
 * Each is routed, authorized and balanced like any request, then handed to
 * an UpgradeAttempt whose answer makes a Tunnel.
 *
 * `Upgrade: h2c` never arrives here (RFC 9113 §3.1 removed the h2c upgrade,
 * and the proxy speaks HTTP/2 to the client only by prior knowledge or
 * ALPN): the codec serves it as the plain HTTP/1.1 request it also is.
 */
export class Upgrades {
  private readonly head: RequestHead = { path: '', host: '', headers: [] };

  constructor(
    private readonly owner: UpgradeOwner,
    private readonly random: RandomSource,
  ) {}

  /** The codec's upgrade: `early` holds the bytes after the request head. */
  onH1Upgrade(req: H1ServerRequest, socket: net.Socket, early: Buffer, identity: string): void {
    // Until the endpoint answers, nothing the client sends may be lost.
    socket.pause();
    const protocol = upgradeToken(req.upgrade);
    const path = req.target;
    const headers: string[] = [':method', req.method, ':path', path, ...req.fields];
    const route = this.route(path, req.host, headers);
    if (route === undefined) {
      answerAndClose(socket, 404, errorResponse(ProxyErrors.NO_ROUTE));
      return;
    }
    const address = socket.remoteAddress;
    const denial = this.owner.router.authorize(route, identity, address, path);
    if (denial !== null) {
      answerAndClose(socket, denial.kind.httpStatus, denial.response);
      return;
    }
    this.dispatch(route, new H1UpgradeClient(req, socket, early, protocol, headers), protocol, req.method, path, headers, identity, address);
  }

  /** An extended CONNECT (RFC 8441 §4) on an HTTP/2 client connection. */
  onExtendedConnect(stream: Http2Stream, headers: string[], endStream: boolean, identity: string, address: string | undefined): void {
    let path = '/';
    let authority: string | undefined;
    let protocol = '';
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!;
      if (n === ':path') path = headers[i + 1]!;
      else if (n === ':authority') authority = headers[i + 1];
      else if (n === ':protocol') protocol = headers[i + 1]!.toLowerCase();
    }
    const route = this.route(path, authority, headers);
    if (route === undefined) return answerStream(stream, errorResponse(ProxyErrors.NO_ROUTE), endStream);
    const denial = this.owner.router.authorize(route, identity, address, path);
    if (denial !== null) return answerStream(stream, denial.response, endStream);
    // Only WebSockets map onto an HTTP/1.1 upgrade with a known handshake; other protocols go by name.
    this.dispatch(route, new ExtendedConnectClient(stream, headers, protocol, endStream), protocol, 'CONNECT', path, headers, identity, address);
  }

  /** A routed and authorized upgrade: balanced over the route's service like a request. */
  private dispatch(route: CompiledRoute<ServiceRuntime>, client: H1UpgradeClient | ExtendedConnectClient, protocol: string, method: string, path: string, headers: string[], identity: string, address: string | undefined): void {
    const service = route.target(this.random);
    client.begin(new UpgradeAttempt(service, client, {
      listener: this.owner.name,
      route: route.name,
      protocol,
      idleTimeout: route.upgradeIdleTimeout,
      hashKey: service.hashHeader !== undefined || service.hashOnSource ? service.hashKey(headers, address) : undefined,
      observer: this.owner.observer,
      method,
      path,
      headers,
      clientIdentity: identity,
      clientAddress: address,
    }));
  }

  private route(path: string, authority: string | undefined, headers: string[]): ReturnType<Router<ServiceRuntime>['match']> {
    const head = this.head;
    head.path = path;
    head.host = hostOf(authority);
    head.headers = headers;
    const route = this.owner.router.match(head);
    head.headers = EMPTY_LIST;
    return route;
  }
}

const EMPTY_LIST: string[] = [];

/** The proxy's own answer to an extended CONNECT that goes nowhere. */
function answerStream(stream: Http2Stream, r: ErrorResponse, endStream: boolean): void {
  stream.respond(r.httpHeaders, false);
  stream.sendData(r.httpBody, true);
  // RFC 9113 §8.1: answered; the client may stop sending.
  if (!endStream) stream.resetWhenSent(ErrorCode.NO_ERROR);
}

/**
 * RFC 8441 §4: a CONNECT with :protocol (the engine accepts :protocol only
 * on CONNECT). A look at the pseudo-headers of each request: a handful of comparisons.
 */
export function isExtendedConnect(h: readonly string[]): boolean {
  for (let i = 0; i < h.length; i += 2) {
    const n = h[i]!;
    if (n.charCodeAt(0) !== 0x3a) return false;
    if (n === ':protocol') return true;
  }
  return false;
}
