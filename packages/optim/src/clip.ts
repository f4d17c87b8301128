import {
  abs,
  add,
  assign,
  clamp,
  DescentError,
  div,
  keep,
  less,
  max,
  maximum,
  minimum,
  mul,
  noGrad,
  pow,
  reshape,
  sqrt,
  square,
  stack,
  sum,
  type Tensor,
  tidy,
  where,
} from '@descent/core';

/**
 * Gradient clipping, applied to `param.grad` in place (the grad tensors are replaced via `assign`,
 * so handles to them stay valid). Nothing is read back to the host unless asked for: the norms
 * stay on the parameters' backend, so clipping costs no GPU→CPU round trip.
 */

function gradsOf(op: string, params: readonly Tensor[]): Tensor[] {
  const grads: Tensor[] = [];
  for (const p of params) {
    if (p.grad) grads.push(p.grad);
  }
  const backends = new Set(grads.map((g) => g.backend));
  if (backends.size > 1)
    throw new DescentError(
      op,
      `gradients live on several backends (${[...backends].join(', ')}); clip each set separately`,
    );
  return grads;
}

/** ‖x‖_p over all elements (p = Infinity: max |x|). */
function vectorNorm(x: Tensor, p: number): Tensor {
  if (p === Number.POSITIVE_INFINITY) return max(abs(x));
  if (p === 2) return sqrt(sum(square(x)));
  if (p === 1) return sum(abs(x));
  return pow(sum(pow(abs(x), p)), 1 / p);
}

export interface ClipNormOptions {
  /** Norm order: 2 (default), 1, any p > 0, or Infinity. */
  normType?: number;
  /** Throw when the total norm is NaN or ±∞ (reads the norm back to the host; default false). */
  errorIfNonfinite?: boolean;
}

/**
 * Scales all gradients together so that their global norm (the p-norm of the per-tensor p-norms)
 * is at most `maxNorm`: g ← g·min(1, maxNorm/(‖g‖ + 1e-6)) — torch.nn.utils.clip_grad_norm_.
 * Returns the total norm before clipping as a scalar tensor on the gradients' backend (the caller
 * owns it). Parameters without a gradient are skipped.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number, opts: ClipNormOptions = {}): Tensor {
  const p = opts.normType ?? 2;
  if (!(maxNorm >= 0)) throw new DescentError('clipGradNorm', `maxNorm must be >= 0, got ${maxNorm}`);
  if (!(p > 0)) throw new DescentError('clipGradNorm', `normType must be > 0 or Infinity, got ${p}`);
  const grads = gradsOf('clipGradNorm', params);
  if (grads.length === 0) throw new DescentError('clipGradNorm', 'no parameter has a gradient');
  return noGrad(() => {
    const total = tidy(() => keep(vectorNorm(stack(grads.map((g) => reshape(vectorNorm(g, p), [1]))), p)));
    if (opts.errorIfNonfinite && !Number.isFinite(total.item())) {
      const v = total.item();
      total.dispose();
      throw new DescentError(
        'clipGradNorm',
        `the total norm of order ${p} of the gradients is ${v}; gradients cannot be clipped (errorIfNonfinite)`,
      );
    }
    tidy(() => {
      // The clamp keeps the multiply unconditional (no host read to decide whether to clip).
      const coef = minimum(div(maxNorm, add(total, 1e-6)), 1);
      for (const g of grads) assign(g, mul(g, coef));
    });
    return total;
  });
}

/** Clamps every gradient element to [−clipValue, clipValue] (torch.nn.utils.clip_grad_value_). */
export function clipGradValue(params: readonly Tensor[], clipValue: number): void {
  if (!(clipValue >= 0)) throw new DescentError('clipGradValue', `clipValue must be >= 0, got ${clipValue}`);
  const grads = gradsOf('clipGradValue', params);
  noGrad(() =>
    tidy(() => {
      for (const g of grads) assign(g, clamp(g, -clipValue, clipValue));
    }),
  );
}

export interface AgcOptions {
  /** λ: the largest allowed ratio ‖G_i‖/‖W_i‖ per unit (default 0.01). */
  clipping?: number;
  /** Floor of the weight norm, so zero-initialised weights can still move (default 1e-3). */
  eps?: number;
}

/**
 * Unit-wise norms of x: for rank ≥ 2 one norm per output unit — descent's weights keep output
 * units on the last axis (Linear [in, out], conv [KH, KW, Cin, Cout]), so the norm runs over every
 * other axis; for vectors and scalars, the norm of the whole tensor. Shaped to broadcast against x.
 */
function unitwiseNorm(x: Tensor): Tensor {
  if (x.rank <= 1) return sqrt(sum(square(x), undefined, true));
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  return sqrt(sum(square(x), axes, true));
}

/**
 * Adaptive gradient clipping (Brock et al. 2021, NFNets): per unit i, when
 * ‖G_i‖ > λ·max(‖W_i‖, eps), G_i ← G_i·λ·max(‖W_i‖, eps)/‖G_i‖ (with ‖G_i‖ floored at 1e-6).
 * The paper does not clip the final classifier layer; pass only the parameters to clip.
 */
export function adaptiveGradClip(params: readonly Tensor[], opts: AgcOptions = {}): void {
  const lambda = opts.clipping ?? 0.01;
  const eps = opts.eps ?? 1e-3;
  if (!(lambda > 0)) throw new DescentError('adaptiveGradClip', `clipping must be > 0, got ${lambda}`);
  if (!(eps >= 0)) throw new DescentError('adaptiveGradClip', `eps must be >= 0, got ${eps}`);
  gradsOf('adaptiveGradClip', params);
  noGrad(() =>
    tidy(() => {
      for (const p of params) {
        const g = p.grad;
        if (!g) continue;
        const maxNorm = mul(maximum(unitwiseNorm(p), eps), lambda);
        const gNorm = unitwiseNorm(g);
        const clipped = mul(g, div(maxNorm, maximum(gNorm, 1e-6)));
        assign(g, where(less(gNorm, maxNorm), g, clipped));
      }
    }),
  );
}
