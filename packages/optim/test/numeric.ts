/**
 * Test helpers for the float64 reference comparisons: a seeded host RNG independent of the
 * library's Philox, js64 tensor shorthands, a quadratic test problem and an error report.
 */
import { memory, mul, noGrad, square, sub, sum, type Tensor, tensor, tidy } from '@descent/core';
import { expect } from 'vitest';

/** mulberry32 words → 53-bit uniforms; Box–Muller normals. */
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
  uniform(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }
  normal(): number {
    const u1 = 1 - this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * this.uniform());
  }
  normals(n: number, scale = 1): Float64Array {
    return Float64Array.from({ length: n }, () => scale * this.normal());
  }
  uniforms(n: number, lo: number, hi: number): Float64Array {
    return Float64Array.from({ length: n }, () => lo + (hi - lo) * this.uniform());
  }
}

export const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A float64 tensor on js64 (or another backend). */
export function t64(values: ArrayLike<number>, shape: readonly number[], backend = 'js64'): Tensor {
  return tensor(Float64Array.from(values), shape, { backend });
}

/** Host values of a tensor as float64. */
export const host = (t: Tensor): Float64Array => Float64Array.from(t.dataSync());

/**
 * The separable quadratic f(x) = ½·Σ cᵢ·(xᵢ − tᵢ)², gradient c ⊙ (x − t): cheap, and the
 * trajectory depends on the iterates, so a wrong update anywhere compounds.
 */
export class Quadratic {
  readonly c: Float64Array;
  readonly target: Float64Array;
  constructor(
    readonly shape: readonly number[],
    rng: Rng,
    cRange: [number, number] = [0.5, 3],
  ) {
    const n = sizeOf(shape);
    this.c = rng.uniforms(n, cRange[0], cRange[1]);
    this.target = rng.normals(n);
  }
  grad(x: ArrayLike<number>): Float64Array {
    return Float64Array.from(x, (xi, i) => this.c[i] * (xi - this.target[i]));
  }
  value(x: ArrayLike<number>): number {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += 0.5 * this.c[i] * (x[i] - this.target[i]) ** 2;
    return s;
  }
  /** The same loss as a tensor expression of `x` (on x's backend). */
  loss(x: Tensor): Tensor {
    const c = t64(this.c, this.shape, x.backend);
    const tg = t64(this.target, this.shape, x.backend);
    return mul(sum(mul(square(sub(x, tg)), c)), 0.5);
  }
}

/** One training step: zeroGrad, backward of `loss()`, step; nothing but state survives. */
export function trainStep(opt: { zeroGrad(): void; step(): unknown }, loss: () => Tensor): void {
  tidy(() => {
    opt.zeroGrad();
    loss().backward();
    opt.step();
  });
  opt.zeroGrad();
}

/** max_i |a_i − b_i| / (1 + |b_i|) ≤ tol, naming the worst element on failure. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what = '',
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = 0;
  let msg = '';
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i]));
    if (!(err <= worst)) {
      worst = err;
      msg = `${what} element ${i}: got ${actual[i]}, expected ${expected[i]} (error ${err})`;
    }
  }
  expect(worst, msg).toBeLessThanOrEqual(tol);
}

/** Runs `fn` and checks that it leaves exactly `extra` more live tensors on the backend. */
export function expectNoLeak<T>(backend: string, extra: number, fn: () => T): T {
  const before = memory(backend).tensors;
  const r = fn();
  expect(memory(backend).tensors - before, 'live tensors after the run').toBe(extra);
  return r;
}

/** Disposes parameters (and their grads) outside any grad recording. */
export function free(...ts: Tensor[]): void {
  noGrad(() => {
    for (const t of ts) t.dispose();
  });
}

/** Unit roundoff of float64 and float32. */
export const U64 = 2 ** -53;
export const U32 = 2 ** -24;
