/**
 * The WasmBackend: @descent/core's Backend on the AssemblyScript kernel module.
 *
 *   import { registerBackend, setBackend } from '@descent/core';
 *   import { createWasmBackend } from '@descent/wasm-kernels';
 *   registerBackend('wasm', () => createWasmBackend());
 *   await setBackend('wasm');
 *
 * Every tensor is a 64-byte aligned region of the module's linear memory, handed out by the JS-side
 * allocator (freed regions are reused; typed-array views are re-made after the memory grows). Kernels
 * (src/kernels/, one table by op name) run synchronously in the module — split across the worker pool
 * for the big ones when threads > 1, returning when all parts are done — so `readSync` is always
 * available and `flush` has nothing to do.
 */
import {
  type Backend,
  type BackendMemory,
  type DataArray,
  type DataId,
  DescentError,
  type DType,
  hasKernelIn,
  kernelFor,
  type TensorInfo,
} from '@descent/core';
import type { KernelVariant } from './feature-probe.js';
import { WASM_KERNELS } from './kernels/index.js';
import type { BackendExports, WasmKernelContext } from './kernels/types.js';
import { KernelModule, type KernelModuleOptions } from './module.js';

export interface WasmBackendOptions {
  /** Name the backend reports (default 'wasm'). */
  name?: string;
  /** Kernel build: 'auto' (default) picks relaxed SIMD where the engine has it, else plain SIMD. */
  variant?: KernelVariant | 'auto';
  /** Initial linear memory in bytes (default 16 MiB); it grows on demand. */
  initialBytes?: number;
  /** Cap on linear memory in bytes (default 4 GiB − 64 KiB, wasm32's limit). */
  maximumBytes?: number;
  /**
   * Threads (the caller included) for matmul, conv2d and its gradients and large elementwise maps: a
   * worker pool over a shared memory (see KernelModule). Default: the available cores where shared
   * memory exists (Node; cross-origin-isolated pages), else 1. Results are the same for any count.
   * `createWasmBackendSync` is always single-threaded.
   */
  threads?: number;
  /** The worker script for threads (default: threads/worker.js next to the module). */
  workerUrl?: URL | string;
}

/**
 * Storage of one tensor: `size` 4-byte elements at byte address `ptr`. A view (`base` set) is a window
 * of another storage's region: it owns no memory and is never freed itself.
 */
class WasmStorage {
  private released = false;
  constructor(
    readonly ptr: number,
    readonly size: number,
    readonly dtype: DType,
    readonly base?: WasmStorage,
  ) {}
  get freed(): boolean {
    return this.base ? this.base.freed : this.released;
  }
  release(): void {
    this.released = true;
  }
}

export class WasmBackend implements Backend {
  readonly name: string;
  readonly km: KernelModule;
  private readonly exports: BackendExports;
  private liveBytes = 0;
  private liveTensors = 0;
  private peakBytes = 0;
  private disposed = false;
  /** Scratch regions of the kernel call in progress (freed when it returns or throws). */
  private readonly scratch: number[] = [];
  private readonly ctx: WasmKernelContext;

  constructor(km: KernelModule, opts: WasmBackendOptions = {}) {
    this.name = opts.name ?? 'wasm';
    this.km = km;
    this.exports = km.exports as BackendExports;
    this.ctx = {
      km,
      exports: this.exports,
      ptr: (t) => this.ptrOf(t),
      scratch: (bytes) => {
        const p = this.alloc(bytes, () => `scratch for a kernel (${bytes} bytes)`);
        this.scratch.push(p);
        return p;
      },
    };
  }

  // ------------------------------------------------------------------------------ storage

  allocate(size: number, dtype: DType, values?: ArrayLike<number>): DataId {
    this.checkUsable('allocate');
    if (values && values.length !== size)
      throw new DescentError(
        'allocate',
        `backend '${this.name}': ${values.length} values given for ${size} ${dtype} elements`,
      );
    const bytes = size * 4;
    const ptr = this.alloc(bytes, () => `${size} ${dtype} elements (${bytes} bytes)`);
    if (values) {
      if (dtype === 'i32') this.km.writeI32(ptr, values);
      else this.km.writeF32(ptr, values);
    }
    this.liveBytes += bytes;
    this.liveTensors++;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    return new WasmStorage(ptr, size, dtype);
  }

  /** Allocates from the module's heap, turning exhaustion into an error that says what was asked for. */
  private alloc(bytes: number, what: () => string): number {
    try {
      return this.km.alloc(bytes);
    } catch (e) {
      const s = this.km.memoryStats();
      throw new DescentError(
        'allocate',
        `backend '${this.name}' is out of memory allocating ${what()}: ${(e as Error).message}. ` +
          `Live tensors: ${this.liveTensors} (${this.liveBytes} bytes); heap in use ${s.bytesInUse} bytes ` +
          `of ${s.memoryBytes} bytes of linear memory. Dispose tensors you no longer need (tidy / dispose), ` +
          `or create the backend with a larger maximumBytes.`,
      );
    }
  }

  async read(data: DataId, dtype: DType, size: number): Promise<DataArray> {
    return this.readSync(data, dtype, size);
  }

  readSync(data: DataId, dtype: DType, size: number): DataArray {
    this.checkUsable('read');
    const s = data as WasmStorage;
    if (s.freed) throw new Error(`backend '${this.name}' read: the tensor was already freed`);
    return dtype === 'i32' ? this.km.readI32(s.ptr, size) : this.km.readF32(s.ptr, size);
  }

  free(data: DataId): void {
    const s = data as WasmStorage;
    if (s.base) throw new Error(`backend '${this.name}' free: a view is not freed (its base storage is)`);
    if (s.freed) return;
    s.release();
    this.liveBytes -= s.size * 4;
    this.liveTensors--;
    if (!this.disposed) this.km.free(s.ptr);
  }

  /** Elements [offset, offset + size) of `data`, sharing its memory (4-byte aligned, which SIMD loads accept). */
  view(data: DataId, offset: number, size: number): DataId {
    const s = data as WasmStorage;
    if (s.freed) throw new Error(`backend '${this.name}' view: the tensor was already freed`);
    if (!(offset >= 0 && offset + size <= s.size))
      throw new RangeError(
        `backend '${this.name}' view: [${offset}, ${offset + size}) is outside ${s.size} elements`,
      );
    return new WasmStorage(s.ptr + 4 * offset, size, s.dtype, s.base ?? s);
  }

  private ptrOf(t: TensorInfo): number {
    const s = t.data as WasmStorage;
    if (!(s instanceof WasmStorage))
      throw new Error(`backend '${this.name}' got a tensor that does not live on it`);
    if (s.freed) throw new Error(`backend '${this.name}': a kernel input or output was already freed`);
    return s.ptr;
  }

  // ------------------------------------------------------------------------------ kernels

  hasKernel(name: string): boolean {
    return hasKernelIn(WASM_KERNELS, name);
  }

  kernelNames(): readonly string[] {
    return Object.keys(WASM_KERNELS);
  }

  runKernel(
    name: string,
    inputs: readonly TensorInfo[],
    outputs: readonly TensorInfo[],
    attrs: unknown,
  ): void {
    this.checkUsable(name);
    const kernel = kernelFor(WASM_KERNELS, name, this.name);
    try {
      kernel(this.ctx, inputs, outputs, attrs);
    } finally {
      // Scratch is released whatever happened; the allocator's bookkeeping lives in JS, so a kernel
      // that trapped half-way leaves it consistent (core disposes the half-written outputs).
      while (this.scratch.length) this.km.free(this.scratch.pop()!);
    }
  }

  flush(): void {}

  memory(): BackendMemory {
    const s = this.km.memoryStats();
    return {
      bytes: this.liveBytes,
      buffers: this.liveTensors,
      peakBytes: this.peakBytes,
      // everything the allocator has handed out: tensors (rounded up to 64 bytes) + kernel workspace
      heapBytesInUse: s.bytesInUse,
      heapPeakBytes: s.peakBytesInUse,
      workspaceBytes: s.workspaceBytes,
      freeBytes: s.freeBytes,
      memoryBytes: s.memoryBytes,
      grows: s.grows,
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.km.releaseWorkspace();
    this.km.dispose(); // stops the worker pool, if any
  }

  info(): Record<string, unknown> {
    return {
      backend: this.name,
      variant: this.km.variant,
      relaxedSimd: this.km.variant === 'relaxed',
      threads: this.km.threads,
      memoryBytes: this.km.memory.buffer.byteLength,
    };
  }

  private checkUsable(what: string): void {
    if (this.disposed) throw new Error(`backend '${this.name}' ${what}: the backend was disposed`);
  }
}

const DEFAULT_INITIAL_BYTES = 16 << 20;

function moduleOptions(opts: WasmBackendOptions): KernelModuleOptions {
  const o: KernelModuleOptions = { variant: opts.variant ?? 'auto' };
  if (opts.maximumBytes !== undefined) o.maximumBytes = opts.maximumBytes;
  if (opts.threads !== undefined) o.threads = opts.threads;
  if (opts.workerUrl !== undefined) o.workerUrl = opts.workerUrl;
  // a cap below the default initial size lowers the initial size instead of failing to create the memory
  const initial = opts.initialBytes ?? Math.min(DEFAULT_INITIAL_BYTES, opts.maximumBytes ?? Infinity);
  if (initial !== DEFAULT_INITIAL_BYTES) o.initialBytes = initial;
  return o;
}

/**
 * Compiles (once per build, cached) and instantiates the kernel module, starting its worker pool when
 * threads > 1: works on a browser's main thread.
 */
export async function createWasmBackend(opts: WasmBackendOptions = {}): Promise<WasmBackend> {
  return new WasmBackend(await KernelModule.create(moduleOptions(opts)), opts);
}

/** Synchronous variant for Node and workers (browsers refuse big synchronous compiles on the main thread). */
export function createWasmBackendSync(opts: WasmBackendOptions = {}): WasmBackend {
  return new WasmBackend(KernelModule.createSync(moduleOptions(opts)), opts);
}
