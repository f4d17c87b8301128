import type { GradNode } from './autograd/node.js';
import type { Backend } from './backend.js';
import type { DataArray, DType } from './dtype.js';
import { engine } from './engine.js';
import { DescentError, fmtShape } from './errors.js';

/** Storage shared by a tensor and its views (reshape). Freed on the backend when the last user lets go. */
export class Storage {
  refs = 1;
  constructor(
    readonly backend: Backend,
    readonly data: object,
    readonly dtype: DType,
    readonly size: number,
    /** For a sub-view (`engine.makeSubView`): the storage it is a window of, kept alive by it. */
    readonly parent?: Storage,
  ) {}
}

export type NestedArray = number | NestedArray[];

let nextTensorId = 1;

/**
 * An n-dimensional array on one backend. Row-major and contiguous; images are NHWC.
 *
 * Memory is explicit: `dispose()` frees it, `tidy(fn)` frees every tensor made inside `fn` that
 * `fn` does not return. A FinalizationRegistry frees forgotten tensors as a backstop only.
 */
export class Tensor {
  readonly id = nextTensorId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  /** @internal */
  storage: Storage;
  /** Accumulated gradient, filled by `backward()` on leaves that require grad. */
  grad: Tensor | null = null;
  /** The autograd node that made this tensor (null for leaves and tensors made without recording). */
  node: GradNode | null = null;
  /** Position of this tensor among its node's outputs. */
  outputIndex = 0;
  private _requiresGrad = false;
  private _disposed = false;
  /** Optional name, used in error messages and checkpoints. */
  name?: string;

  /** @internal Use the creation functions (`tensor`, `zeros`, ...) instead. */
  constructor(storage: Storage, shape: readonly number[], dtype: DType) {
    this.storage = storage;
    this.shape = Object.freeze(shape.slice());
    this.dtype = dtype;
    this.size = storage.size;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Name of the backend that owns the storage. */
  get backend(): string {
    return this.storage.backend.name;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Whether gradients flow to (or through) this tensor. Only `f32` tensors can require grad. */
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }

  set requiresGrad(flag: boolean) {
    if (flag && this.dtype !== 'f32') {
      throw new DescentError(
        'requiresGrad',
        `only f32 tensors can require grad, got a ${this.dtype} tensor of shape ${fmtShape(this.shape)}`,
      );
    }
    if (!flag && this.node) {
      throw new DescentError('requiresGrad', 'cannot clear requiresGrad on a non-leaf tensor; use detach()');
    }
    this._requiresGrad = flag;
  }

  /** Marks this leaf as a trainable parameter and returns it (`zeros([3]).requireGrad()`). */
  requireGrad(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }

  /** @internal Throws when the tensor was disposed. */
  assertAlive(op: string): void {
    if (this._disposed) {
      throw new DescentError(
        op,
        `tensor #${this.id}${this.name ? ` (${this.name})` : ''} of shape ${fmtShape(this.shape)} was disposed and cannot be used`,
      );
    }
  }

  /** Frees this tensor's storage (shared storage is freed when its last view goes). Idempotent. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    engine.releaseTensor(this);
  }

  /** Elements as a flat typed array (async: works on every backend). */
  async data(): Promise<DataArray> {
    this.assertAlive('tensor.data');
    return this.storage.backend.read(this.storage.data, this.dtype, this.size);
  }

  /** Elements as a flat typed array, synchronously; throws on backends that can only read asynchronously (WebGPU). */
  dataSync(): DataArray {
    this.assertAlive('tensor.dataSync');
    const b = this.storage.backend;
    if (!b.readSync) {
      throw new DescentError(
        'tensor.dataSync',
        `backend '${b.name}' cannot read synchronously; use await tensor.data() or tensor.toArray()`,
      );
    }
    return b.readSync(this.storage.data, this.dtype, this.size);
  }

  /** Elements as nested JS arrays (a number for a scalar). Async: works on every backend. */
  async toArray(): Promise<NestedArray> {
    return nest(await this.data(), this.shape);
  }

  /** Nested JS arrays, synchronously, where the backend can read synchronously. */
  toArraySync(): NestedArray {
    return nest(this.dataSync(), this.shape);
  }

  /** The single element of a size-1 tensor, synchronously. */
  item(): number {
    if (this.size !== 1)
      throw new DescentError(
        'tensor.item',
        `expected a tensor with one element, got shape ${fmtShape(this.shape)}`,
      );
    return this.dataSync()[0];
  }

  /** The single element of a size-1 tensor (async). */
  async itemAsync(): Promise<number> {
    if (this.size !== 1)
      throw new DescentError(
        'tensor.itemAsync',
        `expected a tensor with one element, got shape ${fmtShape(this.shape)}`,
      );
    return (await this.data())[0];
  }

  toString(): string {
    return `Tensor(#${this.id}, ${fmtShape(this.shape)}, ${this.dtype}, ${this.backend}${this._requiresGrad ? ', requiresGrad' : ''}${this._disposed ? ', disposed' : ''})`;
  }
}

function nest(flat: ArrayLike<number>, shape: readonly number[]): NestedArray {
  if (shape.length === 0) return flat[0];
  const build = (offset: number, axis: number): NestedArray[] => {
    const n = shape[axis];
    const out: NestedArray[] = new Array(n);
    if (axis === shape.length - 1) {
      for (let i = 0; i < n; i++) out[i] = flat[offset + i];
      return out;
    }
    let step = 1;
    for (let j = axis + 1; j < shape.length; j++) step *= shape[j];
    for (let i = 0; i < n; i++) out[i] = build(offset + i * step, axis + 1);
    return out;
  };
  return build(0, 0);
}
