import type { MatmulKernelAttrs } from '../../ops/matmul.js';
import type { JsKernel } from './types.js';

/** C_b = op(A_b)·op(B_b), accumulated in float64. */
export const matmul: JsKernel = ([a, b], [c], attrs: MatmulKernelAttrs) => {
  const { batch, m, n, k, transposeA, transposeB, aBatchStride, bBatchStride } = attrs;
  const as = a.array;
  const bs = b.array;
  const cs = c.array;
  // Element (i, p) of op(A) and (p, j) of op(B) within one batch.
  const [aRow, aCol] = transposeA ? [1, m] : [k, 1];
  const [bRow, bCol] = transposeB ? [1, k] : [n, 1];
  for (let t = 0; t < batch; t++) {
    const ao = t * aBatchStride;
    const bo = t * bBatchStride;
    const co = t * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += as[ao + i * aRow + p * aCol] * bs[bo + p * bRow + j * bCol];
        cs[co + i * n + j] = acc;
      }
    }
  }
};
