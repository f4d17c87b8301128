/**
 * How kernels are split across threads: pure functions from a problem to a list of tasks (kernel calls on
 * disjoint parts of the output, claimed by the threads in order — see ./pool.ts), or null where the work
 * is too small to be worth a fork-join. A job has a few tasks per thread, so a preempted thread delays it
 * by one task, not by a whole share.
 *
 * Every split partitions the OUTPUT, and every output element is computed by exactly the arithmetic it
 * gets single-threaded, so results are bit-identical for any thread count:
 *  - gemm / batched matmul: blocks of rows of C (multiples of MR = 4) or of columns (multiples of NR = 8),
 *    never K. A C element's dot product runs over the same KC = 256 blocks of K in the same order, in the
 *    same micro-kernel, whichever block holds it (edge tiles add the same partial sums, and x + y = y + x).
 *  - conv2d forward: rows of y (output pixels); input gradient: bands of image rows of dx (a dx element
 *    still receives its contributions in pixel order, each computed as on one thread); filter gradient:
 *    (pixel segment, kernel row) units: the segments are fixed by the geometry, each task writes the
 *    partial sums of its units, and the caller adds the segments in order. See assembly/conv.ts.
 *  - unary / binary maps: contiguous ranges of the output (lane math does not depend on position).
 *  - row kernels (softmax, logSoftmax, crossEntropy and its gradient, layerNorm, rmsNorm, Adafactor's
 *    update): blocks of whole rows (a row is reduced by one thread, as on one thread).
 *  - fused optimizer updates: ranges of elements starting on 64-byte lines (lane math, as for the maps).
 */
import type { BroadcastPlan } from '../broadcast.js';
import type { UnaryOpName } from '../ops.js';
import { MAX_TASKS } from './pool.js';

type Ptr = number;

/** Kernel exports a thread may be asked to run (the workers resolve these names once). */
export const THREAD_EXPORTS = [
  'gemm',
  'matmul',
  'unary_f32',
  'unary_i32',
  'binary_f32',
  'binary_i32',
  'conv2d_rows_f32',
  'conv2d_backward_input_rows_f32',
  'conv2d_backward_filter_rows_f32',
  'softmax_f32',
  'log_softmax_f32',
  'cross_entropy_f32',
  'cross_entropy_backward_f32',
  'layer_norm_f32',
  'rms_norm_f32',
  'adafactor_update_f32',
  'sgd_update_f32',
  'adagrad_update_f32',
  'rmsprop_update_f32',
  'adadelta_update_f32',
  'adam_update_f32',
  'lion_update_f32',
] as const;
export type ThreadExport = (typeof THREAD_EXPORTS)[number];

export interface PlannedCall {
  fn: ThreadExport;
  args: number[];
  /** Index of the workspace argument (left 0 here; each thread passes its own). */
  ws?: number;
}
/** The tasks of one job, in the order threads claim them. */
export type Plan = PlannedCall[];

/**
 * Tasks per thread. Gemm: 2 — every gemm task packs the whole B panel of its rows (or A of its columns)
 * again, ≈ 1/(2·rows) of its flops in copies, so tasks stay big; the rest: 4.
 */
const GEMM_TASKS_PER_THREAD = 2;
const TASKS_PER_THREAD = 4;
/**
 * Streaming splits (maps, row kernels) also cut big jobs into tasks of about TASK_NS of one-thread time:
 * the threads finish within one such task of each other, and a preempted thread holds the job up by
 * that much, where 4 tasks per thread left up to an eighth of a 4M-element map (≈ 0.3 ms) on one
 * thread at the end. Claiming a task costs about a microsecond.
 */
const TASK_NS = 60_000;

/** Tasks for a streaming job of `ns` one-thread time over `units` indivisible pieces. */
function streamTasks(ns: number, units: number, threads: number, cap = MAX_TASKS): number {
  return Math.min(units, cap, Math.max(threads * TASKS_PER_THREAD, Math.ceil(ns / TASK_NS)));
}

// ---- when to split ------------------------------------------------------------------------------------
//
// A fork-join costs < 5 µs when the workers are still polling (kernels back to back) and ≈ 20–100 µs when
// they sleep (a futex wake-up per worker; more on a busy machine). A split only pays when every thread gets
// well above that, so each thread must be handed at least MIN_NS_PER_THREAD of estimated one-thread time.

/** Minimum estimated work per thread, in nanoseconds of single-thread time. */
export const MIN_NS_PER_THREAD = 150_000;
/** Single-thread gemm speed used to estimate time (GFLOP/s ≈ flop/ns), a low guess of 35–48. */
const GEMM_FLOP_PER_NS = 30;
/** Estimated ns per element of a unary map (measured order of magnitude, 4M elements, one thread). */
const UNARY_NS: Partial<Record<UnaryOpName, number>> = {
  exp: 0.6,
  log: 1.6,
  tanh: 1.6,
  sigmoid: 0.9,
  silu: 0.9,
  softplus: 2.2,
  erf: 2.5,
  erfc: 3,
  geluErf: 3.7,
  geluTanh: 2,
  sqrt: 0.5,
  rsqrt: 0.5,
  reciprocal: 0.5,
};
/** Everything else (neg, abs, relu, clamp, affine, rounding, casts) is memory-bound: ≈ 8 bytes per 0.15 ns. */
const UNARY_CHEAP_NS = 0.15;
const BINARY_NS = 0.25;
const BINARY_POW_NS = 10;
/**
 * Conv time beyond the gemm's flops, per im2col entry / output: at 1–8 channels the gemm's K and N are tiny
 * (9–72, 8) and the im2col, packing and edge tiles dominate (measured ≈ 1.5 ns per element for a 1-channel
 * 3×3 stem, ≈ 0.3 ns at 8 channels); 1 ns keeps small-channel convs from being judged too cheap to split.
 */
const CONV_ELEMENT_NS = 1;

/** Threads worth using for `ns` of single-thread work split into at most `units` pieces. */
export function threadsFor(ns: number, units: number, maxThreads: number): number {
  return Math.max(1, Math.min(maxThreads, units, Math.floor(ns / MIN_NS_PER_THREAD)));
}

/** Range t of `parts` near-equal contiguous ranges of [0, n). */
export function part(n: number, parts: number, t: number): [number, number] {
  return [Math.floor((t * n) / parts), Math.floor(((t + 1) * n) / parts)];
}

// ---- gemm ---------------------------------------------------------------------------------------------

export const MR = 4;
export const NR = 8;

/** C = op(A)·op(B) (+ C), `batch` problems at element strides strideA/B/C (0 broadcasts an operand). */
export interface GemmProblem {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  a: Ptr;
  lda: number;
  b: Ptr;
  ldb: number;
  c: Ptr;
  ldc: number;
  accumulate: boolean;
  batch: number;
  strideA: number;
  strideB: number;
  strideC: number;
  /** Operands are contiguous (lda = transA ? M : K, ldb = transB ? K : N, ldc = N): whole problems may
   * then run as one batched `matmul` call. */
  contiguous: boolean;
}

/**
 * Splits a (batched) gemm over rows of C when M ≥ N, else over columns (each task then re-packs the
 * smaller operand), with the batch folded in: work items are (problem, block) pairs in order, each task
 * takes a contiguous run of them — whole problems as one batched call, partial ones as gemm calls.
 */
export function planGemm(p: GemmProblem, maxThreads: number): Plan | null {
  if (maxThreads < 2 || p.M <= 0 || p.N <= 0 || p.batch <= 0) return null;
  const byRows = p.M >= p.N;
  const dim = byRows ? p.M : p.N;
  const unit = byRows ? MR : NR;
  const blocks = Math.ceil(dim / unit);
  const items = blocks * p.batch;
  const ns = (2 * p.M * p.N * Math.max(p.K, 1) * p.batch) / GEMM_FLOP_PER_NS;
  const threads = threadsFor(ns, items, maxThreads);
  if (threads < 2) return null;
  const chunks = Math.min(items, threads * GEMM_TASKS_PER_THREAD);
  const tA = p.transA ? 1 : 0;
  const tB = p.transB ? 1 : 0;
  const acc = p.accumulate ? 1 : 0;
  const tasks: Plan = [];
  for (let t = 0; t < chunks; t++) {
    let [s, e] = part(items, chunks, t);
    while (s < e) {
      const prob = Math.floor(s / blocks);
      const j0 = s % blocks;
      const a = p.a + 4 * prob * p.strideA;
      const b = p.b + 4 * prob * p.strideB;
      const c = p.c + 4 * prob * p.strideC;
      const whole = j0 === 0 ? Math.floor((e - s) / blocks) : 0;
      if (whole > 0 && (whole === 1 || p.contiguous)) {
        if (whole === 1) {
          tasks.push({
            fn: 'gemm',
            args: [tA, tB, p.M, p.N, p.K, a, p.lda, b, p.ldb, c, p.ldc, acc, 0],
            ws: 12,
          });
        } else {
          tasks.push({
            fn: 'matmul',
            args: [a, b, c, p.M, p.N, p.K, tA, tB, acc, whole, p.strideA, p.strideB, p.strideC, 0],
            ws: 13,
          });
        }
        s += whole * blocks;
        continue;
      }
      // a run of blocks inside one problem
      const j1 = Math.min(blocks, j0 + (e - s));
      const lo = j0 * unit;
      const hi = Math.min(dim, j1 * unit);
      if (byRows) {
        const aOff = p.transA ? lo : lo * p.lda;
        tasks.push({
          fn: 'gemm',
          args: [tA, tB, hi - lo, p.N, p.K, a + 4 * aOff, p.lda, b, p.ldb, c + 4 * lo * p.ldc, p.ldc, acc, 0],
          ws: 12,
        });
      } else {
        const bOff = p.transB ? lo * p.ldb : lo;
        tasks.push({
          fn: 'gemm',
          args: [tA, tB, p.M, hi - lo, p.K, a, p.lda, b + 4 * bOff, p.ldb, c + 4 * lo, p.ldc, acc, 0],
          ws: 12,
        });
      }
      s += j1 - j0;
    }
  }
  return tasks;
}

// ---- conv2d -------------------------------------------------------------------------------------------

export type ConvPass = 'forward' | 'inputGrad' | 'filterGrad';

export interface ConvProblem {
  pass: ConvPass;
  /** Three tensor pointers in the kernel's argument order (x, w, y / dy, w, dx / x, dy, dw). */
  p0: Ptr;
  p1: Ptr;
  p2: Ptr;
  /** The 18-i32 geometry block (read-only, shared by all threads). */
  geom: Ptr;
  /** Workspace bytes every thread passes (fixes the pixel chunking; see assembly/conv.ts). */
  wsBytes: number;
  /** N·OH·OW, N, H, the window's height in input rows ((KH − 1)·dilationH + 1), KH. */
  pixels: number;
  images: number;
  imageRows: number;
  windowRows: number;
  kernelRows: number;
  /** Filter gradient: the pixel segments S (conv2d_filter_segments); 1 otherwise. */
  segments: number;
  /** 2·pixels·kk·Cout. */
  flops: number;
  /** pixels·(kk + Cout), kk = KH·KW·C/groups: im2col entries and outputs (see CONV_ELEMENT_NS). */
  elements: number;
}

const CONV_FN: Record<ConvPass, ThreadExport> = {
  forward: 'conv2d_rows_f32',
  inputGrad: 'conv2d_backward_input_rows_f32',
  filterGrad: 'conv2d_backward_filter_rows_f32',
};

/**
 * Forward: rows of y in multiples of 4 pixels; filter gradient: the S·KH (segment, kernel row) units, in
 * order (a task whose units share a segment builds one im2col for its kernel rows); input gradient: image rows
 * of dx — whole images when there are at least two per thread (then no output row is computed twice),
 * else bands of ≥ 4 window heights (a band recomputes the output rows whose windows straddle its borders,
 * ≈ one window height of them per border).
 */
export function planConv(p: ConvProblem, maxThreads: number): Plan | null {
  if (maxThreads < 2) return null;
  const ns = p.flops / GEMM_FLOP_PER_NS + p.elements * CONV_ELEMENT_NS;
  let extent: number;
  let unit: number;
  if (p.pass === 'forward') [extent, unit] = [p.pixels, MR];
  else if (p.pass === 'filterGrad') [extent, unit] = [p.segments * p.kernelRows, 1];
  else {
    extent = p.images * p.imageRows;
    const band = Math.min(p.imageRows, 4 * p.windowRows);
    const most = threadsFor(ns, Math.ceil(extent / band), maxThreads);
    unit = p.images >= 2 * most ? p.imageRows : band;
  }
  const units = Math.ceil(extent / unit);
  const threads = threadsFor(ns, units, maxThreads);
  if (threads < 2) return null;
  const chunks = Math.min(units, threads * TASKS_PER_THREAD);
  const tasks: Plan = [];
  for (let t = 0; t < chunks; t++) {
    const [u0, u1] = part(units, chunks, t);
    const lo = u0 * unit;
    const hi = Math.min(extent, u1 * unit);
    tasks.push({ fn: CONV_FN[p.pass], args: [p.p0, p.p1, p.p2, p.geom, 0, p.wsBytes, lo, hi], ws: 4 });
  }
  return tasks;
}

// ---- row kernels and fused optimizer updates ---------------------------------------------------------

/** Kernels whose calls handle a range of units — rows, or elements — given by one count argument. */
export type RowKernel =
  | 'softmax_f32'
  | 'log_softmax_f32'
  | 'cross_entropy_f32'
  | 'cross_entropy_backward_f32'
  | 'layer_norm_f32'
  | 'rms_norm_f32'
  | 'adafactor_update_f32';
export type UpdateKernel =
  | 'sgd_update_f32'
  | 'adagrad_update_f32'
  | 'rmsprop_update_f32'
  | 'adadelta_update_f32'
  | 'adam_update_f32'
  | 'lion_update_f32';
export type RangeKernel = RowKernel | UpdateKernel;

/**
 * Estimated ns per element of one thread (measured order of magnitude on rows of 1024 and on 10M-element
 * updates, Node 20): softmax family = three passes over the row and one exp; the norms two or three passes
 * with no transcendental; the updates stream 12–28 bytes per element (AdamW 10M: 9 ms).
 */
const RANGE_NS: Record<RangeKernel, number> = {
  softmax_f32: 0.9,
  log_softmax_f32: 0.9,
  cross_entropy_f32: 0.6,
  cross_entropy_backward_f32: 0.9,
  layer_norm_f32: 0.4,
  rms_norm_f32: 0.3,
  adafactor_update_f32: 0.6,
  sgd_update_f32: 0.5,
  adagrad_update_f32: 0.6,
  rmsprop_update_f32: 0.8,
  adadelta_update_f32: 0.8,
  adam_update_f32: 0.9,
  lion_update_f32: 0.7,
};

/**
 * An argument of a range kernel: a pointer that advances `stride` bytes per unit (0 stays 0: kernels read
 * a null pointer as "no such operand"), or a number passed unchanged (sizes, flags, coefficients).
 */
export type RangeArg = number | { ptr: Ptr; stride: number };

/**
 * fn(...args) over contiguous ranges of `units` units (rows, or elements) of `unitLen` elements each:
 * `args[countAt]` is the unit count, replaced per task by the range's; every pointer argument is moved to
 * the range's first unit. Ranges start at multiples of `quantum` units (elementwise updates: 16, one
 * 64-byte line, so no two threads write one cache line and vectors keep their grouping).
 */
export function planRanges(
  fn: RangeKernel,
  args: readonly RangeArg[],
  countAt: number,
  units: number,
  unitLen: number,
  quantum: number,
  maxThreads: number,
): Plan | null {
  const ns = units * unitLen * RANGE_NS[fn];
  const pieces = Math.ceil(units / quantum);
  const threads = threadsFor(ns, pieces, maxThreads);
  if (threads < 2) return null;
  const chunks = streamTasks(ns, pieces, threads);
  const tasks: Plan = [];
  for (let t = 0; t < chunks; t++) {
    const [q0, q1] = part(pieces, chunks, t);
    const u0 = q0 * quantum;
    const u1 = Math.min(units, q1 * quantum);
    const taskArgs = args.map((a) => (typeof a === 'number' ? a : a.ptr === 0 ? 0 : a.ptr + a.stride * u0));
    taskArgs[countAt] = u1 - u0;
    tasks.push({ fn, args: taskArgs });
  }
  return tasks;
}

// ---- elementwise --------------------------------------------------------------------------------------

/** Output ranges start on 64-byte boundaries (16 elements), so no two threads write one cache line. */
const LINE = 16;

export function unaryCostNs(op: UnaryOpName): number {
  return UNARY_NS[op] ?? UNARY_CHEAP_NS;
}

/** y = op(x) over n elements (f32 or i32 lanes): contiguous ranges. */
export function planUnary(
  fn: 'unary_f32' | 'unary_i32',
  op: number,
  costNs: number,
  x: Ptr,
  y: Ptr,
  n: number,
  p0: number,
  p1: number,
  maxThreads: number,
): Plan | null {
  const lines = Math.ceil(n / LINE);
  const threads = threadsFor(n * costNs, lines, maxThreads);
  if (threads < 2) return null;
  const chunks = streamTasks(n * costNs, lines, threads);
  const tasks: Plan = [];
  for (let t = 0; t < chunks; t++) {
    const [l0, l1] = part(lines, chunks, t);
    const s = l0 * LINE;
    const e = Math.min(n, l1 * LINE);
    tasks.push({ fn, args: [op, x + 4 * s, y + 4 * s, e - s, p0, p1] });
  }
  return tasks;
}

/** A box of a row-major index space: dims < `fixed.length` pinned, dim d over [lo, hi), later dims whole. */
export interface Box {
  fixed: number[];
  lo: number;
  hi: number;
}

/**
 * Decomposes the flat range [e0, e1) of a row-major `shape` into at most 2·rank − 1 boxes, in order.
 * E.g. shape [3, 4], [2, 9) → row 0 cols [2, 4), rows [1, 2), row 2 cols [0, 1).
 */
export function boxes(shape: readonly number[], e0: number, e1: number): Box[] {
  const out: Box[] = [];
  const inner: number[] = new Array(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    inner[d] = acc;
    acc *= shape[d]!;
  }
  const rec = (fixed: number[], lo: number, hi: number): void => {
    const unit = inner[fixed.length]!;
    if (lo % unit === 0 && hi % unit === 0) {
      out.push({ fixed, lo: lo / unit, hi: hi / unit });
      return;
    }
    const i0 = Math.floor(lo / unit);
    const i1 = Math.floor((hi - 1) / unit);
    if (i0 === i1) {
      rec([...fixed, i0], lo - i0 * unit, hi - i0 * unit);
      return;
    }
    let mid0 = i0;
    if (lo % unit !== 0) {
      rec([...fixed, i0], lo - i0 * unit, unit);
      mid0 = i0 + 1;
    }
    const mid1 = Math.floor(hi / unit);
    if (mid1 > mid0) out.push({ fixed, lo: mid0, hi: mid1 });
    if (hi % unit !== 0) rec([...fixed, i1], 0, hi - i1 * unit);
  };
  if (e1 > e0) rec([], e0, e1);
  return out;
}

/**
 * y = op(a, b) over a broadcast plan: the (contiguous) output is cut into ranges, each range into boxes;
 * each box is one task, a kernel call of lower or equal rank whose shape/stride arrays go into the pool's
 * parameter area (`param(values)` writes i32s and returns their address).
 */
export function planBinary(
  fn: 'binary_f32' | 'binary_i32',
  op: number,
  costNs: number,
  a: Ptr,
  b: Ptr,
  y: Ptr,
  plan: BroadcastPlan,
  maxThreads: number,
  param: (values: readonly number[]) => Ptr,
): Plan | null {
  const n = plan.size;
  const lines = Math.ceil(n / LINE);
  const threads = threadsFor(n * costNs, lines, maxThreads);
  if (threads < 2) return null;
  const shape = plan.shape;
  const [sa, sb] = plan.strides as [readonly number[], readonly number[]];
  // each range gives ≤ 2·rank − 1 boxes
  const chunks = streamTasks(n * costNs, lines, threads, Math.floor(MAX_TASKS / (2 * shape.length - 1)));
  const tasks: Plan = [];
  for (let t = 0; t < chunks; t++) {
    const [l0, l1] = part(lines, chunks, t);
    for (const box of boxes(shape, l0 * LINE, Math.min(n, l1 * LINE))) {
      const d = box.fixed.length;
      let offA = box.lo * sa[d]!;
      let offB = box.lo * sb[d]!;
      let offY = 0;
      let rowStride = 1;
      for (let i = shape.length - 1; i >= 0; i--) {
        if (i < d) {
          offA += box.fixed[i]! * sa[i]!;
          offB += box.fixed[i]! * sb[i]!;
          offY += box.fixed[i]! * rowStride;
        } else if (i === d) offY += box.lo * rowStride;
        rowStride *= shape[i]!;
      }
      const subShape = [box.hi - box.lo, ...shape.slice(d + 1)];
      tasks.push({
        fn,
        args: [
          op,
          a + 4 * offA,
          b + 4 * offB,
          y + 4 * offY,
          subShape.length,
          param(subShape),
          param(sa.slice(d)),
          param(sb.slice(d)),
        ],
      });
    }
  }
  return tasks;
}

export function binaryCostNs(op: string): number {
  return op === 'pow' ? BINARY_POW_NS : BINARY_NS;
}
