import type { Backend, BackendFactory, BackendMemory, DataId, TensorInfo } from './backend.js';
import { bytesPerElement, DEFAULT_BACKEND_DTYPES, type DType } from './dtype.js';
import { DescentError, fmtShape } from './errors.js';
import { sizeOf } from './shape.js';
import { Storage, Tensor } from './tensor.js';

interface Registration {
  factory: BackendFactory;
  instance?: Backend;
  pending?: Promise<Backend>;
}

export interface MemoryInfo {
  /** Live (not disposed) tensors on this backend. Views (reshape) count as tensors. */
  readonly tensors: number;
  /** Bytes of live storage (shared storage counted once). */
  readonly bytes: number;
  /** Tensors that were garbage-collected without `dispose()` (freed by the FinalizationRegistry backstop). */
  readonly collectedWithoutDispose: number;
  /** What the backend itself reports. */
  readonly backend: BackendMemory;
}

/** A listener told of every kernel run: used by coverage tracing and tests. */
export type KernelListener = (op: string, backend: string) => void;

/**
 * The engine: backend registry, the current backend, tidy scopes, the grad-recording switch and
 * tensor bookkeeping. One per process (module singleton), like TensorFlow.js's engine.
 */
class Engine {
  private readonly registry = new Map<string, Registration>();
  private currentName = 'js';
  private readonly scopes: Set<Tensor>[] = [];
  private readonly live = new Map<string, { tensors: number; bytes: number; collected: number }>();
  private readonly listeners = new Set<KernelListener>();
  /** False inside `noGrad` and while running a backward pass that does not build a graph. */
  gradEnabled = true;
  /** Depth of functional `grad()` calls in progress (they build graphs for higher-order grads). */
  gradDepth = 0;

  private readonly finalizer =
    typeof FinalizationRegistry === 'undefined'
      ? null
      : new FinalizationRegistry<Storage>((storage) => {
          const stats = this.stats(storage.backend.name);
          stats.tensors--;
          stats.collected++;
          this.unrefStorage(storage);
        });

  registerBackend(name: string, factory: BackendFactory, opts: { replace?: boolean } = {}): void {
    const existing = this.registry.get(name);
    if (existing && !opts.replace) {
      throw new DescentError(
        'registerBackend',
        `a backend named '${name}' is already registered (pass { replace: true } to replace it)`,
      );
    }
    if (existing?.instance) this.disposeBackendInstance(name, existing.instance);
    this.registry.set(name, { factory });
  }

  registeredBackends(): string[] {
    return [...this.registry.keys()];
  }

  /** Initializes (if needed) and returns a backend; async because wasm/WebGPU start-up is. */
  async initBackend(name: string): Promise<Backend> {
    const reg = this.registration(name);
    if (reg.instance) return reg.instance;
    if (!reg.pending) {
      reg.pending = Promise.resolve(reg.factory()).then(
        (b) => {
          reg.instance = b;
          reg.pending = undefined;
          return b;
        },
        (e) => {
          reg.pending = undefined;
          throw e;
        },
      );
    }
    return reg.pending;
  }

  /** Makes `name` the backend new tensors are created on. */
  async setBackend(name: string): Promise<Backend> {
    const b = await this.initBackend(name);
    this.currentName = name;
    return b;
  }

  /** The current backend's name. */
  get backendName(): string {
    return this.currentName;
  }

  /**
   * A backend instance, synchronously. Backends whose factory is synchronous (js) are started on
   * first use; others must have been started with `await setBackend(name)` / `initBackend(name)`.
   */
  backend(name: string = this.currentName): Backend {
    const reg = this.registration(name);
    if (reg.instance) return reg.instance;
    if (reg.pending) {
      throw new DescentError(
        'getBackend',
        `backend '${name}' is still starting; await setBackend('${name}') or initBackend('${name}') first`,
      );
    }
    const made = reg.factory();
    if (made instanceof Promise) {
      // Keep the start-up going so a later await finds it.
      reg.pending = made.then((b) => {
        reg.instance = b;
        reg.pending = undefined;
        return b;
      });
      reg.pending.catch(() => {
        reg.pending = undefined;
      });
      throw new DescentError(
        'getBackend',
        `backend '${name}' starts asynchronously; await setBackend('${name}') or initBackend('${name}') first`,
      );
    }
    reg.instance = made;
    return made;
  }

  /** Disposes a backend's instance (its live tensors become unusable); the registration stays. */
  removeBackend(name: string): void {
    const reg = this.registry.get(name);
    if (!reg) return;
    if (reg.instance) this.disposeBackendInstance(name, reg.instance);
    reg.instance = undefined;
    if (this.currentName === name) this.currentName = 'js';
  }

  private disposeBackendInstance(name: string, b: Backend): void {
    b.dispose?.();
    this.live.delete(name);
  }

  private registration(name: string): Registration {
    const reg = this.registry.get(name);
    if (!reg) {
      throw new DescentError(
        'getBackend',
        `no backend named '${name}' is registered (registered: ${this.registeredBackends().join(', ') || 'none'})`,
      );
    }
    return reg;
  }

  // ---------------------------------------------------------------- tensors and memory

  private stats(name: string) {
    let s = this.live.get(name);
    if (!s) {
      s = { tensors: 0, bytes: 0, collected: 0 };
      this.live.set(name, s);
    }
    return s;
  }

  /** Wraps fresh storage in a tensor and tracks it in the innermost tidy scope. */
  adoptStorage(storage: Storage, shape: readonly number[]): Tensor {
    const t = new Tensor(storage, shape, storage.dtype);
    const s = this.stats(storage.backend.name);
    s.tensors++;
    this.finalizer?.register(t, storage, t);
    this.scopes[this.scopes.length - 1]?.add(t);
    return t;
  }

  /**
   * Allocates storage on `backend` (optionally filled) and returns a tracked tensor. `op` names the
   * operation in the error thrown when the backend does not store `dtype`.
   */
  makeTensor(
    backend: Backend,
    shape: readonly number[],
    dtype: DType,
    values?: ArrayLike<number>,
    op = 'tensor',
  ): Tensor {
    checkBackendDType(op, backend, dtype, shape);
    const size = sizeOf(shape);
    const data = backend.allocate(size, dtype, values);
    const storage = new Storage(backend, data, dtype, size);
    this.stats(backend.name).bytes += size * bytesPerElement(dtype);
    return this.adoptStorage(storage, shape);
  }

  /** A new tensor sharing `t`'s storage with another shape (same size). */
  makeView(t: Tensor, shape: readonly number[]): Tensor {
    t.storage.refs++;
    return this.adoptStorage(t.storage, shape);
  }

  /**
   * A tensor of `shape` over elements [offset, offset + size) of `base`'s storage (a window that
   * shares memory: writes through either are seen by both). Needs a backend with `view`.
   */
  makeSubView(base: Tensor, offset: number, shape: readonly number[]): Tensor {
    base.assertAlive('subView');
    const size = sizeOf(shape);
    const backend = base.storage.backend;
    if (!backend.view)
      throw new DescentError('subView', `backend '${backend.name}' cannot make sub-views (it has no view())`);
    if (!Number.isInteger(offset) || offset < 0 || offset + size > base.size)
      throw new DescentError(
        'subView',
        `elements [${offset}, ${offset + size}) are outside a tensor of ${base.size} elements ${fmtShape(base.shape)}`,
      );
    const data = backend.view(base.storage.data as DataId, offset, size);
    base.storage.refs++;
    return this.adoptStorage(new Storage(backend, data, base.dtype, size, base.storage), shape);
  }

  /**
   * Makes `target` hold `value`'s data (sharing its storage), keeping the `target` object — how
   * optimizers update parameters in place. `target` must be a leaf; `value` stays usable.
   */
  assign(target: Tensor, value: Tensor): void {
    target.assertAlive('assign');
    value.assertAlive('assign');
    if (target.node)
      throw new DescentError(
        'assign',
        `target ${fmtShape(target.shape)} is not a leaf (it was computed by op '${target.node.op.name}')`,
      );
    if (
      target.dtype !== value.dtype ||
      target.size !== value.size ||
      target.shape.some((d, i) => d !== value.shape[i]) ||
      target.rank !== value.rank
    ) {
      throw new DescentError(
        'assign',
        `value ${fmtShape(value.shape)} ${value.dtype} does not match target ${fmtShape(target.shape)} ${target.dtype}`,
      );
    }
    if (target.storage.backend !== value.storage.backend) {
      throw new DescentError('assign', `value lives on '${value.backend}' but target on '${target.backend}'`);
    }
    if (target.storage === value.storage) return;
    value.storage.refs++;
    const old = target.storage;
    target.storage = value.storage;
    this.finalizer?.unregister(target);
    this.finalizer?.register(target, target.storage, target);
    this.unrefStorage(old);
  }

  /** Called by `Tensor.dispose()`. */
  releaseTensor(t: Tensor): void {
    this.finalizer?.unregister(t);
    this.stats(t.storage.backend.name).tensors--;
    this.unrefStorage(t.storage);
    if (t.grad) {
      t.grad.dispose();
      t.grad = null;
    }
  }

  private unrefStorage(storage: Storage): void {
    if (--storage.refs > 0) return;
    // A sub-view owns no memory: it releases its hold on the storage it is a window of.
    if (storage.parent) {
      this.unrefStorage(storage.parent);
      return;
    }
    this.stats(storage.backend.name).bytes -= storage.size * bytesPerElement(storage.dtype);
    storage.backend.free(storage.data as DataId);
  }

  memory(name: string = this.currentName): MemoryInfo {
    const s = this.stats(name);
    const b = this.registry.get(name)?.instance;
    return {
      tensors: s.tensors,
      bytes: s.bytes,
      collectedWithoutDispose: s.collected,
      backend: b ? b.memory() : { bytes: 0, buffers: 0 },
    };
  }

  // ---------------------------------------------------------------- scopes

  /** Runs `fn` in a scope; every tensor made inside that `fn` does not return (or `keep()`) is disposed. */
  tidy<T>(fn: () => T): T {
    const scope = new Set<Tensor>();
    this.scopes.push(scope);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.scopes.pop();
      for (const t of scope) t.dispose();
      throw e;
    }
    this.scopes.pop();
    if (result instanceof Promise) {
      for (const t of scope) t.dispose();
      throw new DescentError(
        'tidy',
        'the function passed to tidy must be synchronous (it returned a Promise)',
      );
    }
    const keepers = new Set<Tensor>();
    collectTensors(result, keepers);
    const parent = this.scopes[this.scopes.length - 1];
    for (const t of scope) {
      if (keepers.has(t)) parent?.add(t);
      else t.dispose();
    }
    return result;
  }

  /**
   * Runs `fn` leaving the tensors it makes in the enclosing scope, unless `fn` throws: then they are
   * disposed (so a failing composite op leaks nothing, even outside `tidy`).
   */
  guard<T>(fn: () => T): T {
    const scope = new Set<Tensor>();
    this.scopes.push(scope);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.scopes.pop();
      for (const t of scope) t.dispose();
      throw e;
    }
    this.scopes.pop();
    const parent = this.scopes[this.scopes.length - 1];
    if (parent) for (const t of scope) parent.add(t);
    return result;
  }

  /** Removes `t` from every enclosing tidy scope so it survives them. */
  keep<T extends Tensor>(t: T): T {
    for (const s of this.scopes) s.delete(t);
    return t;
  }

  // ---------------------------------------------------------------- kernels

  addKernelListener(l: KernelListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Runs a kernel, with errors that name the op, backend, shapes and dtypes. */
  runKernel(
    backend: Backend,
    op: string,
    inputs: readonly Tensor[],
    outputs: readonly Tensor[],
    attrs: unknown,
  ): void {
    for (const l of this.listeners) l(op, backend.name);
    if (outputs.every((o) => o.size === 0)) return;
    const info = (t: Tensor): TensorInfo => ({
      data: t.storage.data,
      shape: t.shape,
      dtype: t.dtype,
      size: t.size,
    });
    try {
      backend.runKernel(op, inputs.map(info), outputs.map(info), attrs);
    } catch (e) {
      if (e instanceof DescentError) throw e;
      const desc = inputs.map((t) => `${fmtShape(t.shape)} ${t.dtype}`).join(', ');
      const err = new DescentError(
        op,
        `kernel failed on backend '${backend.name}' for inputs (${desc}): ${(e as Error).message ?? e}`,
      );
      (err as Error & { cause?: unknown }).cause = e;
      throw err;
    }
  }
}

/** Throws unless `backend` stores `dtype` (see `Backend.dtypes`). */
export function checkBackendDType(
  op: string,
  backend: Backend,
  dtype: DType,
  shape: readonly number[],
): void {
  const dtypes = backend.dtypes ?? DEFAULT_BACKEND_DTYPES;
  if (!dtypes.includes(dtype))
    throw new DescentError(
      op,
      `backend '${backend.name}' has no ${dtype} tensors (it stores ${dtypes.join(', ')}); ` +
        `cannot make a ${dtype} tensor of shape ${fmtShape(shape)} there`,
    );
}

function collectTensors(x: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (x instanceof Tensor) {
    out.add(x);
    return;
  }
  if (x === null || typeof x !== 'object' || seen.has(x)) return;
  seen.add(x);
  if (Array.isArray(x)) for (const v of x) collectTensors(v, out, seen);
  else if (x instanceof Map) for (const v of x.values()) collectTensors(v, out, seen);
  else if (Object.getPrototypeOf(x) === Object.prototype)
    for (const v of Object.values(x)) collectTensors(v, out, seen);
}

export const engine = new Engine();
export type { Engine };
