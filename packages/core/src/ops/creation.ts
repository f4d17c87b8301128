import type { DType } from '../dtype.js';
import { allocHost, DTYPES, isDType } from '../dtype.js';
import { engine } from '../engine.js';
import { DescentError, fmtShape } from '../errors.js';
import { intValues, normalValues, randomState, uniformValues } from '../random.js';
import { checkShape, sizeOf } from '../shape.js';
import type { NestedArray, Tensor } from '../tensor.js';

export interface CreateOptions {
  dtype?: DType;
  /** Backend to create the tensor on (default: the current backend). */
  backend?: string;
}

type HostData = NestedArray | Float32Array | Int32Array | Float64Array | readonly number[];

function inferShape(data: HostData): number[] {
  const shape: number[] = [];
  let x: unknown = data;
  while (Array.isArray(x)) {
    shape.push(x.length);
    x = x[0];
  }
  if (ArrayBuffer.isView(x)) shape.push((x as Float32Array).length);
  return shape;
}

function flatten(data: HostData, shape: readonly number[], out: number[]): void {
  const walk = (x: unknown, axis: number) => {
    if (axis === shape.length) {
      if (typeof x !== 'number')
        throw new DescentError('tensor', `expected a number at depth ${axis}, got ${typeof x}`);
      out.push(x);
      return;
    }
    const arr = x as ArrayLike<unknown>;
    if (arr == null || typeof arr !== 'object' || arr.length !== shape[axis]) {
      throw new DescentError(
        'tensor',
        `ragged nested array: expected ${shape[axis]} elements at depth ${axis} for shape ${fmtShape(shape)}`,
      );
    }
    for (let i = 0; i < shape[axis]; i++) walk(arr[i], axis + 1);
  };
  walk(data, 0);
}

function backendFor(opts?: CreateOptions) {
  return engine.backend(opts?.backend);
}

/** Creates a tensor from host data: a number, nested arrays, or a flat typed array with a shape. */
export function tensor(data: HostData, shape?: readonly number[], opts: CreateOptions = {}): Tensor {
  if (opts.dtype !== undefined && !isDType(opts.dtype)) {
    throw new DescentError('tensor', `unknown dtype '${opts.dtype}' (expected ${DTYPES.join(', ')})`);
  }
  const dtype: DType = opts.dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (typeof data === 'number') {
    flat = [data];
    inferred = [];
  } else if (ArrayBuffer.isView(data)) {
    flat = data as Float32Array;
    inferred = [flat.length];
  } else {
    inferred = inferShape(data);
    const out: number[] = [];
    flatten(data, inferred, out);
    flat = out;
  }
  const finalShape = shape ?? inferred;
  checkShape('tensor', finalShape);
  if (sizeOf(finalShape) !== flat.length) {
    throw new DescentError(
      'tensor',
      `got ${flat.length} values for shape ${fmtShape(finalShape)} (expected ${sizeOf(finalShape)})`,
    );
  }
  // Float64 host values for f32: the backend rounds to its storage type (the float64 reference keeps them exact).
  const host = dtype === 'i32' ? new Int32Array(flat.length) : new Float64Array(flat.length);
  for (let i = 0; i < flat.length; i++) host[i] = flat[i];
  return engine.makeTensor(backendFor(opts), finalShape, dtype, host);
}

/** A rank-0 tensor. */
export function scalar(value: number, opts: CreateOptions = {}): Tensor {
  return tensor(value, [], opts);
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  checkShape('full', shape);
  const dtype = opts.dtype ?? 'f32';
  // Float64 host values: the backend rounds to its storage type (the float64 reference keeps `value` exact).
  const host = dtype === 'i32' ? new Int32Array(sizeOf(shape)) : new Float64Array(sizeOf(shape));
  host.fill(value);
  return engine.makeTensor(backendFor(opts), shape, dtype, host);
}

export const zeros = (shape: readonly number[], opts: CreateOptions = {}): Tensor => full(shape, 0, opts);
export const ones = (shape: readonly number[], opts: CreateOptions = {}): Tensor => full(shape, 1, opts);

/** Same shape, dtype and backend as `t`. */
export function fullLike(t: Tensor, value: number): Tensor {
  return full(t.shape, value, { dtype: t.dtype, backend: t.backend });
}
export const zerosLike = (t: Tensor): Tensor => fullLike(t, 0);
export const onesLike = (t: Tensor): Tensor => fullLike(t, 1);

/** Values start, start+step, ... below stop (like NumPy's arange). i32 when all arguments are integers. */
export function arange(start: number, stop?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step))
    throw new DescentError('arange', `step must be a finite non-zero number, got ${step}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const dtype = opts.dtype ?? (Number.isInteger(start) && Number.isInteger(step) ? 'i32' : 'f32');
  const host = allocHost(dtype, n);
  for (let i = 0; i < n; i++) host[i] = start + i * step;
  return engine.makeTensor(backendFor(opts), [n], dtype, host);
}

/** `n` evenly spaced values from start to stop inclusive. */
export function linspace(start: number, stop: number, n: number, opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0)
    throw new DescentError('linspace', `count must be a non-negative integer, got ${n}`);
  const host = new Float32Array(n);
  for (let i = 0; i < n; i++) host[i] = n === 1 ? start : start + ((stop - start) * i) / (n - 1);
  return engine.makeTensor(backendFor(opts), [n], 'f32', host);
}

/** Identity matrix. */
export function eye(n: number, opts: CreateOptions = {}): Tensor {
  const host = allocHost(opts.dtype ?? 'f32', n * n);
  for (let i = 0; i < n; i++) host[i * n + i] = 1;
  return engine.makeTensor(backendFor(opts), [n, n], opts.dtype ?? 'f32', host);
}

export interface RandomOptions {
  /** Seed for this draw alone; otherwise the next stream of the global seed (`setSeed`). */
  seed?: number;
  backend?: string;
}

/** Uniform in [low, high) from the counter-based generator; identical on every backend. */
export function rand(
  shape: readonly number[],
  opts: RandomOptions & { low?: number; high?: number } = {},
): Tensor {
  checkShape('rand', shape);
  const [seed, stream] = randomState.next(opts.seed);
  const values = uniformValues(sizeOf(shape), opts.low ?? 0, opts.high ?? 1, seed, stream);
  return engine.makeTensor(backendFor(opts), shape, 'f32', values);
}

/** Normal with mean and std (default 0, 1). */
export function randn(
  shape: readonly number[],
  opts: RandomOptions & { mean?: number; std?: number } = {},
): Tensor {
  checkShape('randn', shape);
  const [seed, stream] = randomState.next(opts.seed);
  const values = normalValues(sizeOf(shape), opts.mean ?? 0, opts.std ?? 1, seed, stream);
  return engine.makeTensor(backendFor(opts), shape, 'f32', values);
}

/** Integers uniform in [low, high), dtype i32. */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  opts: RandomOptions = {},
): Tensor {
  checkShape('randint', shape);
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new DescentError('randint', `expected integers low < high, got low=${low}, high=${high}`);
  }
  const [seed, stream] = randomState.next(opts.seed);
  return engine.makeTensor(backendFor(opts), shape, 'i32', intValues(sizeOf(shape), low, high, seed, stream));
}
