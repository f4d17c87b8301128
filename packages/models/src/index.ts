/**
 * @descent/models — layers, models and datasets for @descent/core. This first release has Linear,
 * MLP, Glorot initialization, the two-spirals dataset and the `descent train` loop; the full layer
 * library is tracked in the project issues.
 */

export { type Dataset, twoSpirals } from './data/spirals.js';
export { glorotUniform, Linear, MLP } from './layers.js';
export { type TrainLog, type TrainOptions, trainSpirals } from './train.js';
