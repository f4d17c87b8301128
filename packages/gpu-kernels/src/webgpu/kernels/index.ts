import { type KernelTable, mergeKernelTables } from '@descent/core';
import type { GPUKernel } from '../kernel.js';
import { convKernels } from './conv.js';
import { elementwiseKernels } from './elementwise.js';
import { matmul } from './matmul.js';
import { nnKernels } from './nn.js';
import { optimKernels } from './optim.js';
import { reduceKernels } from './reduce.js';
import { shapeKernels } from './shape.js';

/** Every WGSL kernel, by op name (the names of docs/kernels.md). */
export const GPU_KERNELS: KernelTable<GPUKernel> = mergeKernelTables<GPUKernel>([
  elementwiseKernels,
  reduceKernels,
  { matmul },
  shapeKernels,
  nnKernels,
  convKernels,
  optimKernels,
]);
