/**
 * WebSocket peers for end-to-end tests, with the `ws` library: echo
 * backends over HTTP/1.1 (Upgrade) and HTTP/2 (RFC 8441 extended CONNECT,
 * a node:http2 server whose CONNECT streams are handed to ws as its socket:
 * WebSocket#setSocket takes any Duplex), clients of both kinds, and the
 * checks that nothing of a tunnel is left open.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { RunningProxy } from './proxy-harness.js';
import { waitFor } from './wait.js';
import { upgradeRecords } from '../../src/proxy/upgrade/upgrade-counters.js';

export interface WsBackend {
  name: string;
  port: number;
  /** WebSockets accepted. */
  accepted: number;
  /** WebSockets open now. */
  open: number;
  /** Request heads seen (HTTP/1.1: upgrade and plain requests). */
  heads: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** Echo: every message goes back as it came. */
function echo(ws: WebSocket, b: WsBackend): void {
  b.accepted++;
  b.open++;
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('close', () => b.open--);
  ws.on('error', () => {});
}

export async function startH1WsBackend(name: string, port = 0): Promise<WsBackend> {
  const server = http.createServer((req, res) => {
    b.heads.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name });
    res.end(`plain ${req.url}`);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    b.heads.push(req.headers);
    if (req.url === '/forbidden') {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 5\r\nx-backend: ' + name + '\r\n\r\nnope\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => echo(ws, b));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const b: WsBackend = {
    name,
    port: (server.address() as AddressInfo).port,
    accepted: 0,
    open: 0,
    heads: [],
    close: async () => {
      for (const c of wss.clients) c.terminate();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return b;
}

/**
 * ws's closing-handshake timeout (its default for the WebSockets it creates
 * itself). A WebSocket built with `new WebSocket(null)` gets no default: its
 * close timer would be `setTimeout(destroy, undefined)`, i.e. 1 ms, and
 * destroy the stream (RST_STREAM CANCEL, close code 1006) unless the peer's
 * close frame came back through the proxy within that millisecond.
 */
const CLOSE_TIMEOUT_MS = 30_000;

/**
 * ws on an HTTP/2 stream (WebSocket#setSocket takes any Duplex). A client
 * masks its frames and expects unmasked ones (RFC 6455 §5.1); ws has no
 * public switch for that on a socket it did not open, hence `_isServer`.
 */
export function wsOnStream(stream: http2.Http2Stream, role: 'client' | 'server'): WebSocket {
  const ws = new WebSocket(null, undefined, { closeTimeout: CLOSE_TIMEOUT_MS });
  if (role === 'client') (ws as unknown as { _isServer: boolean })._isServer = false;
  ws.setSocket(stream, Buffer.alloc(0), { maxPayload: 1 << 20, allowSynchronousEvents: true });
  return ws;
}

export async function startH2WsBackend(name: string, enableConnectProtocol = true, port = 0): Promise<WsBackend> {
  const server = http2.createServer({ settings: { enableConnectProtocol } });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    b.heads.push(headers);
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 400 });
      stream.end();
      return;
    }
    stream.respond({ ':status': 200, 'sec-websocket-protocol': headers['sec-websocket-protocol'] ?? 'none' });
    echo(wsOnStream(stream, 'server'), b);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const b: WsBackend = {
    name,
    port: (server.address() as AddressInfo).port,
    accepted: 0,
    open: 0,
    heads: [],
    close: async () => {
      for (const s of sessions) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return b;
}

export function wsConnect(port: number, path = '/chat', protocols?: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode, headers: res.headers })));
  });
}

/** A WebSocket over an extended CONNECT stream of a node:http2 client (client side: frames are masked). */
export function wsOverH2(session: http2.ClientHttp2Session, path = '/chat'): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': path, ':authority': 'example.test',
      'sec-websocket-version': '13',
    });
    stream.once('error', reject);
    stream.once('response', (h) => {
      if (h[':status'] !== 200) return reject(Object.assign(new Error(`status ${h[':status']}`), { status: h[':status'], headers: h }));
      resolve(wsOnStream(stream, 'client'));
    });
  });
}

/** Sends `n` numbered messages and checks every echo comes back, in order; meanwhile the server's own stream is not needed (echo). */
export async function echoInOrder(ws: WebSocket, n: number, tag: string): Promise<void> {
  const got: string[] = [];
  const done = new Promise<void>((resolve, reject) => {
    ws.on('message', (d) => {
      got.push(String(d));
      if (got.length === n) resolve();
    });
    ws.once('close', () => reject(new Error(`${tag}: closed after ${got.length} echoes`)));
  });
  for (let i = 0; i < n; i++) ws.send(`${tag}-${i}-${'x'.repeat(i % 50)}`);
  await done;
  for (let i = 0; i < n; i++) assert.equal(got[i], `${tag}-${i}-${'x'.repeat(i % 50)}`, `${tag}: message ${i}`);
}

export function closeClean(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    ws.once('close', (code) => resolve(code));
    ws.close(1000, 'bye');
  });
}

export function closed(ws: WebSocket): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve(-1);
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

export function openTunnels(): number {
  let n = 0;
  for (const r of upgradeRecords()) n += r.open;
  return n;
}

/** Nothing left of the tunnels: counters, in-flight counts and endpoint loads back to 0. */
export async function assertNothingOpen(p: RunningProxy, backends: WsBackend[]): Promise<void> {
  await waitFor(() => openTunnels() === 0, 'open tunnels to reach 0');
  for (const s of p.proxy.services.values()) {
    assert.equal(s.inflight, 0, `service ${s.name} in flight`);
    for (const e of s.endpoints) assert.equal(e.load.pending, 0, `endpoint ${e.id} pending`);
  }
  await waitFor(() => backends.every((b) => b.open === 0), 'backends to see every WebSocket closed');
}
