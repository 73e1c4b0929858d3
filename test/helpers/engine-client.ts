/**
 * Promise helpers over the engine's CLIENT role: connect over node:net and
 * run one request, uploading a body on demand (the next slice is handed to
 * sendData only once earlier ones left for the socket) and hashing the
 * response as it arrives.
 */
import net from 'node:net';
import { createHash } from 'node:crypto';
import {
  connectHttp2, type ConnectionHandler, type Http2Connection, type Http2Options, type Http2Stream, type StreamHandler,
} from '../../src/http2/index.js';

export interface EngineClient {
  conn: Http2Connection;
  socket: net.Socket;
  /** Resolves with the close error (undefined for a clean close). */
  closed: Promise<Error | undefined>;
  /** Resolves once the peer's first SETTINGS were applied. */
  settings: Promise<void>;
}

export function connectEngine(port: number, options?: Http2Options, extra?: ConnectionHandler): EngineClient {
  const socket = net.connect(port, '127.0.0.1');
  let onClosed!: (e: Error | undefined) => void;
  let onSettings!: () => void;
  const closed = new Promise<Error | undefined>((r) => (onClosed = r));
  const settings = new Promise<void>((r) => (onSettings = r));
  const conn = connectHttp2(
    socket,
    {
      onSettings(c) {
        onSettings();
        extra?.onSettings?.(c);
      },
      onGoaway(c, last, code) {
        extra?.onGoaway?.(c, last, code);
      },
      onStreamClosed(c, s) {
        extra?.onStreamClosed?.(c, s);
      },
      onClose(c, err) {
        onClosed(err);
        extra?.onClose?.(c, err);
      },
    },
    options,
  );
  return { conn, socket, closed, settings };
}

export class StreamResetError extends Error {
  constructor(
    readonly errorCode: number,
    readonly reason: number,
  ) {
    super(`stream reset: code ${errorCode}, reason ${reason}`);
  }
}

export interface EngineResponse {
  stream: Http2Stream;
  status: number;
  headers: string[];
  trailers: string[];
  length: number;
  sha: string;
  /** The body, when `keep` was asked for. */
  body?: Buffer;
}

export interface RequestOptions {
  body?: Buffer;
  /** Keep the response body (otherwise only hashed). */
  keep?: boolean;
  /** Do not consume received DATA (the test calls stream.consume itself). */
  noConsume?: boolean;
  onData?: (stream: Http2Stream, d: Buffer) => void;
  onStream?: (stream: Http2Stream) => void;
}

const UPLOAD_SLICE = 64 * 1024;
const UPLOAD_AHEAD = 256 * 1024;

class Exchange implements StreamHandler {
  headers: string[] = [];
  status = 0;
  trailers: string[] = [];
  length = 0;
  private readonly hash = createHash('sha256');
  private readonly chunks: Buffer[] = [];
  private offset = 0;
  private outstanding = 0;

  constructor(
    private readonly o: RequestOptions,
    private readonly resolve: (r: EngineResponse) => void,
    private readonly reject: (e: Error) => void,
  ) {}

  pump(s: Http2Stream): void {
    const body = this.o.body;
    if (body === undefined) return;
    while (this.outstanding < UPLOAD_AHEAD && this.offset < body.length && !s.closed) {
      const end = Math.min(this.offset + UPLOAD_SLICE, body.length);
      const slice = body.subarray(this.offset, end);
      this.offset = end;
      this.outstanding += slice.length;
      s.sendData(slice, end === body.length);
    }
    if (body.length === 0 && this.offset === 0) {
      this.offset = 1;
      s.end();
    }
  }

  private done(s: Http2Stream): void {
    this.resolve({
      stream: s,
      status: this.status,
      headers: this.headers,
      trailers: this.trailers,
      length: this.length,
      sha: this.hash.digest('hex'),
      body: this.o.keep ? Buffer.concat(this.chunks) : undefined,
    });
  }

  onHeaders(s: Http2Stream, h: string[], end: boolean): void {
    const st = Number(h[h.indexOf(':status') + 1]);
    if (st < 200) return;
    this.headers = h;
    this.status = st;
    if (end) this.done(s);
  }
  onData(s: Http2Stream, d: Buffer, end: boolean): void {
    this.hash.update(d);
    this.length += d.length;
    if (this.o.keep) this.chunks.push(Buffer.from(d));
    this.o.onData?.(s, d);
    if (!this.o.noConsume) s.consume(d.length);
    if (end) this.done(s);
  }
  onTrailers(s: Http2Stream, t: string[]): void {
    this.trailers = t;
    this.done(s);
  }
  onReset(_s: Http2Stream, code: number, reason: number): void {
    this.reject(new StreamResetError(code, reason));
  }
  onDataSent(s: Http2Stream, n: number): void {
    this.outstanding -= n;
    this.pump(s);
  }
}

/** Sends one request; `headers` are the full request header list. */
export function engineRequest(conn: Http2Connection, headers: string[], o: RequestOptions = {}): Promise<EngineResponse> {
  return new Promise((resolve, reject) => {
    const ex = new Exchange(o, resolve, reject);
    const s = conn.request(headers, o.body === undefined, ex);
    o.onStream?.(s);
    ex.pump(s);
  });
}

export function get(path: string, authority = 'localhost', method = 'GET'): string[] {
  return [':method', method, ':scheme', 'http', ':path', path, ':authority', authority];
}

export function field(h: readonly string[], name: string): string | undefined {
  for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
  return undefined;
}
