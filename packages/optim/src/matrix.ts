import {
  add,
  DescentError,
  div,
  eye,
  matmul,
  maximum,
  mul,
  pow,
  sqrt,
  square,
  sub,
  sum,
  type Tensor,
  tidy,
} from '@descent/core';

/**
 * Matrix functions for the matrix-aware optimizers, written with core ops (matmul and elementwise)
 * so they run on every backend and never read values back to the host: a fixed number of
 * iterations, no data-dependent branches.
 */

function checkSquare(op: string, a: Tensor): number {
  if (a.rank !== 2 || a.shape[0] !== a.shape[1])
    throw new DescentError(op, `expected a square matrix, got shape [${a.shape.join(', ')}]`);
  return a.shape[0];
}

/** T^k for an integer k ≥ 1 by repeated squaring. */
function matrixPower(t: Tensor, k: number): Tensor {
  let result: Tensor | null = null;
  let base = t;
  for (let e = k; e > 0; e >>= 1) {
    if (e & 1) result = result ? matmul(result, base) : base;
    if (e > 1) base = matmul(base, base);
  }
  return result as Tensor;
}

export interface InverseRootOptions {
  /** Newton iterations (default 25: enough for a condition number of ~1e7 at p = 4, see below). */
  iterations?: number;
}

/**
 * A^(−1/p) for a symmetric positive definite A by the coupled Newton iteration (Guo & Higham
 * 2006, as used for Shampoo's preconditioners):
 *
 *     z = (p + 1)/(2‖A‖_F),  X₀ = z^(1/p)·I,  M₀ = z·A
 *     T_k = ((p + 1)·I − M_k)/p,  X_{k+1} = X_k·T_k,  M_{k+1} = T_k^p·M_k
 *
 * The invariant M_k = X_k^p·A holds throughout (all iterates are polynomials in A, so they
 * commute) and M_k → I, hence X_k → A^(−1/p). Each eigenvalue m of M evolves on its own by
 * m ← m·((p + 1 − m)/p)^p: ‖A‖_F ≥ λ_max puts every m in (0, (p + 1)/2], where the map converges —
 * geometrically (×((p+1)/p)^p ≈ 2.44 per step at p = 4) while m is small, then quadratically. So
 * the iterations needed grow like log(κ(A)); damping (A + εI) bounds κ.
 */
export function inversePthRoot(a: Tensor, p: number, opts: InverseRootOptions = {}): Tensor {
  const n = checkSquare('inversePthRoot', a);
  const iterations = opts.iterations ?? 25;
  if (!Number.isInteger(p) || p < 1)
    throw new DescentError('inversePthRoot', `p must be a positive integer, got ${p}`);
  if (!Number.isInteger(iterations) || iterations < 0)
    throw new DescentError('inversePthRoot', `iterations must be a non-negative integer, got ${iterations}`);
  return tidy(() => {
    const identity = eye(n, { backend: a.backend });
    const z = div((p + 1) / 2, sqrt(sum(square(a))));
    let m = mul(a, z);
    let x = mul(identity, pow(z, 1 / p));
    for (let k = 0; k < iterations; k++) {
      const t = div(sub(mul(identity, p + 1), m), p);
      x = matmul(x, t);
      m = matmul(matrixPower(t, p), m);
    }
    return x;
  });
}

export interface NewtonSchulzOptions {
  /** Iterations (default 5). */
  steps?: number;
  /** (a, b, c) of the quintic a·X + b·(XXᵀ)X + c·(XXᵀ)²X (default Keller Jordan's (3.4445, −4.7750, 2.0315)). */
  coefficients?: readonly [number, number, number];
  /** X₀ = G/max(‖G‖_F, eps) (default 1e-7). */
  eps?: number;
}

/**
 * Approximate orthogonalization of a matrix G = U·S·Vᵀ by the quintic Newton–Schulz iteration
 * (Muon): X₀ = G/max(‖G‖_F, eps), then X ← a·X + (b·A + c·A²)·X with A = X·Xᵀ. Every singular
 * value σ of X evolves on its own by σ ← a·σ + b·σ³ + c·σ⁵, so the result is U·φ⁵(S)·Vᵀ; the
 * default coefficients push every σ in (0, 1] into roughly [0.7, 1.2] in 5 steps (they trade exact
 * convergence to 1 for a steep slope at 0). The Gram matrix is taken on the smaller side
 * (XᵀX for a tall X), so each step costs O(m·n·min(m, n)).
 */
export function newtonSchulz(g: Tensor, opts: NewtonSchulzOptions = {}): Tensor {
  if (g.rank !== 2)
    throw new DescentError('newtonSchulz', `expected a matrix, got shape [${g.shape.join(', ')}]`);
  const steps = opts.steps ?? 5;
  const [a, b, c] = opts.coefficients ?? [3.4445, -4.775, 2.0315];
  const eps = opts.eps ?? 1e-7;
  if (!Number.isInteger(steps) || steps < 0)
    throw new DescentError('newtonSchulz', `steps must be a non-negative integer, got ${steps}`);
  const tall = g.shape[0] > g.shape[1];
  return tidy(() => {
    let x = div(g, maximum(sqrt(sum(square(g))), eps));
    for (let k = 0; k < steps; k++) {
      // Wide: A = X·Xᵀ and X ← a·X + B·X. Tall: A = XᵀX and X ← a·X + X·B (B is symmetric).
      const gram = tall ? matmul(x, x, { transposeA: true }) : matmul(x, x, { transposeB: true });
      const poly = add(mul(gram, b), mul(matmul(gram, gram), c));
      x = add(mul(x, a), tall ? matmul(x, poly) : matmul(poly, x));
    }
    return x;
  });
}
