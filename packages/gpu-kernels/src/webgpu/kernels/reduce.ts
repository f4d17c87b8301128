/**
 * Reductions on core's canonical view: x as [outer, reduceSize, inner], y as [outer, inner].
 * One generator, two strategies:
 * - `wg`: one workgroup per output, threads stride over the reduced axis, then a tree in workgroup
 *   memory (long reductions: sums become pairwise, so error grows slowly). 64 threads (a 6-level
 *   tree) unless the reduced axis is long enough to keep 256 busy: every tree level is a barrier,
 *   which CPU rasterizers (lavapipe, SwiftShader) pay dearly for — as the row kernels in ./nn.ts;
 * - `col`: one thread per output looping over the reduced axis (short reductions over many
 *   outputs; neighbouring threads read neighbouring columns).
 * NaN rules follow the reference: max/min propagate NaN; argmax/argmin return the first extreme,
 * with NaN counting as the extreme (the first NaN wins).
 */
import type { TensorInfo } from '@descent/core';
import type { DispatchSpec, GPUKernel, KernelContext } from '../kernel.js';
import { needsSplit, windowOver } from '../split.js';
import { grid1d, header, linearMain, Params } from '../wgsl.js';
import { mathLib } from '../wgsl-math.js';

interface ReduceAttrs {
  outer: number;
  reduceSize: number;
  inner: number;
}

/** Threads of a `wg` reduction over rC elements. */
const wgThreads = (rC: number) => (rC > 2048 ? 256 : 64);

type Elem = 'f32' | 'i32';
const elemOf = (t: TensorInfo): Elem => (t.dtype === 'i32' ? 'i32' : 'f32');

/** Combine step and identity of each value reduction, per dtype. */
function valueOp(op: string, e: Elem): { init: string; combine: (a: string, b: string) => string } {
  const f = e === 'f32';
  switch (op) {
    case 'sum':
      return { init: f ? '0.0f' : '0', combine: (a, b) => `${a} + ${b}` };
    case 'max':
      return {
        init: f ? '-f32_inf()' : '-2147483647 - 1',
        combine: (a, b) =>
          f ? `select(max(${a}, ${b}), f32_nan(), is_nan(${a}) || is_nan(${b}))` : `max(${a}, ${b})`,
      };
    case 'min':
      return {
        init: f ? 'f32_inf()' : '2147483647',
        combine: (a, b) =>
          f ? `select(min(${a}, ${b}), f32_nan(), is_nan(${a}) || is_nan(${b}))` : `min(${a}, ${b})`,
      };
  }
  throw new Error(`unknown reduction ${op}`);
}

/** `better(v, best)` for arg reductions: NaN beats everything (and the first NaN stays). */
function argBetter(op: string, e: Elem): (v: string, best: string) => string {
  const cmp = op === 'argmax' ? '>' : '<';
  return e === 'f32'
    ? (v, best) => `(!is_nan(${best}) && (is_nan(${v}) || ${v} ${cmp} ${best}))`
    : (v, best) => `(${v} ${cmp} ${best})`;
}

/**
 * One dispatch's part of a reduction: outputs (o, ii) for o in [o0, o0 + outerC), ii in
 * [i0, i0 + innerC), over r in [r0, r0 + rC). `acc`: combine with what earlier pieces wrote.
 */
interface Piece {
  o0: number;
  outerC: number;
  i0: number;
  innerC: number;
  r0: number;
  rC: number;
  acc: boolean;
}

/**
 * The pieces of a reduction whose x (or y) is larger than one binding: whole [reduceSize, inner]
 * slabs per piece when one fits; else one output row at a time with the reduced axis cut into runs
 * (later runs accumulate into y); else (a single inner row over the limit) runs of one r over inner
 * chunks.
 */
function reducePieces(outer: number, R: number, inner: number, L: number): Piece[] {
  const pieces: Piece[] = [];
  if (R * inner <= L) {
    const oc = Math.max(1, Math.min(outer, Math.floor(L / Math.max(1, R * inner)), Math.floor(L / inner)));
    for (let o0 = 0; o0 < outer; o0 += oc)
      pieces.push({ o0, outerC: Math.min(oc, outer - o0), i0: 0, innerC: inner, r0: 0, rC: R, acc: false });
    return pieces;
  }
  const innerC = Math.min(inner, L);
  const rC = Math.max(1, Math.floor(L / inner));
  for (let o0 = 0; o0 < outer; o0++)
    for (let i0 = 0; i0 < inner; i0 += innerC)
      for (let r0 = 0; r0 < R; r0 += rC)
        pieces.push({
          o0,
          outerC: 1,
          i0,
          innerC: Math.min(innerC, inner - i0),
          r0,
          rC: Math.min(rC, R - r0),
          acc: r0 > 0,
        });
  return pieces;
}

/**
 * Params: [outputs of the piece, rC, innerC, o0, i0, r0, reduceSize, inner, x bias, y bias, acc].
 * Local output i is (o, ii) = (o0 + i / innerC, i0 + i % innerC); it reads
 * x[(o·R + r0 + r)·inner + ii − x bias] for r < rC and writes y[o·inner + ii − y bias].
 * Without splitting a piece is the whole reduction and the biases are 0.
 */
function reduceKernel(op: string): GPUKernel {
  const isArg = op === 'argmax' || op === 'argmin';
  return (ctx, [x], [y], { outer, reduceSize, inner }: ReduceAttrs) => {
    const e = elemOf(x);
    const outElem = isArg ? 'i32' : e;
    const { maxElements, alignElements } = ctx.split;
    const split = needsSplit(ctx.split, x, y);
    const pieces: Piece[] = split
      ? reducePieces(outer, reduceSize, inner, maxElements - alignElements)
      : [{ o0: 0, outerC: outer, i0: 0, innerC: inner, r0: 0, rC: reduceSize, acc: false }];
    // Arg reductions over several runs of r keep each output's best value so far in a scratch tensor.
    const best = split && isArg ? ctx.scratch(y.size, x.dtype) : null;
    for (const p of pieces) {
      const outputs = p.outerC * p.innerC;
      const last = p.o0 + p.outerC - 1;
      const xw = windowOver(
        (p.o0 * reduceSize + p.r0) * inner + p.i0,
        (last * reduceSize + p.r0 + Math.max(p.rC, 1) - 1) * inner + p.i0 + p.innerC - 1,
        alignElements,
      );
      const yw = windowOver(p.o0 * inner + p.i0, last * inner + p.i0 + p.innerC - 1, alignElements);
      const params = new Params().u32(
        outputs,
        p.rC,
        p.innerC,
        p.o0,
        p.i0,
        p.r0,
        reduceSize,
        inner,
        split ? xw.offset : 0,
        split ? yw.offset : 0,
        p.acc ? 1 : 0,
      );
      const useWg = p.rC >= 128 && outputs <= 16384;
      const threads = wgThreads(p.rC);
      dispatchPiece(ctx, op, e, outElem, isArg, useWg ? threads : 0, best !== null, params, {
        inputs: [x],
        outputs: best ? [y, best] : [y],
        windows: split ? (best ? [xw, yw, yw] : [xw, yw]) : undefined,
        workgroups: useWg ? grid1d(outputs, 1) : grid1d(outputs),
      });
    }
  };
}

function dispatchPiece(
  ctx: KernelContext,
  op: string,
  e: Elem,
  outElem: Elem,
  isArg: boolean,
  /** Threads of the `wg` strategy (one workgroup per output), 0 for `col`. */
  wgSize: number,
  keepBest: boolean,
  params: Params,
  binding: Pick<DispatchSpec, 'inputs' | 'outputs' | 'windows' | 'workgroups'>,
): void {
  const useWg = wgSize > 0;
  const key = `reduce/${op}/${e}/${useWg ? `wg${wgSize}` : 'col'}${keepBest ? '/runs' : ''}`;
  const head = () =>
    [
      header(
        [{ name: 'x', elem: e }],
        keepBest
          ? [
              { name: 'y', elem: outElem },
              { name: 'bv', elem: e },
            ]
          : [{ name: 'y', elem: outElem }],
        params.length,
      ),
      mathLib(['consts']),
    ].join('\n');
  // Index math shared by both strategies (`out`: the piece's local output index).
  const locate = `
  let rC = pu(1u);
  let innerC = pu(2u);
  let o = pu(3u) + out / innerC;
  let ii = pu(4u) + out % innerC;
  let r0 = pu(5u);
  let R = pu(6u);
  let inner = pu(7u);
  let xb = (o * R + r0) * inner + ii - pu(8u);
  let yi = o * inner + ii - pu(9u);
  let accumulate = pu(10u) == 1u;`;
  const xAt = (r: string) => `x[xb + (${r}) * inner]`;
  let store: (value: string, at: string) => string;
  if (isArg) {
    const better = argBetter(op, e);
    // A later run replaces the result only with a strictly better value: the first extreme wins.
    store = (value, at) =>
      keepBest
        ? `if (!accumulate || ${better(value, 'bv[yi]')}) { bv[yi] = ${value}; y[yi] = i32(r0 + ${at}); }`
        : `y[yi] = i32(${at});`;
  } else {
    const { combine } = valueOp(op, e);
    store = (value) => `if (accumulate) { y[yi] = ${combine('y[yi]', value)}; } else { y[yi] = ${value}; }`;
  }
  let wgsl: () => string;
  if (!useWg) {
    let body: string;
    if (isArg) {
      const better = argBetter(op, e);
      body = `
  var best = ${xAt('0u')};
  var at = 0u;
  for (var r = 1u; r < rC; r = r + 1u) {
    let v = ${xAt('r')};
    if (${better('v', 'best')}) { best = v; at = r; }
  }
  ${store('best', 'at')}`;
    } else {
      const { init, combine } = valueOp(op, e);
      body = `
  var acc = ${init};
  for (var r = 0u; r < rC; r = r + 1u) { acc = ${combine('acc', xAt('r'))}; }
  ${store('acc', '')}`;
    }
    wgsl = () => `${head()}\n${linearMain('pu(0u)', `  let out = i;${locate}${body}`)}`;
  } else {
    // Workgroup tree: one workgroup per output.
    let shared: string;
    let body: string;
    if (isArg) {
      const better = argBetter(op, e);
      shared = `var<workgroup> sv: array<${e}, ${wgSize}>;\nvar<workgroup> si: array<u32, ${wgSize}>;`;
      body = `
  // Each thread: the first extreme of its strided subset (in increasing r).
  var best = ${xAt('min(lid, rC - 1u)')};
  var at = min(lid, rC - 1u);
  for (var r = lid + ${wgSize}u; r < rC; r = r + ${wgSize}u) {
    let v = ${xAt('r')};
    if (${better('v', 'best')}) { best = v; at = r; }
  }
  sv[lid] = best;
  si[lid] = at;
  workgroupBarrier();
  for (var s = ${wgSize / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let v = sv[lid + s];
      let j = si[lid + s];
      let b = sv[lid];
      // The other candidate wins if strictly better, or equally extreme with a lower index.
      let equal = ${e === 'f32' ? '(is_nan(v) && is_nan(b)) || v == b' : 'v == b'};
      if (${better('v', 'b')} || (equal && j < si[lid])) { sv[lid] = v; si[lid] = j; }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { ${store('sv[0]', 'si[0]')} }`;
    } else {
      const { init, combine } = valueOp(op, e);
      shared = `var<workgroup> sv: array<${e}, ${wgSize}>;`;
      body = `
  var acc = ${init};
  for (var r = lid; r < rC; r = r + ${wgSize}u) { acc = ${combine('acc', xAt('r'))}; }
  sv[lid] = acc;
  workgroupBarrier();
  for (var s = ${wgSize / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { sv[lid] = ${combine('sv[lid]', 'sv[lid + s]')}; }
    workgroupBarrier();
  }
  if (lid == 0u) { ${store('sv[0]', '')} }`;
    }
    wgsl = () => `${head()}
${shared}
@compute @workgroup_size(${wgSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let out = wid.y * nwg.x + wid.x;
  if (out >= pu(0u)) { return; }${locate}
${body}
}`;
  }
  ctx.dispatch({ key, wgsl, params, ...binding });
}

export const reduceKernels: Record<string, GPUKernel> = Object.fromEntries(
  ['sum', 'max', 'min', 'argmax', 'argmin'].map((op) => [op, reduceKernel(op)]),
);

/** The ops above that run over tensors larger than one storage binding (see ../split.ts). */
export const reduceSplitting = Object.keys(reduceKernels);
