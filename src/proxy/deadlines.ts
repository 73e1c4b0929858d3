/**
 * Request deadlines on one coarse timer instead of a setTimeout per request:
 * deadlines fall into 50 ms buckets; expired entries are checked against their
 * current deadline, so an entry that finished or moved needs no removal.
 */
export interface Deadlined {
  /** Absolute deadline (performance.now() ms); 0 = none or finished. */
  deadline: number;
  onDeadline(): void;
}

const BUCKET_MS = 50;

export class DeadlineWheel {
  private readonly buckets = new Map<number, Deadlined[]>();
  private timer: NodeJS.Timeout | undefined;

  add(d: Deadlined): void {
    const slot = Math.ceil(d.deadline / BUCKET_MS);
    let b = this.buckets.get(slot);
    if (b === undefined) {
      b = [];
      this.buckets.set(slot, b);
    }
    b.push(d);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), BUCKET_MS);
      this.timer.unref();
    }
  }

  private tick(): void {
    const now = performance.now();
    const due = Math.floor(now / BUCKET_MS);
    for (const [slot, list] of this.buckets) {
      if (slot > due) continue;
      this.buckets.delete(slot);
      for (const d of list) {
        if (d.deadline !== 0 && d.deadline <= now + BUCKET_MS) d.onDeadline();
        else if (d.deadline !== 0) this.add(d);
      }
    }
    if (this.buckets.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

export const deadlines = new DeadlineWheel();

/**
 * The deadline of an attempt (performance.now() ms; 0 = none): the
 * exchange's own, or an earlier per-try one (`perTryMs` > 0) from now.
 */
export function attemptDeadline(exchangeDeadline: number, perTryMs: number): number {
  if (perTryMs <= 0) return exchangeDeadline;
  const t = performance.now() + perTryMs;
  return exchangeDeadline === 0 || t < exchangeDeadline ? t : exchangeDeadline;
}
