import http from 'node:http';
import { parseArgs, stringFlag, UsageError, type ParsedArgs } from './args.js';
import { adminBase } from './stat.js';
import { SseReader } from '../telemetry/sse-reader.js';
import type { TapEvent } from '../telemetry/tap.js';
import { runTapRecord } from './tap-record.js';
import { formatDecision } from '../balancing/index.js';

export const TAP_USAGE = `Usage:
  switchyard tap [--admin HOST:PORT] [--service S] [--route R] [--listener L] [--method M]
                 [--path PREFIX] [--status N|5xx] [--grpc-status N] [--endpoint HOST:PORT]
                 [--classification success|failure|cancelled|refused] [--reason R]
                 [--rate N] [--max N] [--json] [--decisions]
  switchyard tap --record FILE [--duration 60s] [--admin HOST:PORT] [--service S]

Streams a summary of every finished request matching the filters from a
running proxy's admin server (/api/v1/tap), one line each (client=… is the
identity of the client's TLS certificate, when it sent one). --method matches
the HTTP method, a gRPC method ("pkg.Svc/Method") or its short name. The proxy
sends at most --rate events per second (default 100) and reports what it
dropped. --reason selects failures by reason (no-endpoint, timeout,
queue-timeout, connect-failed, upstream-5xx, …), shown as reason=… on each
failed request. --max exits after N events; --json prints the raw events.
--record writes every request for --duration (default 60s) with the
service's endpoints and policy to FILE, for \`switchyard simulate --replay FILE\`.
--decisions adds why the balancer picked each endpoint, on a line of its own
under the request: the rule that won, then each candidate compared with its
cost inputs (lat=mean±deviation, q=in flight, w=weight, util=ORCA
utilization, zone), the picked one marked *; with --json, a \`decision\`
field. The proxy records decisions only while such a subscriber is connected.
Exit codes: 0 done, 1 admin server unreachable, 2 usage error.`;

/** What the CLI prints of a tap event (the admin server streams TapEvent). */
type TapLine = Pick<TapEvent, 'time' | 'listener' | 'route' | 'service' | 'method' | 'path' | 'endpoint' | 'status' | 'grpcStatus' | 'latencyMs' | 'attempts' | 'errorCode' | 'classification' | 'reason'> & Partial<Pick<TapEvent, 'clientIdentity'>>;

export function formatTap(e: TapLine): string {
  const parts = [
    e.time,
    `${e.listener}/${e.route}`,
    e.service,
    `${e.method} ${e.path}`,
    `-> ${e.endpoint || '(none)'}`,
    `status=${e.status}`,
  ];
  if (e.grpcStatus >= 0) parts.push(`grpc-status=${e.grpcStatus}`);
  parts.push(`${e.latencyMs.toFixed(3)}ms`, `attempts=${e.attempts}`, e.classification);
  if (e.reason) parts.push(`reason=${e.reason}`);
  if (e.errorCode) parts.push(e.errorCode);
  if (e.clientIdentity) parts.push(`client=${e.clientIdentity}`);
  return parts.join(' ');
}

/** `--decisions`: the request line, then the balancing decision indented under it. */
export function formatTapWithDecision(e: TapLine & Pick<TapEvent, 'decision'>): string {
  const line = formatTap(e);
  return e.decision === undefined ? `${line}\n    why: (no decision recorded)` : `${line}\n    why: ${formatDecision(e.decision)}`;
}

const FILTERS: [flag: string, param: string][] = [
  ['service', 'service'], ['route', 'route'], ['listener', 'listener'], ['method', 'method'], ['path', 'path'],
  ['status', 'status'], ['grpc-status', 'grpcStatus'], ['endpoint', 'endpoint'], ['rate', 'rate'],
  ['classification', 'classification'], ['reason', 'reason'],
];

export async function runTap(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let p: ParsedArgs;
  let max = Infinity;
  const q = new URLSearchParams();
  try {
    p = parseArgs(args, ['help', 'json', 'decisions']);
    if (p.flags.has('help')) {
      out.write(`${TAP_USAGE}\n`);
      return 0;
    }
    if (p.flags.has('record')) return await runTapRecord(p, out, err);
    for (const [flag, param] of FILTERS) {
      const v = stringFlag(p, flag);
      if (v !== undefined) q.set(param, v);
    }
    const m = stringFlag(p, 'max');
    if (m !== undefined) {
      max = Number(m);
      if (!Number.isInteger(max) || max < 1) throw new UsageError('--max must be a positive integer');
    }
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${TAP_USAGE}\n`);
    return 2;
  }
  const json = p.flags.has('json');
  const decisions = p.flags.has('decisions');
  if (decisions) q.set('decisions', '1');
  const url = `${adminBase(p)}/api/v1/tap?${q.toString()}`;
  return await new Promise<number>((resolve) => {
    let seen = 0;
    const sse = new SseReader();
    const req = http.get(url, (res) => {
      if (res.statusCode !== 200) {
        err.write(`${url} answered ${res.statusCode}\n`);
        res.resume();
        resolve(1);
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        for (const { event, data } of sse.push(chunk)) {
          if (data === '') continue;
          if (event === 'dropped') {
            const d = JSON.parse(data) as { dropped: number };
            err.write(`(${d.dropped} events dropped by the rate limit)\n`);
            continue;
          }
          out.write(`${json ? data : decisions ? formatTapWithDecision(JSON.parse(data) as TapLine & Pick<TapEvent, 'decision'>) : formatTap(JSON.parse(data) as TapLine)}\n`);
          if (++seen >= max) {
            req.destroy();
            resolve(0);
            return;
          }
        }
      });
      res.on('end', () => resolve(0));
    });
    req.on('error', (e) => {
      if (seen >= max) return;
      err.write(`cannot tap ${url}: ${e.message}\n`);
      resolve(1);
    });
    process.once('SIGINT', () => {
      req.destroy();
      resolve(0);
    });
  });
}
