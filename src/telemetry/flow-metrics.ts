import type { Http2Connection } from '../http2/index.js';
import type { Proxy } from '../proxy/proxy.js';
import { ScrapeMetric, type Sample, type MetricSink } from './prom.js';

/**
 * HTTP/2 flow-control gauges, summed per side over the open connections
 * (downstream: clients of the listeners; upstream: connections to endpoints).
 * For each connection window + unacked + outstanding = configured, so
 * kind="leaked" is 0 unless receive credit was lost; at rest "outstanding" is
 * 0 and "window" + "unacked" equals "configured". Computed at scrape time only.
 */
export function registerFlowMetrics(reg: MetricSink, proxy: () => Proxy | undefined): void {
  new ScrapeMetric(
    'switchyard_http2_flow_credit_bytes',
    'HTTP/2 connection receive credit by side and kind (configured = window + unacked + outstanding; leaked is 0 unless credit was lost).',
    'gauge',
    () => {
      const p = proxy();
      const out: Sample[] = [];
      if (p === undefined) return out;
      for (const side of SIDES) {
        let configured = 0;
        let window = 0;
        let unacked = 0;
        let outstanding = 0;
        let leaked = 0;
        p.forEachHttp2Connection(side, (c: Http2Connection) => {
          configured += c.recvWindowConfigured;
          window += c.recvWindow;
          unacked += c.recvUnacked;
          outstanding += c.recvOutstanding;
          leaked += c.recvLeaked;
        });
        out.push(
          { labels: { side, kind: 'configured' }, value: configured },
          { labels: { side, kind: 'window' }, value: window },
          { labels: { side, kind: 'unacked' }, value: unacked },
          { labels: { side, kind: 'outstanding' }, value: outstanding },
          { labels: { side, kind: 'leaked' }, value: leaked },
        );
      }
      return out;
    },
  ).register(reg);
  new ScrapeMetric('switchyard_http2_open_streams', 'Open HTTP/2 streams by side.', 'gauge', () => {
    const p = proxy();
    if (p === undefined) return [];
    return SIDES.map((side) => {
      let n = 0;
      p.forEachHttp2Connection(side, (c) => (n += c.streams.size));
      return { labels: { side }, value: n };
    });
  }).register(reg);
  new ScrapeMetric('switchyard_http2_connections', 'Open HTTP/2 connections by side.', 'gauge', () => {
    const p = proxy();
    if (p === undefined) return [];
    return SIDES.map((side) => {
      let n = 0;
      p.forEachHttp2Connection(side, () => n++);
      return { labels: { side }, value: n };
    });
  }).register(reg);
}

const SIDES = ['downstream', 'upstream'] as const;
