/**
 * TLS upstreams for end-to-end tests: a node:http2 secure server (h2 only)
 * and an HTTPS HTTP/1.1 server, both on 127.0.0.1 with ephemeral ports,
 * optionally requiring a client certificate. Each connection is recorded:
 * the client certificate's serial and identity, and whether the TLS
 * session was resumed.
 */
import { spawnSync } from 'node:child_process';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { peerIdentity } from '../../src/security/identity.js';
import type { PemPair } from './test-pki.js';
import { startNginxServer } from './h1-peers.js';

export interface TlsConnectionRecord {
  /** Serial of the client certificate ('' without one). */
  serial: string;
  /** Identity of the client certificate ('' without one). */
  identity: string;
  resumed: boolean;
  protocol: string;
  /** The server name the client sent (SNI), '' without one. */
  servername: string;
}

export interface TlsBackend {
  port: number;
  requests: number;
  /** Every TLS connection that finished its handshake, in order. */
  connections: TlsConnectionRecord[];
  /** Resolves at the next finished handshake. */
  nextConnection(): Promise<TlsConnectionRecord>;
  /** HTTP/2 only: GOAWAY on every open session (their streams finish). */
  goawayAll(): void;
  close(): Promise<void>;
}

export interface TlsBackendOptions {
  name: string;
  pair: PemPair;
  /** CA bundle (PEM text) for client certificates: with it, a client certificate is required. */
  clientCa?: string;
  /** ALPN protocols the server accepts (default: what it serves); [] for a server without ALPN. */
  alpn?: string[];
}

function record(socket: TLSSocket): TlsConnectionRecord {
  const cert = socket.getPeerCertificate();
  const id = peerIdentity(cert);
  return {
    serial: cert !== null && 'serialNumber' in cert ? String(cert.serialNumber) : '',
    identity: 'identity' in id ? id.identity : '',
    resumed: socket.isSessionReused(),
    protocol: socket.getProtocol() ?? '',
    servername: typeof socket.servername === 'string' ? socket.servername : '',
  };
}

function tracker(): { connections: TlsConnectionRecord[]; add(socket: TLSSocket): void; next(): Promise<TlsConnectionRecord> } {
  const connections: TlsConnectionRecord[] = [];
  let waiters: Array<(r: TlsConnectionRecord) => void> = [];
  return {
    connections,
    add(socket) {
      const r = record(socket);
      connections.push(r);
      const w = waiters;
      waiters = [];
      for (const f of w) f(r);
    },
    next: () => new Promise((resolve) => waiters.push(resolve)),
  };
}

function tlsOptions(o: TlsBackendOptions): { cert: string; key: string; ca?: string; requestCert: boolean; rejectUnauthorized: boolean } {
  return {
    cert: o.pair.certPem,
    key: o.pair.keyPem,
    ...(o.clientCa === undefined ? {} : { ca: o.clientCa }),
    requestCert: o.clientCa !== undefined,
    rejectUnauthorized: o.clientCa !== undefined,
  };
}

/** node:http2 secure server, no HTTP/1.1: answers 200 `x-backend: NAME`, `x-client: <client identity>`. */
export async function startTlsH2Backend(o: TlsBackendOptions): Promise<TlsBackend> {
  const t = tracker();
  const server = http2.createSecureServer({ ...tlsOptions(o), allowHTTP1: false, ALPNProtocols: o.alpn ?? ['h2'] });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('secureConnection', (s: TLSSocket) => t.add(s));
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => {});
  });
  server.on('tlsClientError', () => {});
  const b: TlsBackend = {
    port: 0,
    requests: 0,
    connections: t.connections,
    nextConnection: t.next,
    goawayAll: () => {
      for (const s of sessions) s.close();
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sessions) s.destroy();
      }),
  };
  server.on('stream', (stream) => {
    b.requests++;
    const socket = stream.session?.socket as TLSSocket | undefined;
    const client = socket === undefined ? '' : record(socket).identity;
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200, 'x-backend': o.name, 'x-client': client });
      stream.end(`hello from ${o.name}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  b.port = (server.address() as AddressInfo).port;
  return b;
}

/** HTTPS (HTTP/1.1) server: answers 200 `x-backend: NAME`, `x-client: <client identity>`. */
export async function startTlsH1Backend(o: TlsBackendOptions): Promise<TlsBackend> {
  const t = tracker();
  const alpn = o.alpn ?? ['http/1.1'];
  const server = https.createServer({ ...tlsOptions(o), ...(alpn.length === 0 ? {} : { ALPNProtocols: alpn }) });
  server.on('secureConnection', (s: TLSSocket) => t.add(s));
  server.on('tlsClientError', () => {});
  const b: TlsBackend = {
    port: 0,
    requests: 0,
    connections: t.connections,
    nextConnection: t.next,
    goawayAll: () => server.closeIdleConnections(),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  server.on('request', (req, res) => {
    b.requests++;
    const client = record(req.socket as TLSSocket).identity;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'x-backend': o.name, 'x-client': client });
      res.end(`hello from ${o.name}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  b.port = (server.address() as AddressInfo).port;
  return b;
}

/** A TLS server without ALPN that reads and answers nothing (an HTTP/1.1 server of the kind that predates ALPN). */
export async function startTlsNoAlpnServer(pair: PemPair): Promise<TlsBackend> {
  const t = tracker();
  const sockets = new Set<Socket>();
  const server = tls.createServer({ cert: pair.certPem, key: pair.keyPem }, (s) => {
    t.add(s);
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    requests: 0,
    connections: t.connections,
    nextConnection: t.next,
    goawayAll: () => {},
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** Polls `cond` (bounded: 5 s) — for state the proxy exposes without an event. */
export { waitFor as until } from './wait.js';

export interface NginxTls {
  port: number;
  stop(): Promise<void>;
}

/** `listen … ssl http2` before nginx 1.25.1, `http2 on;` from then on. */
function nginxHttp2Directives(version: string): { listen: string; server: string } {
  const m = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(version);
  const n = m === null ? 0 : Number(m[1]) * 1e6 + Number(m[2]) * 1e3 + Number(m[3]);
  return n >= 1_025_001 ? { listen: 'ssl', server: 'http2 on;' } : { listen: 'ssl http2', server: '' };
}

/**
 * nginx as a TLS + HTTP/2 backend in a private prefix (one process,
 * foreground). `serverBlock` is the body of `server {}` after its listen
 * and certificate lines.
 */
export function startNginxTls(bin: string, pair: PemPair, serverBlock: string): Promise<NginxTls> {
  // `nginx -v` prints on stderr.
  const versionText = spawnSync(bin, ['-v'], { encoding: 'utf8' }).stderr ?? '';
  const d = nginxHttp2Directives(versionText);
  return startNginxServer(bin, 'swy-nginx-tls-', d.listen, `        ${d.server}
        ssl_certificate ${pair.cert};
        ssl_certificate_key ${pair.key};
${serverBlock}`);
}
