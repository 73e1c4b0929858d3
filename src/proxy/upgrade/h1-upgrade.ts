import type net from 'node:net';
import type { Http2Stream } from '../../http2/index.js';
import type { H1ServerRequest } from '../../http1/index.js';
import type { ProxyErrorKind } from '../../errors.js';
import { errorResponse, type ErrorResponse } from '../error-responses.js';
import { headerValue, isHopByHop } from '../headers.js';
import type { ResponseHead } from './response-head.js';
import { SocketEnd, StreamEnd } from './tunnel-ends.js';
import type { UpgradeAttempt, UpgradeClient } from './upgrade-attempt.js';
import { errorAnswer, forwardedFields, h2ToH1Fields, statusLine, writeHead } from './upgrade-fields.js';
import { websocketAccept } from './websocket-accept.js';

/** How long a connection answered without an upgrade may still be read before it is closed. */
const CLOSE_LINGER_MS = 5000;

/**
 * An HTTP/1.1 client's upgrade request (RFC 9110 §7.8; the codec has
 * handed over the socket and no longer parses it).
 *
 * To an HTTP/1.1 endpoint the request head goes as it came (hop-by-hop
 * fields removed, `Connection: Upgrade` and `Upgrade` kept) and the answer
 * comes back the same way: 101 makes the connection a tunnel; any other
 * status is relayed with `Connection: close`, its body as the endpoint
 * frames it, and the connection closes after it.
 *
 * To an HTTP/2 endpoint a WebSocket handshake becomes an extended CONNECT
 * (RFC 8441 §5): `:protocol websocket`, no Sec-WebSocket-Key; a 2xx answer is
 * a `101 Switching Protocols` to the client with the Sec-WebSocket-Accept the
 * proxy computes from the client's key (RFC 6455 §4.2.2).
 */
export class H1UpgradeClient implements UpgradeClient {
  private attempt: UpgradeAttempt | null = null;
  private readonly onClientClose = (): void => this.attempt?.cancel();

  constructor(
    private readonly req: H1ServerRequest,
    private readonly socket: net.Socket,
    /** Bytes the client sent after the request head. */
    private readonly early: Buffer,
    /** The Upgrade token, lower case (`websocket`). */
    private readonly protocol: string,
    /** The request's fields as routed (telemetry may have added x-request-id). */
    private readonly fields: readonly string[],
  ) {}

  /** Watches the client while the endpoint is asked. */
  begin(a: UpgradeAttempt): void {
    this.attempt = a;
    this.socket.once('close', this.onClientClose);
    a.start();
  }

  h1Request(): Buffer {
    const req = this.req;
    const fields = forwardedFields(req.fields, false);
    this.addRequestId(fields);
    fields.push('Connection', 'Upgrade');
    const head = Buffer.from(writeHead(`${req.method} ${req.target} HTTP/1.1`, fields), 'latin1');
    return this.early.length === 0 ? head : Buffer.concat([head, this.early]);
  }

  h2Request(): string[] | null {
    // RFC 8441 defines the mapping for WebSockets only.
    if (this.protocol !== 'websocket') return null;
    const req = this.req;
    const raw = forwardedFields(req.fields, true);
    const encrypted = (this.socket as { encrypted?: boolean }).encrypted === true;
    const h: string[] = [
      ':method', 'CONNECT', ':protocol', 'websocket', ':scheme', encrypted ? 'https' : 'http',
      ':path', req.target, ':authority', req.host,
    ];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      // RFC 8441 §5: the key and accept are HTTP/1.1 only; HTTP/2 has no body length here.
      if (isHopByHop(name) || name === 'sec-websocket-key' || name === 'content-length') continue;
      h.push(name, raw[i + 1]!);
    }
    this.addRequestId(h);
    return h;
  }

  /** The x-request-id telemetry gave a request that came without one goes upstream too, as for any request. */
  private addRequestId(out: string[]): void {
    if (headerValue(this.req.fields, 'x-request-id') !== undefined) return;
    const f = this.fields;
    for (let i = f.length - 2; i >= 0; i -= 2) {
      if (f[i] === 'x-request-id') {
        out.push('x-request-id', f[i + 1]!);
        return;
      }
    }
  }

  onH1Answer(a: UpgradeAttempt, up: net.Socket, head: ResponseHead, rest: Buffer): void {
    this.socket.removeListener('close', this.onClientClose);
    const switched = head.status === 101;
    const fields = forwardedFields(head.fields, !switched);
    if (switched) fields.push('Connection', 'Upgrade');
    else fields.push('Connection', 'close');
    this.socket.write(writeHead(statusLine(head.status, head.reason), fields), 'latin1');
    const t = a.tunnel(switched, head.status);
    const client = new SocketEnd(this.socket, t);
    const upstream = new SocketEnd(up, t);
    t.start(client, upstream);
    client.attach(null);
    upstream.attach(rest);
  }

  onH2Answer(a: UpgradeAttempt, stream: Http2Stream, h: string[], endStream: boolean): void {
    this.socket.removeListener('close', this.onClientClose);
    const status = Number(h[1]);
    const switched = status >= 200 && status < 300;
    let head: string;
    if (switched) {
      const fields = ['Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Accept', websocketAccept(headerValue(this.req.fields, 'sec-websocket-key') ?? '')];
      fields.push(...h2ToH1Fields(h, true));
      head = writeHead(statusLine(101), fields);
    } else {
      // The body follows as DATA arrives and ends with the connection.
      const fields = h2ToH1Fields(h, false);
      fields.push('connection', 'close');
      head = writeHead(statusLine(status), fields);
    }
    this.socket.write(head, 'latin1');
    const t = a.tunnel(switched, switched ? 101 : status);
    const client = new SocketEnd(this.socket, t);
    const upstream = new StreamEnd(stream, t);
    t.start(client, upstream);
    // Early bytes went with the request head to HTTP/1.1 endpoints; here they open the tunnel.
    client.attach(switched ? this.early : null);
    upstream.attach(null, endStream);
  }

  onFailed(kind: ProxyErrorKind): void {
    this.socket.removeListener('close', this.onClientClose);
    answerAndClose(this.socket, kind.httpStatus, errorResponse(kind));
  }
}

/** Answers a client whose upgrade is not carried out, then closes its connection. */
export function answerAndClose(socket: net.Socket, status: number, r: ErrorResponse): void {
  if (socket.destroyed) return;
  socket.end(errorAnswer(status, r));
  // Read and drop what still comes (a reset could destroy the answer), for a while.
  socket.resume();
  setTimeout(destroySocket, CLOSE_LINGER_MS, socket).unref();
}

function destroySocket(s: net.Socket): void {
  s.destroy();
}
