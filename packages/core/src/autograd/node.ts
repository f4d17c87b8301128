import type { OpDef } from '../op.js';
import type { Tensor } from '../tensor.js';

/** One recorded op application on the autograd tape. */
export interface GradNode {
  readonly op: OpDef;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly attrs: unknown;
  /** Set after a backward pass that did not retain the graph. */
  released: boolean;
}
