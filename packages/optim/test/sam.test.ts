import { add, concat, engine, memory, mul, pow, sub, sum, type Tensor, tidy } from '@descent/core';
import { describe, expect, it } from 'vitest';
import { AdamW, Lion, SAM, SGD } from '../src/index.js';
import { expectClose, free, host, Rng, t64 } from './numeric.js';

/** f(x) = Σ ½·cᵢ·(xᵢ − tᵢ)² + ¼·Σ dᵢ·xᵢ⁴: non-quadratic, so the gradient at w + ε is not linear in ε. */
class Quartic {
  readonly c: Float64Array;
  readonly t: Float64Array;
  readonly d: Float64Array;
  constructor(n: number, rng: Rng) {
    this.c = rng.uniforms(n, 0.5, 3);
    this.t = rng.normals(n);
    this.d = rng.uniforms(n, 0.1, 1);
  }
  grad(x: ArrayLike<number>): Float64Array {
    return Float64Array.from(x, (xi, i) => this.c[i] * (xi - this.t[i]) + this.d[i] * xi ** 3);
  }
  loss(x: Tensor): Tensor {
    const n = x.size;
    const c = t64(this.c, [n]);
    const t = t64(this.t, [n]);
    const d = t64(this.d, [n]);
    return add(mul(sum(mul(pow(sub(x, t), 2), c)), 0.5), mul(sum(mul(pow(x, 4), d)), 0.25));
  }
}

/** SAM (Foret et al. 2021, Algorithm 1; ASAM's |w| scaling) around heavy-ball SGD, in float64. */
function samReference(
  x0: Float64Array,
  f: Quartic,
  steps: number,
  rho: number,
  adaptive: boolean,
  lr: number,
  mu: number,
) {
  const x = x0.slice();
  let buf: Float64Array | null = null;
  for (let s = 0; s < steps; s++) {
    const g = f.grad(x);
    const T = adaptive ? x.map(Math.abs) : x.map(() => 1);
    const norm = Math.sqrt(g.reduce((acc, gi, i) => acc + (T[i] * gi) ** 2, 0));
    const e = g.map((gi, i) => (rho * T[i] * T[i] * gi) / (norm + 1e-12));
    const gs = f.grad(x.map((xi, i) => xi + e[i]));
    buf = buf ? buf.map((b, i) => mu * b + gs[i]) : gs.slice();
    for (let i = 0; i < x.length; i++) x[i] -= lr * buf[i];
  }
  return x;
}

describe('SAM', () => {
  for (const adaptive of [false, true]) {
    it(`matches the float64 reference around SGD with momentum over 20 steps (adaptive: ${adaptive})`, () => {
      const rng = new Rng(adaptive ? 2 : 1);
      const f = new Quartic(7, rng);
      const x0 = rng.normals(7);
      const x = t64(x0, [7]).requireGrad();
      const sam = new SAM(new SGD([x], { lr: 0.05, momentum: 0.8 }), { rho: 0.2, adaptive });
      const before = memory('js64').tensors;
      for (let s = 0; s < 20; s++) {
        tidy(() => {
          f.loss(x).backward();
          sam.step(() => f.loss(x).backward());
        });
        sam.zeroGrad();
      }
      // State: the momentum buffer only; the saved parameters were released.
      expect(memory('js64').tensors).toBe(before + 1);
      // Same float64 operations up to summation order (a few ulps per step). Tolerance 1e-12.
      const want = samReference(x0, f, 20, 0.2, adaptive, 0.05, 0.8);
      expectClose(host(x), want, 1e-12, 'SAM parameters');
      // ρ matters: plain SGD would end elsewhere.
      const plain = samReference(x0, f, 20, 0, adaptive, 0.05, 0.8);
      expect(Math.max(...want.map((w, i) => Math.abs(w - plain[i])))).toBeGreaterThan(1e-3);
      sam.dispose();
      free(x);
    });
  }

  it('wraps a flat (multi-tensor) base optimizer: same results as per-tensor', () => {
    const rng = new Rng(3);
    const f = new Quartic(9, rng);
    const x0 = rng.normals(9);
    const run = (flat: boolean) => {
      const a = t64(x0.slice(0, 4), [4]).requireGrad();
      const b = t64(x0.slice(4), [5]).requireGrad();
      const loss = () => f.loss(concat([a, b]));
      const sam = new SAM(new AdamW([a, b], { lr: 0.05, flat }), { rho: 0.1 });
      let launches = 0;
      const stop = engine.addKernelListener((op) => {
        if (op === 'adamUpdate') launches++;
      });
      for (let s = 0; s < 8; s++) {
        tidy(() => {
          loss().backward();
          sam.step(() => loss().backward());
        });
        sam.zeroGrad();
      }
      stop();
      // Flat mode really is on: one update launch per step instead of one per tensor.
      expect(launches).toBe(flat ? 8 : 16);
      const out = [...host(a), ...host(b)];
      sam.dispose();
      free(a, b);
      return out;
    };
    expect(run(true)).toEqual(run(false));
  });

  it('restores the parameters bit-exactly between the two halves, and after a failing closure', () => {
    const x0 = Float64Array.from([0.3, -1.7, 2.2]);
    const x = t64(x0, [3]).requireGrad();
    const sam = new SAM(new Lion([x], { lr: 0 }), { rho: 0.5 });
    tidy(() => sum(pow(x, 3)).backward());
    sam.firstStep();
    expect(Array.from(host(x))).not.toEqual(Array.from(x0));
    expect(x.grad).toBeNull();
    tidy(() => sum(pow(x, 3)).backward());
    sam.secondStep(); // lr 0: the base step leaves w alone
    expect(Array.from(host(x))).toEqual(Array.from(x0));
    sam.zeroGrad();
    tidy(() => sum(pow(x, 3)).backward());
    expect(() =>
      sam.step(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(Array.from(host(x))).toEqual(Array.from(x0));
    expect(() => sam.secondStep()).toThrow(/SAM.secondStep: call firstStep\(\) first/);
    expect(() => sam.firstStep()).toThrow(/no parameter has a gradient/);
    expect(() => new SAM(sam.base, { rho: -1 })).toThrow(/rho must be a finite number >= 0/);
    sam.dispose();
    free(x);
  });
});
