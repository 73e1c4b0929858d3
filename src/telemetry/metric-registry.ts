/**
 * The registry /metrics is rendered from. Every Switchyard metric is a
 * ScrapeMetric computed from plain counters, so the registry only has to hold
 * them until a scrape; prom-client (its text format, its worker aggregation
 * and the Node.js process metrics) is imported on the first scrape. A proxy
 * nobody scrapes does not carry it: importing it costs ~10 MiB of resident
 * memory (npm run bench:memory -- --modules).
 */
import type { Registry } from 'prom-client';
import type { MetricSink, ScrapeMetric } from './prom.js';

export class MetricRegistry implements MetricSink {
  private readonly held: ScrapeMetric[] = [];
  private registry: Registry | undefined;
  private loading: Promise<Registry> | undefined;

  /**
   * `processMetrics`: prom-client's process and Node.js metrics
   * (collectDefaultMetrics). They start with the first scrape: the process_*
   * ones read totals since the process started; the event-loop lag and GC
   * histograms count from then on.
   */
  constructor(private readonly processMetrics: boolean) {}

  registerMetric(metric: ScrapeMetric): void {
    this.held.push(metric);
    this.registry?.registerMetric(metric as never);
  }

  /** The Prometheus text exposition. */
  async metrics(): Promise<string> {
    return (await this.load()).metrics();
  }

  /** Content type of metrics()'s text. */
  async contentType(): Promise<string> {
    return (await this.load()).contentType;
  }

  /** The metrics as prom-client's JSON (what worker mode merges). */
  async getMetricsAsJSON(): ReturnType<Registry['getMetricsAsJSON']> {
    return (await this.load()).getMetricsAsJSON();
  }

  private load(): Promise<Registry> {
    if (this.registry !== undefined) return Promise.resolve(this.registry);
    this.loading ??= import('prom-client').then(({ Registry, collectDefaultMetrics }) => {
      const registry = new Registry();
      // Same order as before the import was deferred: the process metrics first, then ours.
      if (this.processMetrics) collectDefaultMetrics({ register: registry });
      for (const m of this.held) registry.registerMetric(m as never);
      this.registry = registry;
      return registry;
    });
    return this.loading;
  }
}
