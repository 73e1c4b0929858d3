import { AggregatorRegistry, Registry, type Aggregator, type PrometheusContentType } from 'prom-client';

/** One worker's metrics as `Registry.getMetricsAsJSON()` gives them (plain objects, safe over IPC). */
export type MetricsExport = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * How worker mode combines a series present in several workers, where
 * summing would be wrong. Everything else is summed: counters, histograms
 * (buckets, _sum and _count added, so quantiles computed from the result are
 * those of every request) and the additive gauges (requests in flight,
 * pending requests, open connections and streams, flow-control credit).
 * prom-client's process metrics keep their own rules (CPU and memory summed,
 * event-loop lag averaged, the version taken from the first worker).
 */
export const CLUSTER_AGGREGATION: Readonly<Record<string, Aggregator>> = {
  // Each worker's balancer keeps its own estimate: the slowest view is the one to see.
  switchyard_endpoint_latency_estimate_seconds: 'max',
  // Every worker runs the same discovery: the larger set is the newer one during a change.
  switchyard_service_endpoints: 'max',
  // 1 only while every worker's source answers; the stalest update is the one that matters.
  switchyard_discovery_healthy: 'min',
  switchyard_discovery_last_update_timestamp_seconds: 'min',
  // 1 while any worker balances in panic mode.
  switchyard_service_panic_mode: 'max',
  // The same files in every worker: the soonest expiry.
  switchyard_certificate_expiry_seconds: 'min',
  // The same binary in every worker: 1, not the number of workers.
  switchyard_build_info: 'max',
  // Every worker applies each reload: 1 only when all of them run the last one; the oldest success.
  switchyard_config_last_reload_successful: 'min',
  switchyard_config_last_reload_success_timestamp_seconds: 'min',
  // One reload reaches every worker: counted once, failures seen if any worker failed.
  switchyard_config_reload_total: 'max',
  // Each worker has its own budget (the same setting): over if any worker is.
  switchyard_memory_budget_bytes: 'max',
  switchyard_memory_over_budget: 'max',
  // switchyard_endpoint_state is summed: the number of workers that see the endpoint in each state.
};

/**
 * The metrics of several workers as one registry (Prometheus text through
 * its metrics()). prom-client's AggregatorRegistry.aggregate does the
 * grouping by name, series and histogram part; CLUSTER_AGGREGATION chooses
 * the rule where the worker's own metric does not. `extra` holds the
 * primary's own metrics (worker counts, restarts).
 */
export function mergeMetrics(workers: readonly MetricsExport[], extra?: Registry): Registry {
  const withRules = workers.map((metrics) => metrics.map((m) => ({ ...m, aggregator: CLUSTER_AGGREGATION[m.name] ?? m.aggregator ?? 'sum' })));
  const merged = AggregatorRegistry.aggregate<PrometheusContentType>(withRules);
  return extra === undefined ? merged : (Registry.merge([merged, extra]) as Registry);
}

/**
 * What a worker that exited leaves in the sums: its counters and histograms
 * as last scraped. Added to the live workers' figures, they keep every
 * counter of the process monotonic across a worker restart (a sum that fell
 * would read as a counter reset and make rate() jump); requests the worker
 * finished after that scrape are lost with it. Its gauges leave with it.
 */
export function retiredPart(last: MetricsExport): MetricsExport {
  return last.filter((m) => (String(m.type) === 'counter' || String(m.type) === 'histogram') && (m.aggregator ?? 'sum') === 'sum');
}

/** Several retired parts as one (a process restarting workers for months keeps one part, not thousands). */
export function compactParts(parts: readonly MetricsExport[]): Promise<MetricsExport> {
  return AggregatorRegistry.aggregate<PrometheusContentType>([...parts]).getMetricsAsJSON();
}
