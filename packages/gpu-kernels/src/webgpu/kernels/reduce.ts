/**
 * Reductions on core's canonical view: x as [outer, reduceSize, inner], y as [outer, inner].
 * One generator, two strategies:
 * - `wg`: one workgroup per output, threads stride over the reduced axis, then a tree in workgroup
 *   memory (long reductions: sums become pairwise, so error grows slowly);
 * - `col`: one thread per output looping over the reduced axis (short reductions over many
 *   outputs; neighbouring threads read neighbouring columns).
 * NaN rules follow the reference: max/min propagate NaN; argmax/argmin return the first extreme,
 * with NaN counting as the extreme (the first NaN wins).
 */
import type { TensorInfo } from '@descent/core';
import type { GPUKernel } from '../kernel.js';
import { grid1d, header, linearMain, Params } from '../wgsl.js';
import { mathLib } from '../wgsl-math.js';

interface ReduceAttrs {
  outer: number;
  reduceSize: number;
  inner: number;
}

const RWG = 256;

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

/** Params: [outer, reduceSize, inner, outputs]. x index of (o, r, i): (o·R + r)·inner + i. */
function reduceKernel(op: string): GPUKernel {
  const isArg = op === 'argmax' || op === 'argmin';
  return (ctx, [x], [y], { outer, reduceSize, inner }: ReduceAttrs) => {
    const e = elemOf(x);
    const outElem = isArg ? 'i32' : e;
    const outputs = outer * inner;
    const params = new Params().u32(outer, reduceSize, inner, outputs);
    const useWg = reduceSize >= 128 && outputs <= 16384;
    const key = `reduce/${op}/${e}/${useWg ? 'wg' : 'col'}`;
    const head = () =>
      [
        header([{ name: 'x', elem: e }], [{ name: 'y', elem: outElem }], params.length),
        mathLib(['consts']),
      ].join('\n');
    const xAt = (r: string) => `x[(o * R + ${r}) * inner + ii]`;
    if (!useWg) {
      let body: string;
      if (isArg) {
        const better = argBetter(op, e);
        body = `
  var best = ${xAt('0u')};
  var at = 0;
  for (var r = 1u; r < R; r = r + 1u) {
    let v = ${xAt('r')};
    if (${better('v', 'best')}) { best = v; at = i32(r); }
  }
  y[i] = at;`;
      } else {
        const { init, combine } = valueOp(op, e);
        body = `
  var acc = ${init};
  for (var r = 0u; r < R; r = r + 1u) { acc = ${combine('acc', xAt('r'))}; }
  y[i] = acc;`;
      }
      ctx.dispatch({
        key,
        wgsl: () =>
          `${head()}\n${linearMain(
            'pu(3u)',
            `  let R = pu(1u);\n  let inner = pu(2u);\n  let o = i / inner;\n  let ii = i % inner;${body}`,
          )}`,
        inputs: [x],
        outputs: [y],
        params,
        workgroups: grid1d(outputs),
      });
      return;
    }
    // Workgroup tree: one workgroup per output.
    let shared: string;
    let body: string;
    if (isArg) {
      const better = argBetter(op, e);
      shared = `var<workgroup> sv: array<${e}, ${RWG}>;\nvar<workgroup> si: array<u32, ${RWG}>;`;
      body = `
  // Each thread: the first extreme of its strided subset (in increasing r).
  var best = ${xAt('min(lid, R - 1u)')};
  var at = min(lid, R - 1u);
  for (var r = lid + ${RWG}u; r < R; r = r + ${RWG}u) {
    let v = ${xAt('r')};
    if (${better('v', 'best')}) { best = v; at = r; }
  }
  sv[lid] = best;
  si[lid] = at;
  workgroupBarrier();
  for (var s = ${RWG / 2}u; s > 0u; s = s >> 1u) {
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
  if (lid == 0u) { y[out] = i32(si[0]); }`;
    } else {
      const { init, combine } = valueOp(op, e);
      shared = `var<workgroup> sv: array<${e}, ${RWG}>;`;
      body = `
  var acc = ${init};
  for (var r = lid; r < R; r = r + ${RWG}u) { acc = ${combine('acc', xAt('r'))}; }
  sv[lid] = acc;
  workgroupBarrier();
  for (var s = ${RWG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { sv[lid] = ${combine('sv[lid]', 'sv[lid + s]')}; }
    workgroupBarrier();
  }
  if (lid == 0u) { y[out] = sv[0]; }`;
    }
    ctx.dispatch({
      key,
      wgsl: () => `${head()}
${shared}
@compute @workgroup_size(${RWG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let out = wid.y * nwg.x + wid.x;
  if (out >= pu(3u)) { return; }
  let R = pu(1u);
  let inner = pu(2u);
  let o = out / inner;
  let ii = out % inner;
${body}
}`,
      inputs: [x],
      outputs: [y],
      params,
      workgroups: grid1d(outputs, 1),
    });
  };
}

export const reduceKernels: Record<string, GPUKernel> = Object.fromEntries(
  ['sum', 'max', 'min', 'argmax', 'argmin'].map((op) => [op, reduceKernel(op)]),
);
