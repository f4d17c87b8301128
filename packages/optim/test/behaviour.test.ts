import {
  add,
  crossEntropy,
  matmul,
  mul,
  noGrad,
  randn,
  relu,
  slice,
  square,
  sub,
  sum,
  type Tensor,
  tensor,
  tidy,
} from '@descent/core';
import { describe, expect, it } from 'vitest';
import { Adadelta, Adagrad, Adam, AdamW, NAdam, type Optimizer, RAdam, RMSprop, SGD } from '../src/index.js';

/** Runs `steps` steps minimizing `loss(x)`; returns the final loss. */
function minimize(x: Tensor[], opt: Optimizer<{ lr: number }>, loss: () => Tensor, steps: number): number {
  let last = Number.NaN;
  for (let t = 0; t < steps; t++) {
    tidy(() => {
      opt.zeroGrad();
      const l = loss();
      l.backward();
      opt.step();
      last = l.item();
    });
  }
  opt.zeroGrad();
  opt.dispose();
  noGrad(() => {
    for (const p of x) p.dispose();
  });
  return last;
}

describe('behaviour', () => {
  // f(x) = ½ Σ λᵢ xᵢ², λ from 1 to 100 (condition number κ = 100). Each method at its optimal step
  // size for a quadratic with curvatures in [μ, L] = [1, 100] (Polyak 1964; Nesterov 1983):
  //   GD:         lr = 2/(L + μ),            contraction (κ − 1)/(κ + 1) ≈ 0.980 per step
  //   heavy ball: lr = 4/(√L + √μ)², β = ((√κ − 1)/(√κ + 1))²,  contraction ≈ 0.818
  //   Nesterov:   lr = 1/L, β = (√κ − 1)/(√κ + 1),               contraction ≈ 1 − 1/√κ = 0.9
  const lambdas = Array.from({ length: 12 }, (_, i) => 1 + (99 * i) / 11);
  const quadratic = (make: (x: Tensor) => Optimizer<{ lr: number }>) => {
    const x = tensor(
      lambdas.map(() => 1),
      undefined,
      { backend: 'js64' },
    ).requireGrad();
    const lam = tensor(lambdas, undefined, { backend: 'js64' });
    const loss = minimize([x], make(x), () => mul(sum(mul(square(x), lam)), 0.5), 100);
    lam.dispose();
    return loss;
  };
  const kappa = 100;
  const q = (Math.sqrt(kappa) - 1) / (Math.sqrt(kappa) + 1);

  it('on an ill-conditioned quadratic (κ = 100), momentum and Nesterov beat plain GD by orders of magnitude', () => {
    const gd = quadratic((x) => new SGD([x], { lr: 2 / (kappa + 1) }));
    const heavyBall = quadratic(
      (x) => new SGD([x], { lr: 4 / (Math.sqrt(kappa) + 1) ** 2, momentum: q * q }),
    );
    const nesterov = quadratic((x) => new SGD([x], { lr: 1 / kappa, momentum: q, nesterov: true }));
    // After 100 steps: GD ≈ 0.98^200 · f₀ ≈ 1e-2·f₀; the accelerated methods are far below.
    expect(gd).toBeGreaterThan(1e-3);
    expect(heavyBall).toBeLessThan(gd * 1e-6);
    expect(nesterov).toBeLessThan(gd * 1e-3);
  });

  it('Adam minimizes the Rosenbrock function', () => {
    const xy = tensor([-1.5, 2], undefined, { backend: 'js64' }).requireGrad();
    const loss = minimize(
      [xy],
      new Adam([xy], { lr: 0.02 }),
      () => {
        const [x, y] = [slice(xy, [0], [1]), slice(xy, [1], [1])];
        return sum(add(square(sub(1, x)), mul(square(sub(y, square(x))), 100)));
      },
      3000,
    );
    expect(loss).toBeLessThan(1e-6);
  });

  for (const [name, make] of [
    ['Adam', (ps: Tensor[]) => new Adam(ps, { lr: 0.01 })],
    ['AdamW', (ps: Tensor[]) => new AdamW(ps, { lr: 0.01 })],
    ['NAdam', (ps: Tensor[]) => new NAdam(ps, { lr: 0.01 })],
    ['RAdam', (ps: Tensor[]) => new RAdam(ps, { lr: 0.01 })],
    ['RMSprop', (ps: Tensor[]) => new RMSprop(ps, { lr: 0.003 })],
    ['Adagrad', (ps: Tensor[]) => new Adagrad(ps, { lr: 0.05 })],
    ['Adadelta', (ps: Tensor[]) => new Adadelta(ps, { lr: 1 })],
    ['SGD momentum (flat)', (ps: Tensor[]) => new SGD(ps, { lr: 0.05, momentum: 0.9, flat: true })],
  ] as const) {
    it(`${name} reduces the loss of a small MLP classifier`, () => {
      const x = randn([64, 4], { seed: 1 });
      // Labels from a fixed random linear rule: learnable.
      const labels = tidy(() =>
        tensor(
          Array.from(matmul(x, randn([4, 3], { seed: 2 })).toArraySync() as number[][], (row) =>
            row.indexOf(Math.max(...row)),
          ),
          [64],
          { dtype: 'i32' },
        ),
      );
      const w1 = mul(randn([4, 16], { seed: 3 }), 0.5).requireGrad();
      const w2 = mul(randn([16, 3], { seed: 4 }), 0.5).requireGrad();
      const loss = () => crossEntropy(matmul(relu(matmul(x, w1)), w2), labels);
      const first = tidy(() => loss().item()); // mean cross-entropy, ≈ ln 3 at the start
      const last = minimize([w1, w2], make([w1, w2]), loss, 150);
      expect(last).toBeLessThan(first * 0.5);
      x.dispose();
      labels.dispose();
    });
  }
});
