import type { Aggregator } from 'prom-client';

/** Where a metric registers: a MetricRegistry, or a prom-client Registry (worker mode's own). */
export interface MetricSink {
  registerMetric(metric: never): void;
}

/** One sample of a metric as prom-client's registry prints it. */
export interface Sample {
  labels: Record<string, string | number>;
  value: number;
  /** For histogram series: name_bucket, name_sum, name_count. */
  metricName?: string;
}

/**
 * A metric whose samples are produced at scrape time from plain counters the
 * data path increments (no label hashing per request). It has the shape
 * prom-client's Registry prints: name, help, type and get().
 */
export class ScrapeMetric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly produce: () => Sample[],
    /** How worker mode combines the workers' samples of one series (cluster-merge-metrics.ts). */
    readonly aggregator: Aggregator = 'sum',
  ) {}

  async get(): Promise<{ name: string; help: string; type: string; values: Sample[]; aggregator: string }> {
    return { name: this.name, help: this.help, type: this.type, values: this.produce(), aggregator: this.aggregator };
  }

  register(registry: MetricSink): this {
    registry.registerMetric(this as never);
    return this;
  }
}

/** Upper bounds (seconds) of the request duration histogram: 100 µs … 30 s. */
export const DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;

/** Index of the first bucket whose bound is >= `seconds` (DURATION_BUCKETS.length for +Inf). */
export function bucketIndex(seconds: number): number {
  const b = DURATION_BUCKETS;
  let i = 0;
  while (i < b.length && seconds > b[i]!) i++;
  return i;
}

/** Samples of one histogram series from non-cumulative bucket counts. */
export function histogramSamples(
  name: string,
  labels: Record<string, string>,
  counts: Float64Array,
  sum: number,
  count: number,
  out: Sample[],
): void {
  let cum = 0;
  for (let i = 0; i < DURATION_BUCKETS.length; i++) {
    cum += counts[i]!;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: DURATION_BUCKETS[i]! }, value: cum });
  }
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: count });
  out.push({ metricName: `${name}_sum`, labels, value: sum });
  out.push({ metricName: `${name}_count`, labels, value: count });
}
