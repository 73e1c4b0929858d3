/**
 * The demo's client load: a fixed number of calls over one client connection
 * with a fixed number in flight (a closed loop, as a service calling another
 * one does), recording who answered each call, how long it took, and what
 * failed.
 */
import { performance } from 'node:perf_hooks';
import { compute, type SquareClient } from './square-app.js';

export interface TrafficPlan {
  calls: number;
  concurrency: number;
  /** Deadline of each call (ms). */
  deadlineMs?: number;
  /** Called once, when this many calls have completed (the demo's fault injection). */
  at?: { completed: number; run: () => void };
}

export interface TrafficResult {
  counts: Map<string, number>;
  /** Latency of every answered call, in completion order (ms), and who answered it. */
  latencies: number[];
  answeredBy: string[];
  failed: number;
  /** Failure messages, by message, for the report. */
  errors: Map<string, number>;
}

export async function sendCalls(client: SquareClient, plan: TrafficPlan): Promise<TrafficResult> {
  const result: TrafficResult = { counts: new Map(), latencies: [], answeredBy: [], failed: 0, errors: new Map() };
  let next = 0;
  let completed = 0;
  const worker = async (): Promise<void> => {
    while (next < plan.calls) {
      const value = next++;
      const t0 = performance.now();
      try {
        const r = await compute(client, value, plan.deadlineMs);
        result.latencies.push(performance.now() - t0);
        result.answeredBy.push(r.replica);
        result.counts.set(r.replica, (result.counts.get(r.replica) ?? 0) + 1);
      } catch (e) {
        result.failed++;
        const m = (e as Error).message;
        result.errors.set(m, (result.errors.get(m) ?? 0) + 1);
      }
      if (++completed === plan.at?.completed) plan.at.run();
    }
  };
  await Promise.all(Array.from({ length: Math.min(plan.concurrency, plan.calls) }, worker));
  return result;
}

/** The q-quantile (0..1) of `values`, nearest rank; 0 when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
