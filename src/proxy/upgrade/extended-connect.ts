import type net from 'node:net';
import { ErrorCode, type Http2Stream, type StreamHandler } from '../../http2/index.js';
import { ProxyErrors, type ProxyErrorKind } from '../../errors.js';
import { errorResponse, type ErrorResponse } from '../error-responses.js';
import { isHopByHop } from '../headers.js';
import type { ResponseHead } from './response-head.js';
import { SocketEnd, StreamEnd } from './tunnel-ends.js';
import type { UpgradeAttempt, UpgradeClient } from './upgrade-attempt.js';
import { writeHead } from './upgrade-fields.js';
import { newWebSocketKey, websocketAccept } from './websocket-accept.js';

/**
 * An HTTP/2 client's extended CONNECT (RFC 8441 §4: `:method CONNECT` with
 * `:protocol`, `:scheme`, `:path` and `:authority`), which the listener
 * accepts because it advertises SETTINGS_ENABLE_CONNECT_PROTOCOL.
 *
 * To an HTTP/2 endpoint it goes on as it came; the answer comes back as it
 * is, and after a 2xx DATA frames carry the tunnel both ways.
 *
 * To an HTTP/1.1 endpoint it becomes the HTTP/1.1 upgrade it stands for
 * (RFC 8441 §5): `GET` with `Connection: Upgrade`, `Upgrade: <protocol>` and,
 * for WebSockets, a Sec-WebSocket-Key of the proxy's whose accept value is
 * checked. A 101 is a 200 to the client and the connection's bytes travel as
 * DATA; another status is relayed without its body (the connection is closed).
 *
 * DATA the client sends before the answer is held (within the stream's
 * flow-control window) and opens the tunnel.
 */
export class ExtendedConnectClient implements UpgradeClient, StreamHandler {
  private attempt: UpgradeAttempt | null = null;
  private pending: Buffer[] | null = null;
  private pendingEnd = false;
  private key = '';
  /** Answered without a tunnel: what the client still sends is dropped. */
  private closed = false;

  constructor(
    private readonly stream: Http2Stream,
    private readonly headers: string[],
    /** :protocol, lower case. */
    private readonly protocol: string,
    endStream: boolean,
  ) {
    this.pendingEnd = endStream;
  }

  begin(a: UpgradeAttempt): void {
    this.attempt = a;
    this.stream.handler = this;
    a.start();
  }

  // ------------------------------------------------------------ the client's stream until the answer

  onHeaders(): void {}

  onData(s: Http2Stream, d: Buffer, endStream: boolean): void {
    if (this.closed) s.consume(d.length);
    else if (d.length > 0) (this.pending ??= []).push(d);
    if (endStream) this.pendingEnd = true;
  }

  onTrailers(): void {
    this.pendingEnd = true;
  }

  onReset(): void {
    this.attempt?.cancel();
  }

  onDataSent(): void {}

  // ------------------------------------------------------------ UpgradeClient

  h1Request(): Buffer {
    const h = this.headers;
    let path = '/';
    let authority = '';
    const fields: string[] = [];
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i]!;
      if (name === ':path') path = h[i + 1]!;
      else if (name === ':authority') authority = h[i + 1]!;
      else if (name.charCodeAt(0) === 0x3a || isHopByHop(name) || name === 'content-length' || name === 'sec-websocket-key') continue;
      else fields.push(name, h[i + 1]!);
    }
    const head = ['Host', authority, 'Connection', 'Upgrade', 'Upgrade', this.protocol];
    if (this.protocol === 'websocket') {
      this.key = newWebSocketKey();
      head.push('Sec-WebSocket-Key', this.key);
      // RFC 6455 §4.1: version 13, which RFC 8441 §5 clients send as well.
      if (!fields.includes('sec-websocket-version')) head.push('Sec-WebSocket-Version', '13');
    }
    return Buffer.from(writeHead(`GET ${path} HTTP/1.1`, head.concat(fields)), 'latin1');
  }

  h2Request(): string[] {
    return this.headers;
  }

  onH1Answer(a: UpgradeAttempt, up: net.Socket, head: ResponseHead, rest: Buffer): void {
    const switched = head.status === 101;
    const h: string[] = [':status', switched ? '200' : String(head.status)];
    let accept = '';
    for (let i = 0; i < head.fields.length; i += 2) {
      const name = head.fields[i]!.toLowerCase();
      if (name === 'sec-websocket-accept') accept = head.fields[i + 1]!;
      else if (!isHopByHop(name) && name !== 'content-length') h.push(name, head.fields[i + 1]!);
    }
    // RFC 6455 §4.1: an endpoint that did not answer our key did not agree to a WebSocket.
    if (switched && this.protocol === 'websocket' && accept !== websocketAccept(this.key)) {
      up.destroy();
      a.answerUnusable(ProxyErrors.UPSTREAM_PROTOCOL);
      return;
    }
    if (!switched) {
      up.destroy();
      a.answered(head.status >= 500, head.status);
      this.stream.respond(h, true);
      this.stopClient();
      return;
    }
    this.stream.respond(h, false);
    const t = a.tunnel(true, 200);
    const client = new StreamEnd(this.stream, t);
    const upstream = new SocketEnd(up, t);
    t.start(client, upstream);
    client.attach(this.pending, this.pendingEnd);
    this.pending = null;
    upstream.attach(rest);
  }

  onH2Answer(a: UpgradeAttempt, up: Http2Stream, h: string[], endStream: boolean): void {
    const status = Number(h[1]);
    if (endStream) {
      a.answered(status >= 500, status);
      this.stream.respond(h, true);
      this.stopClient();
      return;
    }
    this.stream.respond(h, false);
    const t = a.tunnel(status >= 200 && status < 300, status);
    const client = new StreamEnd(this.stream, t);
    const upstream = new StreamEnd(up, t);
    t.start(client, upstream);
    client.attach(this.pending, this.pendingEnd);
    this.pending = null;
    upstream.attach(null, false);
  }

  onFailed(kind: ProxyErrorKind): void {
    this.answerError(errorResponse(kind));
  }

  private answerError(r: ErrorResponse): void {
    this.stream.respond(r.httpHeaders, false);
    this.stream.sendData(r.httpBody, true);
    this.stopClient();
  }

  /** Answered: the client's tunnel bytes are not wanted (RFC 9113 §8.1: NO_ERROR once the answer is out). */
  private stopClient(): void {
    this.closed = true;
    const pending = this.pending;
    this.pending = null;
    if (pending !== null) for (const d of pending) this.stream.consume(d.length);
    if (!this.pendingEnd) this.stream.resetWhenSent(ErrorCode.NO_ERROR);
  }
}
