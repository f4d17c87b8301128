import { DescentError, intValues, normalValues } from '@descent/core';
import type { Dataset } from './spirals.js';

const SHAPES = ['horizontal bar', 'vertical bar', 'square outline', 'diagonal'] as const;

/**
 * A small synthetic image set for convolution tests that needs no download: `size`×`size`
 * grayscale images (NHWC, one channel) of four shape classes — a horizontal bar, a vertical bar, a
 * square outline and a diagonal — at random positions, with Gaussian pixel noise. A linear model
 * on raw pixels does poorly (positions vary); a small CNN separates them easily.
 */
export function syntheticShapes(
  n: number,
  opts: { size?: number; noise?: number; seed?: number } = {},
): Dataset & { classNames: readonly string[] } {
  const s = opts.size ?? 12;
  if (!Number.isInteger(s) || s < 6)
    throw new DescentError('syntheticShapes', `size must be an integer >= 6, got ${s}`);
  const seed = opts.seed ?? 0;
  const len = Math.floor(s / 2); // bar length / square side
  const pos = intValues(2 * n, 0, s - len + 1, seed, 51);
  const x = normalValues(n * s * s, 0, opts.noise ?? 0.1, seed, 52);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const cls = i % SHAPES.length;
    y[i] = cls;
    const r0 = pos[2 * i];
    const c0 = pos[2 * i + 1];
    const img = i * s * s;
    const on = (r: number, c: number) => {
      x[img + r * s + c] += 1;
    };
    for (let k = 0; k < len; k++) {
      if (cls === 0) on(r0, c0 + k);
      else if (cls === 1) on(r0 + k, c0);
      else if (cls === 3) on(r0 + k, c0 + k);
      else {
        on(r0, c0 + k);
        on(r0 + len - 1, c0 + k);
        if (k > 0 && k < len - 1) {
          on(r0 + k, c0);
          on(r0 + k, c0 + len - 1);
        }
      }
    }
  }
  return { x, y, n, features: s * s, classes: SHAPES.length, sampleShape: [s, s, 1], classNames: SHAPES };
}
