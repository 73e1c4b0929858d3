import type net from 'node:net';
import { BodyKind, H1Server, type H1ServerConnection, type H1ServerHandler, type H1ServerRequest, type HeadError } from '../http1/index.js';
import type { ListenerConfig } from '../config/index.js';
import { ProxyErrors } from '../errors.js';
import { errorResponse } from './error-responses.js';
import { H1Exchange, h1RequestHeaders } from './exchange/h1-downstream.js';
import { headerValue, isGrpcContentType } from './headers.js';
import { answerRefusedHead, h1Limits } from './head-limits.js';
import { hostOf, type RequestHead } from './router.js';
import type { Listener } from './listener.js';

/** The answer to a request no route matches: 404 in the proxy's error format. */
const NO_ROUTE = errorResponse(ProxyErrors.NO_ROUTE);
const NO_ROUTE_FIELDS = ['content-type', 'text/plain; charset=utf-8', 'switchyard-error', ProxyErrors.NO_ROUTE.code, 'content-length', String(NO_ROUTE.httpBody.length)];

/**
 * The HTTP/1.1 side of a listener: serves the sockets the listener found to
 * speak HTTP/1.1 (plaintext or TLS) with the proxy's own codec (src/http1/),
 * routes each request and hands it to an H1Exchange; upgrades go to the
 * listener's Upgrades, refused heads are answered and counted here.
 */
export class H1Listener implements H1ServerHandler {
  readonly server: H1Server;
  private readonly head: RequestHead = { path: '', host: '', headers: [] };

  constructor(private readonly owner: Listener, config: ListenerConfig) {
    this.server = new H1Server(this, h1Limits(config.limits));
  }

  /** Serves `socket` as HTTP/1.1; `head`: bytes already read from it (by protocol detection). */
  serve(socket: net.Socket, identity: string, head?: Buffer): void {
    this.server.serve(socket, head, identity);
  }

  reconfigure(config: ListenerConfig): void {
    this.server.setLimits(h1Limits(config.limits));
  }

  /** Shutting down: responses from now on close their connections, idle connections close now. */
  drain(): void {
    this.server.draining = true;
    this.server.closeIdle();
  }

  onRequest(conn: H1ServerConnection, req: H1ServerRequest): void {
    const owner = this.owner;
    const headers = h1RequestHeaders(req);
    const forwarded = owner.forwarded;
    if (forwarded.enabled) forwarded.apply(headers, req.remoteAddress, req.encrypted, false);
    const head = this.head;
    head.path = req.target;
    head.host = hostOf(req.host === '' ? undefined : req.host);
    head.headers = headers;
    const route = owner.router.match(head);
    head.headers = EMPTY_LIST;
    if (route === undefined) {
      // A body still arriving is read and dropped by the codec, which keeps the connection.
      req.respond(404, NO_ROUTE_FIELDS, false);
      req.write(NO_ROUTE.httpBody);
      req.end();
      return;
    }
    const isGrpc = isGrpcContentType(headerValue(req.fields, 'content-type'));
    const service = route.target(owner.random);
    const ex = new H1Exchange(route, service, owner.observer, owner.name, headers, isGrpc, req);
    req.handler = ex;
    if (owner.tls !== undefined) ex.clientIdentity = conn.user as string;
    if (service.hashHeader !== undefined || service.hashOnSource) ex.hashKey = service.hashKey(headers, req.remoteAddress);
    if (owner.refused(ex, route, req.remoteAddress)) return;
    const announced = req.bodyKind === BodyKind.Length ? req.contentLength : -1;
    if (owner.limitBody(ex, route, announced, req.complete, null, ex)) return;
    ex.start(route.timeout);
  }

  onUpgrade(conn: H1ServerConnection, req: H1ServerRequest, socket: net.Socket, rest: Buffer): void {
    // A tunnel is no idle HTTP/1.1 connection: drain() leaves it to the drain deadline.
    this.owner.upgrades.onH1Upgrade(req, socket, rest, conn.user as string);
  }

  refused(_conn: H1ServerConnection, error: HeadError): Buffer {
    return answerRefusedHead(error, this.owner.counters.requestsRejected);
  }
}

const EMPTY_LIST: string[] = [];
