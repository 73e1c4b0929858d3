/**
 * The soak's node:http2 and node:http backends. What a backend does is named
 * in the request's query string, so one backend serves every scenario:
 *
 *   op=download&seed=S&size=N     200 with the body (S, N)
 *   op=upload                     reads the whole body, then 200 with its
 *                                 sha256 and length in x-request-sha256 /
 *                                 x-request-bytes
 *   op=echo                       200 at once, the request body streamed back
 *   op=reset&seed=S&after=N       200, N bytes of the body (S), then a reset
 *                                 (RST_STREAM INTERNAL_ERROR; HTTP/1.1: the
 *                                 connection is destroyed); after=-1 resets
 *                                 before any response header
 *   op=early&seed=S&size=N        413 with the body (S, N) before reading any
 *                                 of the request body, then stops reading
 *                                 (HTTP/2: RST_STREAM NO_ERROR, RFC 9113
 *                                 §8.1; HTTP/1.1: the rest is read and
 *                                 dropped)
 *   op=hold&delay=MS              answers 200 only after MS (the proxy's
 *                                 route timeout is meant to fire first)
 *   op=fail-once&id=I&mode=M&...  the first request with id I fails (M = 503
 *                                 or reset), any later one is a download;
 *                                 the ids are shared by every backend so a
 *                                 retry on another endpoint succeeds
 *
 * Each backend counts the streams it holds open, so the soak can check that
 * every stream the proxy opened was also closed.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { bodyChunks, Digest } from './payload.js';
import { writeBody } from './streams.js';

const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR } = http2.constants;

/** Longest `hold`: bounded so a backend never keeps a stream for ever. */
const MAX_HOLD_MS = 20_000;

export interface SoakBackend {
  readonly name: string;
  readonly protocol: 'http2' | 'http1';
  readonly port: number;
  /** Streams (requests) opened and not closed yet. */
  open(): number;
  /** Requests served since start. */
  requests(): number;
  close(): Promise<void>;
}

/** Request ids of `fail-once` requests already failed once, shared by all backends. */
export class FailOnceLedger {
  private readonly seen = new Set<string>();
  /** True the first time `id` is asked about. */
  firstTime(id: string): boolean {
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    return true;
  }
}

interface Op {
  op: string;
  seed: number;
  size: number;
  after: number;
  delay: number;
  id: string;
  mode: string;
}

function parseOp(path: string | undefined): Op {
  const q = new URL(path ?? '/', 'http://soak').searchParams;
  const num = (k: string, d = 0): number => (q.has(k) ? Number(q.get(k)) : d);
  return {
    op: q.get('op') ?? 'download',
    seed: num('seed'),
    size: num('size'),
    after: num('after'),
    delay: Math.min(num('delay'), MAX_HOLD_MS),
    id: q.get('id') ?? '',
    mode: q.get('mode') ?? '503',
  };
}

export async function startSoakH2Backend(name: string, ledger: FailOnceLedger): Promise<SoakBackend> {
  const server = http2.createServer({ settings: { maxConcurrentStreams: 10_000 } });
  const sessions = new Set<http2.ServerHttp2Session>();
  let open = 0;
  let requests = 0;
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  server.on('stream', (stream, headers) => {
    open++;
    requests++;
    stream.on('close', () => open--);
    stream.on('error', () => {});
    serveH2(name, stream, parseOp(headers[':path']), ledger);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    name,
    protocol: 'http2',
    port: (server.address() as AddressInfo).port,
    open: () => open,
    requests: () => requests,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sessions) s.destroy();
      }),
  };
}

/**
 * RST_STREAM INTERNAL_ERROR with the response unfinished. Not close(): it
 * ends the writable side first, so END_STREAM would go out before the reset
 * and the response would look complete.
 */
function resetMidResponse(stream: http2.ServerHttp2Stream): void {
  stream.destroy(new Error('reset on purpose'));
}

function serveH2(name: string, stream: http2.ServerHttp2Stream, o: Op, ledger: FailOnceLedger): void {
  const head = { 'x-backend': name };
  switch (o.op) {
    case 'download':
      stream.resume();
      stream.respond({ ':status': 200, ...head, 'x-body-size': String(o.size) });
      void writeBody(stream, o.seed, o.size);
      return;
    case 'upload': {
      const d = new Digest();
      stream.on('data', (c: Buffer) => d.update(c));
      stream.on('end', () => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, ...head, 'x-request-sha256': d.hex(), 'x-request-bytes': String(d.bytes) });
        stream.end();
      });
      return;
    }
    case 'echo':
      stream.respond({ ':status': 200, ...head });
      stream.on('data', (c: Buffer) => {
        if (!stream.write(c)) {
          stream.pause();
          stream.once('drain', () => stream.resume());
        }
      });
      stream.on('end', () => stream.end());
      return;
    case 'reset':
      stream.resume();
      if (o.after < 0) {
        stream.close(NGHTTP2_INTERNAL_ERROR);
        return;
      }
      stream.respond({ ':status': 200, ...head });
      void writeBody(stream, o.seed, o.after, { end: false }).then((ok) => {
        if (ok) resetMidResponse(stream);
      });
      return;
    case 'early':
      // The answer goes out before the request body: the stream is left
      // unread, and once the response is written the rest is refused.
      stream.respond({ ':status': 413, ...head, 'x-body-size': String(o.size) });
      stream.end(Buffer.concat([...bodyChunks(o.seed, o.size)]), () => stream.close(NGHTTP2_NO_ERROR));
      return;
    case 'hold': {
      stream.resume();
      const t = setTimeout(() => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, ...head });
        stream.end('late');
      }, o.delay);
      stream.on('close', () => clearTimeout(t));
      return;
    }
    case 'fail-once':
      stream.resume();
      if (ledger.firstTime(o.id)) {
        if (o.mode === 'reset') stream.close(NGHTTP2_INTERNAL_ERROR);
        else {
          stream.respond({ ':status': 503, ...head });
          stream.end('failing once');
        }
        return;
      }
      stream.respond({ ':status': 200, ...head, 'x-body-size': String(o.size), 'x-retried': '1' });
      void writeBody(stream, o.seed, o.size);
      return;
    default:
      stream.resume();
      stream.respond({ ':status': 400, ...head });
      stream.end(`unknown op ${o.op}`);
  }
}

export async function startSoakH1Backend(name: string, ledger: FailOnceLedger): Promise<SoakBackend> {
  let open = 0;
  let requests = 0;
  const server = http.createServer((req, res) => {
    open++;
    requests++;
    res.on('close', () => open--);
    req.on('error', () => {});
    res.on('error', () => {});
    serveH1(name, req, res, parseOp(req.url), ledger);
  });
  // The proxy keeps its upstream connections; a backend closing idle ones
  // races with requests in flight, which is not what this soak is about.
  server.keepAliveTimeout = 0;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    name,
    protocol: 'http1',
    port: (server.address() as AddressInfo).port,
    open: () => open,
    requests: () => requests,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function serveH1(name: string, req: http.IncomingMessage, res: http.ServerResponse, o: Op, ledger: FailOnceLedger): void {
  const head = { 'x-backend': name };
  switch (o.op) {
    case 'download':
      req.resume();
      res.writeHead(200, { ...head, 'x-body-size': String(o.size), 'content-length': String(o.size) });
      void writeBody(res, o.seed, o.size);
      return;
    case 'upload': {
      const d = new Digest();
      req.on('data', (c: Buffer) => d.update(c));
      req.on('end', () => {
        res.writeHead(200, { ...head, 'x-request-sha256': d.hex(), 'x-request-bytes': String(d.bytes), 'content-length': '0' });
        res.end();
      });
      return;
    }
    case 'echo':
      res.writeHead(200, head);
      req.pipe(res);
      return;
    case 'reset':
      req.resume();
      if (o.after < 0) {
        req.socket.destroy();
        return;
      }
      // Chunked, so that the cut is visible as a missing last chunk.
      res.writeHead(200, head);
      void writeBody(res, o.seed, o.after, { end: false }).then((ok) => {
        if (ok) res.write('', () => res.socket?.destroy());
      });
      return;
    case 'early':
      // The answer goes out before the request body is read; the rest of
      // the body is then read and dropped, so the connection stays usable.
      // (Closing instead would make the kernel answer the unread bytes with
      // a TCP RST, which can destroy the 413 before the proxy reads it.)
      res.writeHead(413, { ...head, 'x-body-size': String(o.size), 'content-length': String(o.size) });
      res.end(Buffer.concat([...bodyChunks(o.seed, o.size)]), () => req.resume());
      return;
    case 'hold': {
      req.resume();
      const t = setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(200, head);
        res.end('late');
      }, o.delay);
      res.on('close', () => clearTimeout(t));
      return;
    }
    case 'fail-once':
      req.resume();
      if (ledger.firstTime(o.id)) {
        if (o.mode === 'reset') req.socket.destroy();
        else {
          res.writeHead(503, { ...head, 'content-length': '12' });
          res.end('failing once');
        }
        return;
      }
      res.writeHead(200, { ...head, 'x-body-size': String(o.size), 'x-retried': '1', 'content-length': String(o.size) });
      void writeBody(res, o.seed, o.size);
      return;
    default:
      req.resume();
      res.writeHead(400, head);
      res.end(`unknown op ${o.op}`);
  }
}
