import type { Proxy } from '../proxy/proxy.js';
import { ScrapeMetric, type Sample, type MetricSink } from './prom.js';

/**
 * Attempts sent in the proxy's zone and to other zones, per service (the
 * counts zone-aware balancing keeps, src/proxy/zone-picker.ts). Present
 * once the proxy knows its zone; an endpoint of unknown zone counts as
 * cross-zone to "unknown".
 */
export function registerZoneMetrics(reg: MetricSink, proxy: () => Proxy | undefined): void {
  new ScrapeMetric('switchyard_requests_in_zone_total', "Attempts sent to endpoints in the proxy's own zone.", 'counter', () => {
    const out: Sample[] = [];
    for (const s of proxy()?.services.values() ?? []) {
      const t = s.zoneTraffic;
      if (t !== undefined) out.push({ labels: { service: s.name, zone: t.localZone }, value: t.inZone });
    }
    return out;
  }).register(reg);
  new ScrapeMetric('switchyard_requests_cross_zone_total', "Attempts sent to endpoints outside the proxy's zone, by destination zone.", 'counter', () => {
    const out: Sample[] = [];
    for (const s of proxy()?.services.values() ?? []) {
      const t = s.zoneTraffic;
      if (t === undefined) continue;
      for (const [zone, n] of t.crossZone) out.push({ labels: { service: s.name, from_zone: t.localZone, to_zone: zone === '' ? 'unknown' : zone }, value: n });
    }
    return out;
  }).register(reg);
}
