import { ScrapeMetric, type MetricSink } from './prom.js';

/** Reload outcomes of the running process (kept by the reload controller, read at scrape). */
export interface ConfigReloadCounters {
  success: number;
  failure: number;
  /** Whether the last attempt was applied (true before any). */
  lastSucceeded: boolean;
  /** When the running configuration was loaded (ms since the epoch): start, or the last successful reload. */
  lastSuccessAt: number;
}

/**
 * The reload metrics, named like Prometheus's own
 * (`prometheus_config_last_reload_successful`, `…_success_timestamp_seconds`)
 * so the usual "config reload failed" alerts carry over.
 */
export function registerConfigMetrics(registry: MetricSink, c: ConfigReloadCounters): void {
  new ScrapeMetric('switchyard_config_reload_total', 'Configuration reloads (SIGHUP, file change, admin) by result: success, failure.', 'counter', () => [
    { labels: { result: 'success' }, value: c.success },
    { labels: { result: 'failure' }, value: c.failure },
  ]).register(registry);
  new ScrapeMetric('switchyard_config_last_reload_successful', '1 when the last reload attempt was applied (or none was made), 0 when it was rejected.', 'gauge', () => [
    { labels: {}, value: c.lastSucceeded ? 1 : 0 },
  ]).register(registry);
  new ScrapeMetric('switchyard_config_last_reload_success_timestamp_seconds', 'When the running configuration was loaded (Unix time): start, or the last successful reload.', 'gauge', () => [
    { labels: {}, value: c.lastSuccessAt / 1000 },
  ]).register(registry);
}
