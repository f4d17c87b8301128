/**
 * Gradients of every layer (parameters and input) against central finite differences, in float64 on
 * the `js64` reference backend. With a fixed random cotangent W the scalar L = Σ f(x) ⊙ W is
 * differentiated by `backward()` and compared per element with (L(θ + h) − L(θ − h)) / 2h,
 * h = 1e-6·max(1, |θ|).
 *
 * Error budget (as in core's gradcheck): truncation h²/6·|L'''| ≈ 1e-13 for these O(1) smooth
 * functions; rounding ≈ ε·Σ|fW| / h ≲ 1e-16·1e3 / 1e-6 = 1e-7 at worst for these sizes, ~1e-9 in
 * practice. |analytic − numeric| ≤ 1e-6·(1 + |numeric|) leaves a wide margin and still catches any
 * wrong rule (a wrong factor, sign or transpose is an O(1) relative error). Inputs are random
 * normals, so no element sits within h of a ReLU kink.
 */
import { assign, dispose, mul, noGrad, setBackend, sum, type Tensor, tensor, tidy } from '@descent/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BasicBlock,
  BatchNorm2d,
  Bottleneck,
  CausalSelfAttention,
  Checkpointed,
  Conv2d,
  Embedding,
  FFN,
  GATES,
  GatedFFN,
  type GatedVariant,
  GPT,
  LayerNorm,
  Linear,
  type Module,
  RMSNorm,
  TransformerBlock,
} from '../src/index.js';
import { host, Rng, t64 } from './reference.js';

const rng = new Rng(23);

beforeAll(async () => {
  await setBackend('js64');
});
afterAll(async () => {
  await setBackend('js');
});

/** Checks d(Σ f(x)⊙W)/dθ for the module's parameters and (for f32 inputs) the input. */
function checkModuleGrad(m: Module, x: Tensor, maxPerTensor = 8): void {
  const wrt: Tensor[] = [...m.parameters(), ...(x.dtype === 'f32' ? [x.requireGrad()] : [])];
  let w: Tensor | null = null;
  const loss = () => {
    const y = m.forward(x);
    w ??= t64(rng.normals(y.size), y.shape).keep();
    return sum(mul(y, w));
  };
  const analytic = tidy(() => {
    loss().backward();
    return wrt.map((t) => host(t.grad!));
  });
  for (const t of wrt) {
    t.grad?.dispose();
    t.grad = null;
  }
  const value = () => noGrad(() => tidy(() => loss().item()));
  wrt.forEach((t, k) => {
    const base = host(t);
    const picks = Array.from({ length: Math.min(maxPerTensor, t.size) }, (_, i) =>
      Math.floor((i * t.size) / Math.min(maxPerTensor, t.size)),
    );
    for (const j of picks) {
      const h = 1e-6 * Math.max(1, Math.abs(base[j]));
      const at = (delta: number) => {
        const v = base.slice();
        v[j] += delta;
        const nt = t64(v, t.shape);
        noGrad(() => assign(t, nt));
        nt.dispose();
        return value();
      };
      const numeric = (at(h) - at(-h)) / (2 * h);
      at(0);
      const a = analytic[k][j];
      if (!(Math.abs(a - numeric) <= 1e-6 * (1 + Math.abs(numeric))))
        throw new Error(`tensor ${k} ${t.shape} element ${j}: analytic ${a} vs numeric ${numeric}`);
    }
  });
  dispose(w);
}

const cases: [string, () => [Module, Tensor]][] = [
  ['Linear', () => [new Linear(3, 4), t64(rng.normals(6), [2, 3])]],
  [
    'Embedding',
    () => [
      new Embedding(5, 3),
      tensor(Int32Array.from([1, 4, 1, 0]), [2, 2], { dtype: 'i32', backend: 'js64' }),
    ],
  ],
  ['LayerNorm', () => [new LayerNorm(5), t64(rng.normals(10), [2, 5])]],
  ['RMSNorm', () => [new RMSNorm(5), t64(rng.normals(10), [2, 5])]],
  [
    'Conv2d stride 2 pad 1',
    () => [new Conv2d(2, 3, 3, { strides: 2, padding: 1 }), t64(rng.normals(2 * 5 * 5 * 2), [2, 5, 5, 2])],
  ],
  ['BatchNorm2d (training)', () => [new BatchNorm2d(3), t64(rng.normals(2 * 2 * 2 * 3), [2, 2, 2, 3])]],
  ...(Object.keys(GATES) as GatedVariant[]).map((g): [string, () => [Module, Tensor]] => [
    `GatedFFN ${g}`,
    () => [new GatedFFN(3, 4, { gate: g }), t64(rng.normals(6), [2, 3])],
  ]),
  ['FFN (ReLU)', () => [new FFN(3, 5), t64(rng.normals(6), [2, 3])]],
  ['CausalSelfAttention', () => [new CausalSelfAttention(4, 2), t64(rng.normals(2 * 3 * 4), [2, 3, 4])]],
  [
    'TransformerBlock',
    () => [new TransformerBlock(4, 2, { dFF: 6 }), t64(rng.normals(2 * 3 * 4), [2, 3, 4])],
  ],
  [
    'Checkpointed TransformerBlock',
    () => [new Checkpointed(new TransformerBlock(4, 2, { dFF: 6 })), t64(rng.normals(2 * 3 * 4), [2, 3, 4])],
  ],
  [
    'BasicBlock with projection',
    () => [new BasicBlock(2, 3, 2), t64(rng.normals(2 * 4 * 4 * 2), [2, 4, 4, 2])],
  ],
  ['Bottleneck', () => [new Bottleneck(4, 2, 1), t64(rng.normals(2 * 3 * 3 * 4), [2, 3, 3, 4])]],
  [
    'GPT',
    () => [
      new GPT({ vocab: 5, context: 3, dModel: 4, heads: 2, layers: 1, dFF: 6 }),
      tensor(Int32Array.from([0, 3, 4, 2, 1, 1]), [2, 3], { dtype: 'i32', backend: 'js64' }),
    ],
  ],
];

describe('gradients by finite differences (float64)', () => {
  for (const [name, make] of cases) {
    it(name, () => {
      const [m, x] = make();
      checkModuleGrad(m, x);
      dispose(m, x);
    });
  }
  it('a checkpointed block gives the same gradients as the plain block', () => {
    const block = new TransformerBlock(4, 2, { dFF: 6, seed: 3 });
    const x = t64(rng.normals(2 * 3 * 4), [2, 3, 4]);
    const grads = (m: Module) =>
      tidy(() => {
        sum(mul(m.forward(x), m.forward(x))).backward();
        const g = m.parameters().map((p) => host(p.grad!));
        for (const p of m.parameters()) {
          p.grad!.dispose();
          p.grad = null;
        }
        return g;
      });
    expect(grads(new Checkpointed(block))).toEqual(grads(block));
    dispose(block, x);
  });
});
