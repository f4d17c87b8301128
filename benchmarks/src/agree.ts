/**
 * Agreement checks: every implementation's output is compared with a float64 reference under an
 * error bound derived from the computation, so a fast but wrong kernel is reported as wrong and gets
 * no ratio. Bounds are per element (|got − ref| ≤ bound_i) or normwise for long composite chains.
 */

/** Unit roundoff of f32 (round to nearest). */
export const U32 = 2 ** -24;

/** γ_n = n·u / (1 − n·u): the classic bound for an n-term f32 dot product (Higham, Thm 3.1). */
export function gamma(n: number, u = U32): number {
  return (n * u) / (1 - n * u);
}

export interface Agreement {
  ok: boolean;
  /** Elements (or sampled entries) compared. */
  checked: number;
  /** Largest |got − ref|. */
  maxAbsErr: number;
  /** Largest |got − ref| / bound (ok ⇔ ≤ 1); normwise checks report error/bound of the norms. */
  worstRatio: number;
  /** Index (into the compared entries) of the worst element, or -1. */
  worstIndex: number;
  /** Human description of the bound used. */
  bound: string;
  /** Why it failed (NaN, size mismatch, bound exceeded). */
  reason?: string;
}

/**
 * Elementwise check: `got[idx[j]]` against `ref[j]` with bound `bound[j]` (`idx` omitted: j itself).
 * A NaN where the reference is finite, or a size mismatch, fails.
 */
export function checkElementwise(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  bound: ArrayLike<number> | ((j: number) => number),
  describe: string,
  idx?: ArrayLike<number>,
): Agreement {
  const n = ref.length;
  const expectLen = idx ? undefined : n;
  if (expectLen !== undefined && got.length !== expectLen) {
    return fail(describe, n, `size mismatch: got ${got.length} elements, expected ${expectLen}`);
  }
  let maxAbsErr = 0;
  let worstRatio = 0;
  let worstIndex = -1;
  for (let j = 0; j < n; j++) {
    const g = got[idx ? idx[j] : j];
    const r = ref[j];
    const b = typeof bound === 'function' ? bound(j) : bound[j];
    const err = Math.abs(g - r);
    if (Number.isNaN(g) !== Number.isNaN(r) || (Number.isNaN(err) && g !== r)) {
      return {
        ...fail(describe, n, `element ${idx ? idx[j] : j}: got ${g}, expected ${r}`),
        worstIndex: j,
      };
    }
    if (Number.isNaN(err)) continue; // both NaN or the same infinity
    if (err > maxAbsErr) maxAbsErr = err;
    const ratio = b > 0 ? err / b : err > 0 ? Number.POSITIVE_INFINITY : 0;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worstIndex = j;
    }
  }
  const ok = worstRatio <= 1;
  return {
    ok,
    checked: n,
    maxAbsErr,
    worstRatio,
    worstIndex,
    bound: describe,
    ...(ok
      ? {}
      : {
          reason: `element ${idx ? idx[worstIndex] : worstIndex}: got ${got[idx ? idx[worstIndex] : worstIndex]}, expected ${ref[worstIndex]} (error ${(worstRatio).toFixed(1)}× the bound)`,
        }),
  };
}

/** Normwise check: ‖got − ref‖₂ ≤ relBound · ‖ref‖₂ (for long composite chains, see cases.ts). */
export function checkNormwise(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  relBound: number,
  describe: string,
): Agreement {
  if (got.length !== ref.length)
    return fail(describe, ref.length, `size mismatch: got ${got.length}, expected ${ref.length}`);
  let num = 0;
  let den = 0;
  let maxAbsErr = 0;
  let worstIndex = -1;
  for (let i = 0; i < ref.length; i++) {
    const e = got[i] - ref[i];
    if (Number.isNaN(e)) return { ...fail(describe, ref.length, `NaN at element ${i}`), worstIndex: i };
    num += e * e;
    den += ref[i] * ref[i];
    if (Math.abs(e) > maxAbsErr) {
      maxAbsErr = Math.abs(e);
      worstIndex = i;
    }
  }
  const rel = den > 0 ? Math.sqrt(num / den) : Math.sqrt(num);
  const worstRatio = rel / relBound;
  const ok = worstRatio <= 1;
  return {
    ok,
    checked: ref.length,
    maxAbsErr,
    worstRatio,
    worstIndex,
    bound: describe,
    ...(ok ? {} : { reason: `relative error ${rel.toExponential(2)} > bound ${relBound.toExponential(2)}` }),
  };
}

/** Combines the checks of several outputs (e.g. loss and gradients): ok only if all are. */
export function combine(parts: Record<string, Agreement>): Agreement {
  const entries = Object.entries(parts);
  const worst = entries.reduce((a, b) => (b[1].worstRatio > a[1].worstRatio || !b[1].ok ? b : a));
  const failed = entries.filter(([, a]) => !a.ok);
  return {
    ok: failed.length === 0,
    checked: entries.reduce((s, [, a]) => s + a.checked, 0),
    maxAbsErr: Math.max(...entries.map(([, a]) => a.maxAbsErr)),
    worstRatio: worst[1].worstRatio,
    worstIndex: worst[1].worstIndex,
    bound: entries.map(([k, a]) => `${k}: ${a.bound}`).join('; '),
    ...(failed.length ? { reason: failed.map(([k, a]) => `${k}: ${a.reason}`).join('; ') } : {}),
  };
}

function fail(bound: string, checked: number, reason: string): Agreement {
  return {
    ok: false,
    checked,
    maxAbsErr: Number.NaN,
    worstRatio: Number.POSITIVE_INFINITY,
    worstIndex: -1,
    bound,
    reason,
  };
}
