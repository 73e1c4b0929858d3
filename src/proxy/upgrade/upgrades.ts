import type { IncomingMessage } from 'node:http';
import type net from 'node:net';
import type { RandomSource } from '../../balancing/index.js';
import { ErrorCode, type Http2Stream } from '../../http2/index.js';
import { ProxyErrors } from '../../errors.js';
import { errorResponse, type ErrorResponse } from '../error-responses.js';
import { hostOf, type CompiledRoute, type RequestHead, type Router } from '../router.js';
import type { ServiceRuntime } from '../service-runtime.js';
import type { ExchangeObserver } from '../exchange/observed-exchange.js';
import { ExtendedConnectClient } from './extended-connect.js';
import { H1UpgradeClient, answerAndClose } from './h1-upgrade.js';
import { UpgradeAttempt } from './upgrade-attempt.js';
import { forwardedFields, upgradeToken, writeHead } from './upgrade-fields.js';

/** What the upgrade path needs of its listener. */
export interface UpgradeOwner {
  readonly name: string;
  readonly router: Router<ServiceRuntime>;
  readonly observer: ExchangeObserver | undefined;
}

/**
 * Entry of a listener's upgraded connections: HTTP/1.1 `Upgrade` requests
 * (node:http's 'upgrade' event) and HTTP/2 extended CONNECTs (RFC 8441).
 * Each is routed, authorized and balanced like any request, then handed to
 * an UpgradeAttempt whose answer makes a Tunnel.
 *
 * `Upgrade: h2c` is not forwarded (RFC 9113 §3.1 removed the h2c upgrade,
 * and the proxy speaks HTTP/2 to the client only by prior knowledge or
 * ALPN): the request is served as a plain HTTP/1.1 request without it.
 */
export class Upgrades {
  private readonly head: RequestHead = { path: '', host: '', headers: [] };

  constructor(
    private readonly owner: UpgradeOwner,
    private readonly random: RandomSource,
    /** Serves the socket as an HTTP/1.1 connection again (for an h2c request re-read without its upgrade). */
    private readonly serveHttp1: (socket: net.Socket, identity: string) => void,
  ) {}

  /** node:http's 'upgrade': `early` holds the bytes after the request head. */
  onH1Upgrade(req: IncomingMessage, socket: net.Socket, early: Buffer, identity: string): void {
    // Until the endpoint answers, nothing the client sends may be lost.
    socket.pause();
    const protocol = upgradeToken(req.headers.upgrade);
    if (protocol === 'h2c') {
      this.withoutUpgrade(req, socket, early, identity);
      return;
    }
    const path = req.url ?? '/';
    const raw = req.rawHeaders;
    const headers: string[] = [':method', req.method ?? 'GET', ':path', path];
    for (let i = 0; i < raw.length; i += 2) headers.push(raw[i]!.toLowerCase(), raw[i + 1]!);
    const route = this.route(path, req.headers.host, headers);
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
    this.dispatch(route, new H1UpgradeClient(req, socket, early, protocol, headers), protocol, req.method ?? 'GET', path, headers, identity, address);
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

  /**
   * Serves an h2c upgrade request as the plain request it also is: its head
   * is written anew without `Upgrade`, `HTTP2-Settings` and their Connection
   * tokens, put back in front of the unread bytes, and the socket is served
   * by the listener's HTTP/1.1 server again (keep-alive goes on as usual).
   */
  private withoutUpgrade(req: IncomingMessage, socket: net.Socket, early: Buffer, identity: string): void {
    const fields = forwardedFields(req.rawHeaders, true);
    // The Connection field goes with the upgrade; what it said about this connection stays.
    const c = req.headers.connection?.toLowerCase() ?? '';
    if (c.includes('close')) fields.push('Connection', 'close');
    else if (c.includes('keep-alive')) fields.push('Connection', 'keep-alive');
    const head = Buffer.from(writeHead(`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}`, fields), 'latin1');
    socket.unshift(early.length === 0 ? head : Buffer.concat([head, early]));
    this.serveHttp1(socket, identity);
    socket.resume();
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
