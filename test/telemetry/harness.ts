/**
 * A proxy with telemetry and its admin server, in this process, for the
 * telemetry tests: everything on 127.0.0.1 with ephemeral ports.
 */
import http from 'node:http';
import { parseConfig } from '../../src/config/index.js';
import { Proxy, type ProxyOptions } from '../../src/proxy/proxy.js';
import { AdminServer, servicesReadiness, servicesWarnings } from '../../src/telemetry/admin-server.js';
import { SseReader } from '../../src/telemetry/sse-reader.js';
import { Telemetry, type TelemetryOptions } from '../../src/telemetry/telemetry.js';

export interface TelemetryProxy {
  proxy: Proxy;
  telemetry: Telemetry;
  admin: AdminServer;
  adminUrl: string;
  port(name?: string): number;
  stop(): Promise<void>;
}

export async function startTelemetryProxy(
  raw: Record<string, unknown>,
  options: TelemetryOptions = {},
  proxyOptions: Omit<ProxyOptions, 'observer'> = {},
): Promise<TelemetryProxy> {
  const config = parseConfig({ admin: { enabled: false }, ...raw }, 'test');
  const telemetry = new Telemetry({ processMetrics: false, ...options });
  const proxy = new Proxy(config, { ...proxyOptions, observer: telemetry });
  telemetry.attach(proxy);
  await proxy.start();
  const admin = new AdminServer(servicesReadiness(proxy), servicesWarnings(proxy));
  telemetry.routes(admin);
  const a = await admin.listen('127.0.0.1', 0);
  return {
    proxy,
    telemetry,
    admin,
    adminUrl: `http://127.0.0.1:${a.port}`,
    port(name?: string) {
      const l = name === undefined ? proxy.listeners[0] : proxy.listeners.find((x) => x.name === name);
      if (l === undefined) throw new Error(`no listener ${name}`);
      return l.address.port;
    },
    async stop() {
      telemetry.close();
      await admin.close();
      await proxy.stop(200);
    },
  };
}

/** Sample values of a metric in Prometheus text, filtered by labels. */
export function samples(text: string, name: string, labels: Record<string, string> = {}): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const ls: Record<string, string> = {};
    for (const p of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) ls[p[1]!] = p[2]!;
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) out.push({ labels: ls, value: Number(m[3]) });
  }
  return out;
}

export function sum(xs: { value: number }[]): number {
  return xs.reduce((a, x) => a + x.value, 0);
}

export async function getText(url: string): Promise<string> {
  const r = await fetch(url);
  if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
  return r.text();
}

export async function getJson<T = any>(url: string): Promise<T> {
  return JSON.parse(await getText(url)) as T;
}

export interface TapClient {
  events: Record<string, any>[];
  dropped: number;
  /** Resolves when `n` events have arrived. */
  waitFor(n: number): Promise<void>;
  /** Resolves once delivered + reported-dropped events reach `n`. */
  waitForAccounted(n: number): Promise<void>;
  close(): void;
}

/** Subscribes to /api/v1/tap; resolves once the subscription is registered. */
export function tap(adminUrl: string, query: string): Promise<TapClient> {
  return new Promise((resolve, reject) => {
    const waiters: (() => void)[] = [];
    const sse = new SseReader();
    const c: TapClient = {
      events: [],
      dropped: 0,
      waitFor: (n) => new Promise<void>((r) => {
        const check = (): void => {
          if (c.events.length >= n) r();
          else waiters.push(check);
        };
        check();
      }),
      waitForAccounted: (n) => new Promise<void>((r) => {
        const check = (): void => {
          if (c.events.length + c.dropped >= n) r();
          else waiters.push(check);
        };
        check();
      }),
      close: () => req.destroy(),
    };
    const req = http.get(`${adminUrl}/api/v1/tap?${query}`, (res) => {
      res.setEncoding('utf8');
      let opened = false;
      res.on('data', (chunk: string) => {
        for (const { event, data } of sse.push(chunk)) {
          if (!opened) {
            opened = true;
            resolve(c);
          }
          if (data === '') continue;
          const d = JSON.parse(data) as Record<string, any>;
          if (event === 'dropped') {
            c.dropped = d.totalDropped as number;
          } else {
            c.events.push(d);
          }
          for (const w of waiters.splice(0)) w();
        }
      });
    });
    req.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e);
    });
  });
}

/** Resolves once `cond()` holds, checking after every `stepMs` (bounded: rejects after `maxMs`). */
export async function until(cond: () => boolean, what: string, maxMs = 20_000, stepMs = 10): Promise<void> {
  const deadline = performance.now() + maxMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** A port nothing listens on: bound by the OS, then released. */
export async function closedPort(): Promise<number> {
  const net = await import('node:net');
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as import('node:net').AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A pino logger writing JSON lines into an array (synchronously). */
export async function memoryLogger(level = 'info'): Promise<{ log: import('pino').Logger; lines: Record<string, any>[] }> {
  const pino = (await import('pino')).default;
  const lines: Record<string, any>[] = [];
  const log = pino({ level, base: { name: 'switchyard' } }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, any>) });
  return { log, lines };
}
