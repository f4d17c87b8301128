import { describe, expect, it } from 'vitest';
import { createModule, expectClose, randomF32, U } from './helpers.js';

const km = createModule();

/** float64 reference of C = op(A)·op(B) (+ C0) and Σ|a·b| per element for the error bound. */
function reference(
  a: Float32Array,
  b: Float32Array,
  M: number,
  N: number,
  K: number,
  tA: boolean,
  tB: boolean,
  c0?: Float32Array,
): { c: Float64Array; abs: Float64Array } {
  const c = new Float64Array(M * N);
  const abs = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = c0 ? c0[i * N + j]! : 0;
      let t = c0 ? Math.abs(c0[i * N + j]!) : 0;
      for (let k = 0; k < K; k++) {
        const p = (tA ? a[k * M + i]! : a[i * K + k]!) * (tB ? b[j * K + k]! : b[k * N + j]!);
        s += p;
        t += Math.abs(p);
      }
      c[i * N + j] = s;
      abs[i * N + j] = t;
    }
  }
  return { c, abs };
}

function check(
  M: number,
  N: number,
  K: number,
  tA: boolean,
  tB: boolean,
  accumulate = false,
  seed = 1,
): void {
  const a = randomF32(M * K, seed);
  const b = randomF32(K * N, seed + 1);
  const c0 = randomF32(M * N, seed + 2);
  const pa = km.allocF32(M * K, a);
  const pb = km.allocF32(K * N, b);
  const pc = km.allocF32(M * N, c0);
  km.matmul(pa, pb, pc, M, N, K, { transA: tA, transB: tB, accumulate });
  const ref = reference(a, b, M, N, K, tA, tB, accumulate ? c0 : undefined);
  // |fl(Σ) − Σ| ≤ γ_(K+1)·Σ|a·b| (+1 for the accumulate add); u = 2^−24
  expectClose(
    km.readF32(pc, M * N),
    ref.c,
    (i) => (K + 2) * U * ref.abs[i]!,
    `matmul ${M}x${N}x${K} tA=${tA} tB=${tB}`,
  );
  km.free(pa);
  km.free(pb);
  km.free(pc);
}

describe('matmul', () => {
  const sizes = [1, 3, 17, 63, 64, 65];
  for (const tA of [false, true]) {
    for (const tB of [false, true]) {
      it(`awkward sizes, transA=${tA} transB=${tB}`, () => {
        for (const M of sizes)
          for (const N of [1, 3, 17, 65]) for (const K of [1, 3, 64, 65]) check(M, N, K, tA, tB);
        check(257, 129, 70, tA, tB);
        check(5, 1030, 9, tA, tB); // N > NC panel width
      });
    }
  }

  it('large K (several KC blocks) and M (several MC blocks)', () => {
    check(33, 47, 1100, false, false);
    check(140, 9, 600, true, true);
    check(131, 35, 257, true, false);
  });

  it('accumulate adds to C', () => {
    check(17, 19, 300, false, false, true);
    check(4, 8, 3, true, true, true);
  });

  it('K = 0 writes zeros (or leaves C with accumulate); M or N = 0 is a no-op', () => {
    const pc = km.allocF32(6, [1, 2, 3, 4, 5, 6]);
    km.matmul(0, 0, pc, 2, 3, 0);
    expect(Array.from(km.readF32(pc, 6))).toEqual([0, 0, 0, 0, 0, 0]);
    km.writeF32(pc, [1, 2, 3, 4, 5, 6]);
    km.matmul(0, 0, pc, 2, 3, 0, { accumulate: true });
    expect(Array.from(km.readF32(pc, 6))).toEqual([1, 2, 3, 4, 5, 6]);
    km.matmul(0, 0, pc, 0, 3, 5);
    km.matmul(0, 0, pc, 2, 0, 5);
    expect(Array.from(km.readF32(pc, 6))).toEqual([1, 2, 3, 4, 5, 6]);
    km.free(pc);
  });

  it('batched, with stride-0 broadcast of either operand', () => {
    const batch = 3;
    const [M, N, K] = [7, 9, 13];
    for (const [bcA, bcB] of [
      [false, false],
      [true, false],
      [false, true],
    ] as const) {
      const a = randomF32((bcA ? 1 : batch) * M * K, 5);
      const b = randomF32((bcB ? 1 : batch) * K * N, 6);
      const pa = km.allocF32(a.length, a);
      const pb = km.allocF32(b.length, b);
      const pc = km.allocF32(batch * M * N);
      km.matmul(pa, pb, pc, M, N, K, {
        batch,
        strideA: bcA ? 0 : M * K,
        strideB: bcB ? 0 : K * N,
        transB: true,
      });
      const out = km.readF32(pc, batch * M * N);
      for (let t = 0; t < batch; t++) {
        const ref = reference(
          a.subarray(bcA ? 0 : t * M * K, (bcA ? 0 : t * M * K) + M * K),
          b.subarray(bcB ? 0 : t * K * N, (bcB ? 0 : t * K * N) + K * N),
          M,
          N,
          K,
          false,
          true,
        );
        expectClose(
          out.subarray(t * M * N, (t + 1) * M * N),
          ref.c,
          (i) => (K + 2) * U * ref.abs[i]!,
          `batch ${t}`,
        );
      }
      km.free(pa);
      km.free(pb);
      km.free(pc);
    }
  });

  it('gemm with leading dimensions writes only its sub-block', () => {
    // C is a 5×6 window of a 5×10 matrix; A, B are windows of wider matrices
    const [M, N, K, lda, ldb, ldc] = [5, 6, 7, 9, 11, 10];
    const a = randomF32(M * lda, 9);
    const b = randomF32(K * ldb, 10);
    const pa = km.allocF32(a.length, a);
    const pb = km.allocF32(b.length, b);
    const pc = km.allocF32(M * ldc, new Float32Array(M * ldc).fill(7));
    km.gemm(false, false, M, N, K, pa, lda, pb, ldb, pc, ldc);
    const c = km.readF32(pc, M * ldc);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < ldc; j++) {
        if (j >= N) {
          expect(c[i * ldc + j]).toBe(7);
          continue;
        }
        let s = 0;
        let t = 0;
        for (let k = 0; k < K; k++) {
          s += a[i * lda + k]! * b[k * ldb + j]!;
          t += Math.abs(a[i * lda + k]! * b[k * ldb + j]!);
        }
        expect(Math.abs(c[i * ldc + j]! - s)).toBeLessThanOrEqual((K + 2) * U * t);
      }
    }
  });

  it('the error check can fail (a perturbed result is rejected)', () => {
    const ref = new Float64Array([1, 2, 3]);
    expect(() => expectClose(new Float32Array([1, 2, 3.001]), ref, () => 1e-6, 'x')).toThrow(
      /out of tolerance/,
    );
  });
});
