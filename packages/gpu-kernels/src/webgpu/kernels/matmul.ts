/**
 * Batched matmul C_t = op(A_t)·op(B_t): a 64×64 output tile per workgroup of 16×16 invocations, each
 * computing a 4×4 register block; K is walked in steps of 16 through workgroup memory (A and B
 * tiles of 16×64, 8 KiB). Transposes and batch strides are uniforms — op(A)[i, p] is at
 * aBase + i·aRow + p·aCol — so one pipeline serves every layout, including a shared operand
 * (batch stride 0). Tiles past the edges load zeros and store nothing.
 */
import type { GPUKernel } from '../kernel.js';
import { header, Params } from '../wgsl.js';

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

// Params: [m, n, k, aRow, aCol, bRow, bCol, aBatch, bBatch, batchBase]
const wgsl = () => `${header(
  [
    { name: 'a', elem: 'f32' },
    { name: 'b', elem: 'f32' },
  ],
  [{ name: 'c', elem: 'f32' }],
  10,
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
  let aBase = t * pu(7u);
  let bBase = t * pu(8u);
  let cBase = t * M * N;
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
      if (gi < M && p < K) { av = a[aBase + gi * aRow + p * aCol]; }
      As[e] = av;
      var bv = 0.0f;
      if (gj < N && p < K) { bv = b[bBase + p * bRow + gj * bCol]; }
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
      if (gj < N) { c[cBase + gi * N + gj] = acc[r][q]; }
    }
  }
}`;

export const matmul: GPUKernel = (ctx, [a, b], [c], attrs: MatmulAttrs) => {
  const { batch, m, n, k, transposeA, transposeB, aBatchStride, bBatchStride } = attrs;
  const [aRow, aCol] = transposeA ? [1, m] : [k, 1];
  const [bRow, bCol] = transposeB ? [1, k] : [n, 1];
  const maxZ = ctx.limits.maxComputeWorkgroupsPerDimension || 65535;
  for (let base = 0; base < batch; base += maxZ) {
    const params = new Params().u32(m, n, k, aRow, aCol, bRow, bCol, aBatchStride, bBatchStride, base);
    ctx.dispatch({
      key: 'matmul',
      wgsl,
      inputs: [a, b],
      outputs: [c],
      params,
      workgroups: [Math.ceil(n / T), Math.ceil(m / T), Math.min(maxZ, batch - base)],
    });
  }
};
