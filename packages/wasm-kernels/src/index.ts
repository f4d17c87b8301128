/**
 * @descent/wasm-kernels — WebAssembly SIMD kernels (AssemblyScript) for descent, the loader that
 * instantiates them over a WebAssembly.Memory managed from JavaScript, and the WasmBackend:
 *
 *   import { registerBackend } from '@descent/core';
 *   import { createWasmBackend } from '@descent/wasm-kernels';
 *   registerBackend('wasm', () => createWasmBackend());
 */

export { ALIGN, type AllocatorStats, LinearAllocator } from './allocator.js';
export {
  createWasmBackend,
  createWasmBackendSync,
  WasmBackend,
  type WasmBackendOptions,
} from './backend.js';
export {
  type BroadcastPlan,
  broadcastPlan,
  MAX_RANK,
  reductionView,
  simplifyPermutation,
} from './broadcast.js';
export { chooseVariant, hasRelaxedSimd, hasWasmSimd, type KernelVariant } from './feature-probe.js';
export { WASM_KERNELS, type WasmKernel, type WasmKernelContext } from './kernels/index.js';
export {
  type Conv2dGeometry,
  convOutputSize,
  type KernelExports,
  KernelModule,
  type KernelModuleOptions,
  kernelBinary,
} from './module.js';
export {
  ArgReduceOp,
  type ArgReduceOpName,
  BinaryOp,
  type BinaryOpName,
  ReduceOp,
  type ReduceOpName,
  UnaryOp,
  type UnaryOpName,
} from './ops.js';
