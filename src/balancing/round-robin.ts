import type { Balanceable, LoadBalancer, RandomSource } from './types.js';
import { eligible, randInt } from './util.js';
import { explainSingle, RULES, type PickDecision } from './decision.js';

export interface RoundRobinOptions {
  /** Used once per update to choose the starting position, so that many proxies do not march in lock-step. Omit to start at 0. */
  random?: RandomSource;
}

/**
 * Plain round robin: strict rotation over endpoints with weight > 0. Other
 * weights are ignored (use weighted-round-robin for proportional shares).
 */
export class RoundRobinBalancer<E extends Balanceable = Balanceable> implements LoadBalancer<E> {
  readonly name = 'round-robin';
  private endpoints: E[] = [];
  private next = 0;
  private readonly random: RandomSource | undefined;

  constructor(options: RoundRobinOptions = {}) {
    this.random = options.random;
  }

  update(endpoints: readonly E[]): void {
    const list = eligible(endpoints);
    this.endpoints = list;
    if (list.length === 0) this.next = 0;
    else if (this.random !== undefined) this.next = randInt(this.random, list.length);
    else this.next = this.next % list.length;
  }

  pick(_hashKey?: string, explain?: PickDecision): E | undefined {
    const list = this.endpoints;
    const n = list.length;
    if (n === 0) return undefined;
    const i = this.next;
    this.next = i + 1 === n ? 0 : i + 1;
    if (explain !== undefined) explainSingle(explain, this.name, n === 1 ? RULES.only : RULES.roundRobin, list[i]!, Number.NaN);
    return list[i];
  }
}
