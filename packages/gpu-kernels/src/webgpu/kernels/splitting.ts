import { elementwiseSplitting } from './elementwise.js';
import { nnSplitting } from './nn.js';
import { optimSplitting } from './optim.js';
import { reduceSplitting } from './reduce.js';
import { shapeSplitting } from './shape.js';

/**
 * The ops whose kernels run over tensors larger than `maxStorageBufferBindingSize` (several
 * dispatches over binding windows, see ../split.ts). Any other op given such a tensor throws an error
 * naming the op, the tensor and the limit.
 */
export const SPLITTING_OPS: readonly string[] = [
  ...elementwiseSplitting,
  ...reduceSplitting,
  'matmul',
  ...shapeSplitting,
  ...nnSplitting,
  ...optimSplitting,
];
