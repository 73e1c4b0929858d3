/**
 * Everything one soak run serves for its whole length: the backends (two
 * node:http2, two node:http, two @grpc/grpc-js, one nginx), the proxy process
 * in front of them, and the long-lived client connections that carry part
 * of the load from the first request to the last check.
 */
import http from 'node:http';
import type http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { FailOnceLedger, startSoakH1Backend, startSoakH2Backend, type SoakBackend } from './backends.js';
import { closeH2, h2Connect } from './clients.js';
import { echoService, GRPC_LIMITS, startSoakGrpcBackend, type SoakGrpcBackend } from './grpc-backend.js';
import { startSoakNginx, type SoakNginx } from './nginx.js';
import { httpGetText, startProxyProcess, type ProxyProcess } from './proxy-process.js';

/** Listener names: `edge` (auto, default HTTP/2 limits) and `tight` (HTTP/2, the smallest windows allowed). */
export const LISTENERS = ['edge', 'tight'] as const;
export type ListenerName = (typeof LISTENERS)[number];

/** Route timeout of the /timeout/ routes. */
export const ROUTE_TIMEOUT_MS = 300;

export function soakConfigYaml(ep: { h2: number[]; h1: number[]; grpc: number[]; nginx: number[] }): string {
  const endpoints = (ports: number[]) => ports.map((p) => `      - "127.0.0.1:${p}"`).join('\n');
  // The soak causes resets and failures on purpose; outlier detection would
  // eject endpoints for them and make the run depend on timing.
  const service = (name: string, protocol: string, ports: number[]) => `  - name: ${name}
    protocol: ${protocol}
    balancer: round-robin
    outlierDetection: { enabled: false }
    endpoints:
${endpoints(ports)}`;
  const retry = `retry: { on: [5xx, reset], attempts: 3, backoff: { base: 5ms, max: 20ms }, budget: { ratio: 10, minPerSecond: 10000 } }`;
  const routes = `    routes:
      - { name: grpc-retry, match: { grpcService: test.Echo, headers: { x-soak-retry: "1" } }, service: grpc, retry: { on: [unavailable], attempts: 3, backoff: { base: 5ms, max: 20ms }, budget: { ratio: 10, minPerSecond: 10000 } } }
      - { name: grpc, match: { grpcService: test.Echo }, service: grpc }
      - { name: nginx, match: { pathPrefix: /nginx/ }, service: nginx }
      - { name: retry-h2, match: { pathPrefix: /retry/h2/ }, service: h2, ${retry} }
      - { name: retry-h1, match: { pathPrefix: /retry/h1/ }, service: h1, ${retry} }
      - { name: timeout-h2, match: { pathPrefix: /timeout/h2/ }, service: h2, timeout: ${ROUTE_TIMEOUT_MS}ms }
      - { name: timeout-h1, match: { pathPrefix: /timeout/h1/ }, service: h1, timeout: ${ROUTE_TIMEOUT_MS}ms }
      - { name: h1, match: { pathPrefix: /h1/ }, service: h1 }
      - { name: h2, match: { pathPrefix: /h2/ }, service: h2 }`;
  return `admin:
  listen: "127.0.0.1:0"
log:
  level: info
shutdown:
  drainTimeout: 10s
listeners:
  - name: edge
    listen: "127.0.0.1:0"
    protocol: auto
    service: h2
    http2: { maxResetsPerWindow: 100000 }
${routes}
  - name: tight
    listen: "127.0.0.1:0"
    protocol: http2
    service: h2
    http2: { initialWindowSize: 65535, connectionWindowSize: 65535, maxResetsPerWindow: 100000 }
${routes}
services:
${service('h2', 'http2', ep.h2)}
${service('h1', 'http1', ep.h1)}
${service('grpc', 'http2', ep.grpc)}
${service('nginx', 'http2', ep.nginx)}
`;
}

export interface LongLivedH2 {
  label: string;
  listener: ListenerName;
  streamWindow: number;
  connectionWindow: number;
  session: http2.ClientHttp2Session;
  /** Set when the session closed before the end of the run. */
  lost?: string;
}

/** Stream / connection receive windows of the long-lived HTTP/2 clients. */
const LONG_LIVED: ReadonlyArray<{ listener: ListenerName; streamWindow: number; connectionWindow: number }> = [
  { listener: 'edge', streamWindow: 65_535, connectionWindow: 65_535 },
  { listener: 'edge', streamWindow: 16 << 20, connectionWindow: 16 << 20 },
  { listener: 'tight', streamWindow: 1 << 20, connectionWindow: 4 << 20 },
  { listener: 'tight', streamWindow: 16_384, connectionWindow: 65_535 },
];

/** flow_control_window of the long-lived gRPC clients (undefined: grpc-js's default). */
const GRPC_WINDOWS: ReadonlyArray<number | undefined> = [undefined, 1 << 20, 16 << 20];

export interface SoakEnvironment {
  proxy: ProxyProcess;
  h2Backends: SoakBackend[];
  h1Backends: SoakBackend[];
  grpcBackends: SoakGrpcBackend[];
  nginx: SoakNginx | undefined;
  longH2: LongLivedH2[];
  h1Agent: http.Agent;
  grpcClients: grpc.Client[];
  port(l: ListenerName): number;
  /** Streams still open on the backends (name → count), only those above 0. */
  backendOpenStreams(): Record<string, number>;
  closeClients(): Promise<void>;
  stop(): Promise<{ proxyExit: number | string }>;
}

export function grpcClient(port: number, window: number | undefined): grpc.Client {
  const Ctor = echoService();
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    ...GRPC_LIMITS,
    'grpc.use_local_subchannel_pool': 1,
    ...(window === undefined ? {} : { 'grpc-node.flow_control_window': window }),
  });
}

export async function startEnvironment(opts: { nginx: boolean; maxFileBytes: number }): Promise<SoakEnvironment> {
  const ledger = new FailOnceLedger();
  const started: Array<{ close(): unknown }> = [];
  try {
    const h2Backends = [await startSoakH2Backend('h2-a', ledger), await startSoakH2Backend('h2-b', ledger)];
    started.push(...h2Backends);
    const h1Backends = [await startSoakH1Backend('h1-a', ledger), await startSoakH1Backend('h1-b', ledger)];
    started.push(...h1Backends);
    const grpcBackends = [await startSoakGrpcBackend('grpc-a'), await startSoakGrpcBackend('grpc-b')];
    started.push(...grpcBackends);
    const nginx = opts.nginx ? await startSoakNginx({ maxFileBytes: opts.maxFileBytes }) : undefined;
    if (nginx) started.push({ close: () => nginx.stop() });
    const yaml = soakConfigYaml({
      h2: h2Backends.map((b) => b.port),
      h1: h1Backends.map((b) => b.port),
      grpc: grpcBackends.map((b) => b.port),
      // Without nginx the route still needs an endpoint; nothing is sent to it.
      nginx: nginx ? [nginx.port] : [h2Backends[0]!.port],
    });
    const proxy = await startProxyProcess(yaml, LISTENERS);
    started.push({ close: () => proxy.stop(1_000) });
    await waitProxyReady(proxy);
    const port = (l: ListenerName): number => proxy.ports.get(l)!;
    const longH2: LongLivedH2[] = [];
    for (const c of LONG_LIVED) {
      const session = await h2Connect(port(c.listener), c.streamWindow, c.connectionWindow);
      const ll: LongLivedH2 = { ...c, label: `${c.listener}/${c.streamWindow}/${c.connectionWindow}`, session };
      session.once('close', () => (ll.lost ??= 'closed'));
      session.once('goaway', (code) => (ll.lost ??= `GOAWAY ${code}`));
      longH2.push(ll);
    }
    const h1Agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const grpcClients = GRPC_WINDOWS.map((w) => grpcClient(port('edge'), w));
    let clientsClosed = false;
    const env: SoakEnvironment = {
      proxy,
      h2Backends,
      h1Backends,
      grpcBackends,
      nginx,
      longH2,
      h1Agent,
      grpcClients,
      port,
      backendOpenStreams() {
        const out: Record<string, number> = {};
        for (const b of [...h2Backends, ...h1Backends, ...grpcBackends]) if (b.open() > 0) out[b.name] = b.open();
        return out;
      },
      async closeClients() {
        if (clientsClosed) return;
        clientsClosed = true;
        await Promise.all(longH2.map((l) => closeH2(l.session)));
        h1Agent.destroy();
        for (const c of grpcClients) c.close();
      },
      async stop() {
        await env.closeClients();
        const proxyExit = await proxy.stop();
        for (const b of [...h2Backends, ...h1Backends]) await b.close();
        for (const b of grpcBackends) b.close();
        await nginx?.stop();
        return { proxyExit };
      },
    };
    return env;
  } catch (e) {
    for (const s of started.reverse()) await s.close();
    throw e;
  }
}

/** Polls the admin server's /ready (every service has a pickable endpoint), bounded. */
async function waitProxyReady(proxy: ProxyProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await httpGetText(proxy.adminPort, '/ready', 2_000);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`the proxy was not ready within ${timeoutMs} ms: ${(e as Error).message}\n${proxy.child.tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
