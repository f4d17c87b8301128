/**
 * Splitting work over tensors larger than `maxStorageBufferBindingSize`.
 *
 * A storage binding may cover at most `maxStorageBufferBindingSize` bytes of a buffer (128 MiB on
 * lavapipe, often 128 MiB–2 GiB on GPUs), while a buffer may be much larger (`maxBufferSize`). A kernel
 * whose tensors do not fit one binding is run as several dispatches, each binding a *window* of every
 * large buffer: an element range [offset, offset + size) whose byte offset is a multiple of
 * `minStorageBufferOffsetAlignment`. Shaders index a window with a *bias*: global element index minus
 * the window's offset (u32 arithmetic wraps, so biases may be "negative").
 *
 * The kernels that split choose their pieces from the exact element ranges each piece touches:
 * `offsetRange` gives the smallest and largest element offset read for a contiguous range of output
 * indices, for any row-major walk whose per-axis offset contribution is non-decreasing in the
 * coordinate (broadcast strides ≥ 0, transposes, slices, clamped pad coordinates).
 */
import type { TensorInfo } from '@descent/core';

/** An element range of a buffer bound in one dispatch. */
export interface BindingWindow {
  offset: number;
  size: number;
}

/** What a kernel needs to know to split: the largest binding and the offset alignment, in elements. */
export interface SplitLimits {
  maxElements: number;
  alignElements: number;
}

/** Whether any of the tensors is larger than one binding. */
export function needsSplit(limits: SplitLimits, ...ts: readonly TensorInfo[]): boolean {
  return ts.some((t) => t.size > limits.maxElements);
}

/** The aligned window covering element offsets [min, max]. */
export function windowOver(min: number, max: number, align: number): BindingWindow {
  const offset = Math.floor(min / align) * align;
  return { offset, size: max - offset + 1 };
}

/** One axis of a row-major walk: its extent and its (non-decreasing) contribution to the offset. */
export interface WalkAxis {
  dim: number;
  at: (c: number) => number;
}

/** Walk axes for plain strides: contribution c·stride. */
export const strided = (shape: readonly number[], strides: readonly number[]): WalkAxis[] =>
  shape.map((dim, d) => ({ dim, at: (c: number) => c * strides[d] }));

/**
 * [smallest, largest] offset Σ_d at_d(c_d) over the linear (row-major) indices s … e−1 of the walk
 * (e > s). The range splits into a partial first row, full rows and a partial last row at each axis;
 * full boxes are answered directly (every `at` is non-decreasing), so this costs O(rank²).
 */
export function offsetRange(axes: readonly WalkAxis[], s: number, e: number): [number, number] {
  const inner = new Array<number>(axes.length + 1);
  inner[axes.length] = 1;
  for (let d = axes.length - 1; d >= 0; d--) inner[d] = inner[d + 1] * axes[d].dim;
  const box = (d: number): [number, number] => {
    let lo = 0;
    let hi = 0;
    for (let k = d; k < axes.length; k++) {
      lo += axes[k].at(0);
      hi += axes[k].at(axes[k].dim - 1);
    }
    return [lo, hi];
  };
  const range = (d: number, s: number, e: number): [number, number] => {
    if (d === axes.length) return [0, 0];
    if (s === 0 && e === inner[d]) return box(d);
    const R = inner[d + 1];
    const a = Math.floor(s / R);
    const b = Math.floor((e - 1) / R);
    const at = axes[d].at;
    if (a === b) {
      const [lo, hi] = range(d + 1, s - a * R, e - a * R);
      return [at(a) + lo, at(a) + hi];
    }
    const first = range(d + 1, s - a * R, R);
    const last = range(d + 1, 0, e - b * R);
    let lo = Math.min(at(a) + first[0], at(b) + last[0]);
    let hi = Math.max(at(a) + first[1], at(b) + last[1]);
    if (b > a + 1) {
      const [blo, bhi] = box(d + 1);
      lo = Math.min(lo, at(a + 1) + blo);
      hi = Math.max(hi, at(b - 1) + bhi);
    }
    return [lo, hi];
  };
  return range(0, s, e);
}

/**
 * Splits the output index range [0, n) into contiguous pieces [s, e) whose binding windows (from
 * `windows(s, e)`) each fit `maxElements`. Greedy: a piece starts as long as the last one that fit
 * (doubled, capped at one binding) and is halved until it fits; a single output index always fits.
 */
export function splitRange(
  n: number,
  limits: SplitLimits,
  windows: (s: number, e: number) => BindingWindow[],
): { s: number; e: number; windows: BindingWindow[] }[] {
  const pieces: { s: number; e: number; windows: BindingWindow[] }[] = [];
  const max = limits.maxElements;
  let len = max - limits.alignElements;
  for (let s = 0; s < n; ) {
    let e = Math.min(n, s + len);
    let w = windows(s, e);
    while (w.some((x) => x.size > max)) {
      if (e - s === 1)
        throw new Error(
          `one output element needs a binding window of ${Math.max(...w.map((x) => x.size))} elements (max ${max})`,
        );
      e = s + Math.ceil((e - s) / 2);
      w = windows(s, e);
    }
    pieces.push({ s, e, windows: w });
    len = Math.min(max - limits.alignElements, 2 * (e - s));
    s = e;
  }
  return pieces;
}

/** Pieces [s, e) of [0, n) starting at multiples of the alignment, each at most one binding long. */
export function alignedPieces(n: number, limits: SplitLimits): { s: number; e: number }[] {
  const step = Math.floor(limits.maxElements / limits.alignElements) * limits.alignElements;
  const pieces: { s: number; e: number }[] = [];
  for (let s = 0; s < n; s += step) pieces.push({ s, e: Math.min(n, s + step) });
  return pieces;
}
