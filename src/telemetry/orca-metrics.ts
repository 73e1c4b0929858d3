import type { Endpoint } from '../proxy/endpoint.js';
import type { Proxy } from '../proxy/proxy.js';
import { ScrapeMetric, type Sample, type MetricSink } from './prom.js';

/**
 * What endpoints report about their own load (ORCA), for services with
 * `orca`: the last reported utilization, the weight weighted round robin
 * uses now (0 while there is none: no report, blackout, expired), and the
 * reports received. Read at scrape time only. In worker mode each worker
 * has its own reports: the gauges are averaged, the counters summed.
 */
export function registerOrcaMetrics(reg: MetricSink, proxy: () => Proxy | undefined): void {
  const each = (f: (e: Endpoint) => number) => (): Sample[] => {
    const out: Sample[] = [];
    const p = proxy();
    if (p === undefined) return out;
    for (const s of p.services.values()) {
      if (s.orca === null) continue;
      for (const e of s.endpoints) if (e.load.orca !== null) out.push({ labels: { service: s.name, endpoint: e.id }, value: f(e) });
    }
    return out;
  };
  new ScrapeMetric('switchyard_endpoint_orca_utilization', 'Utilization the endpoint last reported (ORCA application_utilization, else cpu_utilization).', 'gauge',
    each((e) => e.load.orca!.utilization), 'average').register(reg);
  new ScrapeMetric('switchyard_endpoint_orca_weight', 'Weight from the endpoint\'s load reports (gRFC A58: qps / (utilization + eps/qps × penalty)); 0 while unusable (none yet, blackout, expired).', 'gauge',
    each((e) => e.load.orca!.weightNow(e.readySince)), 'average').register(reg);
  new ScrapeMetric('switchyard_endpoint_orca_reports_total', 'Load reports received from the endpoint (in-band and out-of-band).', 'counter',
    each((e) => e.load.orca!.reports)).register(reg);
  new ScrapeMetric('switchyard_endpoint_orca_malformed_reports_total', 'Load reports from the endpoint that could not be read.', 'counter',
    each((e) => e.load.orca!.malformed)).register(reg);
}
