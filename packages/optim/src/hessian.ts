import {
  add,
  argmax,
  cast,
  crossEntropy,
  DescentError,
  detach,
  isGradEnabled,
  log,
  mul,
  neg,
  rand,
  randint,
  randn,
  reshape,
  square,
  sub,
  sum,
  type Tensor,
  tidy,
} from '@descent/core';

/**
 * Diagonal Hessian estimators for second-order optimizers (Sophia), written with core ops and
 * autograd so they run on every backend. Each takes the parameters and a closure that recomputes
 * the model's output *with gradient recording on*, and returns one estimate per parameter (null
 * where the closure's output does not depend on that parameter); the caller owns the returned
 * tensors. The parameters' `.grad` are left exactly as they were; other leaves that the closure
 * touches with `requiresGrad` set get gradients accumulated, as with any `backward()`.
 */

/**
 * Runs `run` (which calls backward) with the parameters' gradients cleared, returns the gradients
 * it produced and puts the previous ones back. On error the new gradients are freed.
 */
export function captureGrads(params: readonly Tensor[], run: () => void): (Tensor | null)[] {
  const saved = params.map((p) => p.grad);
  for (const p of params) p.grad = null;
  let out: (Tensor | null)[] | null = null;
  try {
    run();
    out = params.map((p) => p.grad);
  } finally {
    params.forEach((p, i) => {
      if (!out) p.grad?.dispose();
      p.grad = saved[i];
    });
  }
  return out;
}

function needGrad(op: string): void {
  if (!isGradEnabled())
    throw new DescentError(op, 'needs gradient recording, but it was called inside noGrad()');
}

/** ±1 with probability ½ each, on `like`'s backend, from the global seeded generator. */
export function rademacherLike(like: Tensor): Tensor {
  return sub(mul(cast(randint(0, 2, like.shape, { backend: like.backend }), 'f32'), 2), 1);
}

export interface HutchinsonOptions {
  /**
   * Distribution of the probe u: 'rademacher' (default, ±1: variance Σ_{j≠i} H_ij², zero for a
   * diagonal Hessian) or 'gaussian' (N(0, I), the Sophia paper's: variance Σ_j H_ij² + H_ii²).
   */
  distribution?: 'rademacher' | 'gaussian';
}

/**
 * Hutchinson's estimator of diag(∇²L): ĥ = u ⊙ (∇²L·u) with E[u uᵀ] = I, so E[ĥ] = diag(H)
 * exactly. The Hessian-vector product is a double backward: ∇L with `createGraph`, then
 * ∇(Σ ∇L ⊙ u). `lossFn` returns a scalar loss.
 */
export function hutchinsonDiagonal(
  params: readonly Tensor[],
  lossFn: () => Tensor,
  opts: HutchinsonOptions = {},
): (Tensor | null)[] {
  needGrad('hutchinsonDiagonal');
  const distribution = opts.distribution ?? 'rademacher';
  if (distribution !== 'rademacher' && distribution !== 'gaussian')
    throw new DescentError(
      'hutchinsonDiagonal',
      `distribution must be 'rademacher' or 'gaussian', got '${distribution}'`,
    );
  return tidy(() => {
    const us = params.map((p) =>
      distribution === 'gaussian' ? randn(p.shape, { backend: p.backend }) : rademacherLike(p),
    );
    let first: (Tensor | null)[] = [];
    let hvp: (Tensor | null)[];
    try {
      hvp = captureGrads(params, () => {
        const loss = lossFn();
        if (loss.size !== 1)
          throw new DescentError(
            'hutchinsonDiagonal',
            `the closure must return a scalar loss, got shape [${loss.shape.join(', ')}]`,
          );
        first = captureGrads(params, () => loss.backward(undefined, { createGraph: true }));
        const terms = first.flatMap((g, i) => (g ? [sum(mul(g, us[i]))] : []));
        const s = terms.reduce((a, b) => add(a, b));
        // A gradient that does not depend on the parameters (a linear loss) has a zero Hessian.
        if (s?.requiresGrad) s.backward();
      });
    } finally {
      for (const g of first) g?.dispose();
    }
    return hvp.map((hv, i) => {
      if (!first[i]) {
        hv?.dispose();
        return null;
      }
      if (!hv) return mul(us[i], 0);
      const h = mul(hv, us[i]);
      hv.dispose();
      return h;
    });
  });
}

/** One class index per row of `logits` [rows, C], drawn from softmax(logits) by the Gumbel-max trick. */
export function sampleFromLogits(logits: Tensor): Tensor {
  return tidy(() => {
    const u = rand(logits.shape, { backend: logits.backend });
    // −log(−log u) is Gumbel(0, 1); u = 0 gives −∞, which is never the argmax unless a row is all −∞.
    return argmax(add(detach(logits), neg(log(neg(log(u))))), -1);
  });
}

/**
 * Gauss–Newton–Bartlett estimator (Liu et al. 2023, Algorithm 2) of the diagonal of the
 * Gauss–Newton matrix of the mean softmax cross-entropy: labels ŷ are *sampled from the model's
 * own softmax*, ĝ = ∇ (1/B)·Σ_b CE(logits_b, ŷ_b), and ĥ = B·ĝ ⊙ ĝ, with B the number of rows
 * (every axis of the logits but the last). `logitsFn` returns logits [..., C].
 */
export function gnbDiagonal(params: readonly Tensor[], logitsFn: () => Tensor): (Tensor | null)[] {
  needGrad('gnbDiagonal');
  return tidy(() => {
    let rows = 0;
    const grads = captureGrads(params, () => {
      const logits = logitsFn();
      if (logits.rank < 1 || logits.shape[logits.rank - 1] < 1)
        throw new DescentError(
          'gnbDiagonal',
          `the closure must return logits [..., C], got shape [${logits.shape.join(', ')}]`,
        );
      const flat = reshape(logits, [-1, logits.shape[logits.rank - 1]]);
      rows = flat.shape[0];
      crossEntropy(flat, sampleFromLogits(flat)).backward();
    });
    return grads.map((g) => {
      if (!g) return null;
      const h = mul(square(g), rows);
      g.dispose();
      return h;
    });
  });
}
