/**
 * Real servers and clients for end-to-end tests: a Switchyard proxy built
 * from a configuration object, node:http2 backends that say who they are,
 * and request helpers. Everything listens on 127.0.0.1 with ephemeral ports.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../src/config/index.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { defaultPolicies } from '../../src/policy/index.js';

export interface RunningProxy {
  proxy: Proxy;
  /** Port of the listener called `name` (the first one by default). */
  port(name?: string): number;
  stop(): Promise<void>;
}

export async function startProxy(raw: Record<string, unknown>): Promise<RunningProxy> {
  const config = parseConfig({ admin: { enabled: false }, ...raw }, 'test');
  const proxy = new Proxy(config, { policies: defaultPolicies });
  await proxy.start();
  return {
    proxy,
    port(name?: string) {
      const l = name === undefined ? proxy.listeners[0] : proxy.listeners.find((x) => x.name === name);
      if (l === undefined) throw new Error(`no listener ${name}`);
      return l.address.port;
    },
    stop: () => proxy.stop(200),
  };
}

/** Waits until every service has a ready (connected) endpoint, by events of the pools. */
export async function waitReady(p: RunningProxy, count?: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    let ok = true;
    for (const s of p.proxy.services.values()) {
      const ready = s.endpoints.filter((e) => e.state === 1).length;
      if (ready < (count ?? s.endpoints.length)) ok = false;
    }
    if (ok) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('endpoints did not become ready');
}

export interface H2Backend {
  name: string;
  port: number;
  server: http2.Http2Server;
  requests: number;
  /** Date.now() of the first request (0: none yet). */
  firstAt: number;
  sessions: number;
  close(): Promise<void>;
  /** Graceful restart: GOAWAY on every session (in-flight streams finish), stop, listen again on the same port. */
  restart(): Promise<void>;
}

export interface H2BackendOptions {
  /** Address to listen on (default 127.0.0.1; other 127.0.0.0/8 addresses make distinct hosts). */
  host?: string;
  /** Port (default 0: any free one). */
  port?: number;
  maxConcurrentStreams?: number;
  /** Delay before answering, ms. */
  delayMs?: number;
  /** Custom handler instead of the default echo. */
  handler?: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, backend: H2Backend) => void;
}

/**
 * A node:http2 backend: answers 200 with `x-backend: NAME`, echoing the
 * request body's length and, for POST, the body itself.
 */
export async function startH2Backend(name: string, opts: H2BackendOptions = {}): Promise<H2Backend> {
  const host = opts.host ?? '127.0.0.1';
  const server = http2.createServer({
    settings: { maxConcurrentStreams: opts.maxConcurrentStreams ?? 1000 },
  });
  const b: H2Backend = {
    name,
    port: 0,
    server,
    requests: 0,
    firstAt: 0,
    sessions: 0,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sessions) s.destroy();
      }),
    restart: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sessions) s.close();
      await closed;
      await new Promise<void>((r, j) => {
        server.once('error', j);
        server.listen(b.port, host, () => r());
      });
    },
  };
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    b.sessions++;
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    if (b.requests++ === 0) b.firstAt = Date.now();
    if (opts.handler) return opts.handler(stream, headers, b);
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => {
      const respond = (): void => {
        if (stream.destroyed) return;
        const body = Buffer.concat(chunks);
        stream.respond({ ':status': 200, 'x-backend': name, 'x-request-bytes': String(body.length) });
        stream.end(headers[':method'] === 'POST' ? body : `hello from ${name}\n`);
      };
      if (opts.delayMs) setTimeout(respond, opts.delayMs);
      else respond();
    });
    stream.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  b.port = (server.address() as AddressInfo).port;
  return b;
}

export interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | undefined;
}

/** One request on an existing node:http2 client session. */
export function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer | string,
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    req.on('response', (h) => (resHeaders = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () =>
      resolve({ status: Number(resHeaders[':status']), headers: resHeaders, body: Buffer.concat(chunks), trailers }),
    );
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

export function connect(port: number, options?: http2.ClientSessionOptions): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`, options);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

export function closeSession(s: http2.ClientHttp2Session): Promise<void> {
  if (s.destroyed) return Promise.resolve();
  return new Promise((r) => {
    s.once('close', () => r());
    if (!s.closed) s.close();
  });
}

/** Runs `fn` `total` times with at most `concurrency` calls in flight. */
export async function runConcurrently(total: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  async function worker(): Promise<void> {
    while (next < total) await fn(next++);
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
}
