/**
 * Every wasm kernel of the WasmBackend, by op name (the names of docs/kernels.md), merged from one
 * table per area. Each kernel runs in the AssemblyScript module; none falls back to JavaScript math.
 */
import { type KernelTable, mergeKernelTables } from '@descent/core';
import { convKernels } from './conv.js';
import { elementwiseKernels } from './elementwise.js';
import { matmul } from './matmul.js';
import { nnKernels } from './nn.js';
import { optimKernels } from './optim.js';
import { reduceKernels } from './reduce.js';
import { shapeKernels } from './shape.js';
import type { WasmKernel } from './types.js';

export const WASM_KERNELS: KernelTable<WasmKernel> = mergeKernelTables<WasmKernel>([
  elementwiseKernels,
  reduceKernels,
  { matmul },
  shapeKernels,
  nnKernels,
  convKernels,
  optimKernels,
]);

export type { WasmKernel, WasmKernelContext } from './types.js';
