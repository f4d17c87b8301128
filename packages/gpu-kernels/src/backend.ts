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

/**
 * The WebGPU backend. It owns a device, a buffer pool, a pipeline cache and one command encoder that
 * collects every dispatch until a `read()` or `flush()` (or `maxDispatchesPerSubmit`) submits it.
 *
 * Pipelines are created with the synchronous `createComputePipeline` on first use and cached by
 * kernel + specialization (`runKernel` is synchronous, so it cannot await
 * `createComputePipelineAsync`; Dawn compiles on its own threads either way). Shapes and attrs are
 * passed as uniforms, so one pipeline serves every shape.
 *
 * Errors: each `runKernel` runs inside validation and out-of-memory error scopes; WebGPU reports
 * them asynchronously, so the first error is rethrown, naming the op, by the next `read()` or
 * `flush()`. Errors that can be seen up front (a binding over the device's limit) throw at once.
 * A lost device makes every later call throw an error that says so.
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
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, { bgl: GPUBindGroupLayout; pl: GPUPipelineLayout }>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatches = 0;
  private batchOps: string[] = [];
  private readonly maxDispatches: number;
  private liveElementBytes = 0;
  private liveTensors = 0;
  private peakBytes = 0;
  private submits = 0;
  private totalDispatches = 0;
  private readonly scopes = new Set<Promise<void>>();
  private firstError: Error | null = null;
  private lostInfo: GPUDeviceLostInfo | null = null;
  private disposed = false;
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
    this.pool.release(s.buffer, this.encoder !== null);
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
    this.endPass();
    this.openEncoder().copyBufferToBuffer(s.live!, s.offset * bytesPerElement(dtype), staging, 0, bytes);
    this.submit();
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

  /** Submits the recorded dispatches; rejects with the first WebGPU error of the work so far. */
  async flush(): Promise<void> {
    this.checkUsable('flush');
    this.submit();
    await this.throwPendingErrors();
  }

  // ------------------------------------------------------------------------------ kernels

  hasKernel(name: string): boolean {
    return Object.hasOwn(GPU_KERNELS, name);
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
    const kernel = GPU_KERNELS[name];
    if (!kernel) throw new Error(`backend '${this.name}' has no kernel for op '${name}'`);
    const ctx: KernelContext = {
      op: name,
      limits: this.limits,
      // Windows of f16 tensors start at multiples of the binding alignment in bytes: twice as many
      // 2-byte elements, so kernels touching f16 plan with the doubled element alignment.
      split: [...inputs, ...outputs].some((t) => t.dtype === 'f16')
        ? { ...this.splitLimits, alignElements: this.splitLimits.alignElements * 2 }
        : this.splitLimits,
      dispatch: (spec) => this.dispatch(name, spec),
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
      this.popScopes(
        `op '${name}' (inputs ${describeTensors(inputs)} → outputs ${describeTensors(outputs)})`,
      );
    }
    this.batchOps.push(name);
    if (this.dispatches >= this.maxDispatches) this.submit();
  }

  private dispatch(op: string, spec: DispatchSpec): void {
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
    const { pl, bgl } = this.layout(spec.inputs.length, spec.outputs.length);
    const pipeline = this.pipeline(spec.key, spec.wgsl, pl);
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
    const bindGroup = this.device.createBindGroup({ layout: bgl, entries, label: spec.key });
    const pass = this.openPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y, z] = spec.workgroups;
    const maxDim = this.limits.maxComputeWorkgroupsPerDimension || 65535;
    if (x > maxDim || y > maxDim || z > maxDim)
      throw new Error(`webgpu ${op}: dispatch [${x}, ${y}, ${z}] is over ${maxDim} workgroups per dimension`);
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
    this.totalDispatches++;
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

  private pipeline(key: string, wgsl: () => string, layout: GPUPipelineLayout): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: wgsl(), label: key });
      p = this.device.createComputePipeline({ layout, compute: { module, entryPoint: 'main' }, label: key });
      this.pipelines.set(key, p);
    }
    return p;
  }

  // ------------------------------------------------------------------------------ encoder

  private openEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder({ label: 'descent batch' });
    return this.encoder;
  }

  private openPass(): GPUComputePassEncoder {
    this.pass ??= this.openEncoder().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private submit(): void {
    if (!this.encoder) return;
    this.endPass();
    this.uniforms.upload(this.device.queue);
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    const ops = this.batchOps;
    try {
      this.device.queue.submit([this.encoder.finish()]);
    } finally {
      this.popScopes(`the submit of ${ops.length} ops (${[...new Set(ops)].slice(0, 12).join(', ')})`);
    }
    this.encoder = null;
    this.dispatches = 0;
    this.batchOps = [];
    this.submits++;
    this.pool.onSubmit();
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
      submits: this.submits,
      dispatches: this.totalDispatches,
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
      pipelineCreation: 'createComputePipeline (synchronous, cached per kernel + specialization)',
      sizeClassExample: { 1000: sizeClass(1000), 3000000: sizeClass(3_000_000) },
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.encoder = null;
    this.pass = null;
    this.pool.drain();
    this.staging.drain();
    this.uniforms.destroy();
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
