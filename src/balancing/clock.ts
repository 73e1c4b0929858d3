import type { Clock } from './types.js';

/** Production clock: monotonic milliseconds from `performance.now()`. */
export const monotonicClock: Clock = {
  now: () => performance.now(),
};

/** A clock that only moves when told to. Used by tests and the simulator. */
export class ManualClock implements Clock {
  private t: number;

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  /** Jump to an absolute time. Going backwards is refused: the clock is monotonic. */
  set(t: number): void {
    if (t < this.t) throw new RangeError(`ManualClock cannot go backwards (${t} < ${this.t})`);
    this.t = t;
  }

  advance(ms: number): void {
    if (ms < 0) throw new RangeError('ManualClock cannot go backwards');
    this.t += ms;
  }
}
