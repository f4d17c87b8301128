/**
 * customFunction and checkpoint: a checkpointed block gives the same values and gradients as the
 * plain one (exactly, on the float64 reference: the recomputation runs the same ops on the same
 * inputs), replays dropout's random draws, works under double backward, and refuses a trainable
 * tensor it was not told about.
 */
import { describe, expect, it } from 'vitest';
import {
  checkpoint,
  customFunction,
  DescentError,
  dispose,
  dropout,
  grad,
  matmul,
  memory,
  mul,
  setSeed,
  sum,
  type Tensor,
  tanh,
  tidy,
} from '../src/index.js';
import { Rng, t64 } from './helpers.js';

const rng = new Rng(7);

function block(w1: Tensor, w2: Tensor) {
  return (x: Tensor) => matmul(tanh(matmul(x, w1)), w2);
}

describe('customFunction', () => {
  it('records one node with the user backward rule', () => {
    const x = t64([1, -2, 3], [3]).requireGrad();
    const y = customFunction(
      {
        name: 'triple',
        forward: ([a]) => [mul(a, 3)],
        backward: ({ grads: [g] }) => [mul(g!, 3)],
      },
      [x],
    )[0];
    expect(Array.from(y.dataSync())).toEqual([3, -6, 9]);
    sum(y).backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([3, 3, 3]);
    dispose(x, y);
  });

  it('rejects a forward that returns nothing usable', () => {
    const x = t64([1], [1]).requireGrad();
    expect(() => customFunction({ name: 'bad', forward: () => [], backward: () => [null] }, [x])).toThrow(
      /bad: forward must return a non-empty array/,
    );
    x.dispose();
  });
});

describe('checkpoint', () => {
  it('matches the plain block in value and gradients, and leaks nothing', () => {
    const before = memory('js64').tensors;
    const x = t64(rng.normals(12), [4, 3]).requireGrad();
    const w1 = t64(rng.normals(15), [3, 5]).requireGrad();
    const w2 = t64(rng.normals(10), [5, 2]).requireGrad();
    const f = block(w1, w2);
    const loss = (useCheckpoint: boolean) =>
      tidy(() => {
        const y = useCheckpoint ? checkpoint(f, [x], [w1, w2])[0] : f(x);
        const l = sum(mul(y, y));
        l.backward();
        const out = [l.item(), ...[x, w1, w2].map((t) => Array.from(t.grad!.dataSync()))];
        for (const t of [x, w1, w2]) {
          t.grad!.dispose();
          t.grad = null;
        }
        return out;
      });
    expect(loss(true)).toEqual(loss(false));
    dispose(x, w1, w2);
    expect(memory('js64').tensors).toBe(before);
  });

  it('replays dropout masks in the recomputation', () => {
    const x = t64(rng.normals(40), [8, 5]).requireGrad();
    const w1 = t64(rng.normals(15), [5, 3]).requireGrad();
    const f = (a: Tensor) => dropout(matmul(a, w1), 0.5);
    const run = (useCheckpoint: boolean) =>
      tidy(() => {
        setSeed(3);
        const y = useCheckpoint ? checkpoint(f, [x], [w1])[0] : f(x);
        sum(mul(y, y)).backward();
        const out = Array.from(w1.grad!.dataSync());
        w1.grad!.dispose();
        w1.grad = null;
        x.grad?.dispose();
        x.grad = null;
        return out;
      });
    expect(run(true)).toEqual(run(false));
    dispose(x, w1);
  });

  it('supports a gradient of a gradient through the checkpoint', () => {
    const w = t64([0.3, -0.7, 0.2, 0.5], [2, 2]).requireGrad();
    const f = (a: Tensor) => tanh(matmul(a, w));
    // d/dx Σ (d/dx Σ f(x)²) for x ↦ with and without the checkpoint
    const hv = (useCheckpoint: boolean) =>
      tidy(() => {
        const g = grad((x: Tensor) => {
          const inner = grad((y: Tensor) => {
            const o = useCheckpoint ? checkpoint(f, [y], [w])[0] : f(y);
            return sum(mul(o, o));
          });
          return sum(inner(x));
        });
        return Array.from(g(t64([0.4, -1.1], [1, 2])).dataSync());
      });
    const a = hv(true);
    const b = hv(false);
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 12);
    w.dispose();
  });

  it('names a trainable tensor that was not listed in params', () => {
    const x = t64([1, 2], [1, 2]).requireGrad();
    const w = t64([1, 2, 3, 4], [2, 2]).requireGrad();
    expect(() =>
      tidy(() => {
        const y = checkpoint((a) => matmul(a, w), [x])[0];
        sum(y).backward();
      }),
    ).toThrow(DescentError);
    expect(() => tidy(() => sum(checkpoint((a) => matmul(a, w), [x])[0]).backward())).toThrow(
      /not among its inputs or params/,
    );
    dispose(x, w);
  });
});
