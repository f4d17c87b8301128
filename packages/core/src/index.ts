/**
 * @descent/core — tensors, ops, autograd, memory, the Backend interface and the reference backend.
 */
import { installAutogradOps } from './autograd/hooks.js';
import { JsBackend } from './backends/js/index.js';
import { engine } from './engine.js';
import { onesLike, zerosLike } from './ops/creation.js';
import { add } from './ops/elementwise.js';
import { identity } from './ops/shape-ops.js';
import './ops/methods.js';

installAutogradOps({ add, onesLike, zerosLike, identity });
engine.registerBackend('js', () => new JsBackend());
engine.registerBackend('js64', () => new JsBackend({ float64: true }));

export { backward, detach, grad, isGradEnabled, noGrad, valueAndGrad } from './autograd/api.js';
export type { BackwardOptions } from './autograd/backward.js';
export { type CustomFunction, checkpoint, customFunction } from './autograd/custom.js';
export type { Backend, BackendFactory, BackendMemory, DataId, TensorInfo } from './backend.js';
export { JsBackend, type JsBackendOptions, referenceKernels } from './backends/js/index.js';
export type { DataArray, DType } from './dtype.js';
export { bytesPerElement, DTYPES, F16_MAX, f16Bits, f16FromBits, roundToF16 } from './dtype.js';
export { engine, type MemoryInfo } from './engine.js';
export { DescentError } from './errors.js';
export {
  hasKernelIn,
  type KernelTable,
  kernelFor,
  mergeKernelTables,
  missingKernelError,
} from './kernel-table.js';
export { defineOp, f16Ops, type GradContext, type OpDef, type OutputSpec, opRegistry, runOp } from './op.js';
export * from './ops/conv.js';
export * from './ops/creation.js';
export * from './ops/elementwise.js';
export * from './ops/matmul.js';
export * from './ops/nn.js';
export * from './ops/optim.js';
export * from './ops/reduce.js';
export * from './ops/shape-ops.js';
export { intValues, normalValues, philox4x32, randomBits, setSeed, uniformValues } from './random.js';
export { type BroadcastPlan, broadcastPlan, broadcastShapes, sizeOf, stridesOf } from './shape.js';
export { type NestedArray, Tensor } from './tensor.js';

/** Registers a backend factory under a name (registering a name twice throws unless `replace`). */
export const registerBackend = engine.registerBackend.bind(engine);
/** Makes a backend current (starting it if needed): `await setBackend('wasm')`. */
export const setBackend = engine.setBackend.bind(engine);
/** Starts a backend without making it current. */
export const initBackend = engine.initBackend.bind(engine);
/** The backend instance by name (default: the current one). */
export const getBackend = (name?: string) => engine.backend(name);
/** The current backend's name. */
export const currentBackend = () => engine.backendName;
export const removeBackend = engine.removeBackend.bind(engine);
/** Frees every tensor made inside `fn` that `fn` does not return. */
export const tidy = engine.tidy.bind(engine);
/** Makes a leaf tensor hold another tensor's values, in place (optimizers update parameters with it). */
export const assign = engine.assign.bind(engine);
/** Keeps a tensor alive past enclosing `tidy` scopes. */
export const keep = engine.keep.bind(engine);
/**
 * A tensor over elements [offset, offset + size) of `base`'s storage, sharing memory (on backends
 * with `Backend.view`); multi-tensor optimizers keep many parameters in one buffer this way.
 */
export const subView = engine.makeSubView.bind(engine);
/** Live tensors and bytes on a backend (default: current). */
export const memory = engine.memory.bind(engine);
/** Disposes tensors (arrays and objects of tensors welcome). */
export function dispose(...xs: unknown[]): void {
  const visit = (x: unknown) => {
    if (x && typeof x === 'object') {
      if ('dispose' in x && typeof (x as { dispose: unknown }).dispose === 'function' && 'storage' in x)
        (x as { dispose(): void }).dispose();
      else if (Array.isArray(x)) x.forEach(visit);
      else Object.values(x).forEach(visit);
    }
  };
  xs.forEach(visit);
}
