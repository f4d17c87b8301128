/**
 * @descent/optim — optimizers for @descent/core. This first release has the base class and SGD
 * (momentum, dampening, Nesterov, weight decay); the full library is tracked in the project issues.
 */
export { Optimizer, type ParamGroup, type ParamsInput } from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
