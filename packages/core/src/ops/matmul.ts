import { DescentError, fmtShape } from '../errors.js';
import { checkInputs, defineOp, runOp } from '../op.js';
import { broadcastShapes, shapesEqual, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { broadcastTo, reshape, squeeze, sumToShape } from './shape-ops.js';
import { composite } from './util.js';

export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
}

interface MatmulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/**
 * Kernel attrs: `batch` products C_i = op(A_i)·op(B_i), C_i of shape [m, n], contraction length k.
 * A_i starts at element i·aBatchStride (0 = one A shared by every batch), same for B; C is dense.
 * op(A) = Aᵀ when transposeA (A_i is stored [k, m]), likewise B ([n, k] when transposeB).
 */
export interface MatmulKernelAttrs {
  batch: number;
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
  aBatchStride: number;
  bBatchStride: number;
}

function dims(a: Tensor, b: Tensor, { transposeA, transposeB }: MatmulAttrs) {
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const m = transposeA ? ac : ar;
  const ka = transposeA ? ar : ac;
  const kb = transposeB ? bc : br;
  const n = transposeB ? br : bc;
  return { m, n, ka, kb };
}

/** f16 operands give an f16 product, accumulated in f32 and rounded once to f16. */
export const Matmul = defineOp<MatmulAttrs>({
  name: 'matmul',
  f16: true,
  infer([a, b], attrs) {
    if (a.dtype !== b.dtype || (a.dtype !== 'f32' && a.dtype !== 'f16')) {
      throw new DescentError(
        'matmul',
        `expected f32 operands (or two f16 ones), got ${fmtShape(a.shape)} ${a.dtype} and ${fmtShape(b.shape)} ${b.dtype}`,
      );
    }
    if (a.rank < 2 || b.rank < 2)
      throw new DescentError(
        'matmul',
        `operands must have rank >= 2 here, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
      );
    const { m, n, ka, kb } = dims(a, b, attrs);
    if (ka !== kb) {
      throw new DescentError(
        'matmul',
        `inner dimensions differ: ${fmtShape(a.shape)}${attrs.transposeA ? 'ᵀ' : ''} · ${fmtShape(b.shape)}${attrs.transposeB ? 'ᵀ' : ''} contracts ${ka} with ${kb} (expected equal sizes)`,
      );
    }
    const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batchSize = sizeOf(batch);
    for (const [t, name] of [
      [a, 'A'],
      [b, 'B'],
    ] as const) {
      const own = t.shape.slice(0, -2);
      if (sizeOf(own) !== 1 && sizeOf(own) !== batchSize) {
        throw new DescentError(
          'matmul',
          `internal: operand ${name} ${fmtShape(t.shape)} must be pre-broadcast to batch ${fmtShape(batch)}`,
        );
      }
    }
    return [{ shape: [...batch, m, n], dtype: a.dtype }];
  },
  kernelAttrs: ([a, b], attrs, [out]): MatmulKernelAttrs => {
    const { m, n, ka } = dims(a, b, attrs);
    const batch = sizeOf(out.shape.slice(0, -2));
    return {
      batch,
      m,
      n,
      k: ka,
      transposeA: attrs.transposeA,
      transposeB: attrs.transposeB,
      aBatchStride: sizeOf(a.shape.slice(0, -2)) === 1 ? 0 : m * ka,
      bBatchStride: sizeOf(b.shape.slice(0, -2)) === 1 ? 0 : n * ka,
    };
  },
  backward: ({ inputs: [a, b], grads: [g], attrs: { transposeA: tA, transposeB: tB }, needsGrad }) => {
    const gy = g!;
    // d/dA and d/dB of C = op(A)·op(B), each written as another matmul (no explicit transposes);
    // only the ones some input needs (a model's input batch needs none).
    const da = () =>
      tA ? matmul(b, gy, { transposeA: tB, transposeB: true }) : matmul(gy, b, { transposeB: !tB });
    const db = () =>
      tB ? matmul(gy, a, { transposeA: true, transposeB: tA }) : matmul(a, gy, { transposeA: !tA });
    return [needsGrad[0] ? sumToShape(da(), a.shape) : null, needsGrad[1] ? sumToShape(db(), b.shape) : null];
  },
});

/**
 * Matrix product with NumPy semantics: batch dimensions broadcast, rank-1 operands are treated as a
 * row (left) or column (right) vector and that axis is dropped from the result. `transposeA/B`
 * use op(X) = Xᵀ over the last two axes without materialising the transpose.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const attrs = { transposeA: opts.transposeA ?? false, transposeB: opts.transposeB ?? false };
  checkInputs('matmul', [a, b]); // before any reshape, so errors name matmul
  if (a.rank === 0 || b.rank === 0)
    throw new DescentError(
      'matmul',
      `operands must have rank >= 1, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    );
  return composite([a, b], () => {
    const a2 = a.rank === 1 ? reshape(a, attrs.transposeA ? [a.size, 1] : [1, a.size]) : a;
    const b2 = b.rank === 1 ? reshape(b, attrs.transposeB ? [1, b.size] : [b.size, 1]) : b;
    let out: Tensor;
    if (b2.rank === 2 && a2.rank > 2 && !attrs.transposeA) {
      // [..., m, k] · [k, n]: fold the batch into m — one large product instead of many small ones.
      const flat = reshape(a2, [-1, a2.shape[a2.rank - 1]]);
      const r = runOp(Matmul, [flat, b2], attrs)[0];
      out = reshape(r, [...a2.shape.slice(0, -1), r.shape[1]]);
    } else {
      const batch = broadcastShapes('matmul', a2.shape.slice(0, -2), b2.shape.slice(0, -2));
      const expand = (t: Tensor) => {
        const own = t.shape.slice(0, -2);
        if (sizeOf(own) === 1 || shapesEqual(own, batch)) return t;
        if (t.dtype === 'f16')
          throw new DescentError(
            'matmul',
            `f16 operands ${fmtShape(a.shape)} and ${fmtShape(b.shape)} need their batches broadcast to ` +
              `${fmtShape(batch)}, which f16 does not support (broadcastTo takes no f16): give both ` +
              'operands the same batch shape, or one a batch of one element',
          );
        return broadcastTo(t, [...batch, ...t.shape.slice(-2)]);
      };
      // An operand whose batch has one element but fewer axes is read with batch stride 0.
      out = runOp(Matmul, [expand(a2), expand(b2)], attrs)[0];
    }
    if (a.rank === 1) out = squeeze(out, -2);
    if (b.rank === 1) out = squeeze(out, -1);
    return out;
  });
}
