import type { CrossEntropyKernelAttrs, NormKernelAttrs, RowKernelAttrs } from '../../ops/nn.js';
import type { JsKernel } from './types.js';

function rowMax(a: ArrayLike<number>, off: number, n: number): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < n; j++) m = Math.max(m, a[off + j]);
  return m;
}

/**
 * log Σ exp(x − m) over one row, m = the row max (returned with it), without losing the row's small
 * terms: with k maxima (each e⁰ = 1 exactly) and s' = Σ e^(x − m) over the other elements, the sum is
 * k + s', and log1p(s') for k = 1 keeps s' even when it is below the precision of 1 (a confident row,
 * log Σ ≈ e⁻ᴸ: log(1 + s') rounds it away). For k ≥ 2, log(k + s') ≥ log 2 and the sum's rounding
 * is relative. Rows with a NaN or ±∞ max give NaN (x − m is NaN at the max), as log Σ does.
 */
function rowLogSumExp(a: ArrayLike<number>, off: number, n: number): { m: number; logSum: number } {
  const m = rowMax(a, off, n);
  let rest = 0;
  let maxima = 0;
  for (let j = 0; j < n; j++) {
    const d = a[off + j] - m;
    if (d === 0) maxima++;
    else rest += Math.exp(d);
  }
  return { m, logSum: maxima === 1 ? Math.log1p(rest) : Math.log(maxima + rest) };
}

const softmax: JsKernel = ([x], [y], { rows, size }: RowKernelAttrs) => {
  for (let r = 0; r < rows; r++) {
    const off = r * size;
    const m = rowMax(x.array, off, size);
    let s = 0;
    for (let j = 0; j < size; j++) s += Math.exp(x.array[off + j] - m);
    for (let j = 0; j < size; j++) y.array[off + j] = Math.exp(x.array[off + j] - m) / s;
  }
};

const logSoftmax: JsKernel = ([x], [y], { rows, size }: RowKernelAttrs) => {
  for (let r = 0; r < rows; r++) {
    const off = r * size;
    // (x − m) − log Σ: exact 0 − log Σ at the max, not x − (m + log Σ), where m + log Σ rounds it away.
    const { m, logSum } = rowLogSumExp(x.array, off, size);
    for (let j = 0; j < size; j++) y.array[off + j] = x.array[off + j] - m - logSum;
  }
};

const crossEntropy: JsKernel = (
  [x, labels],
  [y],
  { rows, size, labelSmoothing }: CrossEntropyKernelAttrs,
) => {
  for (let r = 0; r < rows; r++) {
    const off = r * size;
    const label = labels.array[r];
    if (label < 0 || label >= size)
      throw new RangeError(`crossEntropy: label ${label} in row ${r} is out of range [0, ${size})`);
    let total = 0;
    for (let j = 0; j < size; j++) total += x.array[off + j];
    // The terms of the size of x first and log Σ last: at a confident row's max label m − x_label = 0
    // exactly and the loss is log Σ ≈ e⁻ᴸ, which m + log Σ would round away.
    const { m, logSum } = rowLogSumExp(x.array, off, size);
    y.array[r] = m - (1 - labelSmoothing) * x.array[off + label] - (labelSmoothing / size) * total + logSum;
  }
};

/** (softmax(x) − ((1−ε)·onehot(label) + ε/C))·g per row; exps are recomputed in the write pass. */
const crossEntropyBackward: JsKernel = (
  [x, labels, g],
  [dx],
  { rows, size, labelSmoothing }: CrossEntropyKernelAttrs,
) => {
  const spread = labelSmoothing / size;
  for (let r = 0; r < rows; r++) {
    const off = r * size;
    const label = labels.array[r];
    if (label < 0 || label >= size)
      throw new RangeError(`crossEntropyBackward: label ${label} in row ${r} is out of range [0, ${size})`);
    const m = rowMax(x.array, off, size);
    let s = 0;
    for (let j = 0; j < size; j++) s += Math.exp(x.array[off + j] - m);
    const gr = g.array[r];
    for (let j = 0; j < size; j++) {
      const target = (j === label ? 1 - labelSmoothing : 0) + spread;
      dx.array[off + j] = (Math.exp(x.array[off + j] - m) / s - target) * gr;
    }
  }
};

const layerNorm: JsKernel = ([x, gamma, beta], [y], { rows, size, eps }: NormKernelAttrs) => {
  for (let r = 0; r < rows; r++) {
    const off = r * size;
    let mu = 0;
    for (let j = 0; j < size; j++) mu += x.array[off + j];
    mu /= size;
    let v = 0;
    for (let j = 0; j < size; j++) v += (x.array[off + j] - mu) ** 2;
    const rstd = 1 / Math.sqrt(v / size + eps);
    for (let j = 0; j < size; j++)
      y.array[off + j] = (x.array[off + j] - mu) * rstd * gamma.array[j] + beta.array[j];
  }
};

const rmsNorm: JsKernel = ([x, gamma], [y], { rows, size, eps }: NormKernelAttrs) => {
  for (let r = 0; r < rows; r++) {
    const off = r * size;
    let ms = 0;
    for (let j = 0; j < size; j++) ms += x.array[off + j] ** 2;
    const rstd = 1 / Math.sqrt(ms / size + eps);
    for (let j = 0; j < size; j++) y.array[off + j] = x.array[off + j] * rstd * gamma.array[j];
  }
};

const batchNorm: JsKernel = ([x, mean, variance, gamma, beta], [y], { rows, size, eps }: NormKernelAttrs) => {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < size; c++) {
      const i = r * size + c;
      y.array[i] =
        ((x.array[i] - mean.array[c]) / Math.sqrt(variance.array[c] + eps)) * gamma.array[c] + beta.array[c];
    }
  }
};

export const nnKernels: Record<string, JsKernel> = {
  softmax,
  logSoftmax,
  crossEntropy,
  crossEntropyBackward,
  layerNorm,
  rmsNorm,
  batchNorm,
};
