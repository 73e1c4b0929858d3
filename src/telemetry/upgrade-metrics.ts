import { upgradeRecords, type UpgradeRecord } from '../proxy/upgrade/upgrade-counters.js';
import { ScrapeMetric, type Sample, type MetricSink } from './prom.js';

/**
 * Upgraded connections (WebSockets and other tunnels): switched in total,
 * open now, and bytes relayed each way. Read from the proxy's counters at
 * scrape time only.
 */
export function registerUpgradeMetrics(reg: MetricSink): void {
  const labels = (r: UpgradeRecord): Record<string, string> => ({ listener: r.listener, route: r.route, service: r.service, protocol: r.protocol });
  const each = (f: (r: UpgradeRecord) => number) => (): Sample[] => [...upgradeRecords()].map((r) => ({ labels: labels(r), value: f(r) }));
  new ScrapeMetric('switchyard_upgrades_total', 'Connections switched to a tunnel (HTTP/1.1 101 Switching Protocols, or a 2xx to an extended CONNECT).', 'counter', each((r) => r.total)).register(reg);
  new ScrapeMetric('switchyard_upgrades_open', 'Tunnels open now (each holds its endpoint as a request in flight).', 'gauge', each((r) => r.open)).register(reg);
  new ScrapeMetric('switchyard_upgrade_bytes_total', 'Bytes relayed through tunnels, by direction: upstream (client to endpoint) and downstream.', 'counter', () => {
    const out: Sample[] = [];
    for (const r of upgradeRecords()) {
      out.push({ labels: { ...labels(r), direction: 'upstream' }, value: r.bytesUpstream });
      out.push({ labels: { ...labels(r), direction: 'downstream' }, value: r.bytesDownstream });
    }
    return out;
  }).register(reg);
}
