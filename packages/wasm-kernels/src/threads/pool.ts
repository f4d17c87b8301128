/**
 * A pool of kernel workers over one shared WebAssembly.Memory, driven by synchronous fork-join from the
 * thread that owns the KernelModule ("the caller", thread 0).
 *
 * Every worker instantiates the same compiled module over the same memory (./worker.js). Instances share
 * the linear memory but not their globals, so:
 *  - tensors, the control block and every workspace are regions of the one memory, handed out by the
 *    caller's allocator; each thread gets its own workspace (packing panels, im2col rows) and its own
 *    parameter area (shape/stride arrays of its calls);
 *  - the module's static data (below `heap_base`) is shared: the only mutable part a parallel kernel uses,
 *    the broadcast odometer, is moved per worker instance with `set_odometer_scratch` (the caller's
 *    instance keeps the static one). Instantiating re-applies the module's active data segments; that
 *    only happens in `ThreadPool.create`, before any kernel runs, and rewrites identical bytes.
 *
 * Control block (i32 indices from `ctrl`, each hot word on its own cache line):
 *   EPOCH       bumped by the caller to start a job (workers Atomics.wait on it)
 *   PENDING     workers that have not finished the job (the last one notifies)
 *   QUIT        set by dispose(): workers leave their loop
 *   ERROR, ERROR_LEN, ERROR_TEXT   the first failure of a job, as UTF-16 code units
 * then one call slot per thread (f64 records: [count, (fn, nargs, ...args) × count]), one parameter area
 * per thread, one 64-byte odometer scratch per thread.
 *
 * Fork-join: the caller writes each worker's slot, sets PENDING, bumps EPOCH and notifies, runs its own
 * share on its own instance, then waits for PENDING = 0: it polls for up to 50 µs, then sleeps in
 * Atomics.wait where the caller may block (Node's main thread, any worker) and keeps polling on a browser
 * main thread (where Atomics.wait throws). That spin only covers the imbalance at the end of a job: the
 * caller computes a full share first. Workers poll for 50 µs after a job before they sleep.
 */
import type { LinearAllocator } from '../allocator.js';

type Ptr = number;

/** One kernel call: index into the pool's export names, and its arguments (numbers: i32, f32, pointers). */
export interface KernelCall {
  fn: number;
  args: number[];
}

const EPOCH = 0;
const PENDING = 16;
const QUIT = 32;
const ERROR = 48;
const ERROR_LEN = 49;
const ERROR_TEXT = 64;
const ERROR_TEXT_MAX = 192;
const HEADER_BYTES = 1024;
/** Bytes of one thread's call slot: 128 f64s. */
export const SLOT_BYTES = 1024;
/** Bytes of one thread's parameter area (shape/stride arrays of its calls). */
export const PARAM_BYTES = 2048;
const SCRATCH_BYTES = 64;

/**
 * How long a worker polls for the next job before it sleeps in Atomics.wait, and how long the caller polls
 * for the end of a job before it does. A futex wake-up costs ≈ 20–100 µs (more on a busy machine); a
 * poll answers in < 1 µs. Short, because on a shared machine a polling thread takes its core from
 * everyone else; jobs are only split when each thread gets ≥ MIN_NS_PER_THREAD (src/threads/split.ts).
 */
const DEFAULT_SPIN_US = 50;
/** How long `create` waits for a worker to load and instantiate before giving up. */
const READY_TIMEOUT_MS = 30_000;
/** How long `dispose` waits for the workers to acknowledge QUIT. */
const DISPOSE_TIMEOUT_MS = 5000;

interface WorkerHandle {
  post(msg: unknown): void;
  terminate(): void;
  /** Stops the worker from keeping a Node process alive (no-op in browsers). */
  unref(): void;
  onMessage(fn: (msg: any) => void): void;
  onError(fn: (err: unknown) => void): void;
}

/** Node (worker_threads) or a browser-like host (Web Workers)? `process` is read off globalThis so the
 * browser build needs no Node types. */
const isNode =
  typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === 'string';

/** Whether this thread may block in Atomics.wait (false on a browser's main thread). */
function callerCanBlock(i32: Int32Array, index: number): boolean {
  try {
    Atomics.wait(i32, index, Atomics.load(i32, index) + 1, 0); // returns 'not-equal' at once where allowed
    return true;
  } catch {
    return false;
  }
}

/** Whether shared WebAssembly memories exist here (Node; browsers only in cross-origin-isolated pages). */
export function sharedMemorySupported(): boolean {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return false;
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) return false;
  try {
    return (
      new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor)
        .buffer instanceof SharedArrayBuffer
    );
  } catch {
    return false;
  }
}

/** Logical cores: os.availableParallelism() in Node, navigator.hardwareConcurrency in browsers, else 1. */
export async function availableThreads(): Promise<number> {
  if (isNode) {
    const spec = 'node:os';
    const os = await import(/* @vite-ignore */ /* webpackIgnore: true */ spec);
    return Math.max(1, (os.availableParallelism?.() as number | undefined) ?? os.cpus().length);
  }
  const hc = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return Math.max(1, hc ?? 1);
}

async function spawnWorker(url: URL | undefined): Promise<WorkerHandle> {
  if (isNode) {
    const spec = 'node:worker_threads';
    const { Worker } = await import(/* @vite-ignore */ /* webpackIgnore: true */ spec);
    // No Node options for the worker: it imports nothing but node:worker_threads, V8 flags (such as
    // --experimental-wasm-relaxed-simd) are process-wide anyway, and some inherited options make Worker()
    // throw (--input-type from `node --input-type=module -e`).
    const execArgv: string[] = [];
    const w = new Worker(url ?? new URL('./worker.js', import.meta.url), { execArgv });
    return {
      post: (m) => w.postMessage(m),
      terminate: () => void w.terminate(),
      unref: () => w.unref(),
      onMessage: (fn) => w.on('message', fn),
      onError: (fn) => w.on('error', fn),
    };
  }
  // Written out literally so bundlers (Vite, webpack 5, esbuild with its worker support) see the worker
  // entry and emit it; without a bundler the browser resolves it next to this file.
  const w = url
    ? new Worker(url, { type: 'module' })
    : new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  return {
    post: (m) => w.postMessage(m),
    terminate: () => w.terminate(),
    unref: () => {},
    onMessage: (fn) => w.addEventListener('message', (e) => fn(e.data)),
    onError: (fn) =>
      w.addEventListener('error', (e) =>
        fn(e instanceof ErrorEvent ? e.message || 'worker failed to load' : e),
      ),
  };
}

export interface ThreadPoolOptions {
  /** Total threads including the caller (≥ 2). */
  threads: number;
  /** The compiled shared-memory build. */
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  allocator: LinearAllocator;
  /** Export names the calls may use (indexed by `KernelCall.fn`). */
  names: readonly string[];
  /** Where the worker script is (default: ./worker.js next to this module). */
  workerUrl?: URL | string | undefined;
  /** Microseconds a worker polls for the next job before it sleeps (default 50; 0 sleeps at once). */
  spinUs?: number | undefined;
}

export class ThreadPool {
  readonly threads: number;
  /** Whether the caller waits with Atomics.wait (else it spins). */
  readonly callerBlocks: boolean;
  private readonly allocator: LinearAllocator;
  private readonly workers: WorkerHandle[];
  private readonly region: Ptr;
  private readonly ctrl: number; // i32 index
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly slotsAt: Ptr;
  private readonly paramsAt: Ptr;
  private disposed = false;

  private constructor(opts: ThreadPoolOptions, workers: WorkerHandle[], region: Ptr) {
    this.threads = opts.threads;
    this.allocator = opts.allocator;
    this.workers = workers;
    this.region = region;
    this.ctrl = region >> 2;
    // shared buffers never detach: these views stay valid when the memory grows (the region is below)
    this.i32 = new Int32Array(opts.memory.buffer);
    this.f64 = new Float64Array(opts.memory.buffer);
    this.slotsAt = region + HEADER_BYTES;
    this.paramsAt = this.slotsAt + opts.threads * SLOT_BYTES;
    this.callerBlocks = callerCanBlock(this.i32, this.ctrl + EPOCH);
  }

  /** Bytes of the pool's region of the memory (control block, slots, parameter areas, scratch). */
  static regionBytes(threads: number): number {
    return HEADER_BYTES + threads * (SLOT_BYTES + PARAM_BYTES + SCRATCH_BYTES);
  }

  /** Starts `threads − 1` workers and waits until each has instantiated the module. */
  static async create(opts: ThreadPoolOptions): Promise<ThreadPool> {
    if (!(opts.threads >= 2)) throw new RangeError(`ThreadPool: threads must be ≥ 2, got ${opts.threads}`);
    const bytes = ThreadPool.regionBytes(opts.threads);
    const region = opts.allocator.alloc(bytes);
    new Uint8Array(opts.memory.buffer, region, bytes).fill(0);
    const scratchAt = region + HEADER_BYTES + opts.threads * (SLOT_BYTES + PARAM_BYTES);
    const url = typeof opts.workerUrl === 'string' ? new URL(opts.workerUrl) : opts.workerUrl;
    const workers: WorkerHandle[] = [];
    try {
      for (let t = 1; t < opts.threads; t++) workers.push(await spawnWorker(url));
      await Promise.all(
        workers.map(
          (w, i) =>
            new Promise<void>((resolve, reject) => {
              const t = i + 1;
              const timer = setTimeout(
                () =>
                  reject(new Error(`ThreadPool: worker ${t} did not start within ${READY_TIMEOUT_MS} ms`)),
                READY_TIMEOUT_MS,
              );
              w.onMessage((m: { ready?: boolean; error?: string }) => {
                clearTimeout(timer);
                if (m?.ready) resolve();
                else if (m?.error) reject(new Error(`ThreadPool: worker ${t} failed: ${m.error}`));
              });
              w.onError((e) => {
                clearTimeout(timer);
                reject(
                  new Error(
                    `ThreadPool: worker ${t} failed to start (${e instanceof Error ? e.message : String(e)})`,
                  ),
                );
              });
              w.post({
                module: opts.module,
                memory: opts.memory,
                thread: t,
                ctrl: region,
                slot: region + HEADER_BYTES + t * SLOT_BYTES,
                scratch: scratchAt + t * SCRATCH_BYTES,
                names: [...opts.names],
                layout: {
                  epoch: EPOCH,
                  pending: PENDING,
                  quit: QUIT,
                  error: ERROR,
                  errorLen: ERROR_LEN,
                  errorText: ERROR_TEXT,
                  errorTextMax: ERROR_TEXT_MAX,
                },
                spinUs: opts.spinUs ?? DEFAULT_SPIN_US,
              });
            }),
        ),
      );
    } catch (e) {
      for (const w of workers) w.terminate();
      opts.allocator.free(region);
      throw e;
    }
    // a Node process must be able to exit with the pool alive: workers only run inside run()
    for (const w of workers) w.unref();
    return new ThreadPool(opts, workers, region);
  }

  /** Byte address of thread t's parameter area (PARAM_BYTES). */
  paramArea(t: number): Ptr {
    return this.paramsAt + t * PARAM_BYTES;
  }

  /**
   * Runs `plan[t]` on thread t (plan[0] on the caller, through `runLocal`) and returns when all are done.
   * Threads without a plan entry sit the job out. Throws the first error any thread raised.
   */
  run(plan: readonly (readonly KernelCall[])[], runLocal: (calls: readonly KernelCall[]) => void): void {
    if (this.disposed) throw new Error('ThreadPool: used after dispose()');
    if (plan.length > this.threads)
      throw new Error(`ThreadPool: plan for ${plan.length} > ${this.threads} threads`);
    const c = this.ctrl;
    for (let t = 1; t < this.threads; t++) this.writeSlot(t, plan[t] ?? []);
    Atomics.store(this.i32, c + PENDING, this.threads - 1);
    Atomics.add(this.i32, c + EPOCH, 1);
    Atomics.notify(this.i32, c + EPOCH);
    let localError: unknown;
    try {
      runLocal(plan[0] ?? []);
    } catch (e) {
      localError = e;
    }
    this.join();
    if (Atomics.load(this.i32, c + ERROR) !== 0) {
      const n = Atomics.load(this.i32, c + ERROR_LEN);
      const text = String.fromCharCode(...this.i32.subarray(c + ERROR_TEXT, c + ERROR_TEXT + n));
      Atomics.store(this.i32, c + ERROR_LEN, 0);
      Atomics.store(this.i32, c + ERROR, 0);
      throw new Error(`wasm kernel failed on ${text}`);
    }
    if (localError !== undefined) throw localError;
  }

  /** Waits for PENDING = 0: polls for up to DEFAULT_SPIN_US, then sleeps where the caller may block. */
  private join(): void {
    const at = this.ctrl + PENDING;
    const spinUntil = performance.now() + DEFAULT_SPIN_US / 1000;
    let polls = 0;
    for (;;) {
      const p = Atomics.load(this.i32, at);
      if (p === 0) return;
      if (!this.callerBlocks || (++polls & 63) !== 0 || performance.now() < spinUntil) continue;
      Atomics.wait(this.i32, at, p);
    }
  }

  private writeSlot(t: number, calls: readonly KernelCall[]): void {
    const f = this.f64;
    const end = (this.slotsAt + (t + 1) * SLOT_BYTES) >> 3;
    let at = (this.slotsAt + t * SLOT_BYTES) >> 3;
    f[at++] = calls.length;
    for (const call of calls) {
      if (at + 2 + call.args.length > end) throw new Error('ThreadPool: call slot overflow');
      f[at++] = call.fn;
      f[at++] = call.args.length;
      for (const a of call.args) f[at++] = a;
    }
  }

  /**
   * Stops the workers and frees the pool's region. The workers acknowledge QUIT through PENDING before the
   * region is freed, so a recycled region can never be read as a job; a worker that does not answer within
   * 5 s (it died) leaves the region allocated rather than risk that.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const c = this.ctrl;
    Atomics.store(this.i32, c + PENDING, this.threads - 1);
    Atomics.store(this.i32, c + QUIT, 1);
    Atomics.add(this.i32, c + EPOCH, 1);
    Atomics.notify(this.i32, c + EPOCH);
    const deadline = Date.now() + DISPOSE_TIMEOUT_MS;
    let acked = false;
    for (;;) {
      const p = Atomics.load(this.i32, c + PENDING);
      if (p === 0) {
        acked = true;
        break;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (this.callerBlocks) Atomics.wait(this.i32, c + PENDING, p, left);
    }
    for (const w of this.workers) w.terminate();
    if (acked) this.allocator.free(this.region);
  }
}
