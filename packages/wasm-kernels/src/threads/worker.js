// @ts-check
/**
 * A kernel worker: one instance of the kernel module over the pool's shared WebAssembly.Memory, claiming
 * and running the tasks of each job the calling thread posts in the pool's task table (see ./pool.ts for
 * the layout and the fork-join protocol).
 *
 * Plain JavaScript with no imports, so the same file runs as a Node `worker_threads` worker and as a
 * browser module worker (`new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })`), and
 * also straight from src/ (tests) where nothing compiles TypeScript for a worker. Everything it needs —
 * the compiled module, the memory, the control-block layout, the names of the exports it may call — comes
 * in the one init message, so it shares no code that could drift from the pool.
 *
 * After init the worker never returns to its event loop: it blocks in Atomics.wait between jobs.
 */

/**
 * @typedef {object} WorkerInit
 * @property {WebAssembly.Module} module  the shared-memory build
 * @property {WebAssembly.Memory} memory  the shared memory
 * @property {number} thread              this worker's index (1..threads−1; the caller is 0)
 * @property {number} ctrl                byte offset of the control block
 * @property {number} table               byte offset of the task table
 * @property {number} scratch             byte offset of this instance's 64 bytes of odometer scratch
 * @property {string[]} names             export names, indexed by the call records' function ids
 * @property {{ epoch: number, claim: number, done: number, indexBits: number, quit: number, ack: number,
 *   error: number, errorLen: number, errorText: number, errorTextMax: number, tableHead: number,
 *   taskF64: number }} layout
 *   i32 indices into the control block, CLAIM's index bits, f64 sizes of the task table's head and records
 * @property {number} spinUs              microseconds a worker polls for the next job before it sleeps
 */

const isNode = typeof (/** @type {any} */ (globalThis).process?.versions?.node) === 'string';
/** The worker global of a browser (DedicatedWorkerGlobalScope); unused in Node. */
const scope = /** @type {any} */ (globalThis);

/** Sends a message to the thread that created this worker (set up by `listen`). */
let reply = (/** @type {unknown} */ _msg) => {};
/** Ends this worker once its loop returns. */
let close = () => {};

/** @param {(init: WorkerInit) => void} start */
async function listen(start) {
  if (isNode) {
    // hidden from bundlers: this branch only runs in Node
    const spec = 'node:worker_threads';
    const { parentPort } = await import(/* @vite-ignore */ /* webpackIgnore: true */ spec);
    // synchronous postMessage: the loop below never yields to the event loop again
    reply = (msg) => parentPort.postMessage(msg);
    close = () => parentPort.close();
    parentPort.once('message', (/** @type {WorkerInit} */ init) => {
      start(init);
    });
  } else {
    reply = (msg) => scope.postMessage(msg);
    close = () => scope.close();
    scope.onmessage = (/** @type {MessageEvent} */ e) => {
      scope.onmessage = null;
      start(/** @type {WorkerInit} */ (e.data));
    };
  }
}

/** @param {WorkerInit} init */
function start(init) {
  let instance;
  try {
    instance = new WebAssembly.Instance(init.module, {
      env: {
        memory: init.memory,
        abort: (
          /** @type {number} */ _m,
          /** @type {number} */ _f,
          /** @type {number} */ line,
          /** @type {number} */ col,
        ) => {
          throw new Error(`wasm kernel abort at ${line}:${col}`);
        },
      },
    });
  } catch (e) {
    reply({ error: `thread ${init.thread}: ${e instanceof Error ? e.message : String(e)}` });
    return;
  }
  const ex = /** @type {Record<string, Function>} */ (/** @type {unknown} */ (instance.exports));
  const fns = init.names.map((n) => {
    const f = ex[n];
    if (typeof f !== 'function') throw new Error(`worker: the kernel module has no export '${n}'`);
    return f;
  });
  ex.set_odometer_scratch?.(init.scratch);
  // Control-block views. Shared buffers never detach, so these stay valid after the memory grows (the
  // control block sits at a fixed address below the old size).
  const i32 = new Int32Array(init.memory.buffer);
  const f64 = new Float64Array(init.memory.buffer);
  const L = init.layout;
  const c = init.ctrl >> 2;
  const table = init.table >> 3;
  reply({ ready: true });
  loop(init, fns, i32, f64, c, table, L);
}

/**
 * @param {WorkerInit} init
 * @param {Function[]} fns
 * @param {Int32Array} i32
 * @param {Float64Array} f64
 * @param {number} c   control block (i32 index)
 * @param {number} table task table (f64 index)
 * @param {WorkerInit['layout']} L
 */
function loop(init, fns, i32, f64, c, table, L) {
  // The epoch starts at 0 and no job starts before every worker said ready, so 0 is the last epoch this
  // worker has seen — reading it here instead could miss a job started between 'ready' and this line.
  let seen = 0;
  for (;;) {
    // A new job sets a new epoch. Poll for up to spinUs first (kernels often come back to back, and a
    // futex wake-up costs 20–100 µs), then sleep. The clock is read every 64 polls only.
    const spinUntil = performance.now() + init.spinUs / 1000;
    let polls = 0;
    while (Atomics.load(i32, c + L.epoch) === seen) {
      if ((++polls & 63) !== 0 || performance.now() < spinUntil) continue;
      Atomics.wait(i32, c + L.epoch, seen);
    }
    seen = Atomics.load(i32, c + L.epoch);
    if (Atomics.load(i32, c + L.quit) !== 0) {
      // acknowledge, so the caller may free the control block
      if (Atomics.sub(i32, c + L.ack, 1) === 1) Atomics.notify(i32, c + L.ack);
      break;
    }
    runTasks(init.thread, seen, fns, i32, f64, c, table, L);
  }
  close();
}

/**
 * Claims and runs tasks of job `epoch` until none are left. A claim is a compare-exchange of CLAIM from
 * (epoch << indexBits | i) to i + 1: it fails, and this worker stops, once the job has moved on. Record i:
 * [fn, nargs, wsArg, ...args] as f64s; the argument at wsArg (if ≥ 0) becomes this thread's workspace,
 * wsBase + thread · wsStride. A failing task is recorded (the first error wins) and still counted done.
 * @param {number} thread
 * @param {number} epoch
 * @param {Function[]} fns
 * @param {Int32Array} i32
 * @param {Float64Array} f64
 * @param {number} c
 * @param {number} table
 * @param {WorkerInit['layout']} L
 */
function runTasks(thread, epoch, fns, i32, f64, c, table, L) {
  const indexMask = (1 << L.indexBits) - 1;
  for (;;) {
    const w = Atomics.load(i32, c + L.claim);
    if (w >>> L.indexBits !== epoch) return;
    const i = w & indexMask;
    // the table belongs to this epoch while CLAIM says so; once a task is claimed the job cannot end
    // (and the table cannot change) before this worker counts it done
    const count = f64[table];
    if (i >= count) return;
    if (Atomics.compareExchange(i32, c + L.claim, w, w + 1) !== w) continue;
    const at = table + L.tableHead + i * L.taskF64;
    const nargs = f64[at + 1];
    const wsArg = f64[at + 2];
    const args = Array.from(f64.subarray(at + 3, at + 3 + nargs));
    if (wsArg >= 0) args[wsArg] = f64[table + 1] + thread * f64[table + 2];
    try {
      fns[f64[at]](...args);
    } catch (e) {
      recordError(i32, c, L, `thread ${thread}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (Atomics.add(i32, c + L.done, 1) === count - 1) Atomics.notify(i32, c + L.done);
  }
}

/**
 * The first error of a job wins; its text goes to the control block for the caller to throw.
 * @param {Int32Array} i32
 * @param {number} c
 * @param {WorkerInit['layout']} L
 * @param {string} text
 */
function recordError(i32, c, L, text) {
  if (Atomics.compareExchange(i32, c + L.error, 0, 1) !== 0) return;
  const n = Math.min(text.length, L.errorTextMax);
  for (let i = 0; i < n; i++) i32[c + L.errorText + i] = text.charCodeAt(i);
  Atomics.store(i32, c + L.errorLen, n);
}

await listen(start);
