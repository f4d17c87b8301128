/**
 * Batched matmul C_t = op(A_t)·op(B_t), from one shader generator parameterized by its tiling
 * (`MatmulVariant`): a workgroup computes a TM×TN tile of C, each invocation an RM×RN register block
 * of it (accumulators are named scalars/vectors in the generated code, not an indexed array, so the
 * compiler keeps them in registers); K is walked in steps of TK through workgroup memory (an A tile
 * TK×TM and a B tile TK×TN). Transposes and batch strides are uniforms — op(A)[i, p] is at
 * aBase + i·aRow + p·aCol — so one pipeline serves every shape, including a shared operand (batch
 * stride 0); only which axis of each operand is contiguous is specialized, so that neighbouring
 * invocations load neighbouring elements (coalesced) in all four transpose combinations. Tiles past
 * the edges load zeros and store nothing.
 *
 * Which variant runs is a shape heuristic (`chooseMatmul`, table in the README): big tiles for big
 * outputs, 32×32 for mid sizes, skinny tiles when M or N is at most 8 (GEMV-like products), and a K
 * split when the output has too few tiles to occupy the device: S workgroups per tile each sum a
 * slice of K into an f32 scratch, and a second pass adds the S partial sums in a fixed order
 * (deterministic, no atomics). `setMatmulOverride` forces a variant (tests run every one).
 *
 * f16 operands (device feature `shader-f16`): the same shader reads them as f32 into the workgroup
 * tiles, accumulates in f32 and rounds each output once to f16 (`to_f16`, ties to even); a K split
 * keeps its partial sums in f32 and rounds once in the final pass. Split over bindings, an f16
 * product accumulates its K blocks in an f32 scratch C, rounded to f16 at the end.
 */
import type { TensorInfo } from '@descent/core';
import type { GPUKernel, KernelContext } from '../kernel.js';
import { type BindingWindow, needsSplit, windowOver } from '../split.js';
import { grid1d, header, linearMain, Params } from '../wgsl.js';
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

/** A tiling of the matmul shader. Workgroup: (TN/RN) × (TM/RM) invocations. */
export interface MatmulVariant {
  /** Output tile rows (of op(A)) and columns (of op(B)) per workgroup. */
  tm: number;
  tn: number;
  /** Register block per invocation: rows × columns of C. */
  rm: number;
  rn: number;
  /** K step staged through workgroup memory. */
  tk: number;
}

/** The generated variants, by name (the README's table). */
export const MATMUL_VARIANTS = {
  /** Big outputs: 64×64 tiles, 4×4 per invocation (256 invocations). */
  tile64: { tm: 64, tn: 64, rm: 4, rn: 4, tk: 16 },
  /** Mid sizes: 32×32 tiles, 4×4 per invocation (64 invocations), four times the tiles of tile64. */
  tile32: { tm: 32, tn: 32, rm: 4, rn: 4, tk: 16 },
  /** M ≤ 8 (a few rows times a wide matrix, GEMV-like): 8×64 tiles, K in steps of 32. */
  skinnyM: { tm: 8, tn: 64, rm: 4, rn: 4, tk: 32 },
  /** N ≤ 8 (a wide matrix times a few columns): 64×8 tiles. */
  skinnyN: { tm: 64, tn: 8, rm: 4, rn: 4, tk: 32 },
} as const satisfies Record<string, MatmulVariant>;

export type MatmulVariantName = keyof typeof MATMUL_VARIANTS;

/** What runs: a variant and the number of K slices (1: no K split). */
export interface MatmulPlan {
  variant: MatmulVariantName;
  splitK: number;
}

/**
 * Tiles a product needs before a K split stops paying: below this many workgroups, the tiles are
 * split along K (each slice at least MIN_SLICE long) until there are about this many.
 */
const TARGET_WORKGROUPS = 32;
const MIN_SLICE = 256;
/** Outputs up to this many rows (columns) take the skinny tiles. */
const SKINNY = 8;

const tilesOf = (v: MatmulVariant, m: number, n: number, batch: number) =>
  Math.ceil(m / v.tm) * Math.ceil(n / v.tn) * batch;

/**
 * The shape heuristic: skinny tiles when M or N ≤ 8; else tile64 when it still gives at least
 * TARGET_WORKGROUPS tiles, tile32 otherwise; then a K split when the tiles are fewer than
 * TARGET_WORKGROUPS and K is long enough to give each slice at least MIN_SLICE.
 */
export function chooseMatmul(batch: number, m: number, n: number, k: number): MatmulPlan {
  let variant: MatmulVariantName;
  if (m <= SKINNY && n > SKINNY) variant = 'skinnyM';
  else if (n <= SKINNY && m > SKINNY) variant = 'skinnyN';
  else if (tilesOf(MATMUL_VARIANTS.tile64, m, n, batch) >= TARGET_WORKGROUPS) variant = 'tile64';
  else variant = 'tile32';
  const tiles = tilesOf(MATMUL_VARIANTS[variant], m, n, batch);
  const splitK =
    tiles >= TARGET_WORKGROUPS
      ? 1
      : Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.floor(k / MIN_SLICE)));
  return { variant, splitK };
}

let override: Partial<MatmulPlan> | null = null;

/**
 * Forces the variant and/or the K split of every matmul from now on (null: back to the heuristic).
 * For tests and benchmarks; a forced K split applies only where the heuristic's could (operands
 * within one binding).
 */
export function setMatmulOverride(plan: Partial<MatmulPlan> | null): void {
  if (plan?.variant !== undefined && !Object.hasOwn(MATMUL_VARIANTS, plan.variant))
    throw new Error(
      `unknown matmul variant '${plan.variant}' (known: ${Object.keys(MATMUL_VARIANTS).join(', ')})`,
    );
  if (plan?.splitK !== undefined && !(Number.isInteger(plan.splitK) && plan.splitK >= 1))
    throw new Error(`matmul splitK must be an integer ≥ 1, got ${plan.splitK}`);
  override = plan;
}

function planFor(batch: number, m: number, n: number, k: number, canSplitK: boolean): MatmulPlan {
  const auto = chooseMatmul(batch, m, n, k);
  const plan = { ...auto, ...override };
  return { variant: plan.variant, splitK: canSplitK ? plan.splitK : 1 };
}

/** Params words (see the shader's comment). */
const MATMUL_WORDS = 19;

/**
 * Params: [m, n, k, aRow, aCol, bRow, bCol, aBatch, bBatch, batchBase, aOff, bOff, cOff, ldc, cBatch,
 * accumulate, splitK, kSlice, cSlice]. m, n, k are the extents of this dispatch's block; op(A)[i, p]
 * of batch t is at t·aBatch + aOff + i·aRow + p·aCol in the bound window (aOff folds in the block's
 * origin and the window's offset; u32 arithmetic wraps, so it may be "negative"); C[i, j] at
 * t·cBatch + s·cSlice + cOff + i·ldc + j, where s < splitK is the K slice [s·kSlice, (s+1)·kSlice) the
 * workgroup sums (workgroup z = local batch · splitK + s). `accumulate`: add to C (a later block of K
 * when the operands are larger than one binding).
 *
 * `aK`: A is contiguous along K (not transposed), so consecutive invocations load consecutive p;
 * else consecutive i. `bK` likewise for B (transposed: contiguous along K), else consecutive j.
 */
function matmulWgsl(
  v: MatmulVariant,
  elem: 'f32' | 'f16',
  out: 'f32' | 'f16',
  aK: boolean,
  bK: boolean,
): string {
  const { tm, tn, rm, rn, tk } = v;
  const wx = tn / rn;
  const wy = tm / rm;
  const threads = wx * wy;
  if (!Number.isInteger(wx) || !Number.isInteger(wy) || (tk * tm) % threads || (tk * tn) % threads)
    throw new Error(`matmul variant ${JSON.stringify(v)}: tiles must divide among its invocations`);
  const read = (e: string) => (elem === 'f16' ? `f32(${e})` : e);
  const readC = (e: string) => (out === 'f16' ? `f32(${e})` : e);
  const write = (e: string) => (out === 'f16' ? `to_f16(${e})` : e);
  // Accumulators: acc_r_g holds columns 4g … 4g+w−1 of row r of the block (w ≤ 4: a vecw or an f32).
  const groups = Array.from({ length: Math.ceil(rn / 4) }, (_, g) => ({ g, w: Math.min(4, rn - 4 * g) }));
  const vt = (w: number) => (w === 1 ? 'f32' : `vec${w}<f32>`);
  const rows = Array.from({ length: rm }, (_, r) => r);
  const decls = rows
    .flatMap((r) => groups.map(({ g, w }) => `  var acc_${r}_${g} = ${vt(w)}(0.0f);`))
    .join('\n');
  const bvec = ({ g, w }: { g: number; w: number }) =>
    w === 1
      ? `Bs[ob + tj + ${4 * g}u]`
      : `${vt(w)}(${Array.from({ length: w }, (_, c) => `Bs[ob + tj + ${4 * g + c}u]`).join(', ')})`;
  const fmas = [
    ...rows.map((r) => `      let a${r} = As[oa + ti + ${r}u];`),
    ...groups.map((gr) => `      let b${gr.g} = ${bvec(gr)};`),
    ...rows.flatMap((r) =>
      groups.map(({ g, w }) => `      acc_${r}_${g} = fma(${vt(w)}(a${r}), b${g}, acc_${r}_${g});`),
    ),
  ].join('\n');
  // Tile loads: element e of the staged tile → (kk, q) with the operand's contiguous axis varying
  // fastest between consecutive invocations.
  // Tile loads: element e of the staged tile → (kk, q) with the operand's contiguous axis varying
  // fastest between consecutive invocations. A WGSL loop, not unrolled here: unrolled, the skinny
  // tiles' 64 guarded loads per invocation took SwiftShader's shader compiler minutes and gigabytes.
  const loads = (tile: 'A' | 'B') => {
    const T = tile === 'A' ? tm : tn;
    const kMajor = tile === 'A' ? aK : bK;
    const [kk, q] = kMajor ? [`e % ${tk}u`, `e / ${tk}u`] : [`e / ${T}u`, `e % ${T}u`];
    const src =
      tile === 'A'
        ? `if (i0 + q < M && p < pEnd) { v = ${read('a[aBase + (i0 + q) * aRow + p * aCol]')}; }`
        : `if (j0 + q < N && p < pEnd) { v = ${read('b[bBase + p * bRow + (j0 + q) * bCol]')}; }`;
    return `    for (var e = lid; e < ${tk * T}u; e = e + ${threads}u) {
      let kk = ${kk};
      let q = ${q};
      let p = p0 + kk;
      var v = 0.0f;
      ${src}
      ${tile}s[kk * ${T}u + q] = v;
    }`;
  };
  const stores = rows
    .map((r) => {
      const cols = groups.flatMap(({ g, w }) =>
        Array.from({ length: w }, (_, c) => {
          const val = w === 1 ? `acc_${r}_${g}` : `acc_${r}_${g}[${c}]`;
          return `      if (gj + ${4 * g + c}u < N) { let at = row + gj + ${4 * g + c}u; if (accumulate) { c[at] = ${write(`${readC('c[at]')} + ${val}`)}; } else { c[at] = ${write(val)}; } }`;
        }),
      );
      return `    if (gi + ${r}u < M) {\n      let row = cBase + (gi + ${r}u) * ldc;\n${cols.join('\n')}\n    }`;
    })
    .join('\n');
  return `${header(
    [
      { name: 'a', elem },
      { name: 'b', elem },
    ],
    [{ name: 'c', elem: out }],
    MATMUL_WORDS,
  )}
var<workgroup> As: array<f32, ${tk * tm}>; // [kk][i]
var<workgroup> Bs: array<f32, ${tk * tn}>; // [kk][j]

@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let M = pu(0u);
  let N = pu(1u);
  let K = pu(2u);
  let aRow = pu(3u);
  let aCol = pu(4u);
  let bRow = pu(5u);
  let bCol = pu(6u);
  let S = pu(16u);
  let t = wid.z / S + pu(9u);
  let s = wid.z % S;
  let aBase = t * pu(7u) + pu(10u);
  let bBase = t * pu(8u) + pu(11u);
  let cBase = t * pu(14u) + s * pu(18u) + pu(12u);
  let ldc = pu(13u);
  let accumulate = pu(15u) == 1u;
  let pStart = min(K, s * pu(17u));
  let pEnd = min(K, pStart + pu(17u));
  let i0 = wid.y * ${tm}u;
  let j0 = wid.x * ${tn}u;
  let ti = lid3.y * ${rm}u;
  let tj = lid3.x * ${rn}u;
${decls}
  for (var p0 = pStart; p0 < pEnd; p0 = p0 + ${tk}u) {
${loads('A')}
${loads('B')}
    workgroupBarrier();
    for (var kk = 0u; kk < ${tk}u; kk = kk + 1u) {
      let oa = kk * ${tm}u;
      let ob = kk * ${tn}u;
${fmas}
    }
    workgroupBarrier();
  }
  let gi = i0 + ti;
  let gj = j0 + tj;
${stores}
}`;
}

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

/** One dispatch's block: extents, first batch and batch count. */
interface Block {
  m: number;
  n: number;
  k: number;
  t0: number;
  batches: number;
}

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
  const elem = a.dtype === 'f16' ? 'f16' : 'f32';
  const split = needsSplit(ctx.split, a, b, c);
  // A K split needs a scratch of splitK·batch·m·n partial sums: only for operands within one binding.
  const plan = planFor(batch, m, n, k, !split && m * n * batch > 0 && k > 0);
  const v = MATMUL_VARIANTS[plan.variant];
  const S = plan.splitK;
  // The partial sums of a K split go to an f32 scratch laid out [S, batch, m, n], summed below.
  const target = S > 1 ? { ...ctx.scratch(S * batch * m * n, 'f32'), shape: [S * batch * m * n] } : c;
  const out = target.dtype === 'f16' ? 'f16' : 'f32';
  // Each slice is a whole number of K steps.
  const kSlice = Math.ceil(Math.ceil(k / S) / v.tk) * v.tk;
  const run = (
    block: Block,
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
      S,
      S > 1 ? kSlice : Math.max(block.k, 1),
      batch * m * n,
    );
    const aK = !transposeA;
    const bK = transposeB;
    ctx.dispatch({
      key: `matmul/${plan.variant}/${elem}/${out}/${aK ? 'k' : 'm'}${bK ? 'k' : 'n'}`,
      wgsl: () => matmulWgsl(v, elem, out, aK, bK),
      inputs: [a, b],
      outputs: [target],
      params,
      workgroups: [Math.ceil(block.n / v.tn), Math.ceil(block.m / v.tm), block.batches * S],
      windows,
    });
  };
  if (!split) {
    const perDispatch = Math.max(1, Math.floor(maxZ / S));
    for (let t0 = 0; t0 < batch; t0 += perDispatch)
      run({ m, n, k, t0, batches: Math.min(perDispatch, batch - t0) }, { a: 0, b: 0, c: 0 }, false);
    if (S > 1) sumSlices(ctx, target, c, S, batch * m * n);
    return;
  }
  splitMatmul(ctx, attrs, { aRow, aCol, bRow, bCol, maxZ }, run);
}

/** C = Σ_s P[s] over the S slices of a K split, in slice order (f32 sums, one rounding to f16). */
function sumSlices(ctx: KernelContext, partial: TensorInfo, c: TensorInfo, S: number, total: number): void {
  const out = c.dtype === 'f16' ? 'f16' : 'f32';
  const write = (e: string) => (out === 'f16' ? `to_f16(${e})` : e);
  ctx.dispatch({
    key: `matmul/sumSlices/${out}`,
    wgsl: () =>
      `${header([{ name: 'p', elem: 'f32' }], [{ name: 'c', elem: out }], 2)}\n${linearMain(
        'pu(0u)',
        `  var s = p[i];
  for (var q = 1u; q < pu(1u); q = q + 1u) { s = s + p[q * pu(0u) + i]; }
  c[i] = ${write('s')};`,
      )}`,
    inputs: [partial],
    outputs: [c],
    params: new Params().u32(total, S),
    workgroups: grid1d(total),
  });
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
    block: Block,
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
