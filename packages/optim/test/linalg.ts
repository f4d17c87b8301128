/** Plain float64 dense linear algebra for the reference implementations (row-major arrays). */
import type { Rng } from './numeric.js';

export type Mat = Float64Array;

export function matmul(a: Mat, b: Mat, m: number, k: number, n: number): Mat {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p];
      for (let j = 0; j < n; j++) c[i * n + j] += aip * b[p * n + j];
    }
  return c;
}

export function transpose(a: Mat, m: number, n: number): Mat {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}

export function eye(n: number, scale = 1): Mat {
  const e = new Float64Array(n * n);
  for (let i = 0; i < n; i++) e[i * n + i] = scale;
  return e;
}

export const frobenius = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));

/** A random n×n orthogonal matrix (modified Gram–Schmidt on Gaussian columns). */
export function randomOrthogonal(n: number, rng: Rng): Mat {
  const q = rng.normals(n * n);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < j; k++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += q[i * n + j] * q[i * n + k];
      for (let i = 0; i < n; i++) q[i * n + j] -= d * q[i * n + k];
    }
    let nrm = 0;
    for (let i = 0; i < n; i++) nrm += q[i * n + j] ** 2;
    nrm = Math.sqrt(nrm);
    for (let i = 0; i < n; i++) q[i * n + j] /= nrm;
  }
  return q;
}

/** Q·diag(λ)·Qᵀ. */
export function fromEigen(q: Mat, lambda: ArrayLike<number>, n: number): Mat {
  const ql = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) ql[i * n + j] = q[i * n + j] * lambda[j];
  return matmul(ql, transpose(q, n, n), n, n, n);
}

/** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations (ascending). */
export function symmetricEigenvalues(a0: Mat, n: number): number[] {
  const a = a0.slice();
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i * n + j] ** 2;
    if (off < 1e-30 * (frobenius(a) ** 2 + 1e-300)) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  return Array.from({ length: n }, (_, i) => a[i * n + i]).sort((x, y) => x - y);
}

/** The coupled Newton iteration for A^(−1/p), the same steps as the library's `inversePthRoot`. */
export function inversePthRootReference(a: Mat, n: number, p: number, iterations: number): Mat {
  const z = (p + 1) / 2 / frobenius(a);
  let m: Mat = a.map((v) => v * z);
  let x: Mat = eye(n, z ** (1 / p));
  for (let k = 0; k < iterations; k++) {
    const t: Mat = eye(n, p + 1).map((v, i) => (v - m[i]) / p);
    x = matmul(x, t, n, n, n);
    let result: Mat | null = null;
    let base: Mat = t;
    for (let e = p; e > 0; e >>= 1) {
      if (e & 1) result = result ? matmul(result, base, n, n, n) : base;
      if (e > 1) base = matmul(base, base, n, n, n);
    }
    m = matmul(result as Mat, m, n, n, n);
  }
  return x;
}
