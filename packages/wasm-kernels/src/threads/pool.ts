/**
 * A pool of kernel workers over one shared WebAssembly.Memory, driven by synchronous fork-join from the
 * thread that owns the KernelModule ("the caller", thread 0).
 *
 * Every worker instantiates the same compiled module over the same memory (./worker.js). Instances share
 * the linear memory but not their globals, so:
 *  - tensors, the control block and every workspace are regions of the one memory, handed out by the
 *    caller's allocator; each thread has its own workspace (packing panels, im2col rows);
 *  - the module's static data (below `heap_base`) is shared: the only mutable part a parallel kernel uses,
 *    the broadcast odometer, is moved per worker instance with `set_odometer_scratch` (the caller's
 *    instance keeps the static one). Instantiating re-applies the module's active data segments; that
 *    only happens in `ThreadPool.create`, before any kernel runs, and rewrites identical bytes.
 *
 * A job is a list of tasks (one kernel call each, on disjoint parts of the output). Threads claim tasks
 * with an atomic counter until none are left, so a thread the OS preempts — common on a shared machine or
 * a busy page — delays the job by at most its current task instead of by its whole share. Which thread
 * runs a task never changes its result: a task's arithmetic does not depend on it, and the workspace is
 * scratch (overwritten before it is read). A task names which of its arguments is the workspace; each
 * thread puts its own there (WS_BASE + thread · WS_STRIDE).
 *
 * Region layout (from `region`, 64-byte aligned):
 *   control block, i32 indices, each hot word on its own cache line:
 *     EPOCH      the job number (22 bits, wrapping), set by the caller to start a job; workers wait on it
 *     CLAIM      epoch << 10 | next unclaimed task: a thread claims task i of job e by compare-exchange
 *                from (e << 10 | i) to (e << 10 | i + 1), so a worker that wakes late — after its job
 *                ended, even after the next one began — can never claim or miscount a task
 *     DONE       tasks of the current job finished (the thread finishing the last one notifies)
 *     QUIT, ACK  dispose(): workers count themselves out through ACK and leave
 *     ERROR, ERROR_LEN, ERROR_TEXT   the first failure of a job, as UTF-16 code units
 *   task table, f64s: [count, wsBase, wsStride, ...] then MAX_TASKS records of TASK_F64:
 *     [fn, nargs, wsArg (−1: none), ...args]
 *   parameter area (PARAM_BYTES): shape/stride arrays the tasks point to
 *   one 64-byte odometer scratch per thread
 *
 * Fork-join: the caller writes the table, resets DONE and CLAIM, sets EPOCH and notifies, claims tasks
 * itself, then waits for DONE = count: it polls for up to 50 µs, then sleeps in Atomics.wait where the
 * caller may block (Node's main thread, any worker) and keeps polling on a browser main thread (where
 * Atomics.wait throws) — that poll only covers the last tasks of the job. The join waits for tasks, not
 * for workers: if the workers are slow to wake, the caller simply runs every task itself. Workers poll
 * for the next job for 50 µs before they sleep.
 */
import type { LinearAllocator } from '../allocator.js';

type Ptr = number;

/** One task: a kernel call (index into the pool's export names) and its arguments (i32, f32, pointers). */
export interface KernelCall {
  fn: number;
  args: number[];
  /** Index of the argument that is the workspace (each thread substitutes its own), if any. */
  ws?: number | undefined;
}

const EPOCH = 0;
const CLAIM = 16;
const DONE = 32;
const QUIT = 48;
const ACK = 56;
const ERROR = 64;
const ERROR_LEN = 65;
const ERROR_TEXT = 80;
const ERROR_TEXT_MAX = 176;
const HEADER_BYTES = 1024;
const TABLE_HEAD_F64 = 8;
/** Task index bits of CLAIM (≥ MAX_TASKS); the epoch has the other 22. */
const INDEX_BITS = 10;
const EPOCH_MASK = (1 << (32 - INDEX_BITS)) - 1;
/** f64s per task record: fn, nargs, wsArg and up to 17 arguments. */
const TASK_F64 = 20;
/** Most tasks a job may have. */
export const MAX_TASKS = 256;
const TABLE_BYTES = 8 * (TABLE_HEAD_F64 + MAX_TASKS * TASK_F64);
/** Bytes of the parameter area (shape/stride arrays of a job's tasks). */
export const PARAM_BYTES = 32768;
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
  private readonly table: number; // f64 index
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  /** Byte address of the parameter area (PARAM_BYTES). */
  readonly paramArea: Ptr;
  private epoch = 0;
  private disposed = false;

  private constructor(opts: ThreadPoolOptions, workers: WorkerHandle[], region: Ptr) {
    this.threads = opts.threads;
    this.allocator = opts.allocator;
    this.workers = workers;
    this.region = region;
    this.ctrl = region >> 2;
    this.table = (region + HEADER_BYTES) >> 3;
    // shared buffers never detach: these views stay valid when the memory grows (the region is below)
    this.i32 = new Int32Array(opts.memory.buffer);
    this.f64 = new Float64Array(opts.memory.buffer);
    this.paramArea = region + HEADER_BYTES + TABLE_BYTES;
    this.callerBlocks = callerCanBlock(this.i32, this.ctrl + EPOCH);
  }

  /** Bytes of the pool's region of the memory (control block, task table, parameters, scratch). */
  static regionBytes(threads: number): number {
    return HEADER_BYTES + TABLE_BYTES + PARAM_BYTES + threads * SCRATCH_BYTES;
  }

  /** Starts `threads − 1` workers and waits until each has instantiated the module. */
  static async create(opts: ThreadPoolOptions): Promise<ThreadPool> {
    if (!(opts.threads >= 2)) throw new RangeError(`ThreadPool: threads must be ≥ 2, got ${opts.threads}`);
    const bytes = ThreadPool.regionBytes(opts.threads);
    const region = opts.allocator.alloc(bytes);
    new Uint8Array(opts.memory.buffer, region, bytes).fill(0);
    const scratchAt = region + HEADER_BYTES + TABLE_BYTES + PARAM_BYTES;
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
                    `ThreadPool: worker ${t} failed to start (${e instanceof Error ? e.message : String(e)}); ` +
                      "pass `workerUrl` pointing at the package's threads/worker.js, or `threads: 1`",
                  ),
                );
              });
              w.post({
                module: opts.module,
                memory: opts.memory,
                thread: t,
                ctrl: region,
                table: region + HEADER_BYTES,
                scratch: scratchAt + t * SCRATCH_BYTES,
                names: [...opts.names],
                layout: {
                  epoch: EPOCH,
                  claim: CLAIM,
                  done: DONE,
                  indexBits: INDEX_BITS,
                  quit: QUIT,
                  ack: ACK,
                  error: ERROR,
                  errorLen: ERROR_LEN,
                  errorText: ERROR_TEXT,
                  errorTextMax: ERROR_TEXT_MAX,
                  tableHead: TABLE_HEAD_F64,
                  taskF64: TASK_F64,
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

  /**
   * Runs the tasks on all threads (the caller included, through `exec`) and returns when all are done.
   * `ws`: thread t's workspace is ws.base + t · ws.stride. Throws the first error any thread raised.
   */
  run(
    tasks: readonly KernelCall[],
    ws: { base: Ptr; stride: number },
    exec: (fn: number, args: number[]) => void,
  ): void {
    if (this.disposed) throw new Error('ThreadPool: used after dispose()');
    if (tasks.length > MAX_TASKS) throw new Error(`ThreadPool: ${tasks.length} tasks > ${MAX_TASKS}`);
    const f = this.f64;
    const c = this.ctrl;
    f[this.table] = tasks.length;
    f[this.table + 1] = ws.base;
    f[this.table + 2] = ws.stride;
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i]!;
      if (task.args.length > TASK_F64 - 3) throw new Error('ThreadPool: too many arguments in a task');
      let at = this.table + TABLE_HEAD_F64 + i * TASK_F64;
      f[at++] = task.fn;
      f[at++] = task.args.length;
      f[at++] = task.ws ?? -1;
      for (const a of task.args) f[at++] = a;
    }
    const e = (this.epoch = (this.epoch + 1) & EPOCH_MASK);
    const count = tasks.length;
    Atomics.store(this.i32, c + DONE, 0);
    Atomics.store(this.i32, c + CLAIM, e << INDEX_BITS);
    Atomics.store(this.i32, c + EPOCH, e);
    Atomics.notify(this.i32, c + EPOCH);
    // the caller claims tasks like any worker (thread 0: workspace ws.base)
    let localError: unknown;
    for (;;) {
      const w = Atomics.load(this.i32, c + CLAIM);
      const i = w & ((1 << INDEX_BITS) - 1);
      if (i >= count) break;
      if (Atomics.compareExchange(this.i32, c + CLAIM, w, w + 1) !== w) continue;
      const task = tasks[i]!;
      const args = task.ws === undefined ? task.args : task.args.slice();
      if (task.ws !== undefined) args[task.ws] = ws.base;
      try {
        exec(task.fn, args);
      } catch (err) {
        localError ??= err;
      }
      if (Atomics.add(this.i32, c + DONE, 1) === count - 1) Atomics.notify(this.i32, c + DONE);
    }
    this.join(count);
    if (Atomics.load(this.i32, c + ERROR) !== 0) {
      const n = Atomics.load(this.i32, c + ERROR_LEN);
      const text = String.fromCharCode(...this.i32.subarray(c + ERROR_TEXT, c + ERROR_TEXT + n));
      Atomics.store(this.i32, c + ERROR_LEN, 0);
      Atomics.store(this.i32, c + ERROR, 0);
      throw new Error(`wasm kernel failed on ${text}`);
    }
    if (localError !== undefined) throw localError;
  }

  /** Waits for DONE = count: polls for up to DEFAULT_SPIN_US, then sleeps where the caller may block. */
  private join(count: number): void {
    const at = this.ctrl + DONE;
    const spinUntil = performance.now() + DEFAULT_SPIN_US / 1000;
    let polls = 0;
    for (;;) {
      const d = Atomics.load(this.i32, at);
      if (d === count) return;
      if (!this.callerBlocks || (++polls & 63) !== 0 || performance.now() < spinUntil) continue;
      Atomics.wait(this.i32, at, d);
    }
  }

  /**
   * Stops the workers and frees the pool's region. The workers acknowledge QUIT through ACK before the
   * region is freed, so a recycled region can never be read as a job; a worker that does not answer within
   * 5 s (it died) leaves the region allocated rather than risk that.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const c = this.ctrl;
    Atomics.store(this.i32, c + ACK, this.threads - 1);
    Atomics.store(this.i32, c + QUIT, 1);
    this.epoch = (this.epoch + 1) & EPOCH_MASK;
    Atomics.store(this.i32, c + EPOCH, this.epoch);
    Atomics.notify(this.i32, c + EPOCH);
    const deadline = Date.now() + DISPOSE_TIMEOUT_MS;
    let acked = false;
    for (;;) {
      const p = Atomics.load(this.i32, c + ACK);
      if (p === 0) {
        acked = true;
        break;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (this.callerBlocks) Atomics.wait(this.i32, c + ACK, p, left);
    }
    for (const w of this.workers) w.terminate();
    if (acked) this.allocator.free(this.region);
  }
}
