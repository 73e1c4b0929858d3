/**
 * A test server on Switchyard's HTTP/2 engine (acceptHttp2 over node:net).
 *
 * Routes (by :path, query ignored unless stated):
 *   /echo            streams the request body back as it arrives (request DATA is
 *                    consumed only once the echoed bytes left for the socket, so
 *                    flow control works end to end) and ends with trailers
 *                    x-sha256 / x-length of the request body.
 *   /buffered-echo   reads the whole body, then answers with headers x-sha256,
 *                    x-length, content-length and the body.
 *   /download?size=N&seed=S
 *                    N seeded bytes (seededBytes(N, S)), produced on demand as
 *                    earlier chunks leave for the socket.
 *   application/grpc requests: raw-bytes gRPC methods /test.Echo/Unary,
 *                    /test.Echo/ServerStream (x-copies copies of each message),
 *                    /test.Echo/ClientStream (one reply: the message count in ASCII),
 *                    /test.Echo/Bidi (echo each). Request metadata named x-* is
 *                    echoed in the response headers and trailers; x-fail-code makes a
 *                    Trailers-Only response with that grpc-status and a grpc-message.
 *   anything else    200 "hello\n" once the request ended.
 */
import net from 'node:net';
import { createHash, type Hash } from 'node:crypto';
import {
  acceptHttp2, ErrorCode, type Http2Connection, type Http2Options, type Http2Stream, type StreamHandler,
} from '../../src/http2/index.js';
import { seededBytes } from './engine-frames.js';

export type ExtraRoute = (conn: Http2Connection, stream: Http2Stream, headers: string[], endStream: boolean) => boolean;

export interface EngineTestServer {
  port: number;
  server: net.Server;
  connections: Set<Http2Connection>;
  /** Errors connections closed with (for diagnostics). */
  closeErrors: Error[];
  close(): Promise<void>;
}

export function header(h: readonly string[], name: string): string | undefined {
  for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
  return undefined;
}

const HELLO = Buffer.from('hello\n');

// ------------------------------------------------------------------ plain routes

const helloHandler: StreamHandler = {
  onHeaders() {},
  onData(s, d, end) {
    s.consume(d.length);
    if (end) sendHello(s);
  },
  onTrailers(s) {
    sendHello(s);
  },
  onReset() {},
  onDataSent() {},
};

function sendHello(s: Http2Stream): void {
  s.respond([':status', '200', 'content-type', 'text/plain', 'content-length', '6'], false);
  s.sendData(HELLO, true);
}

class EchoExchange implements StreamHandler {
  readonly hash: Hash = createHash('sha256');
  length = 0;

  start(s: Http2Stream, endStream: boolean): void {
    s.handler = this;
    s.respond([':status', '200', 'content-type', 'application/octet-stream'], false);
    if (endStream) this.finish(s);
  }

  private finish(s: Http2Stream): void {
    s.sendTrailers(['x-sha256', this.hash.digest('hex'), 'x-length', String(this.length)]);
  }

  onHeaders(): void {}
  onData(s: Http2Stream, d: Buffer, end: boolean): void {
    this.hash.update(d);
    this.length += d.length;
    // Consumed in onDataSent: the client can send only as fast as it reads.
    if (d.length > 0) s.sendData(d, false);
    if (end) this.finish(s);
  }
  onTrailers(s: Http2Stream): void {
    this.finish(s);
  }
  onReset(): void {}
  onDataSent(s: Http2Stream, n: number): void {
    s.consume(n);
  }
}

class BufferedEcho implements StreamHandler {
  chunks: Buffer[] = [];

  start(s: Http2Stream, endStream: boolean): void {
    s.handler = this;
    if (endStream) this.finish(s);
  }
  private finish(s: Http2Stream): void {
    const body = Buffer.concat(this.chunks);
    this.chunks = [];
    s.respond([
      ':status', '200', 'content-type', 'application/octet-stream', 'content-length', String(body.length),
      'x-sha256', createHash('sha256').update(body).digest('hex'), 'x-length', String(body.length),
    ], body.length === 0);
    if (body.length > 0) s.sendData(body, true);
  }
  onHeaders(): void {}
  onData(s: Http2Stream, d: Buffer, end: boolean): void {
    this.chunks.push(Buffer.from(d));
    s.consume(d.length);
    if (end) this.finish(s);
  }
  onTrailers(s: Http2Stream): void {
    this.finish(s);
  }
  onReset(): void {}
  onDataSent(): void {}
}

const DOWNLOAD_CHUNK = 64 * 1024;
const DOWNLOAD_AHEAD = 256 * 1024;
let downloadCache: { size: number; seed: number; bytes: Buffer } | undefined;

class Download implements StreamHandler {
  private offset = 0;
  private outstanding = 0;
  constructor(private readonly bytes: Buffer) {}

  start(s: Http2Stream, endStream: boolean): void {
    s.handler = this;
    s.respond([':status', '200', 'content-type', 'application/octet-stream', 'content-length', String(this.bytes.length)], this.bytes.length === 0);
    if (this.bytes.length > 0) this.produce(s);
    void endStream;
  }
  private produce(s: Http2Stream): void {
    while (this.outstanding < DOWNLOAD_AHEAD && this.offset < this.bytes.length && !s.closed) {
      const end = Math.min(this.offset + DOWNLOAD_CHUNK, this.bytes.length);
      const chunk = this.bytes.subarray(this.offset, end);
      this.offset = end;
      this.outstanding += chunk.length;
      s.sendData(chunk, end === this.bytes.length);
    }
  }
  onHeaders(): void {}
  onData(s: Http2Stream, d: Buffer): void {
    s.consume(d.length);
  }
  onTrailers(): void {}
  onReset(): void {}
  onDataSent(s: Http2Stream, n: number): void {
    this.outstanding -= n;
    this.produce(s);
  }
}

function downloadBytes(size: number, seed: number): Buffer {
  if (downloadCache === undefined || downloadCache.size !== size || downloadCache.seed !== seed) {
    downloadCache = { size, seed, bytes: seededBytes(size, seed) };
  }
  return downloadCache.bytes;
}

// ------------------------------------------------------------------ gRPC

/** Reassembles gRPC length-prefixed messages (1 flag byte + 4 byte big-endian length) across DATA frames. */
export class GrpcMessageReader {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private need = -1;

  push(d: Buffer): Buffer[] {
    const out: Buffer[] = [];
    if (d.length > 0) {
      this.chunks.push(Buffer.from(d));
      this.bytes += d.length;
    }
    for (;;) {
      if (this.need < 0) {
        if (this.bytes < 5) break;
        const head = this.take(5);
        if (head[0] !== 0) throw new Error('compressed gRPC message not supported');
        this.need = head.readUInt32BE(1);
      }
      if (this.bytes < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  get pending(): number {
    return this.bytes + (this.need >= 0 ? 5 : 0);
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const r = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.bytes -= n;
      return r;
    }
    const r = Buffer.allocUnsafe(n);
    let p = 0;
    while (p < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - p);
      c.copy(r, p, 0, k);
      p += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.bytes -= n;
    return r;
  }
}

export function grpcFrame(msg: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
}

class GrpcCall implements StreamHandler {
  private readonly reader = new GrpcMessageReader();
  private count = 0;
  private readonly meta: string[] = [];
  private readonly method: string;
  private readonly copies: number;

  constructor(headers: string[]) {
    this.method = header(headers, ':path') ?? '';
    this.copies = Number(header(headers, 'x-copies') ?? '3');
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!;
      if (n.startsWith('x-') && n !== 'x-copies' && n !== 'x-fail-code') this.meta.push(n, headers[i + 1]!);
    }
  }

  start(s: Http2Stream, headers: string[], endStream: boolean): void {
    s.handler = this;
    const fail = header(headers, 'x-fail-code');
    if (fail !== undefined) {
      // Trailers-Only: one HEADERS frame with END_STREAM.
      s.respond([':status', '200', 'content-type', 'application/grpc', 'grpc-status', fail, 'grpc-message', 'requested%20failure', ...this.meta], true);
      if (!endStream) s.reset(ErrorCode.NO_ERROR);
      return;
    }
    if (!['/test.Echo/Unary', '/test.Echo/ServerStream', '/test.Echo/ClientStream', '/test.Echo/Bidi'].includes(this.method)) {
      s.respond([':status', '200', 'content-type', 'application/grpc', 'grpc-status', '12', 'grpc-message', 'unknown method'], true);
      return;
    }
    s.respond([':status', '200', 'content-type', 'application/grpc', ...this.meta], false);
    if (endStream) this.finish(s);
  }

  private send(s: Http2Stream, msg: Buffer): void {
    const h = Buffer.alloc(5);
    h.writeUInt32BE(msg.length, 1);
    s.sendData(h, false);
    if (msg.length > 0) s.sendData(msg, false);
  }

  private finish(s: Http2Stream): void {
    if (this.reader.pending !== 0) {
      s.sendTrailers(['grpc-status', '13', 'grpc-message', 'truncated message']);
      return;
    }
    if (this.method === '/test.Echo/ClientStream') this.send(s, Buffer.from(String(this.count)));
    s.sendTrailers(['grpc-status', '0', ...this.meta]);
  }

  onHeaders(): void {}
  onData(s: Http2Stream, d: Buffer, end: boolean): void {
    s.consume(d.length);
    let msgs: Buffer[];
    try {
      msgs = this.reader.push(d);
    } catch {
      s.sendTrailers(['grpc-status', '12', 'grpc-message', 'compression']);
      return;
    }
    for (const m of msgs) {
      this.count++;
      if (this.method === '/test.Echo/ServerStream') {
        for (let i = 0; i < this.copies; i++) this.send(s, m);
      } else if (this.method !== '/test.Echo/ClientStream') {
        this.send(s, m);
      }
    }
    if (end) this.finish(s);
  }
  onTrailers(s: Http2Stream): void {
    this.finish(s);
  }
  onReset(): void {}
  onDataSent(): void {}
}

// ------------------------------------------------------------------ server

export function startEngineTestServer(options?: Http2Options, extra?: ExtraRoute): Promise<EngineTestServer> {
  const connections = new Set<Http2Connection>();
  const closeErrors: Error[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const conn = acceptHttp2(
      socket,
      {
        onStream(c, s, h, endStream) {
          if (extra !== undefined && extra(c, s, h, endStream)) return;
          const raw = header(h, ':path') ?? '/';
          const q = raw.indexOf('?');
          const path = q < 0 ? raw : raw.slice(0, q);
          const ct = header(h, 'content-type') ?? '';
          if (ct.startsWith('application/grpc')) {
            new GrpcCall(h).start(s, h, endStream);
          } else if (path === '/echo') {
            new EchoExchange().start(s, endStream);
          } else if (path === '/buffered-echo') {
            new BufferedEcho().start(s, endStream);
          } else if (path === '/download') {
            const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
            new Download(downloadBytes(Number(params.get('size') ?? '0'), Number(params.get('seed') ?? '1'))).start(s, endStream);
          } else {
            s.handler = helloHandler;
            if (endStream) sendHello(s);
          }
        },
        onClose(c, err) {
          connections.delete(c);
          if (err !== undefined) closeErrors.push(err);
        },
      },
      options,
    );
    connections.add(conn);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        server,
        connections,
        closeErrors,
        close: () =>
          new Promise<void>((r) => {
            for (const c of connections) c.destroy();
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}
