/**
 * Batched matmul C_t = op(A_t)·op(B_t): a 64×64 output tile per workgroup of 16×16 invocations, each
 * computing a 4×4 register block; K is walked in steps of 16 through workgroup memory (A and B
 * tiles of 16×64, 8 KiB). Transposes and batch strides are uniforms — op(A)[i, p] is at
 * aBase + i·aRow + p·aCol — so one pipeline serves every layout, including a shared operand
 * (batch stride 0). Tiles past the edges load zeros and store nothing.
 *
 * f16 operands (device feature `shader-f16`): the same shader reads them as f32 into the workgroup
 * tiles, accumulates in f32 and rounds each output once to f16 (`to_f16`, ties to even). Split over
 * bindings, an f16 product accumulates its K blocks in an f32 scratch C, rounded to f16 at the end.
 */
import type { TensorInfo } from '@descent/core';
import type { GPUKernel, KernelContext } from '../kernel.js';
import { type BindingWindow, needsSplit, windowOver } from '../split.js';
import { header, Params } from '../wgsl.js';
import { cast } from './elementwise.js';

interface MatmulAttrs {
  batch: number;
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
  aBatchStride: number;
  bBatchStride: number;
}

const T = 64; // output tile edge
const TK = 16; // K step
const R = 4; // register block edge (T / 16)

/**
 * Params: [m, n, k, aRow, aCol, bRow, bCol, aBatch, bBatch, batchBase, aOff, bOff, cOff, ldc, cBatch,
 * accumulate]. m, n, k are the extents of this dispatch's block; op(A)[i, p] of batch t is at
 * t·aBatch + aOff + i·aRow + p·aCol in the bound window (aOff folds in the block's origin and the
 * window's offset; u32 arithmetic wraps, so it may be "negative"); C[i, j] at t·cBatch + cOff + i·ldc + j.
 * `accumulate`: add to C (a later block of K when the operands are larger than one binding).
 */
const wgsl = (elem: 'f32' | 'f16', out: 'f32' | 'f16') => {
  const read = (e: string) => (elem === 'f16' ? `f32(${e})` : e);
  const readC = (e: string) => (out === 'f16' ? `f32(${e})` : e);
  const write = (e: string) => (out === 'f16' ? `to_f16(${e})` : e);
  return `${header(
    [
      { name: 'a', elem },
      { name: 'b', elem },
    ],
    [{ name: 'c', elem: out }],
    16,
  )}
var<workgroup> As: array<f32, ${TK * T}>; // [kk][i]
var<workgroup> Bs: array<f32, ${TK * T}>; // [kk][j]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let M = pu(0u);
  let N = pu(1u);
  let K = pu(2u);
  let aRow = pu(3u);
  let aCol = pu(4u);
  let bRow = pu(5u);
  let bCol = pu(6u);
  let t = wid.z + pu(9u);
  let aBase = t * pu(7u) + pu(10u);
  let bBase = t * pu(8u) + pu(11u);
  let cBase = t * pu(14u) + pu(12u);
  let ldc = pu(13u);
  let accumulate = pu(15u) == 1u;
  let i0 = wid.y * ${T}u;
  let j0 = wid.x * ${T}u;
  let ti = lid3.y * ${R}u;
  let tj = lid3.x * ${R}u;
  var acc: array<vec4<f32>, ${R}>;
  for (var p0 = 0u; p0 < K; p0 = p0 + ${TK}u) {
    for (var l = 0u; l < ${(TK * T) / 256}u; l = l + 1u) {
      let e = lid + l * 256u;
      let kk = e / ${T}u;
      let q = e % ${T}u;
      let p = p0 + kk;
      let gi = i0 + q;
      let gj = j0 + q;
      var av = 0.0f;
      if (gi < M && p < K) { av = ${read('a[aBase + gi * aRow + p * aCol]')}; }
      As[e] = av;
      var bv = 0.0f;
      if (gj < N && p < K) { bv = ${read('b[bBase + p * bRow + gj * bCol]')}; }
      Bs[e] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk = kk + 1u) {
      let o = kk * ${T}u;
      let bv = vec4<f32>(Bs[o + tj], Bs[o + tj + 1u], Bs[o + tj + 2u], Bs[o + tj + 3u]);
      for (var r = 0u; r < ${R}u; r = r + 1u) {
        acc[r] = fma(vec4<f32>(As[o + ti + r]), bv, acc[r]);
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < ${R}u; r = r + 1u) {
    let gi = i0 + ti + r;
    if (gi >= M) { break; }
    for (var q = 0u; q < ${R}u; q = q + 1u) {
      let gj = j0 + tj + q;
      if (gj < N) {
        let at = cBase + gi * ldc + gj;
        if (accumulate) { c[at] = ${write(`${readC('c[at]')} + acc[r][q]`)}; } else { c[at] = ${write('acc[r][q]')}; }
      }
    }
  }
}`;
};

/** −x as a u32 word (offsets subtract a window's start; the shader's u32 arithmetic wraps). */
const wrap = (x: number) => (((x % 2 ** 32) + 2 ** 32) % 2 ** 32) >>> 0;

export const matmul: GPUKernel = (ctx, [a, b], [c], attrs: MatmulAttrs) => {
  if (c.dtype === 'f16' && needsSplit(ctx.split, a, b, c)) {
    // Later K blocks would add into an f16 C, rounding every partial sum: accumulate in f32 instead.
    const acc = { ...ctx.scratch(c.size, 'f32'), shape: c.shape };
    matmulInto(ctx, a, b, acc, attrs);
    cast(ctx, [acc], [c], { dtype: 'f16' });
    return;
  }
  matmulInto(ctx, a, b, c, attrs);
};

function matmulInto(
  ctx: KernelContext,
  a: TensorInfo,
  b: TensorInfo,
  c: TensorInfo,
  attrs: MatmulAttrs,
): void {
  const { batch, m, n, k, transposeA, transposeB, aBatchStride, bBatchStride } = attrs;
  const [aRow, aCol] = transposeA ? [1, m] : [k, 1];
  const [bRow, bCol] = transposeB ? [1, k] : [n, 1];
  const maxZ = ctx.limits.maxComputeWorkgroupsPerDimension || 65535;
  const run = (
    block: { m: number; n: number; k: number; t0: number; batches: number },
    offs: { a: number; b: number; c: number },
    accumulate: boolean,
    windows?: BindingWindow[],
  ) => {
    const params = new Params().u32(
      block.m,
      block.n,
      block.k,
      aRow,
      aCol,
      bRow,
      bCol,
      aBatchStride,
      bBatchStride,
      block.t0,
      wrap(offs.a),
      wrap(offs.b),
      wrap(offs.c),
      n,
      m * n,
      accumulate ? 1 : 0,
    );
    const elem = a.dtype === 'f16' ? 'f16' : 'f32';
    const out = c.dtype === 'f16' ? 'f16' : 'f32';
    ctx.dispatch({
      key: `matmul/${elem}/${out}`,
      wgsl: () => wgsl(elem, out),
      inputs: [a, b],
      outputs: [c],
      params,
      workgroups: [Math.ceil(block.n / T), Math.ceil(block.m / T), block.batches],
      windows,
    });
  };
  if (!needsSplit(ctx.split, a, b, c)) {
    for (let t0 = 0; t0 < batch; t0 += maxZ)
      run({ m, n, k, t0, batches: Math.min(maxZ, batch - t0) }, { a: 0, b: 0, c: 0 }, false);
    return;
  }
  splitMatmul(ctx, attrs, { aRow, aCol, bRow, bCol, maxZ }, run);
}

/**
 * Operands larger than one binding: runs of whole batches when a batch's matrices fit a binding,
 * else blocks of (rows of op(A), columns of op(B), a run of K) per batch, sized so that each operand's
 * window — (rows − 1)·leading dimension + columns elements — fits; later K blocks accumulate into C.
 */
function splitMatmul(
  ctx: KernelContext,
  { batch, m, n, k, transposeA, transposeB, aBatchStride, bBatchStride }: MatmulAttrs,
  { aRow, aCol, bRow, bCol, maxZ }: { aRow: number; aCol: number; bRow: number; bCol: number; maxZ: number },
  run: (
    block: { m: number; n: number; k: number; t0: number; batches: number },
    offs: { a: number; b: number; c: number },
    accumulate: boolean,
    windows: BindingWindow[],
  ) => void,
): void {
  const { maxElements, alignElements } = ctx.split;
  const L = maxElements - alignElements;
  const win = (min: number, max: number) =>
    max < min ? { offset: 0, size: 0 } : windowOver(min, max, alignElements);
  const sizes = { a: m * k, b: k * n, c: m * n };
  if (sizes.a <= L && sizes.b <= L && sizes.c <= L) {
    // Runs of batches: a run of tb batches spans (tb − 1)·stride + size elements of each operand.
    const fit = (stride: number, size: number) => (stride > 0 ? Math.floor((L - size) / stride) + 1 : batch);
    const tb = Math.max(
      1,
      Math.min(batch, maxZ, fit(aBatchStride, sizes.a), fit(bBatchStride, sizes.b), fit(m * n, sizes.c)),
    );
    for (let t0 = 0; t0 < batch; t0 += tb) {
      const t1 = Math.min(batch, t0 + tb) - 1;
      const wa = win(t0 * aBatchStride, t1 * aBatchStride + sizes.a - 1);
      const wb = win(t0 * bBatchStride, t1 * bBatchStride + sizes.b - 1);
      const wc = win(t0 * m * n, t1 * m * n + sizes.c - 1);
      run({ m, n, k, t0, batches: t1 - t0 + 1 }, { a: -wa.offset, b: -wb.offset, c: -wc.offset }, false, [
        wa,
        wb,
        wc,
      ]);
    }
    return;
  }
  // Blocks: shrink (halving rows, then columns) whichever operand's window does not fit.
  let mb = m;
  let nb = n;
  let kb = k;
  const span = (rows: number, cols: number, ld: number) => (rows - 1) * ld + cols;
  for (;;) {
    const [aRows, aCols] = transposeA ? [kb, mb] : [mb, kb];
    const [bRows, bCols] = transposeB ? [nb, kb] : [kb, nb];
    if (span(aRows, aCols, transposeA ? m : k) > L) {
      if (transposeA) aRows > 1 ? (kb = Math.ceil(kb / 2)) : (mb = Math.ceil(mb / 2));
      else aRows > 1 ? (mb = Math.ceil(mb / 2)) : (kb = Math.ceil(kb / 2));
    } else if (span(bRows, bCols, transposeB ? k : n) > L) {
      if (transposeB) bRows > 1 ? (nb = Math.ceil(nb / 2)) : (kb = Math.ceil(kb / 2));
      else bRows > 1 ? (kb = Math.ceil(kb / 2)) : (nb = Math.ceil(nb / 2));
    } else if (span(mb, nb, n) > L) {
      mb > 1 ? (mb = Math.ceil(mb / 2)) : (nb = Math.ceil(nb / 2));
    } else break;
  }
  for (let t = 0; t < batch; t++)
    for (let i0 = 0; i0 < m; i0 += mb)
      for (let j0 = 0; j0 < n; j0 += nb)
        for (let p0 = 0; p0 < Math.max(k, 1); p0 += Math.max(kb, 1)) {
          const mc = Math.min(mb, m - i0);
          const nc = Math.min(nb, n - j0);
          const kc = Math.min(kb, k - p0);
          const a0 = t * aBatchStride + i0 * aRow + p0 * aCol;
          const b0 = t * bBatchStride + p0 * bRow + j0 * bCol;
          const c0 = t * m * n + i0 * n + j0;
          const wa = win(a0, a0 + (mc - 1) * aRow + (kc - 1) * aCol);
          const wb = win(b0, b0 + (kc - 1) * bRow + (nc - 1) * bCol);
          const wc = win(c0, c0 + (mc - 1) * n + nc - 1);
          // The shader adds t·stride itself: fold the rest of the origin, minus the window, into the offsets.
          run(
            { m: mc, n: nc, k: kc, t0: t, batches: 1 },
            {
              a: a0 - t * aBatchStride - wa.offset,
              b: b0 - t * bBatchStride - wb.offset,
              c: c0 - t * m * n - wc.offset,
            },
            p0 > 0,
            [wa, wb, wc],
          );
        }
}
