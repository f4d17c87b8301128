import type { Backend, BackendMemory, DataId, TensorInfo } from '../../backend.js';
import { type DataArray, DTYPES, type DType, roundToF16 } from '../../dtype.js';
import { hasKernelIn, type KernelTable, kernelFor, mergeKernelTables } from '../../kernel-table.js';
import { convKernels } from './conv.js';
import { elementwiseKernels } from './elementwise.js';
import { matmul } from './matmul.js';
import { nnKernels } from './nn.js';
import { optimKernels } from './optim.js';
import { reduceKernels } from './reduce.js';
import { shapeKernels } from './shape.js';
import type { JsKernel, Store } from './types.js';

/** Every reference kernel, by op name. */
export const referenceKernels: KernelTable<JsKernel> = mergeKernelTables<JsKernel>([
  elementwiseKernels,
  reduceKernels,
  { matmul },
  shapeKernels,
  nnKernels,
  convKernels,
  optimKernels,
]);

export interface JsBackendOptions {
  /** Name to register under (default 'js', or 'js64' with float64). */
  name?: string;
  /** Store f32 tensors as float64 and compute in float64: the oracle the conformance suite compares against. */
  float64?: boolean;
}

/**
 * The reference backend: every op in plain TypeScript, simple and obviously correct. Kernels compute
 * in float64 and store to the tensor's array (rounding to f32 in the default variant). Not a speed target.
 *
 * f16 tensors are Float64Arrays of f16 values (read back as Float32Array): uploads are rounded to
 * f16, and the default variant rounds every f16 output, once, from the kernel's float64 result to
 * f16 after the kernel ran — the f16 semantics other backends are held to. The float64 variant keeps f16 outputs unrounded:
 * it is the exact oracle that the f16 conformance bounds measure from.
 */
export class JsBackend implements Backend {
  readonly name: string;
  readonly dtypes = DTYPES;
  readonly float64: boolean;
  private bytes = 0;
  private buffers = 0;

  constructor(opts: JsBackendOptions = {}) {
    this.float64 = opts.float64 ?? false;
    this.name = opts.name ?? (this.float64 ? 'js64' : 'js');
  }

  allocate(size: number, dtype: DType, values?: ArrayLike<number>): DataId {
    const array =
      dtype === 'i32'
        ? new Int32Array(size)
        : this.float64 || dtype === 'f16'
          ? new Float64Array(size)
          : new Float32Array(size);
    if (values) {
      if (dtype === 'f16') for (let i = 0; i < size; i++) array[i] = roundToF16(values[i]);
      else array.set(values);
    }
    this.bytes += size * 4;
    this.buffers++;
    const store: Store = { array };
    return store;
  }

  async read(data: DataId, dtype: DType, size: number): Promise<DataArray> {
    return this.readSync(data, dtype, size);
  }

  readSync(data: DataId, dtype: DType, _size: number): DataArray {
    const a = (data as Store).array;
    return dtype === 'f16' && !this.float64 ? Float32Array.from(a) : a.slice();
  }

  free(data: DataId): void {
    this.bytes -= (data as Store).array.length * 4;
    this.buffers--;
    (data as Store).array = new Float32Array(0);
  }

  /** A window of a typed array (`subarray`: shares memory, so kernels need nothing special). */
  view(data: DataId, offset: number, size: number): DataId {
    const store: Store = { array: (data as Store).array.subarray(offset, offset + size) };
    return store;
  }

  hasKernel(name: string): boolean {
    return hasKernelIn(referenceKernels, name);
  }

  kernelNames(): readonly string[] {
    return Object.keys(referenceKernels);
  }

  runKernel(
    name: string,
    inputs: readonly TensorInfo[],
    outputs: readonly TensorInfo[],
    attrs: unknown,
  ): void {
    const kernel = kernelFor(referenceKernels, name, this.name);
    const view = (t: TensorInfo) => ({ array: (t.data as Store).array, shape: t.shape, dtype: t.dtype });
    kernel(inputs.map(view), outputs.map(view), attrs);
    if (this.float64) return;
    for (const o of outputs) {
      if (o.dtype !== 'f16') continue;
      const a = (o.data as Store).array;
      for (let i = 0; i < a.length; i++) a[i] = roundToF16(a[i]);
    }
  }

  memory(): BackendMemory {
    return { bytes: this.bytes, buffers: this.buffers };
  }

  info(): Record<string, unknown> {
    return { backend: this.name, precision: this.float64 ? 'float64' : 'float32' };
  }
}
