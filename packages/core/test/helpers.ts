/**
 * Shared test helpers: a seeded host RNG with full float64 precision (independent of the library's
 * Philox, so the tests do not lean on the code they test) and shorthands for js64 tensors.
 */
import { type Tensor, tensor } from '../src/index.js';

/** mulberry32 words combined into 53-bit uniforms; Box–Muller normals. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  private u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }
  normal(): number {
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  normals(n: number, scale = 1): Float64Array {
    return Float64Array.from({ length: n }, () => scale * this.normal());
  }
  uniforms(n: number, lo: number, hi: number): Float64Array {
    return Float64Array.from({ length: n }, () => lo + (hi - lo) * this.uniform());
  }
  /** Magnitudes uniform in [lo, hi) with random signs: clear of a kink or singularity at 0. */
  away(n: number, lo: number, hi: number): Float64Array {
    return Float64Array.from(
      { length: n },
      () => (this.uniform() < 0.5 ? -1 : 1) * (lo + (hi - lo) * this.uniform()),
    );
  }
  /**
   * n values that are pairwise at least 0.6·spacing apart (a shuffled ladder plus jitter), so that
   * maxima are unique and no finite-difference step crosses a tie.
   */
  distinct(n: number, spacing = 0.25): Float64Array {
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return Float64Array.from(order, (r) => (r - n / 2 + 0.4 * (this.uniform() - 0.5)) * spacing);
  }
  ints(n: number, lo: number, hi: number): Int32Array {
    return Int32Array.from({ length: n }, () => lo + Math.floor(this.uniform() * (hi - lo)));
  }
}

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** An f32 tensor on the float64 reference backend, holding `data` exactly. */
export function t64(data: ArrayLike<number>, shape: readonly number[]): Tensor {
  return tensor(Float64Array.from(data), shape, { backend: 'js64' });
}

/** An i32 tensor on js64. */
export function i64(data: ArrayLike<number>, shape: readonly number[]): Tensor {
  return tensor(Int32Array.from(data), shape, { backend: 'js64', dtype: 'i32' });
}
