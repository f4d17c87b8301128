import { normalValues, uniformValues } from '@descent/core';

/** A classification set held on the host: row-major features [n, ...sampleShape] and i32 labels [n]. */
export interface Dataset {
  /** Features, row-major [n, features] (images: [n, H, W, C]). */
  x: Float32Array;
  /** Integer class labels [n]. */
  y: Int32Array;
  n: number;
  /** Values per sample (H·W·C for images). */
  features: number;
  classes: number;
  /** Shape of one sample (default [features]). */
  sampleShape?: number[];
}

/**
 * Two interleaved spirals (the classic hard 2-D classification task): class k's points follow
 * r = t, θ = t·turns·2π + kπ for t uniform in (0, 1], with Gaussian noise. Deterministic per seed.
 */
export function twoSpirals(n: number, opts: { noise?: number; turns?: number; seed?: number } = {}): Dataset {
  const noise = opts.noise ?? 0.03;
  const turns = opts.turns ?? 1.5;
  const seed = opts.seed ?? 0;
  const t = uniformValues(n, 0.05, 1, seed, 1);
  const jitter = normalValues(2 * n, 0, noise, seed, 2);
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const cls = i % 2;
    const theta = t[i] * turns * 2 * Math.PI + cls * Math.PI;
    x[2 * i] = t[i] * Math.cos(theta) + jitter[2 * i];
    x[2 * i + 1] = t[i] * Math.sin(theta) + jitter[2 * i + 1];
    y[i] = cls;
  }
  return { x, y, n, features: 2, classes: 2 };
}

/**
 * Two concentric circles: class 0 on radius 1, class 1 on radius `factor` (default 0.5), angles
 * uniform, Gaussian noise. Not linearly separable; one hidden layer suffices.
 */
export function circles(n: number, opts: { noise?: number; factor?: number; seed?: number } = {}): Dataset {
  const seed = opts.seed ?? 0;
  const angle = uniformValues(n, 0, 2 * Math.PI, seed, 1);
  const jitter = normalValues(2 * n, 0, opts.noise ?? 0.05, seed, 2);
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const cls = i % 2;
    const r = cls === 0 ? 1 : (opts.factor ?? 0.5);
    x[2 * i] = r * Math.cos(angle[i]) + jitter[2 * i];
    x[2 * i + 1] = r * Math.sin(angle[i]) + jitter[2 * i + 1];
    y[i] = cls;
  }
  return { x, y, n, features: 2, classes: 2 };
}
