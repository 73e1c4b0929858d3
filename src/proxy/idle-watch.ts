import { ProxyErrors } from '../errors.js';
import { deadlines, type Deadlined } from './deadlines.js';

/** What an idle watch needs of its exchange. */
export interface IdleWatched {
  readonly finished: boolean;
  fail(kind: typeof ProxyErrors.TIMEOUT): void;
}

/** The route's idle timeout: fails the exchange when nothing moved either way for `timeout` ms. */
export class IdleWatch implements Deadlined {
  deadline: number;
  private last: number;

  constructor(private readonly ex: IdleWatched, private readonly timeout: number) {
    this.last = performance.now();
    this.deadline = this.last + timeout;
    deadlines.add(this);
  }

  touch(): void {
    this.last = performance.now();
  }

  onDeadline(): void {
    if (this.ex.finished) {
      this.deadline = 0;
      return;
    }
    const due = this.last + this.timeout;
    if (performance.now() >= due) {
      this.deadline = 0;
      this.ex.fail(ProxyErrors.TIMEOUT);
      return;
    }
    this.deadline = due;
    deadlines.add(this);
  }
}
