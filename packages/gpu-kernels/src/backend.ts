import {
  type Backend,
  type BackendMemory,
  bytesPerElement,
  type DataArray,
  type DataId,
  DescentError,
  type DType,
  f16Bits,
  f16FromBits,
  hasKernelIn,
  kernelFor,
  type TensorInfo,
} from '@descent/core';
import { type AcquiredDevice, acquireDevice, type DeviceInfo, type DeviceOptions } from './device.js';
import { BufferPool, sizeClass } from './webgpu/buffer-pool.js';
import type { DispatchSpec, KernelContext } from './webgpu/kernel.js';
import { GPU_KERNELS } from './webgpu/kernels/index.js';
import { SPLITTING_OPS } from './webgpu/kernels/splitting.js';
import type { SplitLimits } from './webgpu/split.js';
import { PARAM_WORDS } from './webgpu/wgsl.js';

export interface WebGPUBackendOptions extends DeviceOptions {
  /** Name the backend reports (default 'webgpu'). */
  name?: string;
  /** Run on an already acquired device instead of acquiring one. */
  device?: AcquiredDevice;
  /**
   * Lower limits the kernels plan with (never above the device's). For tests: an artificially small
   * `maxStorageBufferBindingSize` exercises the large-tensor path without allocating gigabytes.
   */
  limitOverrides?: Partial<Record<string, number>>;
  /** Bytes of freed buffers kept for reuse (default 512 MiB). */
  maxPooledBytes?: number;
  /** Submit the open command encoder after this many dispatches (default 1024). */
  maxDispatchesPerSubmit?: number;
}

/**
 * The device behind a WebGPU backend was lost (driver reset, `device.destroy()`, the browser taking the
 * GPU away). Every call on that backend throws this from then on; its tensors are gone. Recover by
 * creating a new backend (or moving to another one) and re-uploading state the program holds on the
 * host — see the README ("Device loss").
 */
export class WebGPUDeviceLostError extends DescentError {
  /** `'destroyed'` (the device was destroyed on purpose) or `'unknown'`. */
  readonly reason: string;
  constructor(
    what: string,
    readonly backendName: string,
    info: { reason: string; message: string },
  ) {
    super(
      what,
      `the WebGPU device of backend '${backendName}' was lost (${info.reason}): ${info.message || 'no message'}; ` +
        'its tensors are gone: create a new backend (or switch to another one) and upload the state you hold',
    );
    this.name = 'WebGPUDeviceLostError';
    this.reason = info.reason;
  }
}

/** `[2, 3] f32, [3] i32`: how scope errors name a kernel's tensors. */
function describeTensors(ts: readonly TensorInfo[]): string {
  return ts.map((t) => `[${t.shape.join(', ')}] ${t.dtype}`).join(', ');
}

/**
 * Storage of one tensor: a pooled buffer (its size class) holding `size` elements — or, for a
 * sub-view (`base` set), `size` elements at element `offset` of its base's buffer, never freed itself.
 */
class GPUStorage {
  constructor(
    public buffer: GPUBuffer | null,
    readonly size: number,
    readonly dtype: DType,
    readonly offset = 0,
    readonly base?: GPUStorage,
  ) {}
  /** The buffer, or null once it (or a view's base) was freed. */
  get live(): GPUBuffer | null {
    return this.base && !this.base.buffer ? null : this.buffer;
  }
}

/** Bytes of `size` elements of `dtype`, rounded up to whole 4-byte words (bindings and copies need them). */
function storageBytes(size: number, dtype: DType): number {
  return Math.ceil((size * bytesPerElement(dtype)) / 4) * 4;
}

const STORAGE_USAGE = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST
const STAGING_USAGE = 0x01 | 0x08; // MAP_READ | COPY_DST
const UNIFORM_USAGE = 0x40 | 0x08; // UNIFORM | COPY_DST
const MAP_READ = 0x1;

/**
 * Per-dispatch parameter blocks, packed into 64 KiB uniform buffers. The CPU copies are written
 * with one `writeBuffer` per chunk right before the encoder is submitted (queue order makes reuse of
 * the chunks by the next batch safe).
 */
class UniformArena {
  private readonly chunks: { buffer: GPUBuffer; shadow: Uint32Array }[] = [];
  private chunk = 0;
  private offset = 0;
  static readonly CHUNK = 65536;

  constructor(
    private readonly device: GPUDevice,
    private readonly align: number,
  ) {}

  push(words: Uint32Array): { buffer: GPUBuffer; offset: number; size: number } {
    const size = PARAM_WORDS * 4;
    if (this.offset + size > UniformArena.CHUNK) {
      this.chunk++;
      this.offset = 0;
    }
    if (this.chunk === this.chunks.length) {
      this.chunks.push({
        buffer: this.device.createBuffer({ size: UniformArena.CHUNK, usage: UNIFORM_USAGE, label: 'params' }),
        shadow: new Uint32Array(UniformArena.CHUNK / 4),
      });
    }
    const c = this.chunks[this.chunk];
    const offset = this.offset;
    c.shadow.set(words, offset / 4);
    this.offset = Math.ceil((offset + size) / this.align) * this.align;
    return { buffer: c.buffer, offset, size };
  }

  /** Uploads every chunk used since the last upload and starts over. */
  upload(queue: GPUQueue): void {
    for (let i = 0; i <= this.chunk && i < this.chunks.length; i++) {
      const used = i < this.chunk ? UniformArena.CHUNK : this.offset;
      if (used > 0) queue.writeBuffer(this.chunks[i].buffer, 0, this.chunks[i].shadow, 0, used / 4);
    }
    this.chunk = 0;
    this.offset = 0;
  }

  get bytes(): number {
    return this.chunks.length * UniformArena.CHUNK;
  }

  destroy(): void {
    for (const c of this.chunks) c.buffer.destroy();
  }
}

/** What a dispatch belongs to, for error messages: the op and its tensors. */
interface OpLabel {
  op: string;
  inputs: readonly TensorInfo[];
  outputs: readonly TensorInfo[];
}

function describeOp(l: OpLabel): string {
  return `op '${l.op}' (inputs ${describeTensors(l.inputs)} → outputs ${describeTensors(l.outputs)})`;
}

/**
 * A cached compute pipeline. `createComputePipelineAsync` fills `pipeline` when it resolves; a failed
 * creation sets `failed`, records the error (naming the op that first asked for it) and leaves the
 * cache, so a later use tries again. `settled` never rejects.
 */
interface PipelineEntry {
  pipeline: GPUComputePipeline | null;
  settled: Promise<void>;
  done: boolean;
  failed: boolean;
}

/**
 * One recorded command of the open batch. Commands are encoded (in order, into one command encoder)
 * only when the batch is submitted, because a dispatch may be recorded before its pipeline exists.
 */
type BatchCommand =
  | {
      kind: 'dispatch';
      entry: PipelineEntry;
      bindGroup: GPUBindGroup;
      workgroups: readonly [number, number, number];
    }
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; bytes: number };

/** Timestamp pairs (one compute pass each) per query set of a `timeGPU` measurement. */
const PASSES_PER_QUERY_SET = 128;
const QUERY_RESOLVE_USAGE = 0x200 | 0x04; // QUERY_RESOLVE | COPY_SRC

/** The GPU time of the work submitted while `fn` ran (see `WebGPUBackend.timeGPU`). */
export interface GPUTiming<T> {
  result: T;
  /** Σ over the timed compute passes of (end − begin) timestamp, in ms. */
  gpuMs: number;
  /** Compute passes timed (a batch is one pass, split where a read copies a buffer out). */
  passes: number;
}

/**
 * The WebGPU backend. It owns a device, a buffer pool, a pipeline cache and one open batch of
 * commands that collects every dispatch until a `read()` or `flush()` (or `maxDispatchesPerSubmit`)
 * submits it as one command buffer.
 *
 * Pipelines are created with `createComputePipelineAsync` and cached by kernel + specialization
 * (shapes and attrs are uniforms, so one pipeline serves every shape). `runKernel` stays synchronous:
 * a dispatch whose pipeline is still compiling is recorded with its bind group and uniforms, and the
 * batch is encoded and submitted once every pipeline it uses has resolved — `read()` and `flush()`
 * are async and wait for that; the `maxDispatchesPerSubmit` submit happens at the first `runKernel`
 * after the compiles finished. `ready()` waits for every compile started so far (a warm-up).
 *
 * Errors: each `runKernel` runs inside validation and out-of-memory error scopes; WebGPU reports
 * them asynchronously, so the first error (a failed pipeline creation included) is rethrown, naming
 * the op, by the next `read()` or `flush()`. Errors that can be seen up front (a binding over the
 * device's limit) throw at once. A lost device makes every later call throw an error that says so.
 */
export class WebGPUBackend implements Backend {
  readonly name: string;
  /** f32 and i32; f16 too when the device has `shader-f16` (f16 tensors hold 2-byte elements). */
  readonly dtypes: readonly DType[];
  readonly device: GPUDevice;
  readonly deviceInfo: DeviceInfo;
  readonly limits: Readonly<Record<string, number>>;
  /** The largest storage binding and the binding offset alignment, in elements (see split.ts). */
  readonly splitLimits: SplitLimits;

  private readonly pool: BufferPool;
  private readonly staging: BufferPool;
  private readonly uniforms: UniformArena;
  private readonly pipelines = new Map<string, PipelineEntry>();
  /** Pipelines whose creation has not settled yet (for `ready()`). */
  private readonly compiling = new Set<PipelineEntry>();
  private readonly layouts = new Map<string, { bgl: GPUBindGroupLayout; pl: GPUPipelineLayout }>();
  /** The open batch: commands recorded since the last submit, encoded when it is submitted. */
  private batch: BatchCommand[] = [];
  /** Pipelines of the open batch that were still compiling when recorded. */
  private readonly batchWaits = new Set<PipelineEntry>();
  private dispatches = 0;
  private batchOps: string[] = [];
  private readonly maxDispatches: number;
  private liveElementBytes = 0;
  private liveTensors = 0;
  private peakBytes = 0;
  /** Batches submitted so far; the open batch is number `submits`. */
  private submits = 0;
  private totalDispatches = 0;
  private totalCopies = 0;
  private readonly scopes = new Set<Promise<void>>();
  private firstError: Error | null = null;
  private lostInfo: GPUDeviceLostInfo | null = null;
  private disposed = false;
  /** Query sets of `timeGPU` (kept for the next measurement), and the measurement running now. */
  private readonly querySets: GPUQuerySet[] = [];
  private timedPasses: number | null = null;
  /** Resolves when the device is lost (after which every call throws `WebGPUDeviceLostError`). */
  readonly lost: Promise<WebGPUDeviceLostError>;

  constructor(acquired: AcquiredDevice, opts: WebGPUBackendOptions = {}) {
    this.name = opts.name ?? 'webgpu';
    this.device = acquired.device;
    this.deviceInfo = acquired.info;
    this.dtypes = this.device.features.has('shader-f16') ? ['f32', 'i32', 'f16'] : ['f32', 'i32'];
    const limits = { ...acquired.info.limits };
    for (const [k, v] of Object.entries(opts.limitOverrides ?? {}))
      if (typeof v === 'number') limits[k] = Math.min(v, limits[k] ?? v);
    this.limits = limits;
    const alignElements = Math.max(1, (limits.minStorageBufferOffsetAlignment || 256) / 4);
    const maxElements = Math.floor(limits.maxStorageBufferBindingSize / 4);
    if (maxElements < 4 * alignElements)
      throw new RangeError(
        `webgpu: maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize} is too small for ` +
          `minStorageBufferOffsetAlignment ${limits.minStorageBufferOffsetAlignment} (need 4 alignments)`,
      );
    this.splitLimits = { maxElements, alignElements };
    this.maxDispatches = opts.maxDispatchesPerSubmit ?? 1024;
    this.pool = new BufferPool(this.device, STORAGE_USAGE, 'tensor', opts.maxPooledBytes);
    this.staging = new BufferPool(this.device, STAGING_USAGE, 'staging', 64 * 2 ** 20);
    this.uniforms = new UniformArena(
      this.device,
      Math.max(16, limits.minUniformBufferOffsetAlignment || 256),
    );
    this.lost = this.device.lost.then((info) => {
      this.lostInfo = info;
      return new WebGPUDeviceLostError('webgpu', this.name, info);
    });
    this.device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.recordError(`WebGPU error outside any kernel: ${err.message}`);
    });
  }

  // ------------------------------------------------------------------------------ storage

  allocate(size: number, dtype: DType, values?: ArrayLike<number>): DataId {
    this.checkUsable('allocate');
    if (!this.dtypes.includes(dtype))
      throw new Error(`webgpu allocate: this device has no ${dtype} storage (it lacks shader-f16)`);
    const bytes = Math.max(storageBytes(size, dtype), 4);
    if (bytes > this.limits.maxBufferSize)
      throw new Error(
        `webgpu allocate: ${size} ${dtype} elements need ${bytes} bytes, over this device's maxBufferSize ` +
          `(${this.limits.maxBufferSize} bytes)`,
      );
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let buffer: GPUBuffer;
    try {
      buffer = this.pool.acquire(bytes, values !== undefined);
    } finally {
      this.popScopes(`allocate(${size} ${dtype} elements, ${bytes} bytes)`);
    }
    if (values) {
      if (values.length < size)
        throw new RangeError(`webgpu allocate: ${values.length} values given for ${size} elements`);
      const src =
        dtype === 'f16'
          ? f16Upload(values, size)
          : dtype === 'i32'
            ? values instanceof Int32Array
              ? values
              : Int32Array.from(values as ArrayLike<number>)
            : values instanceof Float32Array
              ? values
              : Float32Array.from(values as ArrayLike<number>);
      if (size > 0)
        this.device.queue.writeBuffer(buffer, 0, src.buffer, src.byteOffset, storageBytes(size, dtype));
    }
    this.liveElementBytes += size * bytesPerElement(dtype);
    this.liveTensors++;
    this.peakBytes = Math.max(this.peakBytes, this.liveElementBytes);
    return new GPUStorage(buffer, size, dtype);
  }

  free(data: DataId): void {
    const s = data as GPUStorage;
    if (s.base) throw new Error('webgpu free: a view is not freed (its base storage is)');
    if (!s.buffer) return;
    this.liveElementBytes -= s.size * bytesPerElement(s.dtype);
    this.liveTensors--;
    if (this.lostInfo || this.disposed) {
      s.buffer = null;
      return;
    }
    // Recorded, unsubmitted commands may still use it: then it must not take an upload yet.
    this.pool.release(s.buffer, this.batch.length > 0);
    s.buffer = null;
  }

  /**
   * Elements [offset, offset + size) of `data`, sharing its buffer (multi-tensor optimizer buffers).
   * The offset must be a multiple of the binding-offset alignment (minStorageBufferOffsetAlignment).
   */
  view(data: DataId, offset: number, size: number): DataId {
    const s = data as GPUStorage;
    if (!s.live) throw new Error('webgpu view: the tensor was already freed');
    const align = (this.splitLimits.alignElements * 4) / bytesPerElement(s.dtype);
    if (offset % align !== 0)
      throw new Error(
        `webgpu view: offset ${offset} is not a multiple of ${align} elements (${s.dtype}; the device's minStorageBufferOffsetAlignment)`,
      );
    if (!(offset >= 0 && offset + size <= s.size))
      throw new RangeError(`webgpu view: [${offset}, ${offset + size}) is outside ${s.size} elements`);
    return new GPUStorage(s.live, size, s.dtype, s.offset + offset, s.base ?? s);
  }

  /**
   * Reads a tensor back. The copy is recorded in the open batch at once (so freeing the tensor right
   * after calling `read` is safe), then the batch is submitted — after the pipelines it uses have
   * compiled — and the staging buffer mapped.
   */
  async read(data: DataId, dtype: DType, size: number): Promise<DataArray> {
    this.checkUsable('read');
    const s = data as GPUStorage;
    const out = dtype === 'i32' ? new Int32Array(size) : new Float32Array(size);
    if (!s.live) throw new Error('webgpu read: the tensor was already freed');
    if (size === 0) {
      await this.flush();
      return out;
    }
    const bytes = storageBytes(size, dtype);
    const staging = this.staging.acquire(bytes, true);
    const srcOffset = s.offset * bytesPerElement(dtype);
    this.batch.push({ kind: 'copy', src: s.live, srcOffset, dst: staging, dstOffset: 0, bytes });
    try {
      await this.submitThrough(this.submits, 'read');
    } catch (e) {
      this.staging.release(staging, false);
      throw e;
    }
    try {
      await staging.mapAsync(MAP_READ, 0, bytes);
    } catch (e) {
      this.staging.release(staging, false);
      this.checkUsable('read');
      await this.throwPendingErrors();
      throw new Error(`webgpu read: mapping the staging buffer failed: ${(e as Error).message}`);
    }
    const mapped = staging.getMappedRange(0, bytes);
    if (dtype === 'f16') {
      const bits = new Uint16Array(mapped, 0, size);
      for (let i = 0; i < size; i++) out[i] = f16FromBits(bits[i]);
    } else new Uint8Array(out.buffer).set(new Uint8Array(mapped));
    staging.unmap();
    this.staging.release(staging, false);
    await this.throwPendingErrors();
    return out;
  }

  /**
   * Submits the recorded dispatches — once the pipelines they use have compiled, so it waits for any
   * `createComputePipelineAsync` still running for them — and rejects with the first WebGPU error of
   * the work so far (pipeline-creation errors included). Without an `await` it still submits as soon
   * as the compiles finish, but an error would then reject a promise nobody handles: await it.
   */
  async flush(): Promise<void> {
    this.checkUsable('flush');
    await this.submitThrough(this.submits, 'flush');
    await this.throwPendingErrors();
  }

  /**
   * Resolves when every pipeline creation started so far has finished, and rejects with the first
   * error so far (as `flush()`), without submitting anything. A warm-up: record the ops a program
   * will run (e.g. one training step), `await backend.ready()`, and later runs find every pipeline
   * compiled.
   */
  async ready(): Promise<void> {
    this.checkUsable('ready');
    const waiting = [...this.compiling].map((e) => e.settled);
    if (waiting.length) await Promise.race([Promise.all(waiting), this.lost]);
    this.checkUsable('ready');
    await this.throwPendingErrors();
  }

  /** True when the device has `timestamp-query`, so `timeGPU` can measure. */
  get canTimeGPU(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /**
   * Runs `fn` and measures the GPU time of the work it submits: every compute pass submitted while
   * `fn` runs (and the final flush) writes a timestamp at its start and end into a query set, and
   * `gpuMs` is the sum of (end − begin) over those passes. Work recorded before the call is flushed
   * first and not counted; copies (reads) and the gaps between passes and submits are not counted.
   * Timestamps are as the implementation gives them (Dawn and Chromium quantize them, by default
   * to 2¹⁶ ns and 100 µs). Calls do not nest. Throws when the device has no `timestamp-query`.
   */
  async timeGPU<T>(fn: () => T | Promise<T>): Promise<GPUTiming<T>> {
    this.checkUsable('timeGPU');
    if (!this.canTimeGPU)
      throw new DescentError(
        'webgpu timeGPU',
        `no timestamp-query on this adapter (features: ${[...this.device.features].sort().join(', ')})`,
      );
    if (this.timedPasses !== null) throw new Error('webgpu timeGPU: a measurement is already running');
    await this.flush();
    this.timedPasses = 0;
    let result: T;
    let passes: number;
    try {
      result = await fn();
      await this.flush();
    } finally {
      passes = this.timedPasses;
      this.timedPasses = null;
    }
    return { result, gpuMs: await this.readTimestamps(passes), passes };
  }

  /** The query-set slot of the next timed compute pass, or undefined when nothing is timed. */
  private timestampWrites(): GPUComputePassTimestampWrites | undefined {
    if (this.timedPasses === null) return undefined;
    const pass = this.timedPasses++;
    const set = Math.floor(pass / PASSES_PER_QUERY_SET);
    while (this.querySets.length <= set)
      this.querySets.push(
        this.device.createQuerySet({ type: 'timestamp', count: 2 * PASSES_PER_QUERY_SET, label: 'timeGPU' }),
      );
    const slot = pass % PASSES_PER_QUERY_SET;
    return {
      querySet: this.querySets[set],
      beginningOfPassWriteIndex: 2 * slot,
      endOfPassWriteIndex: 2 * slot + 1,
    };
  }

  /** Resolves the first `passes` timestamp pairs and sums end − begin (ns → ms). */
  private async readTimestamps(passes: number): Promise<number> {
    if (passes === 0) return 0;
    const sets = Math.ceil(passes / PASSES_PER_QUERY_SET);
    const setBytes = 2 * PASSES_PER_QUERY_SET * 8; // a multiple of resolveQuerySet's 256-byte alignment
    const bytes = sets * setBytes;
    const resolve = this.device.createBuffer({
      size: bytes,
      usage: QUERY_RESOLVE_USAGE,
      label: 'timestamps',
    });
    const staging = this.staging.acquire(bytes, true);
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    try {
      const enc = this.device.createCommandEncoder({ label: 'timeGPU resolve' });
      for (let k = 0; k < sets; k++) {
        const n = Math.min(PASSES_PER_QUERY_SET, passes - k * PASSES_PER_QUERY_SET);
        enc.resolveQuerySet(this.querySets[k], 0, 2 * n, resolve, k * setBytes);
      }
      enc.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
      this.device.queue.submit([enc.finish()]);
    } finally {
      this.popScopes(`timeGPU (resolving ${passes} timestamp pairs)`);
    }
    try {
      await staging.mapAsync(MAP_READ, 0, bytes);
      const t = new BigUint64Array(staging.getMappedRange(0, bytes));
      let ns = 0;
      for (let p = 0; p < passes; p++) {
        const base = Math.floor(p / PASSES_PER_QUERY_SET) * 2 * PASSES_PER_QUERY_SET;
        const slot = p % PASSES_PER_QUERY_SET;
        const begin = t[base + 2 * slot];
        const end = t[base + 2 * slot + 1];
        // A pass shorter than the timestamp quantum may read end == begin; never negative.
        if (end > begin) ns += Number(end - begin);
      }
      staging.unmap();
      return ns / 1e6;
    } finally {
      this.staging.release(staging, false);
      resolve.destroy();
      this.checkUsable('timeGPU');
      await this.throwPendingErrors();
    }
  }

  // ------------------------------------------------------------------------------ kernels

  hasKernel(name: string): boolean {
    return hasKernelIn(GPU_KERNELS, name);
  }

  kernelNames(): readonly string[] {
    return Object.keys(GPU_KERNELS);
  }

  runKernel(
    name: string,
    inputs: readonly TensorInfo[],
    outputs: readonly TensorInfo[],
    attrs: unknown,
  ): void {
    this.checkUsable(name);
    const kernel = kernelFor(GPU_KERNELS, name, this.name);
    const label: OpLabel = { op: name, inputs, outputs };
    const ctx: KernelContext = {
      op: name,
      limits: this.limits,
      // Windows of f16 tensors start at multiples of the binding alignment in bytes: twice as many
      // 2-byte elements, so kernels touching f16 plan with the doubled element alignment.
      split: [...inputs, ...outputs].some((t) => t.dtype === 'f16')
        ? { ...this.splitLimits, alignElements: this.splitLimits.alignElements * 2 }
        : this.splitLimits,
      dispatch: (spec) => this.dispatch(label, spec),
      copy: (src, dst, dstElement) => this.copyInto(name, src, dst, dstElement),
      scratch: (size, dtype) => {
        const data = this.allocate(size, dtype);
        scratch.push(data);
        return { data, shape: [size], dtype, size };
      },
    };
    const scratch: DataId[] = [];
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    try {
      kernel(ctx, inputs, outputs, attrs);
    } finally {
      for (const d of scratch) this.free(d);
      this.popScopes(describeOp(label));
    }
    this.batchOps.push(name);
    if (this.dispatches >= this.maxDispatches) this.submitIfCompiled();
  }

  private dispatch(label: OpLabel, spec: DispatchSpec): void {
    const op = label.op;
    const { maxElements, alignElements } = this.splitLimits;
    const bindings = [...spec.inputs, ...spec.outputs];
    const windows = bindings.map((t, i) => spec.windows?.[i] ?? { offset: 0, size: t.size });
    windows.forEach((w, i) => {
      const t = bindings[i];
      // f16 windows: planned with twice the element alignment (runKernel), so byte offsets align.
      const align = t.dtype === 'f16' ? 2 * alignElements : alignElements;
      if (w.size > maxElements)
        throw new DescentError(
          `webgpu ${op}`,
          `a ${t.dtype} tensor [${t.shape.join(', ')}] needs a ${w.size * 4}-byte storage binding, over this ` +
            `device's maxStorageBufferBindingSize (${maxElements * 4} bytes), and '${op}' does not split ` +
            `large tensors (the ops that do: ${SPLITTING_OPS.join(', ')})`,
        );
      if (w.offset % align !== 0 || w.offset < 0 || w.offset + w.size > Math.max(t.size, 1))
        throw new Error(
          `webgpu ${op}: binding window ${JSON.stringify(w)} of a ${t.size}-element tensor is invalid`,
        );
    });
    const [x, y, z] = spec.workgroups;
    const maxDim = this.limits.maxComputeWorkgroupsPerDimension || 65535;
    if (x > maxDim || y > maxDim || z > maxDim)
      throw new Error(`webgpu ${op}: dispatch [${x}, ${y}, ${z}] is over ${maxDim} workgroups per dimension`);
    const { pl, bgl } = this.layout(spec.inputs.length, spec.outputs.length);
    const entry = this.pipeline(spec.key, spec.wgsl, pl, label);
    const u = this.uniforms.push(spec.params.toArray());
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: u.buffer, offset: u.offset, size: u.size } },
    ];
    bindings.forEach((t, i) => {
      const s = t.data as GPUStorage;
      const buffer = s.live;
      if (!buffer) throw new Error(`webgpu ${op}: binding ${i} refers to a freed tensor`);
      const w = windows[i];
      entries.push({
        binding: i + 1,
        resource: {
          buffer,
          offset: (s.offset + w.offset) * bytesPerElement(t.dtype),
          size: Math.max(storageBytes(w.size, t.dtype), 4),
        },
      });
    });
    // The bind group is made now (its validation errors name this op); the pipeline may come later.
    const bindGroup = this.device.createBindGroup({ layout: bgl, entries, label: spec.key });
    if (x > 0 && y > 0 && z > 0) {
      this.batch.push({ kind: 'dispatch', entry, bindGroup, workgroups: [x, y, z] });
      if (!entry.done) this.batchWaits.add(entry);
    }
    this.dispatches++;
    this.totalDispatches++;
  }

  /** Records a copy of all of `src` into `dst` at element `dstElement` (see `KernelContext.copy`). */
  private copyInto(op: string, src: TensorInfo, dst: TensorInfo, dstElement: number): void {
    const a = src.data as GPUStorage;
    const b = dst.data as GPUStorage;
    if (!a.live || !b.live) throw new Error(`webgpu ${op}: a copy refers to a freed tensor`);
    if (bytesPerElement(src.dtype) !== 4 || src.dtype !== dst.dtype)
      throw new Error(`webgpu ${op}: copies move 4-byte elements, got ${src.dtype} → ${dst.dtype}`);
    if (a.live === b.live) throw new Error(`webgpu ${op}: a copy's source and destination share a buffer`);
    if (dstElement < 0 || dstElement + src.size > dst.size)
      throw new Error(
        `webgpu ${op}: copying ${src.size} elements to element ${dstElement} overruns a ${dst.size}-element tensor`,
      );
    if (src.size === 0) return;
    this.batch.push({
      kind: 'copy',
      src: a.live,
      srcOffset: a.offset * 4,
      dst: b.live,
      dstOffset: (b.offset + dstElement) * 4,
      bytes: src.size * 4,
    });
    this.dispatches++;
    this.totalCopies++;
  }

  private layout(nIn: number, nOut: number): { bgl: GPUBindGroupLayout; pl: GPUPipelineLayout } {
    const key = `${nIn}:${nOut}`;
    let l = this.layouts.get(key);
    if (!l) {
      const COMPUTE = 0x4;
      const entries: GPUBindGroupLayoutEntry[] = [
        { binding: 0, visibility: COMPUTE, buffer: { type: 'uniform' } },
      ];
      for (let i = 0; i < nIn; i++)
        entries.push({ binding: 1 + i, visibility: COMPUTE, buffer: { type: 'read-only-storage' } });
      for (let i = 0; i < nOut; i++)
        entries.push({ binding: 1 + nIn + i, visibility: COMPUTE, buffer: { type: 'storage' } });
      const bgl = this.device.createBindGroupLayout({ entries, label: `layout ${key}` });
      l = { bgl, pl: this.device.createPipelineLayout({ bindGroupLayouts: [bgl] }) };
      this.layouts.set(key, l);
    }
    return l;
  }

  /**
   * The cached pipeline for `key`, or a new entry whose `createComputePipelineAsync` is under way.
   * The shader module is made synchronously, inside the op's error scopes, so a WGSL error names the
   * op; a rejected pipeline creation (GPUPipelineError) is recorded naming the op that asked first.
   */
  private pipeline(
    key: string,
    wgsl: () => string,
    layout: GPUPipelineLayout,
    label: OpLabel,
  ): PipelineEntry {
    const cached = this.pipelines.get(key);
    if (cached) return cached;
    const module = this.device.createShaderModule({ code: wgsl(), label: key });
    const entry: PipelineEntry = { pipeline: null, settled: Promise.resolve(), done: false, failed: false };
    entry.settled = this.device
      .createComputePipelineAsync({ layout, compute: { module, entryPoint: 'main' }, label: key })
      .then(
        (p) => {
          entry.pipeline = p;
        },
        (e: unknown) => {
          entry.failed = true;
          if (this.pipelines.get(key) === entry) this.pipelines.delete(key);
          const reason = (e as { reason?: string }).reason ?? 'pipeline';
          this.recordError(
            `WebGPU ${reason} error in ${describeOp(label)}: creating the compute pipeline '${key}' failed: ` +
              `${(e as Error).message}`,
          );
        },
      )
      .finally(() => {
        entry.done = true;
        this.compiling.delete(entry);
      });
    this.pipelines.set(key, entry);
    this.compiling.add(entry);
    return entry;
  }

  // ------------------------------------------------------------------------------ batch

  /** Pipelines of the open batch still compiling (forgetting those that finished). */
  private batchCompiling(): PipelineEntry[] {
    for (const e of this.batchWaits) if (e.done) this.batchWaits.delete(e);
    return [...this.batchWaits];
  }

  /** Submits the open batch if every pipeline it uses has compiled (else it keeps collecting). */
  private submitIfCompiled(): void {
    if (this.batch.length && this.batchCompiling().length === 0) this.submit();
  }

  /**
   * Waits until batch number `n` (the batch open when the caller recorded its last command) is
   * submitted: while pipelines of the open batch are compiling it waits for them (or for device loss),
   * then submits. Other callers may record commands or submit during the waits; submits keep the
   * recording order either way.
   */
  private async submitThrough(n: number, what: string): Promise<void> {
    while (this.submits <= n && this.batch.length) {
      const waiting = this.batchCompiling();
      if (waiting.length === 0) {
        this.submit();
        break;
      }
      await Promise.race([Promise.all(waiting.map((e) => e.settled)), this.lost]);
      this.checkUsable(what);
    }
  }

  /**
   * Encodes the open batch into one command encoder — dispatches into compute passes, a pass ended
   * where a copy comes — uploads its uniform blocks and submits it. Every pipeline it uses must have
   * settled; dispatches whose pipeline failed are left out (the error is already recorded).
   */
  private submit(): void {
    if (!this.batch.length) return;
    const ops = this.batchOps;
    const commands = this.batch;
    this.batch = [];
    this.batchWaits.clear();
    this.batchOps = [];
    this.dispatches = 0;
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    try {
      const encoder = this.device.createCommandEncoder({ label: 'descent batch' });
      let pass: GPUComputePassEncoder | null = null;
      let bound: GPUComputePipeline | null = null;
      for (const c of commands) {
        if (c.kind === 'copy') {
          pass?.end();
          pass = null;
          encoder.copyBufferToBuffer(c.src, c.srcOffset, c.dst, c.dstOffset, c.bytes);
          continue;
        }
        const p = c.entry.pipeline;
        if (!p) continue;
        if (!pass) {
          const timestampWrites = this.timestampWrites();
          pass = encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
          bound = null;
        }
        if (p !== bound) pass.setPipeline(p);
        bound = p;
        pass.setBindGroup(0, c.bindGroup);
        pass.dispatchWorkgroups(...c.workgroups);
      }
      pass?.end();
      this.uniforms.upload(this.device.queue);
      this.device.queue.submit([encoder.finish()]);
    } finally {
      this.popScopes(`the submit of ${ops.length} ops (${[...new Set(ops)].slice(0, 12).join(', ')})`);
      this.submits++;
      this.pool.onSubmit();
    }
  }

  // ------------------------------------------------------------------------------ errors

  private popScopes(what: string): void {
    const d = this.device;
    const p = Promise.all([d.popErrorScope(), d.popErrorScope()]).then(
      ([validation, oom]) => {
        if (validation) this.recordError(`WebGPU validation error in ${what}: ${validation.message}`);
        if (oom) this.recordError(`WebGPU out-of-memory error in ${what}: ${oom.message}`);
      },
      (e) => this.recordError(`WebGPU error scope failed in ${what}: ${(e as Error).message}`),
    );
    this.scopes.add(p);
    p.finally(() => this.scopes.delete(p));
  }

  private recordError(message: string): void {
    this.firstError ??= new Error(message);
  }

  private async throwPendingErrors(): Promise<void> {
    if (this.scopes.size) await Promise.all([...this.scopes]);
    const e = this.firstError;
    if (e) {
      this.firstError = null;
      throw e;
    }
  }

  private checkUsable(what: string): void {
    if (this.disposed) throw new Error(`webgpu ${what}: the backend was disposed`);
    if (this.lostInfo) throw new WebGPUDeviceLostError(`webgpu ${what}`, this.name, this.lostInfo);
  }

  // ------------------------------------------------------------------------------ stats

  memory(): BackendMemory {
    const p = this.pool.snapshot();
    const s = this.staging.snapshot();
    return {
      bytes: this.liveElementBytes,
      buffers: this.liveTensors,
      /** Bytes of the live tensors' buffers (size classes). */
      liveBufferBytes: p.liveBytes,
      pooledBytes: p.pooledBytes,
      pooledBuffers: p.pooledBuffers,
      buffersCreated: p.created,
      buffersReused: p.reused,
      stagingPooledBytes: s.pooledBytes,
      uniformBytes: this.uniforms.bytes,
      peakBytes: this.peakBytes,
      pipelines: this.pipelines.size,
      /** Pipelines whose createComputePipelineAsync has not resolved yet. */
      pipelinesCompiling: this.compiling.size,
      submits: this.submits,
      dispatches: this.totalDispatches,
      /** Buffer-to-buffer copies recorded by kernels (concat along the first axis). */
      copies: this.totalCopies,
    };
  }

  info(): Record<string, unknown> {
    return {
      backend: this.name,
      runtime: this.deviceInfo.runtime,
      adapter: this.deviceInfo.adapter,
      features: this.deviceInfo.features,
      dtypes: this.dtypes,
      adapterFeatures: this.deviceInfo.adapterFeatures,
      limits: this.limits,
      pipelineCreation: 'createComputePipelineAsync (cached per kernel + specialization)',
      timestampQuery: this.canTimeGPU,
      sizeClassExample: { 1000: sizeClass(1000), 3000000: sizeClass(3_000_000) },
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.batch = [];
    this.batchWaits.clear();
    this.pool.drain();
    this.staging.drain();
    this.uniforms.destroy();
    for (const q of this.querySets) q.destroy();
    this.device.destroy();
  }
}

/**
 * f16 upload data: each value rounded to f16 (ties to even) as its bits, padded to whole 4-byte
 * words (`writeBuffer` copies multiples of 4 bytes).
 */
function f16Upload(values: ArrayLike<number>, size: number): Uint16Array {
  const bits = new Uint16Array(size + (size % 2));
  for (let i = 0; i < size; i++) bits[i] = f16Bits(values[i]);
  return bits;
}

/** Acquires a device (see `acquireDevice`) and returns a backend on it. */
export async function createWebGPUBackend(opts: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
  const acquired = opts.device ?? (await acquireDevice(opts));
  return new WebGPUBackend(acquired, opts);
}
