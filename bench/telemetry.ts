/**
 * `npm run bench:telemetry` — what request telemetry costs.
 *
 *   node dist/bench/telemetry.js [--micro] [--runs N] [--requests N]
 *
 * 1. Micro-benchmark (in process): the ExchangeObserver's cost per request
 *    (onExchangeStart + onExchangeEnd on real Endpoint / ServiceRuntime
 *    objects) with no observer, with telemetry and nobody tapping, with a tap
 *    subscriber, and with the access log (to /dev/null).
 * 2. End to end (skipped with --micro): Switchyard from the CLI in front of
 *    two engine-server backends, loaded by
 *    `h2load -c 1 -m 100 -n N http://127.0.0.1:PORT/`, with telemetry off
 *    (`--admin off`) and on (`--admin HOST:PORT`), optionally with a tap
 *    subscriber. Reports requests/s and the proxy's CPU time per request
 *    (utime + stime from /proc), median of interleaved runs.
 */
import http from 'node:http';
import path from 'node:path';
import { parseConfig } from '../src/config/index.js';
import type { Exchange, ExchangeObserver } from '../src/proxy/exchange/exchange.js';
import { Proxy } from '../src/proxy/proxy.js';
import { Telemetry } from '../src/telemetry/telemetry.js';
import { runH2load } from './lib/h2load.js';
import { treeCpuMs } from './lib/proc-cpu.js';
import { freePorts, requireTools, startProcess, stopAll, stopProcess, waitForPort } from './lib/processes.js';
import { repoRoot, switchyardCli, switchyardNodeFlags } from './lib/switchyard.js';
import pino from 'pino';

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// ---------------------------------------------------------------- micro-benchmark

function fakeExchanges(proxy: Proxy, n: number): Exchange[] {
  const svc = proxy.services.get('web')!;
  const out: Exchange[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      service: svc,
      lastEndpoint: svc.endpoints[i % svc.endpoints.length]!,
      listenerName: 'edge',
      routeName: 'default',
      method: 'POST',
      path: i % 2 ? '/pkg.Svc/Get' : '/pkg.Svc/List',
      isGrpc: true,
      status: 200,
      grpcStatus: i % 50 === 0 ? 14 : 0,
      errorCode: '',
      startedAt: 0,
      attempts: 1,
      responded: true,
      reqHeaders: [':method', 'POST', ':path', '/pkg.Svc/Get', 'content-type', 'application/grpc'],
    } as unknown as Exchange);
  }
  return out;
}

async function timeObserver(label: string, observer: ExchangeObserver | undefined, exchanges: Exchange[], rounds: number): Promise<number> {
  // Rounds of 1,000 requests; the event loop runs between rounds (as it does between
  // requests in the proxy) so asynchronous writers drain; only the calls are timed.
  const run = async (): Promise<number> => {
    let total = 0n;
    for (let r = 0; r < rounds; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < exchanges.length; i++) {
        const ex = exchanges[i]!;
        (ex as { startedAt: number }).startedAt = performance.now();
        if (observer !== undefined) {
          observer.onExchangeStart(ex);
          observer.onExchangeEnd(ex);
        }
      }
      total += process.hrtime.bigint() - t0;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return Number(total) / (rounds * exchanges.length);
  };
  await run(); // warm up
  const ns = median([await run(), await run(), await run()]);
  console.log(`  ${label.padEnd(44)} ${ns.toFixed(0).padStart(6)} ns/request`);
  return ns;
}

async function micro(): Promise<void> {
  const config = parseConfig({
    admin: { enabled: false },
    listeners: [{ name: 'edge', listen: '127.0.0.1:0', protocol: 'http2', service: 'web' }],
    services: [{ name: 'web', endpoints: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'] }],
  }, 'bench');
  console.log('observer cost per request (onExchangeStart + onExchangeEnd):');
  const rounds = 200;
  const make = (opts: ConstructorParameters<typeof Telemetry>[0]): { t: Telemetry; ex: Exchange[] } => {
    const t = new Telemetry({ processMetrics: false, ...opts });
    const p = new Proxy(config, { observer: t });
    t.attach(p);
    return { t, ex: fakeExchanges(p, 1000) };
  };
  const base = await timeObserver('no observer (loop and clock only)', undefined, fakeExchanges(new Proxy(config), 1000), rounds);
  const on = make({});
  const t1 = await timeObserver('telemetry, nobody tapping', on.t, on.ex, rounds);
  const tapped = make({});
  // A subscriber whose filter matches nothing: the event is built and offered, never written.
  const res = Object.assign(new http.ServerResponse(new http.IncomingMessage(null as never)), { write: () => true });
  tapped.t.tap.handle(new http.IncomingMessage(null as never), res as never, new URL('http://x/api/v1/tap?service=none'));
  const t2 = await timeObserver('telemetry, one tap subscriber (filtered out)', tapped.t, tapped.ex, rounds);
  const logged = make({ accessLog: pino(pino.destination({ dest: '/dev/null', sync: false })) });
  const t3 = await timeObserver('telemetry + access log (to /dev/null)', logged.t, logged.ex, rounds);
  console.log(`  => telemetry adds ${(t1 - base).toFixed(0)} ns/request; with a tap ${(t2 - base).toFixed(0)} ns; with the access log ${(t3 - base).toFixed(0)} ns`);
  tapped.t.close();
}

// ---------------------------------------------------------------- end to end

interface Mode {
  name: string;
  telemetry: boolean;
  tap: boolean;
}

async function endToEnd(runs: number, requests: number): Promise<void> {
  requireTools([{ name: 'h2load', pkg: 'nghttp2-client' }]);
  const [b1, b2, port, adminPort] = await freePorts(4);
  const server = path.join(repoRoot, 'dist', 'bench', 'servers', 'engine-server.js');
  const backends = [b1!, b2!].map((p) => startProcess(`backend-${p}`, process.execPath, [server, String(p)]));
  for (const [i, p] of [b1!, b2!].entries()) await waitForPort('127.0.0.1', p, 10_000, backends[i]);
  const modes: Mode[] = [
    { name: 'telemetry off (--admin off)', telemetry: false, tap: false },
    { name: 'telemetry on', telemetry: true, tap: false },
    { name: 'telemetry on + tap subscriber', telemetry: true, tap: true },
  ];
  const results = new Map<string, { rps: number[]; cpuUs: number[] }>(modes.map((m) => [m.name, { rps: [], cpuUs: [] }]));
  for (let r = 0; r < runs; r++) {
    for (const m of modes) {
      const proxy = startProcess('switchyard', process.execPath, [
        ...switchyardNodeFlags(), switchyardCli, 'run', '--listen', `127.0.0.1:${port}`, '--to', `127.0.0.1:${b1},127.0.0.1:${b2}`,
        '--balancer', 'round-robin', '--protocol', 'http2', '--log-level', 'warn',
        '--admin', m.telemetry ? `127.0.0.1:${adminPort}` : 'off',
      ]);
      await waitForPort('127.0.0.1', port!, 10_000, proxy);
      let tapReq: http.ClientRequest | undefined;
      if (m.tap) {
        await waitForPort('127.0.0.1', adminPort!, 10_000, proxy);
        tapReq = http.get(`http://127.0.0.1:${adminPort}/api/v1/tap?rate=100`, (res) => res.resume());
        tapReq.on('error', () => {});
      }
      const url = `http://127.0.0.1:${port}/`;
      await runH2load({ url, clients: 1, streams: 100, requests: Math.min(20_000, requests) });
      const cpu0 = treeCpuMs(proxy.pid);
      const res = await runH2load({ url, clients: 1, streams: 100, requests });
      const cpuMs = treeCpuMs(proxy.pid) - cpu0;
      tapReq?.destroy();
      await stopProcess(proxy);
      if (!res.ok || res.requests.succeeded === 0) {
        throw new Error(`h2load failed: ${res.error ?? ''} status ${JSON.stringify(res.status)}; backends alive: ${backends.map((b) => !b.hasExited())}; proxy stderr: ${proxy.stderr()}`);
      }
      const rec = results.get(m.name)!;
      rec.rps.push(res.reqPerSec);
      rec.cpuUs.push((cpuMs * 1000) / res.requests.succeeded);
      console.log(`  run ${r + 1} ${m.name.padEnd(32)} ${res.reqPerSec.toFixed(0).padStart(7)} req/s  ${((cpuMs * 1000) / res.requests.succeeded).toFixed(2)} µs CPU/request`);
    }
  }
  console.log(`\nmedian of ${runs} runs, h2load -c 1 -m 100 -n ${requests}:`);
  const off = results.get(modes[0]!.name)!;
  for (const m of modes) {
    const r = results.get(m.name)!;
    const rps = median(r.rps);
    const cpu = median(r.cpuUs);
    const dRps = ((rps / median(off.rps)) - 1) * 100;
    const dCpu = ((cpu / median(off.cpuUs)) - 1) * 100;
    console.log(`  ${m.name.padEnd(32)} ${rps.toFixed(0).padStart(7)} req/s (${dRps >= 0 ? '+' : ''}${dRps.toFixed(1)}%)  ${cpu.toFixed(2)} µs CPU/request (${dCpu >= 0 ? '+' : ''}${dCpu.toFixed(1)}%)`);
  }
  for (const b of backends) await stopProcess(b);
}

await micro();
if (!argv.includes('--micro')) {
  try {
    await endToEnd(Number(flag('runs') ?? 3), Number(flag('requests') ?? 100_000));
  } finally {
    await stopAll();
  }
}
