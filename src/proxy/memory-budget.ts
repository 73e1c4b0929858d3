import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import type { ProcessLimitsConfig } from '../config/index.js';

/** What the budget is compared with. */
export interface MemorySample {
  /** Resident set size of the process. */
  rss: number;
  heapUsed: number;
  /** V8's heap_size_limit: past it the process dies of "heap out of memory". */
  heapLimit: number;
}

export type MemoryReader = () => MemorySample;

/** Told once per change of state (the CLI logs it). */
export interface MemoryEvents {
  onMemoryPressure(over: boolean, sample: MemorySample, rssBudget: number, heapBudget: number): void;
}

/** Share of the container's (or machine's) memory that `auto` allows the process. */
const AUTO_RSS_SHARE = 0.8;
/** Share of V8's heap limit allowed whenever a budget is on. */
const HEAP_SHARE = 0.9;

/**
 * A process memory budget: while resident memory or the V8 heap is over it,
 * new client connections are refused (ConnectionLimits), so that the
 * connections already open can finish instead of the whole process being
 * killed (by the kernel's OOM killer at the container limit, or by V8 at its
 * heap limit). Checked on a coarse timer, never per request; Envoy's overload
 * manager does the same with its heap monitor and `stop_accepting_connections` action.
 */
export class MemoryBudget {
  over = false;
  /** Times the budget was crossed upwards. */
  exceededTotal = 0;
  last: MemorySample = { rss: 0, heapUsed: 0, heapLimit: 0 };
  readonly rssBudget: number;
  readonly heapBudget: number;
  private timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly config: Pick<ProcessLimitsConfig, 'memoryBudget' | 'memoryCheckInterval'>,
    private readonly events?: MemoryEvents,
    private readonly read: MemoryReader = readMemory,
  ) {
    const b = config.memoryBudget;
    this.rssBudget = b === 'auto' ? Math.floor(containerMemory() * AUTO_RSS_SHARE) : b;
    this.heapBudget = Math.floor(this.read().heapLimit * HEAP_SHARE);
  }

  /** Off when the configuration says 0. */
  get enabled(): boolean {
    return this.rssBudget > 0;
  }

  start(): void {
    if (!this.enabled || this.timer !== undefined) return;
    this.check();
    this.timer = setInterval(checkBudget, this.config.memoryCheckInterval, this);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Samples memory and updates `over`; tells the events on a change only. */
  check(): void {
    const s = this.read();
    this.last = s;
    const over = s.rss > this.rssBudget || s.heapUsed > this.heapBudget;
    if (over === this.over) return;
    this.over = over;
    if (over) this.exceededTotal++;
    this.events?.onMemoryPressure(over, s, this.rssBudget, this.heapBudget);
  }
}

function checkBudget(b: MemoryBudget): void {
  b.check();
}

export function readMemory(): MemorySample {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapLimit: getHeapStatistics().heap_size_limit };
}

/** The cgroup memory limit (v2, then v1) when one is set below the machine's memory, else the machine's memory. */
export function containerMemory(): number {
  const machine = totalmem();
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      continue;
    }
    const n = Number(text);
    // "max" (v2) or a huge number (v1) means no limit.
    if (Number.isFinite(n) && n > 0 && n < machine) return n;
  }
  return machine;
}
