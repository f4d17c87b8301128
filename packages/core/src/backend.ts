import type { DataArray, DType } from './dtype.js';

/**
 * An opaque handle to storage owned by a backend (a typed array, a region of wasm memory, a GPUBuffer).
 * Core never looks inside; it only passes handles back to the backend that made them.
 */
export type DataId = object;

/** What a kernel sees of a tensor: its storage handle, shape and dtype. Always row-major and contiguous. */
export interface TensorInfo {
  readonly data: DataId;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
}

export interface BackendMemory {
  /** Bytes of tensor storage currently allocated by the backend (live tensors, not pooled free space). */
  readonly bytes: number;
  /** Number of storage allocations currently live. */
  readonly buffers: number;
  /** Backend-specific extras (pool sizes, peak bytes, ...). */
  readonly [key: string]: number;
}

/**
 * The Backend interface: allocate, upload, read, free, run a kernel by op name, flush, memory stats.
 *
 * Outputs are allocated by core (through `allocate`) from each op's shape inference and passed to
 * `runKernel`, so a kernel only computes. The attrs a kernel receives are the op's canonical kernel
 * attrs (documented per op in docs/kernels.md): broadcasting plans, reduction views and convolution
 * geometry are computed once, in core.
 */
export interface Backend {
  readonly name: string;
  /**
   * The element types this backend stores; absent means `['f32', 'i32']`. Core refuses, with a
   * DescentError naming the op and backend, to make a tensor of any other dtype on it.
   */
  readonly dtypes?: readonly DType[];
  /** Allocates storage for `size` elements of `dtype`; fills it with `values` when given. */
  allocate(size: number, dtype: DType, values?: ArrayLike<number>): DataId;
  /** Reads a tensor's elements back to the host. */
  read(data: DataId, dtype: DType, size: number): Promise<DataArray>;
  /** Synchronous read, where the backend can (absent on WebGPU). */
  readSync?(data: DataId, dtype: DType, size: number): DataArray;
  /** Releases storage. Called exactly once per handle (never for a handle made by `view`). */
  free(data: DataId): void;
  /**
   * Optional: a handle to elements [offset, offset + size) of `data`, sharing its memory, that
   * kernels accept like any other handle (multi-tensor apply keeps many parameters in one buffer
   * this way). Core keeps `data` alive while the view lives and never frees the view itself.
   */
  view?(data: DataId, offset: number, size: number): DataId;
  /** True when this backend has a kernel for op `name`. */
  hasKernel(name: string): boolean;
  /** The op names it has kernels for. */
  kernelNames(): readonly string[];
  /** Runs the kernel for op `name`, writing into the pre-allocated `outputs`. */
  runKernel(
    name: string,
    inputs: readonly TensorInfo[],
    outputs: readonly TensorInfo[],
    attrs: unknown,
  ): void;
  /** Submits queued work (a no-op on synchronous backends). */
  flush?(): void | Promise<void>;
  memory(): BackendMemory;
  /** Releases everything the backend holds (device, workers). The backend is unusable afterwards. */
  dispose?(): void;
  /** A short description for reports: CPU/adapter info, threads, features. */
  info?(): Record<string, unknown>;
}

export type BackendFactory = () => Backend | Promise<Backend>;
