import http2 from 'node:http2';
import { parseArgs, stringFlag, UsageError, type ParsedArgs } from './args.js';

export const DIAGNOSE_USAGE = `Usage:
  switchyard diagnose URL [--requests N] [--connections M] [--grpc]
                          [--identify header:NAME|trailer:NAME|json:FIELD] [--concurrency C] [--json]

Finds out whether a target (any HTTP/2 server or load balancer, h2c or TLS)
balances per connection or per request: sends N requests (default 1000) over
one HTTP/2 connection, then N more spread over M separate connections (default
10), identifies which backend answered each one, and explains what it saw.

  --grpc        send gRPC health checks (grpc.health.v1.Health/Check) instead of GET URL
  --identify    where the backend's name is: a response header (default: the first of
                x-backend, server, x-served-by, hostname that is present), a trailer,
                or a field of a JSON body (json:hostname)
  --concurrency requests in flight per connection (default 20)

Exit codes: 0 conclusive, 1 requests failed, 2 usage error, 3 inconclusive
(fewer than two backends seen, or the backend could not be identified).`;

const DEFAULT_HEADERS = ['x-backend', 'server', 'x-served-by', 'hostname'];

export type Identify = { kind: 'header' | 'trailer' | 'json'; name: string } | { kind: 'auto' };

export function parseIdentify(v: string | undefined): Identify {
  if (v === undefined) return { kind: 'auto' };
  const i = v.indexOf(':');
  const kind = v.slice(0, i);
  const name = v.slice(i + 1);
  if (i <= 0 || name === '' || (kind !== 'header' && kind !== 'trailer' && kind !== 'json')) {
    throw new UsageError('--identify must be header:NAME, trailer:NAME or json:FIELD');
  }
  return { kind, name: kind === 'json' ? name : name.toLowerCase() };
}

interface Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

function one(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body: Buffer | undefined, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    req.setTimeout(timeoutMs, () => req.close(http2.constants.NGHTTP2_CANCEL));
    req.on('response', (h) => (resHeaders = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => resolve({ status: Number(resHeaders[':status'] ?? 0), headers: resHeaders, trailers, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    req.on('close', () => {
      if (req.rstCode !== undefined && req.rstCode !== 0) reject(new Error(`stream reset (code ${req.rstCode})`));
    });
    if (body !== undefined) req.end(body);
  });
}

function backendOf(a: Answer, how: Identify): string | undefined {
  const str = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(',') : v);
  switch (how.kind) {
    case 'header':
      return str(a.headers[how.name]);
    case 'trailer':
      return str(a.trailers[how.name]) ?? str(a.headers[how.name]);
    case 'json': {
      try {
        let v: unknown = JSON.parse(a.body.toString('utf8'));
        for (const k of how.name.split('.')) v = (v as Record<string, unknown> | null)?.[k];
        return v === undefined || v === null ? undefined : String(v);
      } catch {
        return undefined;
      }
    }
    default:
      for (const h of DEFAULT_HEADERS) {
        const v = str(a.headers[h]) ?? str(a.trailers[h]);
        if (v !== undefined) return v;
      }
      return undefined;
  }
}

function connect(url: URL): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(url.origin, { rejectUnauthorized: false });
    s.once('connect', () => {
      s.removeListener('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

export interface ConnectionResult {
  /** Backend name → responses. */
  backends: Map<string, number>;
  ok: number;
  errors: number;
  unidentified: number;
  firstError: string | undefined;
}

/** `n` requests on one new connection, `concurrency` at a time. */
async function runConnection(url: URL, n: number, grpc: boolean, how: Identify, concurrency: number, timeoutMs: number): Promise<ConnectionResult> {
  const r: ConnectionResult = { backends: new Map(), ok: 0, errors: 0, unidentified: 0, firstError: undefined };
  let session: http2.ClientHttp2Session;
  try {
    session = await connect(url);
  } catch (e) {
    r.errors = n;
    r.firstError = `connect: ${(e as Error).message}`;
    return r;
  }
  const headers: http2.OutgoingHttpHeaders = grpc
    ? { ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' }
    : { ':method': 'GET', ':path': `${url.pathname}${url.search}` };
  // An empty HealthCheckRequest: uncompressed, length 0.
  const body = grpc ? Buffer.alloc(5) : undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      try {
        const a = await one(session, headers, body, timeoutMs);
        const grpcStatus = a.trailers['grpc-status'] ?? a.headers['grpc-status'];
        if (a.status >= 500 || (grpc && grpcStatus !== undefined && grpcStatus !== '0' && grpcStatus !== '12')) {
          r.errors++;
          r.firstError ??= `status ${a.status}${grpcStatus !== undefined ? `, grpc-status ${String(grpcStatus)}` : ''}`;
        } else {
          r.ok++;
        }
        const b = backendOf(a, how);
        if (b === undefined) r.unidentified++;
        else r.backends.set(b, (r.backends.get(b) ?? 0) + 1);
      } catch (e) {
        r.errors++;
        r.firstError ??= (e as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  await new Promise<void>((resolve) => {
    session.close(() => resolve());
  });
  return r;
}

export interface Diagnosis {
  verdict: 'per-request' | 'per-connection' | 'single-backend' | 'unidentified' | 'failed';
  conclusive: boolean;
  message: string;
  single: { requests: number; backends: Record<string, number> };
  multi: { connections: number; requests: number; backends: Record<string, number>; backendsPerConnection: number[] };
  errors: number;
}

const n = (x: number): string => x.toLocaleString('en-US');
const plural = (x: number, one: string, many: string): string => `${n(x)} ${x === 1 ? one : many}`;

/** The verdict from one connection's results and those of several connections. */
export function explain(single: ConnectionResult, multi: ConnectionResult[], requests: number): Diagnosis {
  const merged = new Map<string, number>();
  for (const c of multi) for (const [b, k] of c.backends) merged.set(b, (merged.get(b) ?? 0) + k);
  const all = new Set([...single.backends.keys(), ...merged.keys()]);
  const errors = single.errors + multi.reduce((a, c) => a + c.errors, 0);
  const identified = single.backends.size > 0 || merged.size > 0;
  const base = {
    single: { requests, backends: Object.fromEntries(single.backends) },
    multi: {
      connections: multi.length,
      requests: multi.reduce((a, c) => a + c.ok + c.errors, 0),
      backends: Object.fromEntries(merged),
      backendsPerConnection: multi.map((c) => c.backends.size),
    },
    errors,
  };
  const answered = single.ok + single.errors - (single.firstError?.startsWith('connect:') ? single.errors : 0);
  if (single.ok === 0 && multi.every((c) => c.ok === 0)) {
    return { ...base, verdict: 'failed', conclusive: false, message: `no request succeeded: ${single.firstError ?? multi.find((c) => c.firstError)?.firstError ?? 'unknown error'}` };
  }
  if (!identified) {
    return {
      ...base,
      verdict: 'unidentified',
      conclusive: false,
      message: `${plural(answered, 'response', 'responses')} did not say which backend answered (no ${DEFAULT_HEADERS.join(', ')} header); use --identify header:NAME, trailer:NAME or json:FIELD`,
    };
  }
  const spread = [...single.backends].sort((a, b) => b[1] - a[1]).map(([b, k]) => `${b}: ${n(k)}`).join(', ');
  const conns = plural(multi.length, 'connection', 'connections');
  if (single.backends.size > 1) {
    return {
      ...base,
      verdict: 'per-request',
      conclusive: true,
      message: `${plural(requests, 'request', 'requests')} on 1 connection were spread over ${single.backends.size} backends (${spread}); ${all.size} backends seen across ${conns}: the target balances per request`,
    };
  }
  if (all.size > 1) {
    const only = [...single.backends.keys()][0]!;
    return {
      ...base,
      verdict: 'per-connection',
      conclusive: true,
      message: `${plural(requests, 'request', 'requests')} on 1 connection all reached 1 backend (${only}) out of ${all.size} seen across ${conns}: the target balances per connection; HTTP/2 clients will pin`,
    };
  }
  return {
    ...base,
    verdict: 'single-backend',
    conclusive: false,
    message: `every request reached the same backend (${[...all][0]!}), on 1 connection and across ${conns}: only one backend is visible, so the balancing cannot be told apart`,
  };
}

export async function runDiagnose(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let p: ParsedArgs;
  let url: URL;
  let requests: number;
  let connections: number;
  let concurrency: number;
  let how: Identify;
  try {
    p = parseArgs(args, ['help', 'grpc', 'json']);
    if (p.flags.has('help')) {
      out.write(`${DIAGNOSE_USAGE}\n`);
      return 0;
    }
    const target = p.positionals[0];
    if (target === undefined) throw new UsageError('diagnose needs a URL, e.g. http://127.0.0.1:8080/');
    try {
      url = new URL(target.includes('://') ? target : `http://${target}`);
    } catch {
      throw new UsageError(`not a URL: ${target}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('the URL must be http:// (h2c) or https://');
    requests = Number(stringFlag(p, 'requests') ?? 1000);
    connections = Number(stringFlag(p, 'connections') ?? 10);
    concurrency = Number(stringFlag(p, 'concurrency') ?? 20);
    for (const [k, v] of [['requests', requests], ['connections', connections], ['concurrency', concurrency]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${k} must be a positive integer`);
    }
    how = parseIdentify(stringFlag(p, 'identify'));
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${DIAGNOSE_USAGE}\n`);
    return 2;
  }
  const grpc = p.flags.has('grpc');
  const timeoutMs = 10_000;
  const single = await runConnection(url, requests, grpc, how, concurrency, timeoutMs);
  const per = Math.max(1, Math.ceil(requests / connections));
  // Separate sessions, opened one after another (each its own TCP connection).
  const multi: ConnectionResult[] = [];
  for (let i = 0; i < connections; i++) multi.push(await runConnection(url, per, grpc, how, concurrency, timeoutMs));
  const d = explain(single, multi, requests);
  if (p.flags.has('json')) {
    out.write(`${JSON.stringify({ target: url.href, grpc, ...d }, null, 2)}\n`);
  } else {
    out.write(`target: ${url.href}${grpc ? ' (gRPC health checks)' : ''}\n`);
    out.write(`1 connection, ${plural(requests, 'request', 'requests')}: ${fmtBackends(single.backends)}${single.unidentified ? `, ${n(single.unidentified)} unidentified` : ''}\n`);
    out.write(`${plural(connections, 'connection', 'connections')}, ${n(per)} each: backends per connection ${multi.map((c) => c.backends.size).join(' ')}\n`);
    if (d.errors > 0) out.write(`${plural(d.errors, 'request', 'requests')} failed (first: ${single.firstError ?? multi.find((c) => c.firstError)?.firstError})\n`);
    out.write(`${d.message}\n`);
  }
  if (d.verdict === 'failed') return 1;
  return d.conclusive ? 0 : 3;
}

function fmtBackends(m: Map<string, number>): string {
  if (m.size === 0) return 'no backend identified';
  return [...m].sort((a, b) => b[1] - a[1]).map(([b, k]) => `${b} ${n(k)}`).join(', ');
}
