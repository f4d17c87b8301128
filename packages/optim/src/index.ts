/**
 * @descent/optim — optimizers for @descent/core. This first release has the base class and SGD
 * (momentum, dampening, Nesterov, weight decay); the full library is tracked in the project issues.
 */

export { GradientAccumulator, type Steppable } from './accumulate.js';
export { Adafactor, type AdafactorOptions } from './adafactor.js';
export {
  type AgcOptions,
  adaptiveGradClip,
  type ClipNormOptions,
  clipGradNorm,
  clipGradValue,
} from './clip.js';
export {
  captureGrads,
  gnbDiagonal,
  hutchinsonDiagonal,
  rademacherLike,
  sampleFromLogits,
} from './hessian.js';
export { Lion, type LionOptions } from './lion.js';
export { Optimizer, type ParamGroup, type ParamsInput } from './optimizer.js';
export * from './schedules.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Sophia, type SophiaConfig, type SophiaOptions } from './sophia.js';
