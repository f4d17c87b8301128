import { DescentError, type Tensor, tensor } from '@descent/core';
import { permutation } from './shuffle.js';

/** Host arrays with one row per example: x [n, ...xShape], y [n, ...yShape]. */
export interface Examples {
  n: number;
  x: Float32Array | Int32Array;
  xShape: readonly number[];
  y: Float32Array | Int32Array;
  yShape?: readonly number[];
}

export interface Batch {
  x: Tensor;
  y: Tensor;
  /** Examples in this batch (the last batch of an epoch may be short). */
  size: number;
}

/**
 * A minimal data loader: per epoch a fresh permutation from the seeded generator (epoch e uses
 * stream e, so a resumed run sees the same order), cut into batches that are uploaded as tensors on
 * the given backend. Batches are made on demand; dispose them (or run the step in `tidy`).
 */
export class DataLoader {
  readonly batchSize: number;
  private readonly xRow: number;
  private readonly yRow: number;
  constructor(
    readonly data: Examples,
    opts: { batchSize: number; shuffle?: boolean; dropLast?: boolean; seed?: number; backend?: string },
  ) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1)
      throw new DescentError('DataLoader', `batchSize must be a positive integer, got ${opts.batchSize}`);
    this.batchSize = opts.batchSize;
    this.opts = opts;
    this.xRow = data.xShape.reduce((a, b) => a * b, 1);
    this.yRow = (data.yShape ?? []).reduce((a, b) => a * b, 1);
    if (data.x.length !== data.n * this.xRow || data.y.length !== data.n * this.yRow)
      throw new DescentError(
        'DataLoader',
        `x has ${data.x.length} values and y ${data.y.length} for n=${data.n} examples of shape [${data.xShape.join(', ')}] / [${(data.yShape ?? []).join(', ')}]`,
      );
  }
  private readonly opts: { shuffle?: boolean; dropLast?: boolean; seed?: number; backend?: string };

  /** Batches per epoch. */
  get length(): number {
    const full = Math.floor(this.data.n / this.batchSize);
    return this.opts.dropLast || this.data.n % this.batchSize === 0 ? full : full + 1;
  }

  /** The example order of an epoch. */
  order(epoch: number): Int32Array {
    return this.opts.shuffle === false
      ? Int32Array.from({ length: this.data.n }, (_, i) => i)
      : permutation(this.data.n, this.opts.seed ?? 0, 1000 + epoch);
  }

  /** The batch at position `index` of epoch `epoch`. */
  batch(epoch: number, index: number, order = this.order(epoch)): Batch {
    const start = index * this.batchSize;
    const size = Math.min(this.batchSize, this.data.n - start);
    if (index < 0 || index >= this.length || size <= 0)
      throw new DescentError('DataLoader', `batch ${index} is out of range (an epoch has ${this.length})`);
    const pick = (src: Float32Array | Int32Array, row: number, shape: readonly number[]) => {
      const out = src instanceof Int32Array ? new Int32Array(size * row) : new Float32Array(size * row);
      for (let i = 0; i < size; i++)
        out.set(src.subarray(order[start + i] * row, (order[start + i] + 1) * row), i * row);
      return tensor(out, [size, ...shape], {
        backend: this.opts.backend,
        dtype: out instanceof Int32Array ? 'i32' : 'f32',
      });
    };
    const x = pick(this.data.x, this.xRow, this.data.xShape);
    return { x, y: pick(this.data.y, this.yRow, this.data.yShape ?? []), size };
  }

  /** Batches of one epoch, in order. */
  *epoch(epoch: number): Generator<Batch> {
    const order = this.order(epoch);
    for (let i = 0; i < this.length; i++) yield this.batch(epoch, i, order);
  }
}
