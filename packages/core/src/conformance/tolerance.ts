import { type DType, roundToF16 } from '../dtype.js';
import type { Tensor } from '../tensor.js';

/**
 * Error bounds for the conformance suite — written once, here, and never tuned per backend.
 *
 * A backend's f32 result y is compared with the float64 reference r computed on the same (f32) inputs.
 * Every bound is |y − r| ≤ tol, with u = 2⁻²⁴ (f32 unit roundoff) and a small constant c counting
 * roundings (4 for arithmetic kernels, 8 where WGSL's transcendental accuracy rules apply):
 *
 * - exact: data movement, comparisons, max/min/argmax, relu, casts. tol = 0 (NaN must match NaN).
 *
 * - multilinear (matmul, conv2d and its gradients, sum/mean, avg-pool, scatterAdd): every output is a
 *   sum of K products, and any summation order satisfies |y − r| ≤ γ_K·Σ|terms| with γ_K ≈ K·u
 *   (Higham, Accuracy and Stability of Numerical Algorithms, §3.1). Σ|terms| is the same op evaluated
 *   in float64 on |inputs| — valid because the op is linear in each input. tol = c·K·u·F(|x|).
 *   Gradients of a multilinear op are multilinear too, so their bound is the gradient evaluated on
 *   |inputs| and |cotangent| with the gradient's own K.
 *
 * - stable (elementwise maps, softmax/logSoftmax, crossEntropy, layer/rms/batch norm, logSumExp):
 *   a backward-stable kernel returns f(x + δx)(1 + δy) with |δx| ≤ c·u·|x| and |δy| ≤ c·K·u, so to
 *   first order |y − r| ≤ c·u·(K·|r_i| + Σ_k |∂r_i/∂x_k|·|x_k|). The sensitivity Σ|J||x| is computed in
 *   float64 on the reference from the exact Jacobian (autograd, one pass per position in the block
 *   of length K — 1 for elementwise ops, the row length for row-wise ops). For a gradient dx = Jᵀg the
 *   same rule applies to the map (x, g) ↦ Jᵀg, whose Jacobians (second derivatives, by double
 *   backward on the reference) give Σ|∂dx_i/∂x_k||x_k| + Σ|J_ki||g_k|.
 *
 * - chains (`Case.forwardChain`, `Case.gradChain`): the stable rule presumes a kernel that computes f
 *   without cancelling terms. A result that a chain of steps computes — a backward rule built from
 *   several ops, or a fused kernel such as softmax-then-subtract — can carry errors that do not
 *   shrink with |r| or Σ|J||x| where its formula cancels (softmax's gradient s ⊙ (g − Σ g⊙s) is 0
 *   for a constant g, yet the computed row sum is off by ~C·u; s − 1 in a confident row is ~e⁻ᴸ but
 *   carries s's rounding). Its bound comes from the chain's first-order error analysis: each step's
 *   relative error (its own kernel bound: a stable elementwise map of n inputs c·(1 + n)·u, a sum of
 *   K terms 4K·u of Σ|terms|, softmax 8C·u) times the magnitudes it meets, summed into
 *     tol_i = u·(c·Σ_k |∂r_i/∂x_k|·|x_k| + k·T_i),
 *   where T (`terms`) is the formula evaluated on magnitudes (each − turned into +, signed inputs
 *   into |·|) on the reference, k the derived rounding count, and the first part the input
 *   perturbation c·u·|x| of the step that reads x (over the same blocks as the stable rule; for a
 *   gradient, the map x ↦ dx by double backward). Derivations: next to the cases (cases.ts).
 *
 * Every bound also allows c·2⁻¹²⁶ absolute, for kernels that flush subnormals to zero (WGSL may).
 *
 * f16 results (ops with `OpDef.f16`): kernels read f16 inputs exactly as f32, compute in f32 (matmul
 * accumulates in f32) and round each stored result once to f16, to nearest even. So the bound is the
 * f32 bound above, tol₃₂ (the γ_K term with u = 2⁻²⁴, the sensitivity computed on the same values as
 * f32 inputs), plus one f16 rounding of a value within tol₃₂ of r:
 *   tol = tol₃₂ + u₁₆·(|r| + tol₃₂) + 2⁻²⁵,   u₁₆ = 2⁻¹¹,
 * where 2⁻²⁵ (half the f16 subnormal spacing 2⁻²⁴) is the rounding error below f16's smallest normal
 * 2⁻¹⁴. For 'exact' ops the reference is rounded to f16 (ties to even) and must match exactly.
 */
export const U = 2 ** -24;
export const SUBNORMAL_FLOOR = 2 ** -126;
/** Unit roundoff of f16 (binary16, 11-bit significand). */
export const U16 = 2 ** -11;
/** The largest rounding error of a result below f16's smallest normal: half the subnormal spacing. */
export const F16_SUBNORMAL_FLOOR = 2 ** -25;

/** Widens an f32 bound `tol` (about reference values `want`) by one rounding to f16 of the result. */
export function f16StoreTolerance(want: ArrayLike<number>, tol: ArrayLike<number> | number): Float64Array {
  const out = new Float64Array(want.length);
  for (let i = 0; i < want.length; i++) {
    const t = typeof tol === 'number' ? tol : tol[i];
    out[i] = t + U16 * (Math.abs(want[i]) + t) + F16_SUBNORMAL_FLOOR;
  }
  return out;
}

export type Bound =
  | { kind: 'exact' }
  | { kind: 'multilinear'; c: number; k: number; gradK?: number; absInputs?: number[] }
  | { kind: 'stable'; c: number; k: number; block: number };

/**
 * The bound of a result computed by a chain of steps (see the header): tol_i = u·(c·Σ_k
 * |∂r_i/∂x_k||x_k| + k·T_i) + 8·2⁻¹²⁶ (any step may flush subnormals), with T = `terms(inputs,
 * cotangent)` on the reference.
 */
export interface ChainBound {
  /**
   * The input perturbation c·u·|x| of the chain's step that reads the data input; 0 where the
   * derivation counts every step's error as a relative error of its result instead.
   */
  c: number;
  /** Roundings the chain's steps allow, in units of u relative to `terms`, from its error analysis. */
  k: number;
  /**
   * The formula on magnitudes, shaped like the result: the forward's output, or a gradient's input
   * (then `cotangent` is the G of the checked sum(f(xs)·G)).
   */
  terms: (inputs: Tensor[], cotangent?: Tensor) => Tensor;
}

export const exact: Bound = { kind: 'exact' };
/** K terms per output; `gradK` for the gradients when their sums are longer (matmul: n and m). */
export const multilinear = (k: number, gradK = k, c = 4): Bound => ({
  kind: 'multilinear',
  c,
  k: Math.max(k, 1),
  gradK: Math.max(gradK, 1),
});
/** Linear in some inputs only (the others select, like max-pool's x): |·| is taken of `absInputs`. */
export const linearIn = (absInputs: number[], k: number): Bound => ({
  kind: 'multilinear',
  c: 4,
  k: Math.max(k, 1),
  gradK: Math.max(k, 1),
  absInputs,
});
/** `block`: size of the last-axis block the op mixes (1 = elementwise); `k` its rounding count. */
export const stable = (block = 1, c = 4, k = block): Bound => ({
  kind: 'stable',
  c,
  k: Math.max(k, 1),
  block: Math.max(block, 1),
});
export const transcendental = (block = 1, k = block): Bound => stable(block, 8, k);

export interface Mismatch {
  index: number;
  got: number;
  want: number;
  tol: number;
}

/**
 * First elements that break the bound (NaN/±∞ must match exactly). `dtype`: the result's element
 * type, which decides where a finite reference overflows (f32 by default; f16 from 65520 on).
 */
export function findMismatches(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: ArrayLike<number> | number,
  limit = 5,
  dtype: DType = 'f32',
): Mismatch[] {
  const toStorage = dtype === 'f16' ? roundToF16 : Math.fround;
  const out: Mismatch[] = [];
  for (let i = 0; i < want.length && out.length < limit; i++) {
    const g = got[i];
    const w = want[i];
    const t = typeof tol === 'number' ? tol : tol[i];
    let ok: boolean;
    // A float64 reference beyond the f32 (f16) range means the result must overflow to ±∞ (within
    // tol of the threshold a finite result is fine too).
    const wf = toStorage(w);
    if (Number.isNaN(w)) ok = Number.isNaN(g);
    else if (!Number.isFinite(wf)) ok = g === wf || (Number.isFinite(t) && Math.abs(g - w) <= t);
    else if (!Number.isFinite(t)) ok = Number.isFinite(g) || Number.isNaN(t);
    else ok = Math.abs(g - w) <= t;
    if (!ok) out.push({ index: i, got: g, want: w, tol: t });
  }
  return out;
}
