/** Shared pieces of the policy tests: a manual scheduler, bare endpoints, waiting for a condition. */
import { ManualClock, type Clock } from '../../src/balancing/index.js';
import { Endpoint, type EndpointOwner } from '../../src/proxy/endpoint.js';
import type { Scheduler, Timer } from '../../src/policy/health-check.js';

interface Task {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A Scheduler driven by a ManualClock: `advance` runs due callbacks in time order. */
export class ManualScheduler {
  readonly clock: ManualClock;
  private tasks: Task[] = [];
  private seq = 0;

  constructor(clock = new ManualClock(0)) {
    this.clock = clock;
  }

  readonly schedule: Scheduler = (delayMs: number, fn: () => void): Timer => {
    const t: Task = { at: this.clock.now() + delayMs, seq: this.seq++, fn, cancelled: false };
    this.tasks.push(t);
    return { cancel: () => (t.cancelled = true) };
  };

  /** Callbacks waiting (not cancelled). */
  get pending(): number {
    return this.tasks.filter((t) => !t.cancelled).length;
  }

  /** Delays of the waiting callbacks from now. */
  delays(): number[] {
    return this.tasks.filter((t) => !t.cancelled).map((t) => t.at - this.clock.now());
  }

  /** Moves the clock forward by `ms`, running every callback that falls due on the way. */
  advance(ms: number): void {
    const end = this.clock.now() + ms;
    for (;;) {
      this.tasks = this.tasks.filter((t) => !t.cancelled);
      let next: Task | undefined;
      for (const t of this.tasks) if (t.at <= end && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      if (next === undefined) break;
      this.tasks.splice(this.tasks.indexOf(next), 1);
      this.clock.set(Math.max(this.clock.now(), next.at));
      next.fn();
    }
    this.clock.set(end);
  }
}

/** Counts pickability changes, as a service would. */
export class CountingOwner implements EndpointOwner {
  changes = 0;
  onEndpointStateChange(): void {
    this.changes++;
  }
}

export function endpoints(n: number, clock: Clock, owner: EndpointOwner = new CountingOwner(), basePort = 7001): Endpoint[] {
  return Array.from({ length: n }, (_, i) => new Endpoint({ host: '127.0.0.1', port: basePort + i }, 1, clock, {}, owner));
}

/** Resolves when `cond()` holds, checking every few ms; rejects after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - start;
}
