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

type Ptr = number;

/** The raw exports of the kernel module (see assembly/*.ts for the contract of each). */
export interface KernelExports {
  heap_base(): Ptr;
  relaxed_simd(): number;
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
  /** Memory to use (unshared; the builds import an unshared memory). Default: a new one. */
  memory?: WebAssembly.Memory;
  /** Initial memory size in bytes for a new memory (default 16 MiB). */
  initialBytes?: number;
  /** Cap on the memory size in bytes (default 4 GiB − 64 KiB). */
  maximumBytes?: number;
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

/** The wasm bytes of a build. */
export function kernelBinary(variant: KernelVariant): Uint8Array<ArrayBuffer> {
  return decodeBase64(variant === 'relaxed' ? RELAXED_WASM_BASE64 : SIMD_WASM_BASE64);
}

const PAGE = 65536;
const compiled = new Map<KernelVariant, Promise<WebAssembly.Module>>();
const compiledSync = new Map<KernelVariant, WebAssembly.Module>();

function resolveVariant(v: KernelModuleOptions['variant']): KernelVariant {
  return v === undefined || v === 'auto' ? chooseVariant() : v;
}

function newMemory(opts: KernelModuleOptions): WebAssembly.Memory {
  if (opts.memory) return opts.memory;
  const initial = Math.max(1, Math.ceil((opts.initialBytes ?? 16 * 1024 * 1024) / PAGE));
  const maximum = Math.min(65536, Math.floor((opts.maximumBytes ?? 65536 * PAGE) / PAGE));
  return new WebAssembly.Memory({ initial, maximum });
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

  /** Compiles (cached per build) and instantiates asynchronously: works on a browser's main thread. */
  static async create(options: KernelModuleOptions = {}): Promise<KernelModule> {
    const variant = resolveVariant(options.variant);
    let mod = compiled.get(variant);
    if (!mod) {
      mod = WebAssembly.compile(kernelBinary(variant));
      compiled.set(variant, mod);
    }
    const memory = newMemory(options);
    const instance = await WebAssembly.instantiate(await mod, imports(memory));
    return new KernelModule(variant, instance, memory, options.maximumBytes);
  }

  /** Synchronous variant (Node, workers; browsers refuse synchronous compiles of big modules on the main thread). */
  static createSync(options: KernelModuleOptions = {}): KernelModule {
    const variant = resolveVariant(options.variant);
    let mod = compiledSync.get(variant);
    if (!mod) {
      mod = new WebAssembly.Module(kernelBinary(variant));
      compiledSync.set(variant, mod);
    }
    const memory = newMemory(options);
    const instance = new WebAssembly.Instance(mod, imports(memory));
    return new KernelModule(variant, instance, memory, options.maximumBytes);
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
  }

  memoryStats(): AllocatorStats & { workspaceBytes: number; memoryBytes: number } {
    return {
      ...this.allocator.stats(),
      workspaceBytes: this.wsBytes,
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
    this.exports.unary_f32(UnaryOp[op], x, y, n, p0, p1);
  }

  /** y = op(a, b) with a broadcast plan from `broadcastPlan(outShape, [aShape, bShape])`. */
  binary(op: BinaryOpName, a: Ptr, b: Ptr, y: Ptr, plan: BroadcastPlan, dtype: 'f32' | 'i32' = 'f32'): void {
    if (plan.size === 0) return;
    const r = plan.shape.length;
    const shape = this.param(0, plan.shape);
    const sa = this.param(32, plan.strides[0]!);
    const sb = this.param(64, plan.strides[1]!);
    if (dtype === 'f32') this.exports.binary_f32(BinaryOp[op], a, b, y, r, shape, sa, sb);
    else {
      if (op === 'div' || op === 'pow') throw new Error(`binary_i32 has no '${op}'`);
      this.exports.binary_i32(BinaryOp[op], a, b, y, r, shape, sa, sb);
    }
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
    const geom = this.geom(g);
    const ws = this.workspace(this.exports.conv2d_workspace_bytes(geom, 0));
    this.exports.conv2d_f32(x, w, y, geom, ws, this.wsBytes);
  }
  /** dx [N,H,W,C] = ∂conv2d/∂x given dy [N,OH,OW,Cout]. */
  conv2dBackwardInput(dy: Ptr, w: Ptr, dx: Ptr, g: Conv2dGeometry): void {
    const geom = this.geom(g);
    const ws = this.workspace(this.exports.conv2d_workspace_bytes(geom, 1));
    this.exports.conv2d_backward_input_f32(dy, w, dx, geom, ws, this.wsBytes);
  }
  /** dw [KH,KW,C/groups,Cout] = ∂conv2d/∂w given x and dy. */
  conv2dBackwardFilter(x: Ptr, dy: Ptr, dw: Ptr, g: Conv2dGeometry): void {
    const geom = this.geom(g);
    const ws = this.workspace(this.exports.conv2d_workspace_bytes(geom, 2));
    this.exports.conv2d_backward_filter_f32(x, dy, dw, geom, ws, this.wsBytes);
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
