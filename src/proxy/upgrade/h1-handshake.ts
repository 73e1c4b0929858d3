import net from 'node:net';
import tls from 'node:tls';
import { alpnMismatch } from '../../security/client-tls.js';
import type { Endpoint } from '../endpoint.js';
import type { ServiceRuntime } from '../service-runtime.js';
import { MAX_RESPONSE_HEAD, headEnd, parseResponseHead, type ResponseHead } from './response-head.js';

/** What an HTTP/1.1 upgrade handshake reports. */
export interface H1HandshakeSink {
  /** The endpoint's final response head (1xx other than 101 are skipped); `rest`: bytes after it. The socket is paused. */
  h1Answer(socket: net.Socket, head: ResponseHead, rest: Buffer): void;
  /** Connecting failed (nothing reached the endpoint) or the endpoint's answer was lost or malformed. */
  h1Failed(connectFailure: boolean, malformed: boolean): void;
}

/**
 * The upgrade request to an HTTP/1.1 endpoint on a connection of its own
 * (TCP, or TLS with the service's `tls`): an upgraded connection is never
 * returned to a pool, so it is not taken from one. Connects within the
 * service's connectTimeout, writes the request head and any early bytes,
 * and reads the response head.
 */
export class H1Handshake {
  private readonly socket: net.Socket;
  private connected = false;
  private done = false;
  private buffered: Buffer | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly onDataBound = (d: Buffer): void => this.onData(d);
  private readonly onFailBound = (): void => this.fail();

  constructor(service: ServiceRuntime, ep: Endpoint, private readonly request: Buffer, private readonly sink: H1HandshakeSink) {
    const secure = service.tls;
    if (secure === undefined) {
      this.socket = net.connect({ host: ep.host, port: ep.port, noDelay: true });
      this.socket.once('connect', () => this.onConnect());
    } else {
      const s = tls.connect(secure.connectOptions(ep.host, ep.port, 'http/1.1', undefined));
      s.setNoDelay(true);
      s.once('secureConnect', () => {
        if (alpnMismatch(s, 'http/1.1') !== undefined) this.fail();
        else this.onConnect();
      });
      this.socket = s;
    }
    this.timer = setTimeout(handshakeTimedOut, service.config.connectTimeout, this);
    this.socket.on('error', this.onFailBound);
    this.socket.on('close', this.onFailBound);
  }

  private onConnect(): void {
    if (this.done) return;
    this.connected = true;
    clearTimeout(this.timer);
    this.socket.on('data', this.onDataBound);
    this.socket.write(this.request);
  }

  private onData(d: Buffer): void {
    let buf = this.buffered === null ? d : Buffer.concat([this.buffered, d]);
    for (;;) {
      const end = headEnd(buf);
      if (end < 0) {
        if (buf.length > MAX_RESPONSE_HEAD) return this.fail(true);
        this.buffered = buf;
        return;
      }
      const head = parseResponseHead(buf.toString('latin1', 0, end - 4));
      if (head === null) return this.fail(true);
      buf = buf.subarray(end);
      // RFC 9110 §15.2: interim responses before the answer (100, 102, 103) are not the answer.
      if (head.status < 200 && head.status !== 101) continue;
      this.done = true;
      this.buffered = null;
      const s = this.socket;
      s.pause();
      s.removeListener('data', this.onDataBound);
      s.removeListener('error', this.onFailBound);
      s.removeListener('close', this.onFailBound);
      this.sink.h1Answer(s, head, buf);
      return;
    }
  }

  /** Gives up: the client went away, or the handshake did not finish. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.socket.destroy();
  }

  fail(malformed = false): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.socket.destroy();
    this.sink.h1Failed(!this.connected, malformed);
  }
}

function handshakeTimedOut(h: H1Handshake): void {
  h.fail();
}
