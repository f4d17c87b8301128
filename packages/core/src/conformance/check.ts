import { grad } from '../autograd/api.js';
import type { DataArray } from '../dtype.js';
import { engine } from '../engine.js';
import { tensor } from '../ops/creation.js';
import { abs, mul } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { broadcastTo, sumToShape } from '../ops/shape-ops.js';
import { sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import type { Case } from './cases.js';
import { makeInput } from './inputs.js';
import { type ChainBound, findMismatches, type Mismatch, SUBNORMAL_FLOOR, U } from './tolerance.js';

export const REFERENCE = 'js64';

type Host = Float32Array | Int32Array;

/** A deterministic seed per case name, so a failure reproduces. */
function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h;
}

export function caseInputs(c: Case): Host[] {
  const seed = seedOf(c.name);
  return c.inputs.map((spec, i) => makeInput(spec, seed, i));
}

function upload(c: Case, hosts: Host[], backend: string): Tensor[] {
  return hosts.map((h, i) => tensor(h, c.inputs[i].shape, { dtype: c.inputs[i].dtype ?? 'f32', backend }));
}

const f32Inputs = (c: Case) =>
  c.inputs.map((s, i) => ((s.dtype ?? 'f32') === 'f32' ? i : -1)).filter((i) => i >= 0);

/**
 * The case on f32 inputs holding the same (f16) values: the f32 computation an f16 kernel performs.
 * Its bound is the f32 bound of an f16 case (autograd, which the sensitivities use, is f32-only).
 */
export function f32Twin(c: Case): Case {
  if (!c.inputs.some((s) => s.dtype === 'f16')) return c;
  return { ...c, inputs: c.inputs.map((s) => (s.dtype === 'f16' ? { ...s, dtype: 'f32' } : s)) };
}

/** Runs the case on the reference, returning output values and shape (float64). */
function reference(
  c: Case,
  hosts: Host[],
  map?: (t: Tensor, i: number) => Tensor,
): { values: DataArray; shape: readonly number[] } {
  return engine.tidy(() => {
    const xs = upload(c, hosts, REFERENCE).map((t, i) => (map ? map(t, i) : t));
    const y = c.fn(...xs);
    return { values: y.dataSync(), shape: y.shape };
  });
}

/**
 * Σ_k |∂y_o/∂x_k|·|x_k| for every output o, over blocks: the op maps blocks of `bi` input elements
 * (along input 0) to blocks of `bo` outputs, each depending only on its own block. One reference
 * backward pass per output position in a block (a one-hot cotangent in every block at once).
 */
function blockSensitivity(
  f: (x: Tensor) => Tensor,
  x: Tensor,
  outSize: number,
  bi: number,
  also?: { cotangent: DataArray; into: Float64Array },
): Float64Array {
  const blocks = bi === 0 ? 0 : x.size / bi;
  const bo = blocks === 0 ? 0 : outSize / blocks;
  const s = new Float64Array(outSize);
  const xv = x.dataSync();
  const backend = x.backend;
  for (let j = 0; j < bo; j++) {
    engine.tidy(() => {
      const cot = new Float64Array(outSize);
      for (let b = 0; b < blocks; b++) cot[b * bo + j] = 1;
      const cotT = tensor(Float32Array.from(cot), [outSize], { backend });
      const jac = grad((t: Tensor) => sum(mul(f(t).reshape([outSize]), cotT)))(x).dataSync();
      for (let b = 0; b < blocks; b++) {
        let acc = 0;
        for (let k = 0; k < bi; k++) {
          const jk = Math.abs(jac[b * bi + k]);
          acc += jk * Math.abs(xv[b * bi + k]);
          if (also) also.into[b * bi + k] += jk * Math.abs(also.cotangent[b * bo + j]);
        }
        s[b * bo + j] = acc;
      }
    });
  }
  return s;
}

/** Tolerance per output element for the forward result of a case. */
export function forwardTolerance(
  c: Case,
  hosts: Host[],
  want: DataArray,
  outShape: readonly number[],
): Float64Array | number {
  const b = c.bound;
  if (b.kind === 'exact') return 0;
  const n = want.length;
  const tol = new Float64Array(n);
  if (b.kind === 'multilinear') {
    const mag = reference(c, hosts, (t, i) =>
      t.dtype === 'f32' && (!b.absInputs || b.absInputs.includes(i)) ? abs(t) : t,
    ).values;
    for (let i = 0; i < n; i++) tol[i] = b.c * (b.k * U * mag[i] + SUBNORMAL_FLOOR);
    return tol;
  }
  const sens = new Float64Array(n);
  engine.tidy(() => {
    const xs = upload(c, hosts, REFERENCE);
    const fIdx = f32Inputs(c);
    if (b.block > 1) {
      const s = blockSensitivity((x) => c.fn(x, ...xs.slice(1)), xs[0], n, b.block);
      sens.set(s);
    } else {
      // Elementwise: each f32 input, broadcast to the output shape, feeds one output per element.
      for (const k of fIdx) {
        const expanded = sizeOf(xs[k].shape) === n ? xs[k] : tryBroadcast(xs[k], outShape);
        if (!expanded) continue;
        let s: Float64Array;
        try {
          s = blockSensitivity((x) => c.fn(...xs.map((t, i) => (i === k ? x : t))), expanded, n, 1);
        } catch {
          continue; // the op does not take this input broadcast (a per-channel parameter): see tolerance.ts
        }
        for (let i = 0; i < n; i++) sens[i] += s[i];
      }
    }
  });
  if (c.forwardChain) {
    const chain = c.forwardChain;
    const terms = engine.tidy(() => chain.terms(upload(c, hosts, REFERENCE)).dataSync());
    return chainTolerance(c.name, 'forward', chain, sens, terms);
  }
  for (let i = 0; i < n; i++) tol[i] = b.c * (U * (b.k * Math.abs(want[i]) + sens[i]) + SUBNORMAL_FLOOR);
  return tol;
}

/** tol_i = u·(c·sens_i + k·|terms_i|) + 8·2⁻¹²⁶: the bound of a chain (tolerance.ts). */
function chainTolerance(
  name: string,
  what: string,
  chain: ChainBound,
  sens: Float64Array,
  terms: DataArray,
): Float64Array {
  if (terms.length !== sens.length)
    throw new Error(`${name}: the ${what} chain's terms have ${terms.length} elements, want ${sens.length}`);
  return sens.map((s, i) => U * (chain.c * s + chain.k * Math.abs(terms[i])) + 8 * SUBNORMAL_FLOOR);
}

function tryBroadcast(t: Tensor, shape: readonly number[]): Tensor | null {
  try {
    return broadcastTo(t, shape);
  } catch {
    return null;
  }
}

export interface GradResult {
  input: number;
  got: DataArray;
  want: DataArray;
  tol: Float64Array | number;
  shape: readonly number[];
}

/** The cotangent used for a case's backward check (same values on both backends). */
export function cotangentFor(c: Case, outSize: number): Float32Array {
  return makeInput(
    { shape: [outSize], gen: { kind: 'normal' } },
    seedOf(`${c.name}/cotangent`),
    0,
  ) as Float32Array;
}

/** Reference gradients of sum(f(xs)·G) for the case's grad inputs, with their tolerances. */
export function referenceGrads(
  c: Case,
  hosts: Host[],
  cot: Float32Array,
  outShape: readonly number[],
): { want: DataArray[]; tol: (Float64Array | number)[] } {
  const argnums = c.grad ?? [];
  const b = c.bound;
  const n = sizeOf(outShape);
  return engine.tidy(() => {
    const xs = upload(c, hosts, REFERENCE);
    const G = tensor(cot, outShape, { backend: REFERENCE });
    const loss = (...ts: Tensor[]) => sum(mul(c.fn(...ts), G));
    const want = (grad(loss, argnums)(...xs) as Tensor[]).map((g) => g.dataSync());
    const tol = argnums.map((k, idx): Float64Array | number => {
      const w = want[idx];
      const m = w.length;
      const out = new Float64Array(m);
      const chain = c.gradChain?.[k];
      if (chain) {
        // A chain of kernels (tolerance.ts): its input perturbation through x ↦ dx (double backward
        // on the reference, over the forward's blocks) plus k roundings of the rule's magnitudes.
        const block = b.kind === 'stable' && k === 0 ? b.block : 1;
        const h = (x: Tensor) => grad(loss, k)(...xs.map((t, i) => (i === k ? x : t)));
        const s = blockSensitivity(h, xs[k], m, block);
        return chainTolerance(c.name, `gradient ${k}`, chain, s, chain.terms(xs, G).dataSync());
      }
      if (b.kind === 'exact') {
        // Data movement backward is data movement plus sums of gathered cotangents (pad/concat/
        // broadcast sums): exact in any order only when nothing is summed; allow γ for the sums.
        const nb = m === 0 ? 0 : n / m;
        const mag = grad((...ts: Tensor[]) => sum(mul(c.fn(...ts), abs(G))), argnums)(...xs) as Tensor[];
        const mv = mag[idx].dataSync();
        for (let i = 0; i < m; i++) out[i] = 4 * (Math.max(nb, 1) * U * Math.abs(mv[i]) + SUBNORMAL_FLOOR);
        return out;
      }
      if (b.kind === 'multilinear') {
        const absXs = xs.map((t) => (t.dtype === 'f32' ? abs(t) : t));
        const mag = (grad((...ts: Tensor[]) => sum(mul(c.fn(...ts), abs(G))), argnums)(...absXs) as Tensor[])[
          idx
        ].dataSync();
        for (let i = 0; i < m; i++)
          out[i] = b.c * ((b.gradK ?? b.k) * U * Math.abs(mag[i]) + SUBNORMAL_FLOOR);
        return out;
      }
      const nb = m === 0 ? 1 : n / m; // outputs per input element (broadcast or reduction)
      const h = (x: Tensor) => grad(loss, k)(...xs.map((t, i) => (i === k ? x : t)));
      if (k === 0 && b.block > 1) {
        // dx = Jᵀg for the data input: sensitivity of x ↦ Jᵀg (double backward) plus |J|ᵀ|g|.
        const t = new Float64Array(m);
        blockSensitivity((x) => c.fn(x, ...xs.slice(1)), xs[0], n, b.block, { cotangent: cot, into: t });
        const s = blockSensitivity(h, xs[0], m, b.block);
        for (let i = 0; i < m; i++)
          out[i] = b.c * (U * (b.k * Math.abs(w[i]) + s[i] + t[i]) + SUBNORMAL_FLOOR);
        return out;
      }
      if (b.block === 1 && m === n) {
        const t = new Float64Array(m);
        const s = blockSensitivity(h, xs[k], m, 1);
        blockSensitivity((x) => c.fn(...xs.map((q, i) => (i === k ? x : q))), xs[k], n, 1, {
          cotangent: cot,
          into: t,
        });
        for (let i = 0; i < m; i++)
          out[i] = b.c * (U * (b.k * Math.abs(w[i]) + s[i] + t[i]) + SUBNORMAL_FLOOR);
        return out;
      }
      // A broadcast (or shared-parameter) input: its gradient sums nb per-output contributions
      // g·∂y/∂p. Normwise bound on that sum: c·u·(k + nb)·Σ|g·∂y/∂p|, with Σ|g·∂y/∂p| bounded by
      // evaluating the gradient with |g| on the op expanded to the output shape when it allows it.
      const expanded = tryBroadcast(xs[k], outShape);
      let mag: DataArray | null = null;
      if (expanded && b.block === 1) {
        try {
          const perOut = grad((x: Tensor) => sum(mul(c.fn(...xs.map((q, i) => (i === k ? x : q))), G)))(
            expanded,
          );
          mag = sumToShape(abs(perOut), xs[k].shape).dataSync();
        } catch {
          mag = null;
        }
      }
      let wmax = 0;
      for (let i = 0; i < m; i++) wmax = Math.max(wmax, Math.abs(w[i]));
      const gmax = cot.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      for (let i = 0; i < m; i++) {
        const bound = mag ? Math.abs(mag[i]) : wmax + nb * gmax * wmax;
        out[i] = b.c * (U * (b.k + nb) * bound + SUBNORMAL_FLOOR);
      }
      return out;
    });
    return { want, tol };
  });
}

export function describeMismatch(what: string, ms: Mismatch[]): string {
  return `${what}: ${ms.map((m) => `[${m.index}] got ${m.got}, want ${m.want} (tol ${m.tol.toExponential(2)})`).join('; ')}`;
}

export { findMismatches, upload };
