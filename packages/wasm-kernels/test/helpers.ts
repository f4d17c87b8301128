import type { Conv2dGeometry, KernelVariant } from '../src/index.js';
import { KernelModule } from '../src/index.js';

export const VARIANT = (process.env.DESCENT_WASM_VARIANT ?? 'simd') as KernelVariant;

export function createModule(): KernelModule {
  return KernelModule.createSync({ variant: VARIANT, initialBytes: 4 << 20 });
}

/** Deterministic uniform numbers in [lo, hi) (mulberry32). */
export function rng(seed: number): (lo?: number, hi?: number) => number {
  let s = seed >>> 0;
  return (lo = -1, hi = 1) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + (hi - lo) * u;
  };
}

export function randomF32(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r(lo, hi);
  return a;
}

/**
 * Checks |y − ref| ≤ tol elementwise and throws with the first few offenders otherwise (readable failures
 * instead of a giant array diff).
 */
export function expectClose(
  y: ArrayLike<number>,
  ref: ArrayLike<number>,
  tol: (i: number) => number,
  what: string,
): void {
  if (y.length !== ref.length) throw new Error(`${what}: length ${y.length} vs ${ref.length}`);
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < y.length; i++) {
    const a = y[i]!;
    const b = ref[i]!;
    const ok = Number.isNaN(b) ? Number.isNaN(a) : a === b || Math.abs(a - b) <= tol(i);
    if (!ok) {
      count++;
      if (bad.length < 5) bad.push(`[${i}] got ${a}, want ${b} (tol ${tol(i)})`);
    }
  }
  if (count) throw new Error(`${what}: ${count}/${y.length} out of tolerance: ${bad.join('; ')}`);
}

export const U = 2 ** -24; // unit roundoff of f32

/**
 * A conv2d geometry from the fields that differ from the plain case: stride 1, no padding (or `pad`
 * on all four sides), no dilation, one group, one output channel.
 */
export function convGeometry(
  p: Partial<Conv2dGeometry> & {
    N: number;
    H: number;
    W: number;
    C: number;
    KH: number;
    KW: number;
    pad?: number;
  },
): Conv2dGeometry {
  const { pad = 0, ...rest } = p;
  return {
    Cout: 1,
    strideH: 1,
    strideW: 1,
    padTop: pad,
    padBottom: pad,
    padLeft: pad,
    padRight: pad,
    dilationH: 1,
    dilationW: 1,
    groups: 1,
    ...rest,
  };
}
