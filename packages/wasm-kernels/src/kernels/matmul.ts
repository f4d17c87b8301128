/** Batched matmul on the packed, register-blocked gemm (transposed operands are read in place). */
import type { MatmulKernelAttrs } from '@descent/core';
import type { WasmKernel } from './types.js';

export const matmul: WasmKernel = (ctx, [a, b], [c], attrs: MatmulKernelAttrs) => {
  const { batch, m, n, k, transposeA, transposeB, aBatchStride, bBatchStride } = attrs;
  ctx.km.matmul(ctx.ptr(a), ctx.ptr(b), ctx.ptr(c), m, n, k, {
    transA: transposeA,
    transB: transposeB,
    batch,
    strideA: aBatchStride,
    strideB: bBatchStride,
    strideC: m * n,
  });
};
