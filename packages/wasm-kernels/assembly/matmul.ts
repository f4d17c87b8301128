// Packed, register-blocked SIMD matmul (the BLIS/GotoBLAS loop nest).
//
//   for jc in N by NC:            (B block KC×NC, stays in L2/L3)
//     for pc in K by KC:
//       pack B[pc:pc+kc, jc:jc+nc] into NR-column panels (k-major, NR floats per k)
//       for ic in M by MC:        (A block MC×KC, stays in L2)
//         pack A[ic:ic+mc, pc:pc+kc] into MR-row panels (k-major, MR floats per k)
//         for jr in nc by NR, ir in mc by MR:
//           MR×NR micro-kernel: 8 f32x4 accumulators, one B row pair + MR broadcasts per k
//
// op(A)/op(B) transposes are folded into the packing (element strides), so no transpose is ever
// materialised. Panels are zero-padded to MR/NR inside the scratch buffer; edge tiles (M % MR, N % NR)
// run the same micro-kernel into a small tile buffer and copy the valid part out.
import { fma } from './common';

export const MR = 4;
export const NR = 8;
export const KC = 256;
export const MC = 128; // multiple of MR
export const NC = 1024; // multiple of NR

const TILE_BYTES: usize = 128; // MR*NR*4
const PACKA_BYTES: usize = <usize>MC * KC * 4;
const PACKB_BYTES: usize = <usize>KC * NC * 4;

/** Bytes of 64-byte-aligned workspace `gemm`/`matmul` need. */
export function matmul_workspace_bytes(): i32 {
  return <i32>(TILE_BYTES + PACKA_BYTES + PACKB_BYTES);
}

// ---- packing ---------------------------------------------------------------------------------------

/** Packs an mc×kc block of op(A) (element (i,k) at a + (i·rs + k·cs)·4) into MR-row panels. */
function packA(a: usize, rs: i32, cs: i32, mc: i32, kc: i32, dst: usize): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    const panel = dst + <usize>ir * kc * 4;
    const base = a + (<usize>ir * rs << 2);
    if (mr == MR && rs == 1) {
      // op(A) rows are contiguous in memory for a fixed k (A stored transposed)
      const csb = <usize>cs << 2;
      for (let k = 0; k < kc; k++) {
        const src = base + csb * k;
        const d = panel + <usize>k * (MR * 4);
        v128.store(d, v128.load(src));
      }
    } else if (mr == MR && cs == 1) {
      const rsb = <usize>rs << 2;
      const r0 = base, r1 = base + rsb, r2 = base + 2 * rsb, r3 = base + 3 * rsb;
      let k = 0;
      for (; k + 4 <= kc; k += 4) {
        // 4×4 transpose: rows r0..r3 at k..k+3 → 4 packed columns
        const o = <usize>k << 2;
        const x0 = v128.load(r0 + o), x1 = v128.load(r1 + o), x2 = v128.load(r2 + o), x3 = v128.load(r3 + o);
        const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5);
        const t1 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
        const t2 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
        const t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
        const d = panel + (<usize>k << 4);
        v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
        v128.store(d, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
        v128.store(d, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
        v128.store(d, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
      }
      for (; k < kc; k++) {
        const o = <usize>k << 2;
        const d = panel + (<usize>k << 4);
        store<f32>(d, load<f32>(r0 + o), 0);
        store<f32>(d, load<f32>(r1 + o), 4);
        store<f32>(d, load<f32>(r2 + o), 8);
        store<f32>(d, load<f32>(r3 + o), 12);
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const d = panel + <usize>k * (MR * 4);
        for (let i = 0; i < MR; i++) {
          const v: f32 = i < mr ? load<f32>(base + ((<usize>i * rs + <usize>k * cs) << 2)) : 0;
          store<f32>(d + (<usize>i << 2), v);
        }
      }
    }
  }
}

/** Packs a kc×nc block of op(B) (element (k,j) at b + (k·rs + j·cs)·4) into NR-column panels. */
function packB(b: usize, rs: i32, cs: i32, kc: i32, nc: i32, dst: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    const panel = dst + <usize>jr * kc * 4;
    const base = b + (<usize>jr * cs << 2);
    if (nr == NR && cs == 1) {
      const rsb = <usize>rs << 2;
      for (let k = 0; k < kc; k++) {
        const src = base + rsb * k;
        const d = panel + (<usize>k << 5);
        v128.store(d, v128.load(src));
        v128.store(d, v128.load(src, 16), 16);
      }
    } else if (nr == NR && rs == 1) {
      // B stored transposed: each of the NR columns is contiguous along k
      const csb = <usize>cs << 2;
      for (let j = 0; j < NR; j++) {
        const src = base + csb * j;
        const d = panel + (<usize>j << 2);
        for (let k = 0; k < kc; k++) store<f32>(d + (<usize>k << 5), load<f32>(src + (<usize>k << 2)));
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const d = panel + (<usize>k << 5);
        for (let j = 0; j < NR; j++) {
          const v: f32 = j < nr ? load<f32>(base + ((<usize>k * rs + <usize>j * cs) << 2)) : 0;
          store<f32>(d + (<usize>j << 2), v);
        }
      }
    }
  }
}

// ---- micro-kernel ----------------------------------------------------------------------------------

/** C[0:4, 0:8] (row stride ldc bytes) = (acc ? C : 0) + Ap·Bp over kc. 8 accumulators + 2 B vectors + 4 A
 * broadcasts = 14 live xmm registers: V8 (which keeps xmm15 as scratch and hoists all loads of an iteration)
 * spills with anything larger, e.g. 6×8. */
function micro4x8(kc: i32, ap: usize, bp: usize, c: usize, ldc: usize, acc: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    const a0 = v128.load32_splat(ap);
    const a1 = v128.load32_splat(ap, 4);
    const a2 = v128.load32_splat(ap, 8);
    const a3 = v128.load32_splat(ap, 12);
    c00 = fma(a0, b0, c00);
    c01 = fma(a0, b1, c01);
    c10 = fma(a1, b0, c10);
    c11 = fma(a1, b1, c11);
    c20 = fma(a2, b0, c20);
    c21 = fma(a2, b1, c21);
    c30 = fma(a3, b0, c30);
    c31 = fma(a3, b1, c31);
    ap += MR * 4;
    bp += NR * 4;
  }
  if (acc) {
    c00 = f32x4.add(c00, v128.load(c)); c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c + ldc)); c11 = f32x4.add(c11, v128.load(c + ldc, 16));
    c20 = f32x4.add(c20, v128.load(c + 2 * ldc)); c21 = f32x4.add(c21, v128.load(c + 2 * ldc, 16));
    c30 = f32x4.add(c30, v128.load(c + 3 * ldc)); c31 = f32x4.add(c31, v128.load(c + 3 * ldc, 16));
  }
  v128.store(c, c00); v128.store(c, c01, 16); c += ldc;
  v128.store(c, c10); v128.store(c, c11, 16); c += ldc;
  v128.store(c, c20); v128.store(c, c21, 16); c += ldc;
  v128.store(c, c30); v128.store(c, c31, 16);
}

// ---- driver ----------------------------------------------------------------------------------------

/**
 * C[M,N] (row stride ldc) = op(A)·op(B) (+ C when accumulate ≠ 0). op(A) is M×K: A is stored M×K
 * (row stride lda) or, with transA, K×M. op(B) is K×N: B stored K×N or, with transB, N×K.
 * ws: `matmul_workspace_bytes()` bytes, 64-byte aligned.
 */
export function gemm(
  transA: i32, transB: i32, M: i32, N: i32, K: i32,
  a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, accumulate: i32, ws: usize,
): void {
  if (M <= 0 || N <= 0) return;
  const ldcb = <usize>ldc << 2;
  if (K <= 0) {
    if (!accumulate) {
      for (let i = 0; i < M; i++) memory.fill(c + ldcb * i, 0, <usize>N << 2);
    }
    return;
  }
  const rsA = transA ? 1 : lda;
  const csA = transA ? lda : 1;
  const rsB = transB ? 1 : ldb;
  const csB = transB ? ldb : 1;
  const tile = ws;
  const pa = ws + TILE_BYTES;
  const pb = pa + PACKA_BYTES;
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      const acc = accumulate != 0 || pc > 0;
      packB(b + ((<usize>pc * rsB + <usize>jc * csB) << 2), rsB, csB, kc, nc, pb);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min(MC, M - ic);
        packA(a + ((<usize>ic * rsA + <usize>pc * csA) << 2), rsA, csA, mc, kc, pa);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const bpanel = pb + <usize>jr * kc * 4;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const apanel = pa + <usize>ir * kc * 4;
            const cp = c + ldcb * (ic + ir) + (<usize>(jc + jr) << 2);
            if (mr == MR && nr == NR) {
              micro4x8(kc, apanel, bpanel, cp, ldcb, acc);
            } else {
              micro4x8(kc, apanel, bpanel, tile, NR * 4, false);
              for (let i = 0; i < mr; i++) {
                const crow = cp + ldcb * i;
                const trow = tile + <usize>i * (NR * 4);
                for (let j = 0; j < nr; j++) {
                  const o = <usize>j << 2;
                  const t = load<f32>(trow + o);
                  store<f32>(crow + o, acc ? load<f32>(crow + o) + t : t);
                }
              }
            }
          }
        }
      }
    }
  }
}

/**
 * Batched contiguous matmul: for each of `batch` problems, C = op(A)·op(B) (+ C). A/B/C advance by
 * strideA/strideB/strideC elements per problem (0 broadcasts one operand). Leading dims are the
 * contiguous ones: lda = transA ? M : K, ldb = transB ? K : N, ldc = N.
 */
export function matmul(
  a: usize, b: usize, c: usize, M: i32, N: i32, K: i32, transA: i32, transB: i32, accumulate: i32,
  batch: i32, strideA: i32, strideB: i32, strideC: i32, ws: usize,
): void {
  const lda = transA ? M : K;
  const ldb = transB ? K : N;
  for (let i = 0; i < batch; i++) {
    gemm(transA, transB, M, N, K,
      a + ((<usize>strideA * i) << 2), lda, b + ((<usize>strideB * i) << 2), ldb,
      c + ((<usize>strideC * i) << 2), N, accumulate, ws);
  }
}
