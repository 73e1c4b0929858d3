import { readFileSync } from 'node:fs';
import type { Listener } from '../proxy/listener.js';
import type { Proxy } from '../proxy/proxy.js';
import { REJECT_REASONS } from '../proxy/connection-limits.js';
import { HEAD_REJECT_REASONS } from '../proxy/head-limits.js';
import { ScrapeMetric, type Sample, type MetricSink } from './prom.js';

const SERVED_PROTOCOLS = ['http1', 'http2', 'tcp'] as const;

/** The package version, read once. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Client connections by the protocol they speak, what the limits refused
 * (connections, request heads), bytes on client connections, the memory
 * budget, and the build. All computed at scrape time from plain counters.
 */
export function registerLimitMetrics(reg: MetricSink, proxy: () => Proxy | undefined): void {
  const listeners = (): Listener[] => proxy()?.listeners ?? [];
  new ScrapeMetric('switchyard_build_info', 'Always 1; the labels say which Switchyard and Node.js run.', 'gauge', () => [
    { labels: { version: VERSION, node: process.version }, value: 1 },
  ]).register(reg);
  new ScrapeMetric('switchyard_client_connections', 'Open client connections by listener and the protocol found on them (http1, http2, tcp; detecting: not known yet).', 'gauge', () =>
    listeners().flatMap((l) => {
      const c = l.counters;
      const served = c.openHttp1 + c.openHttp2 + c.openTcp;
      return [
        { labels: { listener: l.name, protocol: 'http1' }, value: c.openHttp1 },
        { labels: { listener: l.name, protocol: 'http2' }, value: c.openHttp2 },
        { labels: { listener: l.name, protocol: 'tcp' }, value: c.openTcp },
        { labels: { listener: l.name, protocol: 'detecting' }, value: Math.max(0, c.connectionsOpen - served) },
      ];
    }),
  ).register(reg);
  new ScrapeMetric('switchyard_client_connections_total', 'Client connections accepted, by listener and the protocol found on them (undetected: closed or still open before one was known).', 'counter', () =>
    listeners().flatMap((l) => {
      const c = l.counters;
      const out: Sample[] = SERVED_PROTOCOLS.map((protocol, i) => ({ labels: { listener: l.name, protocol }, value: c.servedTotal[i]! }));
      out.push({ labels: { listener: l.name, protocol: 'undetected' }, value: c.connectionsTotal - c.servedTotal[0]! - c.servedTotal[1]! - c.servedTotal[2]! });
      return out;
    }),
  ).register(reg);
  new ScrapeMetric('switchyard_listener_connections_rejected_total', 'Client connections closed on arrival by a limit: max-connections, listener-max-connections, memory-budget.', 'counter', () =>
    listeners().flatMap((l) => REJECT_REASONS.map((reason, i) => ({ labels: { listener: l.name, reason }, value: l.counters.connectionsRejected[i]! }))),
  ).register(reg);
  new ScrapeMetric('switchyard_listener_requests_rejected_total', 'Request heads refused before routing: header-count, header-size (431), uri-too-long (414), header-timeout (408), bad-request (400).', 'counter', () =>
    listeners().flatMap((l) => HEAD_REJECT_REASONS.map((reason, i) => ({ labels: { listener: l.name, reason }, value: l.counters.requestsRejected[i]! }))),
  ).register(reg);
  new ScrapeMetric('switchyard_client_received_bytes_total', 'Bytes read from client connections (on the wire: TLS records and protocol framing included).', 'counter', () =>
    listeners().map((l) => ({ labels: { listener: l.name }, value: l.bytesTotals().received })),
  ).register(reg);
  new ScrapeMetric('switchyard_client_sent_bytes_total', 'Bytes written to client connections (on the wire).', 'counter', () =>
    listeners().map((l) => ({ labels: { listener: l.name }, value: l.bytesTotals().sent })),
  ).register(reg);
  new ScrapeMetric('switchyard_memory_over_budget', '1 while process memory is over limits.memoryBudget and new client connections are refused.', 'gauge', () => {
    const b = proxy()?.memoryBudget;
    return b === undefined || !b.enabled ? [] : [{ labels: {}, value: b.over ? 1 : 0 }];
  }).register(reg);
  new ScrapeMetric('switchyard_memory_budget_bytes', 'The memory budget: resident memory (kind="rss") and V8 heap (kind="heap") allowed.', 'gauge', () => {
    const b = proxy()?.memoryBudget;
    return b === undefined || !b.enabled ? [] : [{ labels: { kind: 'rss' }, value: b.rssBudget }, { labels: { kind: 'heap' }, value: b.heapBudget }];
  }).register(reg);
}

const VERSION = packageVersion();
