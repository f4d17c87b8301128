import type { Tensor } from '../tensor.js';

/**
 * The autograd sweep needs `add` to accumulate gradients, but ops are defined on top of autograd.
 * The ops module installs the implementation here at load time (breaking the import cycle).
 */
let addImpl: ((a: Tensor, b: Tensor) => Tensor) | null = null;
let onesLikeImpl: ((t: Tensor) => Tensor) | null = null;
let zerosLikeImpl: ((t: Tensor) => Tensor) | null = null;
let viewImpl: ((t: Tensor) => Tensor) | null = null;

export function installAutogradOps(ops: {
  add: (a: Tensor, b: Tensor) => Tensor;
  onesLike: (t: Tensor) => Tensor;
  zerosLike: (t: Tensor) => Tensor;
  identity: (t: Tensor) => Tensor;
}): void {
  addImpl = ops.add;
  onesLikeImpl = ops.onesLike;
  zerosLikeImpl = ops.zerosLike;
  viewImpl = ops.identity;
}

export const addGrads = (a: Tensor, b: Tensor): Tensor => addImpl!(a, b);
export const onesLikeGrad = (t: Tensor): Tensor => onesLikeImpl!(t);
export const zerosLikeGrad = (t: Tensor): Tensor => zerosLikeImpl!(t);
export const identityView = (t: Tensor): Tensor => viewImpl!(t);
