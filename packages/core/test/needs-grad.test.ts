/**
 * Backward rules skip the gradients nobody needs: the image fed to a first convolution and the
 * input batch of a first matmul need no gradient, so their (full-size) passes never run — while
 * the gradients that are needed are unchanged, and the skipped ones still run when asked for.
 */
import { describe, expect, it } from 'vitest';
import { conv2d, dispose, engine, grad, matmul, sum, type Tensor, tidy } from '../src/index.js';
import { Rng, size, t64 } from './helpers.js';

const rng = new Rng(11);
const normal = (shape: number[]) => t64(rng.normals(size(shape), 1), shape);

/** The kernels run while `fn` runs (on js64). */
function kernelsRun(fn: () => void): string[] {
  const ran: string[] = [];
  const stop = engine.addKernelListener((op, backend) => {
    if (backend === 'js64') ran.push(op);
  });
  try {
    fn();
  } finally {
    stop();
  }
  return ran;
}

describe('backward computes only the gradients that are needed', () => {
  it('conv2d: no conv2dBackpropInput for an input that does not require grad', () => {
    const x = normal([2, 5, 5, 3]);
    const w = normal([3, 3, 3, 4]);
    const f = (a: Tensor, b: Tensor) => sum(conv2d(a, b, { padding: 'same' }));
    let onlyW: Float64Array | undefined;
    let both: Float64Array | undefined;
    const ranOnlyW = kernelsRun(() => {
      tidy(() => {
        onlyW = grad((b: Tensor) => f(x, b))(w).dataSync() as Float64Array;
      });
    });
    const ranBoth = kernelsRun(() => {
      tidy(() => {
        const [, gw] = grad(f, [0, 1])(x, w) as Tensor[];
        both = gw.dataSync() as Float64Array;
      });
    });
    expect(ranOnlyW).toContain('conv2dBackpropFilter');
    expect(ranOnlyW).not.toContain('conv2dBackpropInput');
    expect(ranBoth).toContain('conv2dBackpropInput');
    expect(Array.from(onlyW!)).toEqual(Array.from(both!));
    dispose([x, w]);
  });

  it('matmul: one product instead of two when only the weight needs a gradient', () => {
    const x = normal([4, 6]);
    const w = normal([6, 3]);
    const f = (a: Tensor, b: Tensor) => sum(matmul(a, b));
    const count = (ops: string[]) => ops.filter((o) => o === 'matmul').length;
    const ranOnlyW = kernelsRun(() => tidy(() => void grad((b: Tensor) => f(x, b))(w).dataSync()));
    const ranBoth = kernelsRun(() => tidy(() => void (grad(f, [0, 1])(x, w) as Tensor[])[1].dataSync()));
    // Forward 1 + backward 1 (dW only) vs forward 1 + backward 2.
    expect(count(ranOnlyW)).toBe(2);
    expect(count(ranBoth)).toBe(3);
    dispose([x, w]);
  });
});
