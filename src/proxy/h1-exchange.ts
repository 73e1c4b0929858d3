import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from 'node:http';
import type { ProxyErrorKind } from '../errors.js';
import { errorResponse } from './error-responses.js';
import { Exchange, type ExchangeObserver } from './exchange.js';
import { isHopByHop } from './headers.js';
import type { ServiceRuntime } from './service-runtime.js';

/** Request bytes buffered towards the upstream before the client's socket is paused. */
const PAUSE_REQUEST_AT = 1 << 20;

/**
 * An exchange whose client speaks HTTP/1.1 (node:http's parser). Headers are
 * translated to the HTTP/2 form for the upstream (RFC 9113 §8.2.2, §8.3.1:
 * Host becomes :authority, connection-specific fields are dropped, `te`
 * survives only as "trailers") and back; trailers reach the client in the
 * chunked encoding.
 */
export class H1Exchange extends Exchange {
  private unconsumed = 0;
  private paused = false;

  constructor(
    service: ServiceRuntime,
    observer: ExchangeObserver | undefined,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    super(service, observer);
  }

  /** Wires the client's body and close events into the exchange. */
  attachRequest(): void {
    const req = this.req;
    req.on('data', (d: Buffer) => {
      this.unconsumed += d.length;
      if (this.unconsumed > PAUSE_REQUEST_AT && !this.paused) {
        this.paused = true;
        req.pause();
      }
      this.clientData(d, false);
    });
    req.on('end', () => {
      const raw = req.rawTrailers;
      if (raw.length > 0) {
        const t: string[] = [];
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i]!.toLowerCase();
          if (!isHopByHop(name)) t.push(name, raw[i + 1]!);
        }
        this.clientTrailers(t);
      } else {
        this.clientData(EMPTY, true);
      }
    });
    this.res.on('close', () => {
      if (!this.res.writableFinished) this.clientReset();
    });
  }

  protected downHeaders(h: readonly string[], endStream: boolean): void {
    const res = this.res;
    const status = Number(h[1]);
    const headers: OutgoingHttpHeaders = {};
    for (let i = 2; i < h.length; i += 2) {
      const name = h[i]!;
      if (name.charCodeAt(0) === 0x3a || isHopByHop(name)) continue;
      const prev = headers[name];
      if (prev === undefined) headers[name] = h[i + 1]!;
      else if (Array.isArray(prev)) prev.push(h[i + 1]!);
      else headers[name] = [String(prev), h[i + 1]!];
    }
    if (status < 200) {
      res.writeProcessing?.();
      return;
    }
    res.writeHead(status, headers);
    if (endStream) res.end();
  }

  protected downData(d: Buffer, endStream: boolean): void {
    const res = this.res;
    if (d.length > 0) {
      if (res.write(d)) this.responseConsumed(d.length);
      else res.once('drain', () => this.responseConsumed(d.length));
    }
    if (endStream) res.end();
  }

  protected downTrailers(t: readonly string[]): void {
    const trailers: Record<string, string> = {};
    for (let i = 0; i < t.length; i += 2) trailers[t[i]!] = t[i + 1]!;
    this.res.addTrailers(trailers);
    this.res.end();
  }

  protected downReset(): void {
    this.res.destroy();
  }

  protected downConsume(n: number): void {
    this.unconsumed -= n;
    if (this.paused && this.unconsumed < PAUSE_REQUEST_AT / 2) {
      this.paused = false;
      this.req.resume();
    }
  }

  /** node:http reads and discards the rest of the request body once the response is finished. */
  protected requestCutShort(): void {}

  protected downError(kind: ProxyErrorKind): void {
    const r = errorResponse(kind);
    const res = this.res;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const h = r.httpHeaders;
    const headers: OutgoingHttpHeaders = {};
    for (let i = 2; i < h.length; i += 2) headers[h[i]!] = h[i + 1]!;
    res.writeHead(kind.httpStatus, headers);
    res.end(r.httpBody);
  }
}

const EMPTY = Buffer.alloc(0);

/** The HTTP/2-style header list of an HTTP/1.1 request (RFC 9113 §8.3.1). */
export function h1RequestHeaders(req: IncomingMessage): string[] {
  const raw = req.rawHeaders;
  let authority = '';
  const h: string[] = [':method', req.method ?? 'GET', ':scheme', 'http', ':path', req.url ?? '/', ':authority', ''];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name === 'host') {
      if (authority === '') authority = value;
      continue;
    }
    if (name === 'te') {
      // RFC 9113 §8.2.2: te may only carry "trailers".
      if (value.toLowerCase().includes('trailers')) h.push('te', 'trailers');
      continue;
    }
    if (isHopByHop(name)) continue;
    h.push(name, value);
  }
  if (authority !== '') h[7] = authority;
  else h.splice(6, 2);
  return h;
}
