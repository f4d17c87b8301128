/**
 * Loads a kernel build into a WebAssembly.Memory and exposes its kernels.
 *
 * Pointers are byte offsets into `memory`; tensors are regions handed out by `alloc` (64-byte aligned).
 * `exports` are the raw kernels (C-like ABI: pointers + i32 sizes); the methods below add argument
 * marshalling where a kernel takes small shape/stride arrays (written into a reserved parameter block).
 * A Backend keeps one `KernelModule` and calls these by pointer.
 */
import { type AllocatorStats, LinearAllocator } from './allocator.js';
import { type BroadcastPlan, MAX_RANK, simplifyPermutation } from './broadcast.js';
import { chooseVariant, type KernelVariant } from './feature-probe.js';
import { RELAXED_WASM_BASE64, SIMD_WASM_BASE64 } from './generated/wasm-binaries.js';
import {
  ArgReduceOp,
  type ArgReduceOpName,
  BinaryOp,
  type BinaryOpName,
  ReduceOp,
  type ReduceOpName,
  UnaryOp,
  type UnaryOpName,
} from './ops.js';
import {
  availableThreads,
  type KernelCall,
  PARAM_BYTES,
  sharedMemorySupported,
  ThreadPool,
} from './threads/pool.js';
import { toSharedMemoryBinary } from './threads/shared-binary.js';
import {
  binaryCostNs,
  type ConvPass,
  type Plan,
  planBinary,
  planConv,
  planGemm,
  planRanges,
  planUnary,
  type RangeArg,
  type RowKernel,
  THREAD_EXPORTS,
  type ThreadExport,
  type UpdateKernel,
  unaryCostNs,
} from './threads/split.js';

type Ptr = number;

/** The raw exports of the kernel module (see assembly/*.ts for the contract of each). */
export interface KernelExports {
  heap_base(): Ptr;
  relaxed_simd(): number;
  /** n iterations of 12 independent f32x4 multiply-adds (96 flops each): one core's arithmetic peak. */
  fma_peak(n: number, s: number): number;
  matmul_workspace_bytes(): number;
  gemm(
    transA: number,
    transB: number,
    M: number,
    N: number,
    K: number,
    a: Ptr,
    lda: number,
    b: Ptr,
    ldb: number,
    c: Ptr,
    ldc: number,
    accumulate: number,
    ws: Ptr,
  ): void;
  matmul(
    a: Ptr,
    b: Ptr,
    c: Ptr,
    M: number,
    N: number,
    K: number,
    transA: number,
    transB: number,
    accumulate: number,
    batch: number,
    strideA: number,
    strideB: number,
    strideC: number,
    ws: Ptr,
  ): void;
  unary_f32(op: number, x: Ptr, y: Ptr, n: number, p0: number, p1: number): void;
  fill32(y: Ptr, n: number, bits: number): void;
  binary_f32(op: number, a: Ptr, b: Ptr, y: Ptr, rank: number, shape: Ptr, sa: Ptr, sb: Ptr): void;
  binary_i32(op: number, a: Ptr, b: Ptr, y: Ptr, rank: number, shape: Ptr, sa: Ptr, sb: Ptr): void;
  where_f32(c: Ptr, a: Ptr, b: Ptr, y: Ptr, rank: number, shape: Ptr, strides: Ptr): void;
  reduce_f32(op: number, x: Ptr, y: Ptr, outer: number, R: number, inner: number): void;
  argreduce_f32(op: number, x: Ptr, y: Ptr, outer: number, R: number, inner: number): void;
  softmax_f32(x: Ptr, y: Ptr, rows: number, n: number): void;
  log_softmax_f32(x: Ptr, y: Ptr, rows: number, n: number): void;
  logsumexp_f32(x: Ptr, y: Ptr, rows: number, n: number): void;
  cross_entropy_f32(x: Ptr, labels: Ptr, loss: Ptr, rows: number, C: number, eps: number): void;
  cross_entropy_backward_f32(
    x: Ptr,
    labels: Ptr,
    dloss: Ptr,
    dlossStride: number,
    dx: Ptr,
    rows: number,
    C: number,
    eps: number,
  ): void;
  softmax_backward_f32(y: Ptr, dy: Ptr, dx: Ptr, rows: number, n: number): void;
  log_softmax_backward_f32(y: Ptr, dy: Ptr, dx: Ptr, rows: number, n: number): void;
  copy_strided(src: Ptr, dst: Ptr, rank: number, shape: Ptr, srcStrides: Ptr, dstStrides: Ptr): void;
  transpose2d(src: Ptr, sRow: number, dst: Ptr, dRow: number, I: number, J: number): void;
  permute(x: Ptr, y: Ptr, rank: number, shape: Ptr, perm: Ptr): void;
  layer_norm_f32(
    x: Ptr,
    gamma: Ptr,
    beta: Ptr,
    y: Ptr,
    rows: number,
    n: number,
    eps: number,
    meanOut: Ptr,
    rstdOut: Ptr,
  ): void;
  rms_norm_f32(x: Ptr, gamma: Ptr, y: Ptr, rows: number, n: number, eps: number, rstdOut: Ptr): void;
  batch_norm_apply_f32(
    x: Ptr,
    mean: Ptr,
    variance: Ptr,
    gamma: Ptr,
    beta: Ptr,
    y: Ptr,
    rows: number,
    C: number,
    eps: number,
    ws: Ptr,
  ): void;
  adamw_f32(
    p: Ptr,
    g: Ptr,
    m: Ptr,
    v: Ptr,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    bc1: number,
    bc2: number,
  ): void;
  conv2d_workspace_bytes(geom: Ptr, pass: number): number;
  conv2d_f32(x: Ptr, w: Ptr, y: Ptr, geom: Ptr, ws: Ptr, wsBytes: number): void;
  /** Output pixels [p0, p1) of conv2d_f32 (threads). */
  conv2d_rows_f32(x: Ptr, w: Ptr, y: Ptr, geom: Ptr, ws: Ptr, wsBytes: number, p0: number, p1: number): void;
  /** Image rows [r0, r1) of dx, r = n·H + ih (threads). */
  conv2d_backward_input_rows_f32(
    dy: Ptr,
    w: Ptr,
    dx: Ptr,
    geom: Ptr,
    ws: Ptr,
    wsBytes: number,
    r0: number,
    r1: number,
  ): void;
  /**
   * Units [u0, u1) of the filter gradient, u = s·KH + kh (pixel segment s, kernel row kh), into the partial
   * sums `out` (S dw-sized buffers; dw itself when S = 1) (threads).
   */
  conv2d_backward_filter_rows_f32(
    x: Ptr,
    dy: Ptr,
    out: Ptr,
    geom: Ptr,
    ws: Ptr,
    wsBytes: number,
    u0: number,
    u1: number,
  ): void;
  /** Pixel segments S of the filter gradient (fixed by the geometry) and the bytes of their partial sums. */
  conv2d_filter_segments(geom: Ptr): number;
  conv2d_filter_partials_bytes(geom: Ptr): number;
  /** dw = Σ_s partials[s] in segment order. */
  conv2d_filter_reduce_f32(partials: Ptr, dw: Ptr, geom: Ptr): void;
  /** Moves this instance's 64 bytes of broadcast-odometer scratch (each worker instance has its own). */
  set_odometer_scratch(p: Ptr): void;
  conv2d_backward_input_f32(dy: Ptr, w: Ptr, dx: Ptr, geom: Ptr, ws: Ptr, wsBytes: number): void;
  conv2d_backward_filter_f32(x: Ptr, dy: Ptr, dw: Ptr, geom: Ptr, ws: Ptr, wsBytes: number): void;
  max_pool2d_f32(x: Ptr, y: Ptr, geom: Ptr): void;
  max_pool2d_backward_f32(x: Ptr, dy: Ptr, dx: Ptr, geom: Ptr): void;
  avg_pool2d_f32(x: Ptr, y: Ptr, geom: Ptr, countIncludePad: number): void;
  avg_pool2d_backward_f32(dy: Ptr, dx: Ptr, geom: Ptr, countIncludePad: number): void;
  [name: string]: unknown;
}

export interface KernelModuleOptions {
  /** Which build: 'auto' (default) probes the engine; 'relaxed' throws where relaxed SIMD is missing. */
  variant?: KernelVariant | 'auto';
  /**
   * Memory to use. Default: a new one (shared when threads > 1). A shared memory gets the shared-memory
   * build (and threads from `create`); an unshared one runs single-threaded.
   */
  memory?: WebAssembly.Memory;
  /** Initial memory size in bytes for a new memory (default 16 MiB). */
  initialBytes?: number;
  /** Cap on the memory size in bytes (default 4 GiB − 64 KiB). */
  maximumBytes?: number;
  /**
   * Threads (the caller included) for matmul/gemm, conv2d and its gradients, and large unary/binary maps:
   * a pool of workers over a shared memory (README "Threads"). Default: the available cores
   * (os.availableParallelism() in Node, navigator.hardwareConcurrency in browsers). Where shared memory
   * is missing (SharedArrayBuffer: Node, or a cross-origin-isolated page) the module runs single-threaded;
   * results are bit-identical either way. `createSync` never starts workers.
   */
  threads?: number;
  /** The worker script (default: threads/worker.js next to this module, which bundlers pick up). */
  workerUrl?: URL | string;
}

/**
 * Convolution / pooling geometry, NHWC. x [N,H,W,C], w [KH,KW,C/groups,Cout], y [N,OH,OW,Cout].
 * Pools use C for channels, KH/KW for the window and ignore Cout/groups.
 */
export interface Conv2dGeometry {
  N: number;
  H: number;
  W: number;
  C: number;
  KH: number;
  KW: number;
  Cout: number;
  strideH: number;
  strideW: number;
  /** Explicit padding: top, bottom, left, right. */
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  dilationH: number;
  dilationW: number;
  groups: number;
}

/** Output spatial size of a conv/pool. */
export function convOutputSize(g: Conv2dGeometry): { OH: number; OW: number } {
  const ekh = (g.KH - 1) * g.dilationH + 1;
  const ekw = (g.KW - 1) * g.dilationW + 1;
  return {
    OH: Math.floor((g.H + g.padTop + g.padBottom - ekh) / g.strideH) + 1,
    OW: Math.floor((g.W + g.padLeft + g.padRight - ekw) / g.strideW) + 1,
  };
}

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The wasm bytes of a build; `shared`: the same code importing a shared memory (threads). */
export function kernelBinary(variant: KernelVariant, shared = false): Uint8Array<ArrayBuffer> {
  const bytes = decodeBase64(variant === 'relaxed' ? RELAXED_WASM_BASE64 : SIMD_WASM_BASE64);
  return shared ? toSharedMemoryBinary(bytes) : bytes;
}

const PAGE = 65536;
const compiled = new Map<string, Promise<WebAssembly.Module>>();
const compiledSync = new Map<string, WebAssembly.Module>();

function isSharedMemory(memory: WebAssembly.Memory | undefined): boolean {
  return (
    memory !== undefined &&
    typeof SharedArrayBuffer === 'function' &&
    memory.buffer instanceof SharedArrayBuffer
  );
}

/** Threads `create` will use: the request (default: cores), or 1 where shared memory is unavailable. */
async function resolveThreads(o: KernelModuleOptions): Promise<number> {
  const want = o.threads ?? (await availableThreads());
  if (!Number.isInteger(want) || want < 1) {
    throw new RangeError(`KernelModule.create: threads must be a positive integer, got ${o.threads}`);
  }
  if (want === 1) return 1;
  if (o.memory) return isSharedMemory(o.memory) ? want : 1;
  return sharedMemorySupported() ? want : 1;
}

function resolveVariant(v: KernelModuleOptions['variant']): KernelVariant {
  return v === undefined || v === 'auto' ? chooseVariant() : v;
}

function newMemory(opts: KernelModuleOptions, shared: boolean): WebAssembly.Memory {
  if (opts.memory) return opts.memory;
  const initial = Math.max(1, Math.ceil((opts.initialBytes ?? 16 * 1024 * 1024) / PAGE));
  const maximum = Math.min(65536, Math.floor((opts.maximumBytes ?? 65536 * PAGE) / PAGE));
  // a shared memory reserves its maximum up front (it can never move), as address space, not RAM
  return new WebAssembly.Memory({ initial, maximum, shared } as WebAssembly.MemoryDescriptor);
}

function imports(memory: WebAssembly.Memory): WebAssembly.Imports {
  return {
    env: {
      memory,
      abort: (_msg: number, _file: number, line: number, col: number) => {
        throw new Error(`wasm kernel abort at ${line}:${col}`);
      },
    },
  };
}

export class KernelModule {
  readonly variant: KernelVariant;
  readonly memory: WebAssembly.Memory;
  readonly exports: KernelExports;
  readonly allocator: LinearAllocator;
  /** 256 bytes for shape/stride arguments. */
  private readonly params: Ptr;
  private ws: Ptr = 0;
  private wsBytes = 0;
  private _f32: Float32Array;
  private _i32: Int32Array;
  private _u8: Uint8Array;
  /** Workers (threads > 1 only) and what they need: export ids, per-thread workspaces and parameter use. */
  private pool: ThreadPool | undefined;
  private threadIds = new Map<ThreadExport, number>();
  private threadFns: unknown[] = [];
  private tws: Ptr = 0;
  private twsStride = 0;
  private paramUsed = 0;
  private jobs = 0;

  private constructor(
    variant: KernelVariant,
    instance: WebAssembly.Instance,
    memory: WebAssembly.Memory,
    maxBytes?: number,
  ) {
    this.variant = variant;
    this.memory = memory;
    this.exports = instance.exports as unknown as KernelExports;
    this._f32 = new Float32Array(memory.buffer);
    this._i32 = new Int32Array(memory.buffer);
    this._u8 = new Uint8Array(memory.buffer);
    this.allocator = new LinearAllocator(memory, this.exports.heap_base(), {
      ...(maxBytes !== undefined ? { maxBytes } : {}),
      onGrow: () => this.refreshViews(),
    });
    this.params = this.allocator.alloc(256);
  }

  /**
   * Compiles (cached per build) and instantiates asynchronously: works on a browser's main thread. With
   * threads > 1 (the default where there are several cores and shared memory exists) it also starts the
   * worker pool and resolves once every worker has instantiated the module; `dispose()` stops them.
   */
  static async create(options: KernelModuleOptions = {}): Promise<KernelModule> {
    const variant = resolveVariant(options.variant);
    let threads = await resolveThreads(options);
    let memory: WebAssembly.Memory;
    try {
      memory = newMemory(options, threads > 1);
    } catch (e) {
      // A shared memory reserves its whole maximum up front; where that much address space is refused
      // (32-bit or memory-capped engines), run single-threaded on an ordinary memory.
      if (threads === 1 || options.memory) throw e;
      threads = 1;
      memory = newMemory(options, false);
    }
    const shared = isSharedMemory(memory);
    const key = `${variant}${shared ? '-shared' : ''}`;
    let mod = compiled.get(key);
    if (!mod) {
      mod = WebAssembly.compile(kernelBinary(variant, shared));
      compiled.set(key, mod);
    }
    const instance = await WebAssembly.instantiate(await mod, imports(memory));
    const km = new KernelModule(variant, instance, memory, options.maximumBytes);
    if (threads > 1) {
      const names = THREAD_EXPORTS.filter((n) => typeof km.exports[n] === 'function');
      km.pool = await ThreadPool.create({
        threads,
        module: await mod,
        memory,
        allocator: km.allocator,
        names,
        workerUrl: options.workerUrl,
      });
      for (const [i, n] of names.entries()) km.threadIds.set(n, i);
      km.threadFns = names.map((n) => km.exports[n]);
    }
    return km;
  }

  /**
   * Synchronous variant (Node, workers; browsers refuse synchronous compiles of big modules on the main
   * thread). Always single-threaded: starting workers needs the event loop.
   */
  static createSync(options: KernelModuleOptions = {}): KernelModule {
    const variant = resolveVariant(options.variant);
    const shared = isSharedMemory(options.memory);
    const key = `${variant}${shared ? '-shared' : ''}`;
    let mod = compiledSync.get(key);
    if (!mod) {
      mod = new WebAssembly.Module(kernelBinary(variant, shared));
      compiledSync.set(key, mod);
    }
    const memory = newMemory(options, shared);
    const instance = new WebAssembly.Instance(mod, imports(memory));
    return new KernelModule(variant, instance, memory, options.maximumBytes);
  }

  /** Threads the kernels below may use (1: no worker pool). */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** How many kernel calls were split across threads so far (diagnostics, tests). */
  get parallelJobs(): number {
    return this.jobs;
  }

  /**
   * Stops the worker pool (if any), frees its control block and the per-thread workspaces; the module stays
   * usable, single-threaded.
   * Workers never keep a Node process alive, so this is only needed to release them early.
   */
  dispose(): void {
    this.pool?.dispose();
    this.pool = undefined;
    if (this.tws) this.allocator.free(this.tws);
    this.tws = 0;
    this.twsStride = 0;
  }

  // ---- threads -----------------------------------------------------------------------------------------

  /**
   * Per-thread workspaces of at least `bytes` each (kept, grown, never shrunk until `releaseWorkspace`):
   * thread t's is at base + t · stride.
   */
  private threadWorkspace(bytes: number): { base: Ptr; stride: number } {
    const stride = Math.ceil(bytes / 64) * 64;
    if (stride > this.twsStride) {
      if (this.tws) this.allocator.free(this.tws);
      this.twsStride = Math.max(stride, Math.ceil((this.twsStride * 1.5) / 64) * 64);
      this.tws = this.allocator.alloc(this.twsStride * this.threads);
    }
    return { base: this.tws, stride: this.twsStride };
  }

  /** Writes i32s into the pool's parameter area (after what this job already wrote); returns their address. */
  private threadParam(values: readonly number[]): Ptr {
    if (this.paramUsed + 4 * values.length > PARAM_BYTES) {
      throw new Error('KernelModule: thread parameter area overflow');
    }
    const p = this.pool!.paramArea + this.paramUsed;
    this.i32.set(values, p >> 2);
    this.paramUsed += 4 * values.length;
    return p;
  }

  /** Runs a plan's tasks on all threads (this one included); returns when all are done. */
  private runPlan(plan: Plan, ws: { base: Ptr; stride: number } = { base: 0, stride: 0 }): void {
    const tasks: KernelCall[] = plan.map((c) => ({ fn: this.threadIds.get(c.fn)!, args: c.args, ws: c.ws }));
    this.jobs++;
    this.pool!.run(tasks, ws, (fn, args) => (this.threadFns[fn] as (...a: number[]) => void)(...args));
  }

  // ---- memory ------------------------------------------------------------------------------------------

  private refreshViews(): void {
    const buf = this.memory.buffer;
    if (this._f32.buffer !== buf) {
      this._f32 = new Float32Array(buf);
      this._i32 = new Int32Array(buf);
      this._u8 = new Uint8Array(buf);
    }
  }

  /** A Float32Array over the whole memory (re-made after growth; don't keep it across allocations). */
  get f32(): Float32Array {
    this.refreshViews();
    return this._f32;
  }
  get i32(): Int32Array {
    this.refreshViews();
    return this._i32;
  }
  get u8(): Uint8Array {
    this.refreshViews();
    return this._u8;
  }

  /** Allocates `bytes` (64-byte aligned). */
  alloc(bytes: number): Ptr {
    return this.allocator.alloc(bytes);
  }
  free(ptr: Ptr): void {
    this.allocator.free(ptr);
  }
  /** Allocates n 4-byte elements and optionally fills them (f32 or i32 data). */
  allocF32(n: number, values?: ArrayLike<number>): Ptr {
    const p = this.alloc(n * 4);
    if (values) this.f32.set(values, p >> 2);
    return p;
  }
  allocI32(n: number, values?: ArrayLike<number>): Ptr {
    const p = this.alloc(n * 4);
    if (values) this.i32.set(values, p >> 2);
    return p;
  }
  writeF32(ptr: Ptr, values: ArrayLike<number>): void {
    this.f32.set(values, ptr >> 2);
  }
  writeI32(ptr: Ptr, values: ArrayLike<number>): void {
    this.i32.set(values, ptr >> 2);
  }
  /** A copy of n floats at ptr. */
  readF32(ptr: Ptr, n: number): Float32Array {
    return this.f32.slice(ptr >> 2, (ptr >> 2) + n);
  }
  readI32(ptr: Ptr, n: number): Int32Array {
    return this.i32.slice(ptr >> 2, (ptr >> 2) + n);
  }
  /** A view of n floats at ptr — invalid after the memory grows (any alloc may grow it). */
  viewF32(ptr: Ptr, n: number): Float32Array {
    return this.f32.subarray(ptr >> 2, (ptr >> 2) + n);
  }

  /**
   * A scratch region of at least `bytes`, kept between calls (grown, never shrunk, until `releaseWorkspace`).
   * Only one user at a time: the kernels below take it for their own duration.
   */
  workspace(bytes: number): Ptr {
    if (bytes > this.wsBytes) {
      if (this.ws) this.allocator.free(this.ws);
      this.wsBytes = Math.max(bytes, Math.ceil(this.wsBytes * 1.5));
      this.ws = this.allocator.alloc(this.wsBytes);
    }
    return this.ws;
  }
  releaseWorkspace(): void {
    if (this.ws) this.allocator.free(this.ws);
    this.ws = 0;
    this.wsBytes = 0;
    if (this.tws) this.allocator.free(this.tws);
    this.tws = 0;
    this.twsStride = 0;
  }

  memoryStats(): AllocatorStats & { workspaceBytes: number; memoryBytes: number } {
    return {
      ...this.allocator.stats(),
      workspaceBytes: this.wsBytes + this.twsStride * this.threads,
      memoryBytes: this.memory.buffer.byteLength,
    };
  }

  /** Writes i32s into the parameter block at byte offset `at` (0..255) and returns their address. */
  private param(at: number, values: readonly number[]): Ptr {
    const p = this.params + at;
    this.i32.set(values, p >> 2);
    return p;
  }

  // ---- kernels -----------------------------------------------------------------------------------------

  /** Splits a gemm over the pool; false when it is too small to be worth it (the caller then runs it). */
  private runGemmThreads(
    M: number,
    N: number,
    K: number,
    a: Ptr,
    b: Ptr,
    c: Ptr,
    transA: boolean,
    transB: boolean,
    rest: {
      accumulate: boolean;
      batch: number;
      strideA: number;
      strideB: number;
      strideC: number;
      lda: number;
      ldb: number;
      ldc: number;
      contiguous: boolean;
    },
  ): boolean {
    const pool = this.pool!;
    const plan = planGemm({ transA, transB, M, N, K, a, b, c, ...rest }, pool.threads);
    if (!plan) return false;
    this.runPlan(plan, this.threadWorkspace(this.exports.matmul_workspace_bytes()));
    return true;
  }

  /**
   * C[M,N] = op(A)·op(B) (+ C with accumulate), batched: problem i uses A + i·strideA, B + i·strideB,
   * C + i·strideC (elements; a stride of 0 broadcasts). Contiguous operands: A [M,K] (transA: [K,M]),
   * B [K,N] (transB: [N,K]), C [M,N].
   */
  matmul(
    a: Ptr,
    b: Ptr,
    c: Ptr,
    M: number,
    N: number,
    K: number,
    opts: {
      transA?: boolean;
      transB?: boolean;
      accumulate?: boolean;
      batch?: number;
      strideA?: number;
      strideB?: number;
      strideC?: number;
    } = {},
  ): void {
    const batch = opts.batch ?? 1;
    if (
      this.pool &&
      this.runGemmThreads(M, N, K, a, b, c, opts.transA ?? false, opts.transB ?? false, {
        accumulate: opts.accumulate ?? false,
        batch,
        strideA: opts.strideA ?? M * K,
        strideB: opts.strideB ?? K * N,
        strideC: opts.strideC ?? M * N,
        lda: opts.transA ? M : K,
        ldb: opts.transB ? K : N,
        ldc: N,
        contiguous: true,
      })
    ) {
      return;
    }
    const ws = this.workspace(this.exports.matmul_workspace_bytes());
    this.exports.matmul(
      a,
      b,
      c,
      M,
      N,
      K,
      opts.transA ? 1 : 0,
      opts.transB ? 1 : 0,
      opts.accumulate ? 1 : 0,
      batch,
      opts.strideA ?? M * K,
      opts.strideB ?? K * N,
      opts.strideC ?? M * N,
      ws,
    );
  }

  /** General matmul with leading dimensions (elements): see `gemm` in assembly/matmul.ts. */
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    a: Ptr,
    lda: number,
    b: Ptr,
    ldb: number,
    c: Ptr,
    ldc: number,
    accumulate = false,
  ): void {
    if (
      this.pool &&
      this.runGemmThreads(M, N, K, a, b, c, transA, transB, {
        accumulate,
        batch: 1,
        strideA: 0,
        strideB: 0,
        strideC: 0,
        lda,
        ldb,
        ldc,
        contiguous: false,
      })
    ) {
      return;
    }
    const ws = this.workspace(this.exports.matmul_workspace_bytes());
    this.exports.gemm(
      transA ? 1 : 0,
      transB ? 1 : 0,
      M,
      N,
      K,
      a,
      lda,
      b,
      ldb,
      c,
      ldc,
      accumulate ? 1 : 0,
      ws,
    );
  }

  /** y = op(x) over n floats (x === y allowed). p0/p1: silu β, leakyRelu α, clamp lo/hi, affine scale/shift. */
  unary(op: UnaryOpName, x: Ptr, y: Ptr, n: number, p0 = 0, p1 = 0): void {
    if (this.pool) {
      const plan = planUnary('unary_f32', UnaryOp[op], unaryCostNs(op), x, y, n, p0, p1, this.pool.threads);
      if (plan) {
        this.runPlan(plan);
        return;
      }
    }
    this.exports.unary_f32(UnaryOp[op], x, y, n, p0, p1);
  }

  /** y = softmax(x) over `rows` rows of n floats (max-subtracted); x === y allowed. Split by rows. */
  softmax(x: Ptr, y: Ptr, rows: number, n: number): void {
    const rb = 4 * n;
    this.rowKernel('softmax_f32', [{ ptr: x, stride: rb }, { ptr: y, stride: rb }, rows, n], 2, rows, n);
  }

  /** y = x − logsumexp(x) over `rows` rows of n floats; x === y allowed. Split by rows. */
  logSoftmax(x: Ptr, y: Ptr, rows: number, n: number): void {
    const rb = 4 * n;
    this.rowKernel('log_softmax_f32', [{ ptr: x, stride: rb }, { ptr: y, stride: rb }, rows, n], 2, rows, n);
  }

  /**
   * loss[r] = −Σ_j target_rj·log softmax(x_r)_j over `rows` rows of C logits, target = one-hot(labels[r])
   * smoothed by eps (labels must be in range: the caller checks). Split by rows.
   */
  crossEntropy(x: Ptr, labels: Ptr, loss: Ptr, rows: number, C: number, eps: number): void {
    const args: RangeArg[] = [
      { ptr: x, stride: 4 * C },
      { ptr: labels, stride: 4 },
      { ptr: loss, stride: 4 },
    ];
    this.rowKernel('cross_entropy_f32', [...args, rows, C, eps], 3, rows, C);
  }

  /** dx = (softmax(x) − target)·dloss[r·dlossStride] per row (the fused cross-entropy gradient). Split by rows. */
  crossEntropyBackward(
    x: Ptr,
    labels: Ptr,
    dloss: Ptr,
    dlossStride: number,
    dx: Ptr,
    rows: number,
    C: number,
    eps: number,
  ): void {
    const args: RangeArg[] = [
      { ptr: x, stride: 4 * C },
      { ptr: labels, stride: 4 },
      { ptr: dloss, stride: 4 * dlossStride },
      dlossStride,
      { ptr: dx, stride: 4 * C },
    ];
    this.rowKernel('cross_entropy_backward_f32', [...args, rows, C, eps], 5, rows, C);
  }

  /** y = (x − mean)·rstd·gamma + beta per row of n; meanOut/rstdOut (one float per row) may be 0. */
  layerNorm(
    x: Ptr,
    gamma: Ptr,
    beta: Ptr,
    y: Ptr,
    rows: number,
    n: number,
    eps: number,
    meanOut = 0,
    rstdOut = 0,
  ): void {
    const rb = 4 * n;
    const args: RangeArg[] = [{ ptr: x, stride: rb }, gamma, beta, { ptr: y, stride: rb }, rows, n, eps];
    this.rowKernel(
      'layer_norm_f32',
      [...args, { ptr: meanOut, stride: 4 }, { ptr: rstdOut, stride: 4 }],
      4,
      rows,
      n,
    );
  }

  /** y = x·rstd·gamma per row of n, rstd = 1/√(mean(x²) + eps); rstdOut (one float per row) may be 0. */
  rmsNorm(x: Ptr, gamma: Ptr, y: Ptr, rows: number, n: number, eps: number, rstdOut = 0): void {
    const rb = 4 * n;
    const args: RangeArg[] = [{ ptr: x, stride: rb }, gamma, { ptr: y, stride: rb }, rows, n, eps];
    this.rowKernel('rms_norm_f32', [...args, { ptr: rstdOut, stride: 4 }], 3, rows, n);
  }

  /**
   * A fused optimizer update over n elements, in place (fn's pointer arguments are per-element arrays of
   * f32: `{ ptr, stride: 4 }`, 0 for an operand the variant does not read; `args[nAt]` is n). Split into
   * ranges of elements across the pool when big enough.
   */
  update(fn: UpdateKernel, args: RangeArg[], nAt: number): void {
    this.rangeKernel(fn, args, nAt, args[nAt] as number, 1, 16);
  }

  /**
   * Adafactor's update over p viewed as [rows, cols] (pointer arguments: `{ ptr, stride }` per row, plain
   * numbers for the per-column and scalar operands; `args[rowsAt]` is rows). Split by blocks of rows.
   */
  adafactorUpdate(args: RangeArg[], rowsAt: number, cols: number): void {
    this.rangeKernel('adafactor_update_f32', args, rowsAt, args[rowsAt] as number, cols, 1);
  }

  /** A row kernel, split by blocks of rows across the pool when big enough (see planRanges). */
  private rowKernel(fn: RowKernel, args: RangeArg[], rowsAt: number, rows: number, rowLen: number): void {
    this.rangeKernel(fn, args, rowsAt, rows, rowLen, 1);
  }

  private rangeKernel(
    fn: RowKernel | UpdateKernel,
    args: RangeArg[],
    countAt: number,
    units: number,
    unitLen: number,
    quantum: number,
  ): void {
    const pool = this.pool;
    if (pool) {
      const plan = planRanges(fn, args, countAt, units, unitLen, quantum, pool.threads);
      if (plan) {
        this.runPlan(plan);
        return;
      }
    }
    const flat = args.map((a) => (typeof a === 'number' ? a : a.ptr));
    (this.exports[fn] as (...a: number[]) => void)(...flat);
  }

  /** y = op(a, b) with a broadcast plan from `broadcastPlan(outShape, [aShape, bShape])`. */
  binary(op: BinaryOpName, a: Ptr, b: Ptr, y: Ptr, plan: BroadcastPlan, dtype: 'f32' | 'i32' = 'f32'): void {
    if (plan.size === 0) return;
    if (dtype === 'i32' && (op === 'div' || op === 'pow')) throw new Error(`binary_i32 has no '${op}'`);
    if (this.pool) {
      this.paramUsed = 0;
      const fn = dtype === 'f32' ? 'binary_f32' : 'binary_i32';
      const split = planBinary(fn, BinaryOp[op], binaryCostNs(op), a, b, y, plan, this.pool.threads, (v) =>
        this.threadParam(v),
      );
      if (split) {
        this.runPlan(split);
        return;
      }
    }
    const r = plan.shape.length;
    const shape = this.param(0, plan.shape);
    const sa = this.param(32, plan.strides[0]!);
    const sb = this.param(64, plan.strides[1]!);
    if (dtype === 'f32') this.exports.binary_f32(BinaryOp[op], a, b, y, r, shape, sa, sb);
    else this.exports.binary_i32(BinaryOp[op], a, b, y, r, shape, sa, sb);
  }

  /** y = cond ≠ 0 ? a : b with a plan from `broadcastPlan(outShape, [condShape, aShape, bShape])`. */
  where(cond: Ptr, a: Ptr, b: Ptr, y: Ptr, plan: BroadcastPlan): void {
    if (plan.size === 0) return;
    const shape = this.param(0, plan.shape);
    const strides = this.param(32, [...plan.strides[0]!, ...plan.strides[1]!, ...plan.strides[2]!]);
    this.exports.where_f32(cond, a, b, y, plan.shape.length, shape, strides);
  }

  /** Fills n 4-byte elements with `value` (as f32, or as i32 with dtype 'i32'). */
  fill(y: Ptr, n: number, value: number, dtype: 'f32' | 'i32' = 'f32'): void {
    const bits = dtype === 'f32' ? new Int32Array(new Float32Array([value]).buffer)[0]! : value | 0;
    this.exports.fill32(y, n, bits);
  }

  /** y[o, j] = ⊕_r x[o, r, j] over the [outer, R, inner] view. */
  reduce(op: ReduceOpName, x: Ptr, y: Ptr, outer: number, R: number, inner: number): void {
    this.exports.reduce_f32(ReduceOp[op], x, y, outer, R, inner);
  }
  /** y (i32) = index of the first max/min along R; NaN counts as the extreme. */
  argReduce(op: ArgReduceOpName, x: Ptr, y: Ptr, outer: number, R: number, inner: number): void {
    this.exports.argreduce_f32(ArgReduceOp[op], x, y, outer, R, inner);
  }

  /** y = x with its dims permuted (4-byte elements). Dims are merged/simplified first. */
  permute(x: Ptr, y: Ptr, shape: readonly number[], perm: readonly number[]): void {
    const s = simplifyPermutation(shape, perm);
    if (s.shape.reduce((a, b) => a * b, 1) === 0) return;
    if (s.shape.length > MAX_RANK)
      throw new Error(`permute: rank ${s.shape.length} > ${MAX_RANK} after merging`);
    this.exports.permute(x, y, s.shape.length, this.param(0, s.shape), this.param(32, s.perm));
  }

  /** dst[Σ i·dstStrides] = src[Σ i·srcStrides] over `shape` (elements; rank ≤ 6). */
  copyStrided(
    src: Ptr,
    dst: Ptr,
    shape: readonly number[],
    srcStrides: readonly number[],
    dstStrides: readonly number[],
  ): void {
    if (shape.length === 0) {
      this.exports.copy_strided(src, dst, 1, this.param(0, [1]), this.param(32, [1]), this.param(64, [1]));
      return;
    }
    if (shape.length > MAX_RANK) throw new Error(`copyStrided: rank ${shape.length} > ${MAX_RANK}`);
    this.exports.copy_strided(
      src,
      dst,
      shape.length,
      this.param(0, shape),
      this.param(32, srcStrides),
      this.param(64, dstStrides),
    );
  }

  private geom(g: Conv2dGeometry): Ptr {
    const { OH, OW } = convOutputSize(g);
    return this.param(128, [
      g.N,
      g.H,
      g.W,
      g.C,
      g.KH,
      g.KW,
      g.Cout,
      g.strideH,
      g.strideW,
      g.padTop,
      g.padBottom,
      g.padLeft,
      g.padRight,
      g.dilationH,
      g.dilationW,
      g.groups,
      OH,
      OW,
    ]);
  }

  /** y [N,OH,OW,Cout] = conv2d(x [N,H,W,C], w [KH,KW,C/groups,Cout]) (im2col + gemm, chunked). */
  conv2d(x: Ptr, w: Ptr, y: Ptr, g: Conv2dGeometry): void {
    this.convPass('forward', x, w, y, g);
  }
  /** dx [N,H,W,C] = ∂conv2d/∂x given dy [N,OH,OW,Cout]. */
  conv2dBackwardInput(dy: Ptr, w: Ptr, dx: Ptr, g: Conv2dGeometry): void {
    this.convPass('inputGrad', dy, w, dx, g);
  }
  /** dw [KH,KW,C/groups,Cout] = ∂conv2d/∂w given x and dy. */
  conv2dBackwardFilter(x: Ptr, dy: Ptr, dw: Ptr, g: Conv2dGeometry): void {
    this.convPass('filterGrad', x, dy, dw, g);
  }

  /**
   * One conv pass, on the pool when it is big enough. The kernels get exactly the workspace size the
   * geometry needs (not the possibly larger shared workspace): the filter gradient's pixel chunking, and so
   * its summation order, then depends on the geometry alone — the same for every thread count and call.
   */
  private convPass(pass: ConvPass, p0: Ptr, p1: Ptr, p2: Ptr, g: Conv2dGeometry): void {
    const geom = this.geom(g);
    const passIndex = pass === 'forward' ? 0 : pass === 'inputGrad' ? 1 : 2;
    const need = this.exports.conv2d_workspace_bytes(geom, passIndex);
    if (this.pool) {
      const { OH, OW } = convOutputSize(g);
      const pixels = g.N * OH * OW;
      const kk = g.KH * g.KW * (g.C / g.groups);
      // filter gradient: tasks write the partial sums of their pixel segments into the caller's workspace
      // (S > 1), which are then added in segment order; a task's own workspace needs no room for them
      const segments = pass === 'filterGrad' ? this.exports.conv2d_filter_segments(geom) : 1;
      const partialBytes = pass === 'filterGrad' ? this.exports.conv2d_filter_partials_bytes(geom) : 0;
      const partials = segments > 1 ? this.workspace(partialBytes) : p2;
      const plan = planConv(
        {
          pass,
          p0,
          p1,
          p2: partials,
          geom,
          wsBytes: need - partialBytes,
          pixels,
          images: g.N,
          imageRows: g.H,
          windowRows: (g.KH - 1) * g.dilationH + 1,
          kernelRows: g.KH,
          segments,
          flops: 2 * pixels * kk * g.Cout,
          elements: pixels * (kk + g.Cout),
        },
        this.pool.threads,
      );
      if (plan) {
        this.runPlan(plan, this.threadWorkspace(need - partialBytes));
        if (segments > 1) this.exports.conv2d_filter_reduce_f32(partials, p2, geom);
        return;
      }
    }
    const ws = this.workspace(need);
    if (pass === 'forward') this.exports.conv2d_f32(p0, p1, p2, geom, ws, need);
    else if (pass === 'inputGrad') this.exports.conv2d_backward_input_f32(p0, p1, p2, geom, ws, need);
    else this.exports.conv2d_backward_filter_f32(p0, p1, p2, geom, ws, need);
  }
  maxPool2d(x: Ptr, y: Ptr, g: Conv2dGeometry): void {
    this.exports.max_pool2d_f32(x, y, this.geom(g));
  }
  /** dx = scatter of dy to the first max of each window (recomputed from x). */
  maxPool2dBackward(x: Ptr, dy: Ptr, dx: Ptr, g: Conv2dGeometry): void {
    this.exports.max_pool2d_backward_f32(x, dy, dx, this.geom(g));
  }
  avgPool2d(x: Ptr, y: Ptr, g: Conv2dGeometry, countIncludePad = false): void {
    this.exports.avg_pool2d_f32(x, y, this.geom(g), countIncludePad ? 1 : 0);
  }
  avgPool2dBackward(dy: Ptr, dx: Ptr, g: Conv2dGeometry, countIncludePad = false): void {
    this.exports.avg_pool2d_backward_f32(dy, dx, this.geom(g), countIncludePad ? 1 : 0);
  }

  /** batch-norm apply (channels last) with the workspace it needs. */
  batchNormApply(
    x: Ptr,
    mean: Ptr,
    variance: Ptr,
    gamma: Ptr,
    beta: Ptr,
    y: Ptr,
    rows: number,
    C: number,
    eps: number,
  ): void {
    const ws = this.workspace(8 * C);
    this.exports.batch_norm_apply_f32(x, mean, variance, gamma, beta, y, rows, C, eps, ws);
  }
}
