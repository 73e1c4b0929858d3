import type { Clock } from '../balancing/index.js';

const BUCKETS = 10;

/**
 * A retry budget (Linkerd's, gRPC A6 throttling in spirit): over a sliding
 * window, retries may add at most `ratio` × requests + `minPerSecond` ×
 * window seconds. Counted in ten buckets, so it costs two array writes per
 * request and never allocates.
 */
export class RetryBudget {
  private readonly requests = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  private readonly bucketMs: number;
  private bucketStart: number;
  private index = 0;
  private requestSum = 0;
  private retrySum = 0;
  private readonly floor: number;

  constructor(
    private readonly ratio: number,
    minPerSecond: number,
    windowMs: number,
    private readonly clock: Clock,
  ) {
    this.bucketMs = windowMs / BUCKETS;
    this.bucketStart = clock.now();
    this.floor = (minPerSecond * windowMs) / 1000;
  }

  private roll(): void {
    const now = this.clock.now();
    let elapsed = now - this.bucketStart;
    if (elapsed < this.bucketMs) return;
    let steps = Math.floor(elapsed / this.bucketMs);
    if (steps > BUCKETS) steps = BUCKETS;
    for (let i = 0; i < steps; i++) {
      this.index = (this.index + 1) % BUCKETS;
      this.requestSum -= this.requests[this.index]!;
      this.retrySum -= this.retries[this.index]!;
      this.requests[this.index] = 0;
      this.retries[this.index] = 0;
    }
    elapsed -= steps * this.bucketMs;
    this.bucketStart = now - (elapsed % this.bucketMs);
  }

  onRequest(): void {
    this.roll();
    this.requests[this.index]!++;
    this.requestSum++;
  }

  tryRetry(): boolean {
    this.roll();
    if (this.retrySum + 1 > this.ratio * this.requestSum + this.floor) return false;
    this.retries[this.index]!++;
    this.retrySum++;
    return true;
  }
}
