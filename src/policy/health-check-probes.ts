/**
 * The probes of active health checks: tcp (the connect succeeds), http (GET
 * of a path, status in a range) and grpc (grpc.health.v1.Health/Check). A
 * probe opens its own connection and closes it when done: probes are not the
 * data path, they run every few seconds, and a fresh connection also proves
 * that the endpoint still accepts connections. The caller bounds each probe
 * with a timeout and aborts it through the signal.
 */
import http from 'node:http';
import type * as http2 from 'node:http2';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { z } from 'zod';
import type { UpstreamProtocol } from '../config/index.js';
import type { healthCheckSchema } from '../config/resilience-schema.js';

type HealthCheckConfig = z.output<typeof healthCheckSchema>;

export interface ProbeTarget {
  host: string;
  port: number;
}

export interface ProbeResult {
  healthy: boolean;
  /** What was seen ("status 503", "NOT_SERVING", "connect ECONNREFUSED"…), for logs. */
  detail: string;
}

/** Checks one endpoint once. Must settle soon after `signal` aborts, and never reject for endpoint errors. */
export type Probe = (target: ProbeTarget, signal: AbortSignal) => Promise<ProbeResult>;

const USER_AGENT = 'switchyard-health-check';
/** Responses of a probe are read up to this size; a health answer is tiny. */
const MAX_BODY = 64 * 1024;

function authority(t: ProbeTarget): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

function aborted(): ProbeResult {
  return { healthy: false, detail: 'aborted' };
}

/** Healthy when a TCP connection can be opened; it is closed at once. */
export const tcpProbe: Probe = (t, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve(aborted());
    const sock = net.connect({ host: t.host, port: t.port });
    const finish = (r: ProbeResult): void => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(r);
    };
    const onAbort = (): void => finish(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => finish({ healthy: true, detail: 'connected' }));
    sock.once('error', (e) => finish({ healthy: false, detail: `connect: ${e.message}` }));
  });

/** node:http2 costs ~1.5 MiB resident: loaded by the first HTTP/2 or gRPC probe, not with the proxy. */
let http2Module: typeof http2 | undefined;
function nodeHttp2(): typeof http2 {
  return (http2Module ??= createRequire(import.meta.url)('node:http2') as typeof http2);
}

interface H2Answer {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | undefined;
  body: Buffer;
}

/**
 * One request on a fresh HTTP/2 connection (prior knowledge, no upgrade).
 * With `readBody` false the answer comes as soon as the response headers do.
 */
function h2Exchange(
  t: ProbeTarget,
  headers: http2.OutgoingHttpHeaders,
  body: Buffer | undefined,
  readBody: boolean,
  signal: AbortSignal,
): Promise<H2Answer | Error> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(new Error('aborted'));
    const session = nodeHttp2().connect(`http://${authority(t)}`, { settings: { enablePush: false } });
    let settled = false;
    const finish = (r: H2Answer | Error): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      session.destroy();
      resolve(r);
    };
    const onAbort = (): void => finish(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    session.on('error', (e) => finish(e));
    session.on('close', () => finish(new Error('connection closed')));
    session.on('goaway', (code) => {
      if (code !== 0) finish(new Error(`GOAWAY ${code}`));
    });
    const req = session.request(
      { ':method': 'GET', ':path': '/', ':scheme': 'http', ':authority': authority(t), 'user-agent': USER_AGENT, ...headers },
      { endStream: body === undefined },
    );
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('response', (h) => {
      resHeaders = h;
      if (!readBody) finish({ headers: h, trailers: undefined, body: Buffer.alloc(0) });
    });
    req.on('trailers', (h) => (trailers = h));
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) finish(new Error(`response larger than ${MAX_BODY} bytes`));
      else chunks.push(d);
    });
    req.on('end', () => finish({ headers: resHeaders, trailers, body: Buffer.concat(chunks) }));
    req.on('error', (e) => finish(e));
    if (body !== undefined) req.end(body);
  });
}

function inRange(status: number, range: { min: number; max: number }): boolean {
  return status >= range.min && status <= range.max;
}

/** `GET path` over HTTP/2 prior knowledge; healthy when the status is in `expected`. */
export function http2Probe(path: string, expected: { min: number; max: number }): Probe {
  return async (t, signal) => {
    const r = await h2Exchange(t, { ':path': path }, undefined, false, signal);
    if (r instanceof Error) return { healthy: false, detail: r.message };
    const status = Number(r.headers[':status']);
    return { healthy: inRange(status, expected), detail: `status ${status}` };
  };
}

/** `GET path` over HTTP/1.1 on its own connection; healthy when the status is in `expected`. */
export function http1Probe(path: string, expected: { min: number; max: number }): Probe {
  return (t, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve(aborted());
      let settled = false;
      const finish = (r: ProbeResult): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        req.destroy();
        resolve(r);
      };
      const onAbort = (): void => finish(aborted());
      const req = http.request({
        host: t.host,
        port: t.port,
        method: 'GET',
        path,
        agent: false,
        headers: { host: authority(t), 'user-agent': USER_AGENT, connection: 'close' },
      });
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        finish({ healthy: inRange(status, expected), detail: `status ${status}` });
      });
      req.on('error', (e) => finish({ healthy: false, detail: e.message }));
      req.end();
    });
}

/** The http probe for a service: HTTP/2 prior knowledge for http2 services, HTTP/1.1 for http1 ones. */
export function httpProbe(path: string, expected: { min: number; max: number }, protocol: UpstreamProtocol): Probe {
  return protocol === 'http1' ? http1Probe(path, expected) : http2Probe(path, expected);
}

// ---------------------------------------------------------------- gRPC health v1

export const GRPC_HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

/** HealthCheckResponse.ServingStatus */
export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
const SERVING_STATUS_NAMES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** `HealthCheckRequest { string service = 1; }` in a gRPC length-prefixed message. */
export function encodeHealthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  // proto3 leaves a field with its default value ("") out.
  const message = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, ...varint(name.length)]), name]);
  const frame = Buffer.alloc(5 + message.length);
  frame[0] = 0; // not compressed
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** Reads a varint at `pos`; returns [value, next position] or undefined when truncated. */
function readVarint(b: Buffer, pos: number): [number, number] | undefined {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= b.length) return undefined;
    const byte = b[pos++]!;
    value += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) return [value, pos];
    mul *= 128;
  }
  return undefined;
}

/**
 * The `status` of `HealthCheckResponse { ServingStatus status = 1; }` from a
 * gRPC response body (length-prefixed message). Unknown fields are skipped;
 * a missing status is UNKNOWN (0). Undefined when the body is malformed.
 */
export function decodeHealthCheckResponse(body: Buffer): number | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined; // compressed messages are not asked for
  const len = body.readUInt32BE(1);
  if (body.length < 5 + len) return undefined;
  const m = body.subarray(5, 5 + len);
  let status = ServingStatus.UNKNOWN as number;
  let pos = 0;
  while (pos < m.length) {
    const key = readVarint(m, pos);
    if (key === undefined) return undefined;
    pos = key[1];
    const field = Math.floor(key[0] / 8);
    const wire = key[0] & 7;
    if (wire === 0) {
      const v = readVarint(m, pos);
      if (v === undefined) return undefined;
      pos = v[1];
      if (field === 1) status = v[0];
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const l = readVarint(m, pos);
      if (l === undefined) return undefined;
      pos = l[1] + l[0];
    } else return undefined;
    if (pos > m.length) return undefined;
  }
  return status;
}

/**
 * Unary `grpc.health.v1.Health/Check` over HTTP/2 (gRPC always is): healthy
 * only for grpc-status OK with status SERVING. NOT_SERVING, SERVICE_UNKNOWN,
 * UNKNOWN and any other grpc-status (UNIMPLEMENTED when the server has no
 * health service) are unhealthy.
 */
export function grpcProbe(service: string, timeoutMs: number): Probe {
  const request = encodeHealthCheckRequest(service);
  const headers: http2.OutgoingHttpHeaders = {
    ':method': 'POST',
    ':path': GRPC_HEALTH_CHECK_PATH,
    'content-type': 'application/grpc',
    te: 'trailers',
    'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
  };
  return async (t, signal) => {
    const r = await h2Exchange(t, headers, request, true, signal);
    if (r instanceof Error) return { healthy: false, detail: r.message };
    const httpStatus = Number(r.headers[':status']);
    if (httpStatus !== 200) return { healthy: false, detail: `HTTP status ${httpStatus}` };
    // Trailers, or headers only for a trailers-only answer.
    const end = r.trailers ?? r.headers;
    const grpcStatus = end['grpc-status'];
    if (grpcStatus === undefined) return { healthy: false, detail: 'no grpc-status' };
    if (grpcStatus !== '0') {
      const msg = end['grpc-message'];
      return { healthy: false, detail: `grpc-status ${String(grpcStatus)}${msg ? ` (${percentDecode(String(msg))})` : ''}` };
    }
    const status = decodeHealthCheckResponse(r.body);
    if (status === undefined) return { healthy: false, detail: 'malformed HealthCheckResponse' };
    return { healthy: status === ServingStatus.SERVING, detail: SERVING_STATUS_NAMES[status] ?? `status ${status}` };
  };
}

function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The probe a health-check configuration asks for. */
export function probeFor(config: HealthCheckConfig, protocol: UpstreamProtocol): Probe {
  switch (config.type) {
    case 'tcp':
      return tcpProbe;
    case 'http':
      return httpProbe(config.path, config.expectedStatus, protocol);
    case 'grpc':
      return grpcProbe(config.grpcService, config.timeout);
  }
}
