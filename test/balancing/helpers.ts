import { EndpointLoad } from '../../src/balancing/endpoint-load.js';
import type { Balanceable, Clock, LoadBalancer } from '../../src/balancing/types.js';

export class TestEndpoint implements Balanceable {
  readonly load: EndpointLoad;
  constructor(
    readonly id: string,
    public weight: number,
    clock: Clock,
    public readySince = 0,
  ) {
    this.load = new EndpointLoad(clock);
  }
}

export function makeEndpoints(clock: Clock, weights: readonly number[], prefix = 'ep'): TestEndpoint[] {
  return weights.map((w, i) => new TestEndpoint(`${prefix}-${i}`, w, clock));
}

export function equalEndpoints(clock: Clock, n: number, prefix = 'ep'): TestEndpoint[] {
  return makeEndpoints(clock, new Array<number>(n).fill(1), prefix);
}

/** Pick n times; count picks per endpoint id. */
export function countPicks<E extends Balanceable>(lb: LoadBalancer<E>, n: number, key?: (i: number) => string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const e = lb.pick(key?.(i));
    if (e === undefined) throw new Error('pick returned undefined');
    out.set(e.id, (out.get(e.id) ?? 0) + 1);
  }
  return out;
}

/** Tolerance for a binomial count: z standard deviations (default 4.5). */
export function binomialTolerance(n: number, p: number, z = 4.5): number {
  return z * Math.sqrt(n * p * (1 - p));
}

export function assertBinomial(count: number, n: number, p: number, what: string, z = 4.5): void {
  const tol = binomialTolerance(n, p, z);
  const expected = n * p;
  if (Math.abs(count - expected) > tol) {
    throw new Error(`${what}: ${count} picks, expected ${expected.toFixed(1)} ± ${tol.toFixed(1)} (p=${p.toFixed(4)}, n=${n})`);
  }
}
