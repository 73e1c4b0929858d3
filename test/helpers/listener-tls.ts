/**
 * Certificates and TLS clients for the tests of TLS on listeners: a CA with
 * a server certificate for 127.0.0.1 / localhost, client certificates with
 * SPIFFE IDs, and a second CA the proxy does not trust.
 */
import http2 from 'node:http2';
import https from 'node:https';
import tls from 'node:tls';
import { testPki, type PemPair, type TestCa, type TestPki } from './test-pki.js';

export interface ListenerPki {
  pki: TestPki;
  ca: TestCa;
  /** A CA the proxy does not trust. */
  rogue: TestCa;
  server: PemPair;
  client: PemPair;
  rogueClient: PemPair;
  cleanup(): void;
}

export const CLIENT_ID = 'spiffe://example.org/ns/prod/sa/frontend';

export function listenerPki(): ListenerPki {
  const pki = testPki();
  const ca = pki.ca('ca');
  const rogue = pki.ca('rogue');
  return {
    pki,
    ca,
    rogue,
    server: ca.issue('server', { dns: ['localhost'], ip: ['127.0.0.1'] }),
    client: ca.issue('client', { uri: [CLIENT_ID] }),
    rogueClient: rogue.issue('client', { uri: [CLIENT_ID] }),
    cleanup: () => pki.cleanup(),
  };
}

export interface TlsClientOptions {
  ca: string;
  client?: PemPair;
  servername?: string;
  alpn?: string[];
}

export interface Handshake {
  socket: tls.TLSSocket;
  alpn: string | false;
  /** Serial number (hex) of the certificate the server presented. */
  serial: string;
  subjectaltname: string;
}

/** A TLS connection to 127.0.0.1:port; resolves after the handshake, rejects on its error. */
export function tlsConnect(port: number, o: TlsClientOptions): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: o.ca,
      cert: o.client?.certPem,
      key: o.client?.keyPem,
      servername: o.servername,
      ALPNProtocols: o.alpn,
      // The server certificate names 127.0.0.1; a test asking for another name checks which certificate came back instead.
      ...(o.servername === undefined ? {} : { checkServerIdentity: () => undefined }),
    });
    socket.once('secureConnect', () => {
      const c = socket.getPeerCertificate();
      resolve({ socket, alpn: socket.alpnProtocol ?? false, serial: c.serialNumber, subjectaltname: c.subjectaltname ?? '' });
    });
    socket.once('error', reject);
  });
}

/**
 * Resolves with how a TLS 1.3 connection ends when the server refuses the
 * client after the handshake (the client's side of the handshake finishes
 * first): 'closed' when the server closes it before answering a request.
 */
export function refusedAfterHandshake(port: number, o: TlsClientOptions): Promise<'closed' | 'answered' | 'handshake-failed'> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: o.ca, cert: o.client?.certPem, key: o.client?.keyPem, ALPNProtocols: ['http/1.1'] });
    let answered = false;
    let secure = false;
    socket.on('secureConnect', () => {
      secure = true;
      socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    });
    socket.on('data', () => (answered = true));
    socket.on('error', () => {});
    socket.on('close', () => resolve(answered ? 'answered' : secure ? 'closed' : 'handshake-failed'));
  });
}

export interface H2Result {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

/** An HTTP/2 session over TLS (ALPN h2). */
export function h2Session(port: number, o: TlsClientOptions): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`https://127.0.0.1:${port}`, { ca: o.ca, cert: o.client?.certPem, key: o.client?.keyPem, servername: o.servername });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

export function h2Get(s: http2.ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders = {}): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    const req = s.request({ ':path': path, ...headers });
    let body = '';
    let h: http2.IncomingHttpHeaders = {};
    req.setEncoding('utf8');
    req.on('response', (x) => (h = x));
    req.on('data', (d: string) => (body += d));
    req.on('end', () => resolve({ status: Number(h[':status']), headers: h, body }));
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP/1.1 request over TLS (ALPN http/1.1), on a new connection. */
export function httpsGet(port: number, path: string, o: TlsClientOptions): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions & { ALPNProtocols: string[] } = {
      host: '127.0.0.1', port, path, ca: o.ca, cert: o.client?.certPem, key: o.client?.keyPem, agent: false, ALPNProtocols: ['http/1.1'],
    };
    const req = https.get(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}
