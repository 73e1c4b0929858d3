/**
 * `switchyard tap --record FILE`: the live tap written to a recording that
 * `switchyard simulate --replay FILE` replays through every policy.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import http from 'node:http';
import { stringFlag, UsageError, type ParsedArgs } from './args.js';
import { adminBase } from './stat.js';
import { SseReader } from '../telemetry/sse-reader.js';
import type { TapEvent } from '../telemetry/tap.js';
import { parseDuration } from '../balancing/simulation/scenario.js';
import {
  RECORDING_FORMAT,
  RECORDING_VERSION,
  requestLine,
  type Outcome,
  type RecordedRequest,
  type RecordedService,
  type RecordingHeader,
} from '../balancing/simulation/replay-recording.js';

/** The tap's highest rate: a recording wants every request. */
const RECORD_RATE = 10_000;
const DEFAULT_DURATION_MS = 60_000;

/** Flags that would record a part of a service's arrivals (a replay needs them all). */
const PARTIAL_FILTERS = ['route', 'listener', 'method', 'path', 'status', 'grpc-status', 'endpoint', 'classification', 'reason', 'max', 'rate'];

interface TopologyView {
  services?: { name: string; endpoints?: { id: string; weight?: number; zone?: string | null; state?: string }[] }[];
}
interface ConfigView {
  config?: { zone?: string; services?: { name: string; balancer?: Record<string, unknown> }[] };
}

async function getJson<T>(url: string): Promise<T | undefined> {
  const r = await fetch(url);
  if (!r.ok) {
    await r.body?.cancel();
    return undefined;
  }
  return (await r.json()) as T;
}

/** Services, their endpoints and balancers, from /api/v1/topology and /api/v1/config. */
async function describeServices(base: string, service: string | undefined): Promise<{ services: RecordedService[]; zone: string | null; configRead: boolean }> {
  const topology = await getJson<TopologyView>(`${base}/api/v1/topology`);
  if (topology === undefined) throw new Error(`${base}/api/v1/topology did not answer 200`);
  const config = await getJson<ConfigView>(`${base}/api/v1/config`).catch(() => undefined);
  const balancers = new Map<string, Record<string, unknown>>();
  for (const s of config?.config?.services ?? []) if (s.balancer !== undefined) balancers.set(s.name, s.balancer);
  const services: RecordedService[] = [];
  for (const s of topology.services ?? []) {
    if (service !== undefined && s.name !== service) continue;
    const b = balancers.get(s.name);
    services.push({
      name: s.name,
      policy: typeof b?.policy === 'string' ? b.policy : null,
      balancer: b ?? null,
      endpoints: (s.endpoints ?? []).map((e) => ({ id: e.id, weight: e.weight ?? 1, zone: e.zone ?? null })),
    });
  }
  if (service !== undefined && services.length === 0) throw new Error(`the proxy has no service "${service}"`);
  return { services, zone: config?.config?.zone ?? null, configRead: config !== undefined };
}

function toRequest(e: TapEvent, startMs: number): RecordedRequest {
  // Proxies without `startMs` in tap events: the end time (ms resolution) less the latency.
  const start = typeof e.startMs === 'number' ? e.startMs : Date.parse(e.time) - e.latencyMs;
  const r: RecordedRequest = {
    t: Math.round((start - startMs) * 1000) / 1000,
    d: e.latencyMs,
    svc: e.service,
    ep: e.endpoint,
    st: e.status,
    o: e.classification as Outcome,
  };
  if (e.grpcStatus >= 0) r.gs = e.grpcStatus;
  if (e.attempts > 1) r.a = e.attempts;
  return r;
}

function closeStream(s: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.end(() => resolve());
  });
}

/** `switchyard tap --record FILE [--duration 60s] [--admin HOST:PORT] [--service S]`. Returns the exit code. */
export async function runTapRecord(p: ParsedArgs, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let file: string;
  let durationMs = DEFAULT_DURATION_MS;
  let service: string | undefined;
  try {
    file = stringFlag(p, 'record')!;
    const d = stringFlag(p, 'duration');
    if (d !== undefined) {
      const ms = parseDuration(d);
      if (ms === undefined || ms <= 0) throw new UsageError(`--duration must be a duration such as 60s or 2m, got "${d}"`);
      durationMs = ms;
    }
    service = stringFlag(p, 'service');
    for (const f of PARTIAL_FILTERS) {
      if (p.flags.has(f)) throw new UsageError(`--${f} cannot be used with --record: a replay needs every request of a service (filter with --service)`);
    }
    if (p.flags.has('json')) throw new UsageError('--json cannot be used with --record');
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return 2;
  }
  const base = adminBase(p);
  let described: Awaited<ReturnType<typeof describeServices>>;
  try {
    described = await describeServices(base, service);
  } catch (e) {
    err.write(`cannot record from ${base}: ${(e as Error).message}\n`);
    return 1;
  }
  if (!described.configRead) err.write(`(${base}/api/v1/config did not answer: the recording does not say which policy served it)\n`);
  let stream: WriteStream;
  try {
    stream = createWriteStream(file);
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
  } catch (e) {
    err.write(`cannot write ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  const q = new URLSearchParams({ rate: String(RECORD_RATE) });
  if (service !== undefined) q.set('service', service);
  const url = `${base}/api/v1/tap?${q.toString()}`;

  let header: RecordingHeader | undefined;
  const writeHeader = (startMs: number): void => {
    header = {
      format: RECORDING_FORMAT,
      version: RECORDING_VERSION,
      startedAt: new Date().toISOString(),
      startMs,
      source: base.replace(/^http:\/\//, ''),
      filter: service !== undefined ? { service } : {},
      zone: described.zone,
      services: described.services,
    };
    stream.write(`${JSON.stringify(header)}\n`);
  };
  let requests = 0;
  let dropped = 0;
  let openedAt = 0;
  const code = await new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (c: number): void => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      req.destroy();
      resolve(c);
    };
    const onSignal = (): void => finish(0);
    const sse = new SseReader();
    const req = http.get(url, (res) => {
      if (res.statusCode !== 200) {
        err.write(`${url} answered ${res.statusCode}\n`);
        res.resume();
        finish(1);
        return;
      }
      openedAt = performance.now();
      timer = setTimeout(finish, durationMs, 0);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (done) return;
        for (const { event, data } of sse.push(chunk)) {
          if (data === '') continue;
          if (event === 'dropped') {
            dropped += (JSON.parse(data) as { dropped: number }).dropped;
            continue;
          }
          const e = JSON.parse(data) as TapEvent;
          // t = 0 is the first request's end on the proxy's clock: about when the tap opened, whatever the clocks' skew.
          if (header === undefined) writeHeader(typeof e.startMs === 'number' ? e.startMs + e.latencyMs : Date.parse(e.time));
          stream.write(`${requestLine(toRequest(e, header!.startMs))}\n`);
          requests++;
        }
      });
      res.on('end', () => finish(0));
    });
    req.on('error', (e) => {
      if (done) return;
      err.write(`cannot tap ${url}: ${e.message}\n`);
      finish(1);
    });
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  if (header === undefined) writeHeader(Date.now());
  const recordedMs = openedAt > 0 ? performance.now() - openedAt : 0;
  stream.write(`${JSON.stringify({ end: true, durationMs: Math.round(recordedMs), requests, dropped })}\n`);
  await closeStream(stream);
  const names = described.services.map((s) => `${s.name} (${s.policy ?? 'policy unknown'}, ${s.endpoints.length} endpoints)`).join(', ');
  out.write(`recorded ${requests} requests in ${(recordedMs / 1000).toFixed(1)}s of ${names || 'no service'} to ${file}\n`);
  if (dropped > 0) err.write(`warning: the tap dropped ${dropped} events (rate limit ${RECORD_RATE}/s or a slow disk): the recording under-counts the traffic\n`);
  return code;
}
