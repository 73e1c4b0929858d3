import type { Clock } from './types.js';

export interface FailfastWaiter {
  /** An endpoint became ready: retry the pick. The waiter has left the queue. */
  onReady(): void;
  /** Waited longer than the timeout (or the queue was closed): fail the request. The waiter has left the queue. */
  onTimeout(): void;
}

export interface FailfastQueueOptions {
  clock: Clock;
  /** Longest wait (ms) before onTimeout. Default 3000. */
  timeoutMs?: number;
  /** Most waiters held at once; enqueue beyond it is refused. Default 10000. */
  capacity?: number;
  /** Granularity (ms) of the coarse timeout timer; a waiter times out up to this late. Default 100. */
  tickMs?: number;
  /** Run a real interval timer while non-empty (default true). Tests and the simulator pass false and call tick(). */
  timers?: boolean;
}

export const DEFAULT_FAILFAST_TIMEOUT_MS = 3000;
export const DEFAULT_FAILFAST_CAPACITY = 10_000;
export const DEFAULT_FAILFAST_TICK_MS = 100;

/**
 * Bounded FIFO for requests that arrive while no endpoint is ready. Waiters
 * are kept in a ring buffer with their enqueue time; since the timeout is the
 * same for all, they expire in FIFO order and one coarse timer per queue
 * (running only while the queue is non-empty) suffices. Cancelled waiters
 * (`remove`) leave a hole that is skipped or compacted later.
 */
export class FailfastQueue<W extends FailfastWaiter> {
  readonly timeoutMs: number;
  readonly capacity: number;
  readonly tickMs: number;
  private readonly clock: Clock;
  private readonly useTimers: boolean;
  private items: (W | undefined)[];
  private times: Float64Array;
  private head = 0;
  /** Occupied slots, holes included. */
  private used = 0;
  /** Live waiters. */
  private live = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: FailfastQueueOptions) {
    this.clock = options.clock;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_FAILFAST_TIMEOUT_MS;
    this.capacity = options.capacity ?? DEFAULT_FAILFAST_CAPACITY;
    this.tickMs = options.tickMs ?? DEFAULT_FAILFAST_TICK_MS;
    this.useTimers = options.timers ?? true;
    if (!(this.timeoutMs >= 0)) throw new RangeError('timeoutMs must be >= 0');
    if (!Number.isInteger(this.capacity) || this.capacity < 0) throw new RangeError('capacity must be an integer >= 0');
    if (!(this.tickMs > 0)) throw new RangeError('tickMs must be > 0');
    this.items = new Array<W | undefined>(this.capacity).fill(undefined);
    this.times = new Float64Array(this.capacity);
  }

  /** Number of live waiters. */
  get size(): number {
    return this.live;
  }

  /** Queue a waiter. Returns false when the queue is full: reject the request at once. */
  enqueue(w: W): boolean {
    if (this.live >= this.capacity) return false;
    if (this.used === this.capacity) this.compact();
    const slot = (this.head + this.used) % this.capacity;
    this.items[slot] = w;
    this.times[slot] = this.clock.now();
    this.used++;
    this.live++;
    if (this.live === 1) this.startTimer();
    return true;
  }

  /** Drop a waiter that was cancelled. Returns whether it was queued. */
  remove(w: W): boolean {
    const cap = this.capacity;
    for (let k = 0; k < this.used; k++) {
      const slot = (this.head + k) % cap;
      if (this.items[slot] === w) {
        this.items[slot] = undefined;
        this.live--;
        this.trimHead();
        if (this.live === 0) this.stopTimer();
        return true;
      }
    }
    return false;
  }

  /** Wake up to `n` waiters, oldest first. Waiters queued during the callbacks are not woken by this call. Returns how many were woken. */
  wake(n: number): number {
    let woken = 0;
    let budget = this.live;
    while (woken < n && budget > 0) {
      const w = this.shift();
      if (w === undefined) break;
      budget--;
      woken++;
      w.onReady();
    }
    return woken;
  }

  /** Wake every waiter queued now. */
  wakeAll(): number {
    return this.wake(this.live);
  }

  /** Time out waiters older than the timeout. Called by the coarse timer; public so tests and the simulator can drive it. */
  tick(): number {
    const deadline = this.clock.now() - this.timeoutMs;
    let expired = 0;
    while (this.used > 0 && this.times[this.head]! <= deadline) {
      const w = this.shift();
      if (w === undefined) break;
      expired++;
      w.onTimeout();
    }
    return expired;
  }

  /** Clock time at which the oldest waiter expires, or undefined when empty. */
  nextExpiry(): number | undefined {
    return this.used > 0 ? this.times[this.head]! + this.timeoutMs : undefined;
  }

  /** Stop the timer and time out every waiter (service going away). */
  close(): void {
    this.stopTimer();
    let budget = this.live;
    while (budget-- > 0) {
      const w = this.shift();
      if (w === undefined) break;
      w.onTimeout();
    }
    this.stopTimer();
  }

  /** Remove and return the oldest live waiter. */
  private shift(): W | undefined {
    if (this.used === 0) return undefined;
    const w = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.used--;
    this.live--;
    this.trimHead();
    if (this.live === 0) this.stopTimer();
    return w;
  }

  /** Skip holes at the head so that `head` is always live (or the queue is empty). */
  private trimHead(): void {
    while (this.used > 0 && this.items[this.head] === undefined) {
      this.head = (this.head + 1) % this.capacity;
      this.used--;
    }
  }

  /** Pack live waiters to the front, removing holes. */
  private compact(): void {
    const cap = this.capacity;
    const items = new Array<W | undefined>(cap).fill(undefined);
    const times = new Float64Array(cap);
    let k = 0;
    for (let i = 0; i < this.used; i++) {
      const slot = (this.head + i) % cap;
      const w = this.items[slot];
      if (w !== undefined) {
        items[k] = w;
        times[k] = this.times[slot]!;
        k++;
      }
    }
    this.items = items;
    this.times = times;
    this.head = 0;
    this.used = k;
  }

  private startTimer(): void {
    if (!this.useTimers || this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref?.();
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
