/**
 * @descent/optim — optimizers for @descent/core, PyTorch-shaped: the Optimizer base, the classics
 * (SGD family, Adagrad, RMSprop, Adadelta, the Adam family) on fused in-place kernels, modern
 * methods, LR schedules, gradient clipping and accumulation. See README.md.
 */

export { GradientAccumulator, type Steppable } from './accumulate.js';
export { Adafactor, type AdafactorOptions } from './adafactor.js';
export {
  Adam,
  Adamax,
  type AdamaxOptions,
  type AdamFamilyOptions,
  type AdamOptions,
  AdamW,
  type AdamWOptions,
  NAdam,
  type NAdamOptions,
  RAdam,
  type RAdamOptions,
} from './adam.js';
export {
  Adadelta,
  type AdadeltaOptions,
  Adagrad,
  type AdagradOptions,
  RMSprop,
  type RMSpropOptions,
} from './adaptive.js';
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
  type HutchinsonOptions,
  hutchinsonDiagonal,
  rademacherLike,
  sampleFromLogits,
} from './hessian.js';
export { Lion, type LionOptions } from './lion.js';
export { type InverseRootOptions, inversePthRoot, type NewtonSchulzOptions, newtonSchulz } from './matrix.js';
export { Muon, type MuonAdamWConfig, type MuonConfig, type MuonOptions } from './muon.js';
export {
  checkBetas,
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  copyTensor,
  Optimizer,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupInput,
  type ParamsInput,
  type StateSpec,
} from './optimizer.js';
export { type BaseOptimizer, SAM, type SAMOptions } from './sam.js';
export * from './schedules.js';
export {
  NormalizedSGD,
  type NormalizedSGDOptions,
  SGD,
  type SGDOptions,
  SignSGD,
  type SignSGDOptions,
} from './sgd.js';
export { Shampoo, type ShampooGraft, type ShampooOptions } from './shampoo.js';
export { Sophia, type SophiaConfig, type SophiaOptions } from './sophia.js';
