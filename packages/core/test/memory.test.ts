/**
 * Deterministic memory: a training loop leaks nothing, tidy keeps exactly what it returns, keep and
 * dispose behave, shared storage is freed with its last view, and a throwing tidy frees its tensors.
 */
import { describe, expect, it } from 'vitest';
import {
  add,
  argmax,
  crossEntropy,
  DescentError,
  detach,
  dispose,
  grad,
  keep,
  matmul,
  memory,
  mul,
  noGrad,
  randn,
  reshape,
  square,
  sub,
  sum,
  type Tensor,
  tanh,
  tensor,
  tidy,
  valueAndGrad,
  zeros,
} from '../src/index.js';

/** Everything memory() reports for a backend, for exact before/after comparisons. */
const usage = (name = 'js') => {
  const m = memory(name);
  return {
    tensors: m.tensors,
    bytes: m.bytes,
    backendBytes: m.backend.bytes,
    buffers: m.backend.buffers,
    collected: m.collectedWithoutDispose,
  };
};

describe('training loop', () => {
  it('100 SGD steps of a 2-layer MLP leave memory exactly where the first step left it, and the loss falls', () => {
    const start = usage();
    // A learnable problem: labels are the argmax of a fixed random linear map of the inputs.
    const X = randn([32, 4], { seed: 1 });
    const labels = tidy(() => argmax(matmul(X, randn([4, 3], { seed: 2 })), -1));
    let params: Tensor[] = [
      randn([4, 16], { seed: 3, std: 0.5 }),
      zeros([16]),
      randn([16, 3], { seed: 4, std: 0.5 }),
      zeros([3]),
    ].map((p) => p.requireGrad());
    const lr = 0.5;
    const step = (): number => {
      const { loss, next } = tidy(() => {
        const [W1, b1, W2, b2] = params;
        const logits = add(matmul(tanh(add(matmul(X, W1), b1)), W2), b2);
        const l = crossEntropy(logits, labels);
        l.backward();
        // Manual SGD: new parameters replace the old ones, which are disposed (with their .grad).
        const nextParams = noGrad(() => params.map((w) => sub(w, mul(w.grad!, lr))));
        for (const w of params) w.dispose();
        return { loss: l.item(), next: nextParams };
      });
      params = next.map((p) => p.requireGrad());
      return loss;
    };
    const losses = [step()];
    const after1 = usage();
    // Inputs, labels and the four parameters: nothing else survives a step.
    expect(after1.tensors - start.tensors).toBe(6);
    for (let i = 1; i < 100; i++) losses.push(step());
    expect(usage()).toEqual(after1);
    expect(params.every((p) => !p.isDisposed && p.grad === null && p.node === null)).toBe(true);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[99]).toBeLessThan(0.5 * losses[0]);
    // Mostly downhill, not just a lucky last step.
    expect(losses.slice(90).every((l) => l < losses[0] * 0.6)).toBe(true);
    dispose([X, labels, params]);
    expect(usage()).toEqual(start);
  });
});

describe('tidy', () => {
  it('returns nested results intact and disposes the rest', () => {
    const before = usage();
    const made: Tensor[] = [];
    const r = tidy(() => {
      const a = tensor([1, 2]);
      const tmp = mul(a, 10);
      const b = add(tmp, 1);
      const c = mul(b, 2);
      const d = sub(c, 1);
      const unused = square(d);
      made.push(a, tmp, b, c, d, unused);
      return { b, list: [c, { d }], map: new Map([['a', a]]), n: 3, s: 'x' };
    });
    expect(r.n).toBe(3);
    expect(r.s).toBe('x');
    expect(r.b.toArraySync()).toEqual([11, 21]);
    expect(r.list[0] as Tensor).toBe(made[3]);
    expect((r.list[0] as Tensor).toArraySync()).toEqual([22, 42]);
    expect((r.list[1] as { d: Tensor }).d.toArraySync()).toEqual([21, 41]);
    expect(r.map.get('a')!.toArraySync()).toEqual([1, 2]);
    expect(made.map((t) => t.isDisposed)).toEqual([false, true, false, false, false, true]);
    expect(usage().tensors).toBe(before.tensors + 4);
    expect(usage().bytes).toBe(before.bytes + 4 * 8);
    dispose([r.b, r.list, r.map.get('a')]);
    expect(usage()).toEqual(before);
  });

  it('nested: an inner result moves to the outer scope and is freed there unless returned', () => {
    const before = usage().tensors;
    let inner: Tensor | undefined;
    let innerKept: Tensor | undefined;
    const out = tidy(() => {
      inner = tidy(() => add(tensor([1]), 1)); // returned by the inner, dropped by the outer
      innerKept = tidy(() => mul(tensor([2]), 3));
      return innerKept;
    });
    expect(inner!.isDisposed).toBe(true);
    expect(out).toBe(innerKept);
    expect(out.toArraySync()).toEqual([6]);
    expect(usage().tensors).toBe(before + 1);
    out.dispose();
    expect(usage().tensors).toBe(before);
  });

  it('keep() survives every enclosing scope; tensor.keep() too', () => {
    const before = usage().tensors;
    let k1: Tensor | undefined;
    let k2: Tensor | undefined;
    let other: Tensor | undefined;
    tidy(() => {
      tidy(() => {
        k1 = keep(tensor([1, 2, 3]));
        k2 = mul(tensor([1]), 5).keep();
        other = tensor([0]);
      });
    });
    expect(k1!.isDisposed).toBe(false);
    expect(k2!.toArraySync()).toEqual([5]);
    expect(other!.isDisposed).toBe(true);
    expect(usage().tensors).toBe(before + 2);
    dispose([k1, k2]);
    expect(usage().tensors).toBe(before);
  });

  it('a tidy that throws frees its tensors and rethrows; an outer tidy carries on', () => {
    const before = usage();
    let a: Tensor | undefined;
    expect(() =>
      tidy(() => {
        a = tensor([1, 2, 3]);
        const b = add(a, a);
        mul(b, b);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(a!.isDisposed).toBe(true);
    expect(usage()).toEqual(before);

    const result = tidy(() => {
      const x = tensor([4]);
      try {
        tidy(() => {
          add(x, 1);
          throw new Error('inner');
        });
      } catch {
        // swallowed on purpose: the outer scope continues
      }
      return mul(x, 2);
    });
    expect(result.toArraySync()).toEqual([8]);
    expect(usage().tensors).toBe(before.tensors + 1);
    result.dispose();
    expect(usage()).toEqual(before);
  });

  it('an async function is refused and its tensors freed', async () => {
    const before = usage();
    let err: unknown;
    let p: Promise<unknown> | undefined;
    try {
      tidy(() => {
        tensor([1]);
        p = Promise.resolve(0);
        return p;
      });
    } catch (e) {
      err = e;
    }
    await p;
    expect(err).toBeInstanceOf(DescentError);
    expect((err as Error).message).toMatch(/tidy: .*synchronous/);
    expect(usage()).toEqual(before);
  });
});

describe('dispose and shared storage', () => {
  it('a reshape view shares storage: bytes are freed only when the last view goes', () => {
    const before = usage();
    const x = tensor([1, 2, 3, 4, 5, 6]);
    const v = reshape(x, [2, 3]);
    const d = detach(v);
    expect(usage().tensors).toBe(before.tensors + 3);
    expect(usage().bytes).toBe(before.bytes + 24);
    expect(usage().buffers).toBe(before.buffers + 1);
    x.dispose();
    expect(usage().tensors).toBe(before.tensors + 2);
    expect(usage().bytes).toBe(before.bytes + 24);
    expect(v.toArraySync()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    v.dispose();
    v.dispose(); // idempotent: no double free
    expect(usage().tensors).toBe(before.tensors + 1);
    expect(usage().backendBytes).toBe(before.backendBytes + 24);
    expect(Array.from(d.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    d.dispose();
    expect(usage()).toEqual(before);
  });

  it('tidy returning only a view keeps the shared storage alive', () => {
    const before = usage();
    const v = tidy(() => reshape(add(tensor([1, 2, 3, 4]), 1), [2, 2]));
    expect(usage().tensors).toBe(before.tensors + 1);
    expect(usage().bytes).toBe(before.bytes + 16);
    expect(v.toArraySync()).toEqual([
      [2, 3],
      [4, 5],
    ]);
    v.dispose();
    expect(usage()).toEqual(before);
  });

  it('dispose() takes nested arrays and objects; disposing a tensor frees its .grad', () => {
    const before = usage();
    const w = tensor([1, 2]).requireGrad();
    tidy(() => sum(square(w)).backward());
    expect(w.grad!.toArraySync()).toEqual([2, 4]);
    const g = w.grad!;
    const others = { a: tensor([1]), b: [tensor([2]), { c: tensor([3]) }] };
    dispose(w, others, 5, null, 'x');
    expect(g.isDisposed).toBe(true);
    expect(others.b[0] instanceof Object && (others.b[0] as Tensor).isDisposed).toBe(true);
    expect(usage()).toEqual(before);
  });
});

describe('functional autograd inside tidy', () => {
  it('grad() and valueAndGrad() leak nothing; returned gradients are all that survive', () => {
    const x = randn([3, 4], { seed: 5 });
    const y = randn([4, 2], { seed: 6 });
    const f = (a: Tensor, b: Tensor) => sum(tanh(matmul(a, b)));
    const before = usage();
    tidy(() => {
      grad(f)(x, y);
      grad(f, [0, 1])(x, y);
      const [v, g] = valueAndGrad(f)(x, y);
      expect(v.size).toBe(1);
      expect(g.shape).toEqual([3, 4]);
      valueAndGrad(f, [0, 1])(x, y);
      // A Hessian-vector product (nested grad) too.
      grad((a: Tensor) => sum(mul(grad((t: Tensor) => f(t, y))(a), a)))(x);
    });
    expect(usage()).toEqual(before);
    const [gx, gy] = tidy(() => grad(f, [0, 1])(x, y));
    expect(usage().tensors).toBe(before.tensors + 2);
    expect(gx.shape).toEqual([3, 4]);
    expect(gy.shape).toEqual([4, 2]);
    dispose([gx, gy]);
    const [value, g2] = tidy(() => valueAndGrad(f)(x, y));
    expect(usage().tensors).toBe(before.tensors + 2);
    expect(value.item()).toBeCloseTo(
      tidy(() => f(x, y).item()),
      5,
    );
    dispose([value, g2, x, y]);
    expect(usage().tensors).toBe(before.tensors - 2);
  });
});
