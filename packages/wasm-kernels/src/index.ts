/**
 * @descent/wasm-kernels — WebAssembly SIMD kernels (AssemblyScript) for descent, and the loader that
 * instantiates them over a WebAssembly.Memory managed from JavaScript.
 */

export { ALIGN, type AllocatorStats, LinearAllocator } from './allocator.js';
export {
  type BroadcastPlan,
  broadcastPlan,
  MAX_RANK,
  reductionView,
  simplifyPermutation,
} from './broadcast.js';
export { chooseVariant, hasRelaxedSimd, hasWasmSimd, type KernelVariant } from './feature-probe.js';
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
