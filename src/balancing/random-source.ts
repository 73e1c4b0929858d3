import type { RandomSource } from './types.js';

/** Default source for production: Math.random (fast, unseeded). */
export const mathRandom: RandomSource = {
  next: Math.random,
};

/**
 * Seeded xoshiro128** generator (32-bit state words, period 2^128 - 1),
 * seeded through splitmix32 so that nearby seeds give unrelated streams.
 * Deterministic across platforms: used by tests and the simulator.
 */
export class SeededRandom implements RandomSource {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const split = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z ^= z >>> 16;
      z = Math.imul(z, 0x21f0aaad);
      z ^= z >>> 15;
      z = Math.imul(z, 0x735a2d97);
      z ^= z >>> 15;
      return z >>> 0;
    };
    this.s0 = split();
    this.s1 = split();
    this.s2 = split();
    this.s3 = split();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const s1 = this.s1;
    let r = Math.imul(s1, 5);
    r = (r << 7) | (r >>> 25);
    r = Math.imul(r, 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return r >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }
}

/** Convenience: a seeded RandomSource. */
export function seededRandom(seed: number): SeededRandom {
  return new SeededRandom(seed);
}
