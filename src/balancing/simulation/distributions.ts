import { z } from 'zod';
import type { RandomSource } from '../types.js';

/** A latency distribution (ms). */
export interface Distribution {
  sample(random: RandomSource): number;
  /** Human-readable description. */
  readonly label: string;
}

/** z-score of the 99th percentile of the standard normal distribution. */
const Z99 = 2.3263478740408408;

/** YAML forms: `5` (constant ms), `{constant: 5}`, `{uniform: {min, max}}`, `{exponential: {mean}}`,
 * `{lognormal: {p50, p99}}` or `{lognormal: {mu, sigma}}` (of ln ms), `{bimodal: {fast, slow, slowFraction}}`. */
export type DistributionSpec =
  | number
  | { constant: number }
  | { uniform: { min: number; max: number } }
  | { exponential: { mean: number } }
  | { lognormal: { p50: number; p99: number } | { mu: number; sigma: number } }
  | { bimodal: { fast: DistributionSpec; slow: DistributionSpec; slowFraction: number } };

const nonNeg = z.number().finite().nonnegative();

export const distributionSchema: z.ZodType<DistributionSpec> = z.lazy(() =>
  z.union([
    nonNeg,
    z.object({ constant: nonNeg }).strict(),
    z
      .object({ uniform: z.object({ min: nonNeg, max: nonNeg }).strict().refine((u) => u.max >= u.min, { message: 'max must be >= min', path: ['max'] }) })
      .strict(),
    z.object({ exponential: z.object({ mean: z.number().finite().positive() }).strict() }).strict(),
    z
      .object({
        lognormal: z.union([
          z
            .object({ p50: z.number().finite().positive(), p99: z.number().finite().positive() })
            .strict()
            .refine((l) => l.p99 >= l.p50, { message: 'p99 must be >= p50', path: ['p99'] }),
          z.object({ mu: z.number().finite(), sigma: z.number().finite().nonnegative() }).strict(),
        ]),
      })
      .strict(),
    z
      .object({
        bimodal: z
          .object({ fast: distributionSchema, slow: distributionSchema, slowFraction: z.number().min(0).max(1) })
          .strict(),
      })
      .strict(),
  ]),
);

class Constant implements Distribution {
  constructor(private readonly value: number) {}
  get label(): string {
    return `${this.value}ms`;
  }
  sample(): number {
    return this.value;
  }
}

class Uniform implements Distribution {
  constructor(private readonly min: number, private readonly max: number) {}
  get label(): string {
    return `uniform(${this.min}..${this.max}ms)`;
  }
  sample(random: RandomSource): number {
    return this.min + (this.max - this.min) * random.next();
  }
}

class Exponential implements Distribution {
  constructor(private readonly mean: number) {}
  get label(): string {
    return `exponential(mean ${this.mean}ms)`;
  }
  sample(random: RandomSource): number {
    return -Math.log(1 - random.next()) * this.mean;
  }
}

class LogNormal implements Distribution {
  private spare = 0;
  private hasSpare = false;
  constructor(private readonly mu: number, private readonly sigma: number) {}
  get label(): string {
    return `lognormal(p50 ${fmt(Math.exp(this.mu))}ms, p99 ${fmt(Math.exp(this.mu + Z99 * this.sigma))}ms)`;
  }
  sample(random: RandomSource): number {
    let n: number;
    if (this.hasSpare) {
      this.hasSpare = false;
      n = this.spare;
    } else {
      // Box-Muller, keeping the second normal for the next call.
      const u1 = 1 - random.next();
      const u2 = random.next();
      const r = Math.sqrt(-2 * Math.log(u1));
      const a = 2 * Math.PI * u2;
      n = r * Math.cos(a);
      this.spare = r * Math.sin(a);
      this.hasSpare = true;
    }
    return Math.exp(this.mu + this.sigma * n);
  }
}

class Bimodal implements Distribution {
  constructor(private readonly fast: Distribution, private readonly slow: Distribution, private readonly slowFraction: number) {}
  get label(): string {
    return `bimodal(${this.fast.label} / ${this.slow.label} × ${this.slowFraction})`;
  }
  sample(random: RandomSource): number {
    return random.next() < this.slowFraction ? this.slow.sample(random) : this.fast.sample(random);
  }
}

function fmt(x: number): string {
  return x >= 10 ? x.toFixed(0) : x.toPrecision(2);
}

/** Build a sampler from a validated spec. */
export function makeDistribution(spec: DistributionSpec): Distribution {
  if (typeof spec === 'number') return new Constant(spec);
  if ('constant' in spec) return new Constant(spec.constant);
  if ('uniform' in spec) return new Uniform(spec.uniform.min, spec.uniform.max);
  if ('exponential' in spec) return new Exponential(spec.exponential.mean);
  if ('lognormal' in spec) {
    const l = spec.lognormal;
    if ('p50' in l) {
      const mu = Math.log(l.p50);
      return new LogNormal(mu, (Math.log(l.p99) - mu) / Z99);
    }
    return new LogNormal(l.mu, l.sigma);
  }
  return new Bimodal(makeDistribution(spec.bimodal.fast), makeDistribution(spec.bimodal.slow), spec.bimodal.slowFraction);
}
