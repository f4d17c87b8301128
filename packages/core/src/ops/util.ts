import { engine } from '../engine.js';
import { DescentError } from '../errors.js';
import type { Tensor } from '../tensor.js';

export type TensorOrNumber = Tensor | number;

/** Turns a number operand into a scalar tensor matching `like`'s dtype and backend. */
export function asTensor(op: string, x: TensorOrNumber, like: Tensor): Tensor {
  if (typeof x !== 'number') {
    if (x === null || typeof x !== 'object' || !('storage' in x)) {
      throw new DescentError(op, `expected a Tensor or a number, got ${x === null ? 'null' : typeof x}`);
    }
    return x;
  }
  // A plain number array: each backend rounds it to its own storage (the float64 reference keeps it exact).
  return engine.makeTensor(like.storage.backend, [], like.dtype, [x]);
}

/** Picks the tensor that decides dtype/backend when one operand may be a number. */
export function pickLike(op: string, a: TensorOrNumber, b: TensorOrNumber): Tensor {
  if (typeof a !== 'number') return a;
  if (typeof b !== 'number') return b;
  throw new DescentError(op, 'at least one operand must be a Tensor');
}

/**
 * Runs a composite op's body. When the result will be on the autograd tape, its intermediates are
 * needed by backward and stay in the caller's scope (a `tidy` frees them); otherwise they are freed
 * as soon as the result exists. Either way, if the body throws, what it made is freed.
 */
export function composite<T>(inputs: readonly Tensor[], fn: () => T): T {
  const recording = engine.gradEnabled && inputs.some((t) => t.requiresGrad);
  return recording ? engine.guard(fn) : engine.tidy(fn);
}
