/**
 * @descent/models — modules, layers, the GLU-family FFN, ResNet, a small GPT, initializers, losses,
 * gradient checkpointing, safetensors checkpoints (browser-safe; Node file helpers are in
 * `@descent/models/node`), datasets and a data loader, on top of @descent/core.
 */

export * from './activations.js';
export {
  checkpointBlob,
  type LoadedCheckpoint,
  type LoadOptions,
  loadCheckpoint,
  type SaveOptions,
  type StatefulOptimizer,
  saveCheckpoint,
} from './checkpoint.js';
export { syntheticShapes } from './data/images.js';
export { type Batch, DataLoader, type Examples } from './data/loader.js';
export { loadMnist, type MnistSplits } from './data/mnist.js';
export { type ModularAddition, modularAddition, type SequenceSplit } from './data/modular.js';
export {
  type BinaryDataset,
  imbalancedLogistic,
  type RegressionDataset,
  teacherStudent,
} from './data/regression.js';
export { permutation } from './data/shuffle.js';
export { circles, type Dataset, twoSpirals } from './data/spirals.js';
export * from './ffn.js';
export * from './init.js';
export * from './layers.js';
export { accuracy, bceWithLogits, crossEntropy, type LossOptions, mse, type Reduction } from './losses.js';
export { Lambda, type Layout, Module, type NamedTensor, Residual, Sequential } from './module.js';
export * from './resnet.js';
export {
  decodeTensor,
  type HostTensor,
  MAX_HEADER_BYTES,
  parseSafetensorsHeader,
  readSafetensors,
  SAFETENSORS_DTYPES,
  type SafeDType,
  type SafeTensorEntry,
  type SafetensorsHeader,
  type TensorToWrite,
  writeSafetensors,
} from './safetensors.js';
export {
  MODELS,
  type ModelName,
  optimizerNames,
  PRESETS,
  type PresetName,
  TASKS,
  type TaskName,
  type TrainLog,
  type TrainOptions,
  type TrainResult,
  train,
  trainSpirals,
} from './train.js';
export * from './transformer.js';
