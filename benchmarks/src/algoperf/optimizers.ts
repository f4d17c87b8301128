/**
 * The optimizers under test and their declared search spaces (AlgoPerf's external-tuning ruleset:
 * each optimizer brings its own space; the benchmark draws the same number of quasi-random trials
 * from each). Optimizers are looked up by name in @descent/optim, so whatever the package exports is
 * measured and what it lacks is reported as not measured.
 */
import type { Tensor } from '@descent/core';

export type Range = [number, number, 'log' | 'linear'];

export interface OptimizerEntry {
  /** Export name in @descent/optim. */
  name: string;
  space: Record<string, Range>;
  /** Constructor options from a point of the space. */
  options(h: Record<string, number>): Record<string, unknown>;
  /** Extra constructor config (e.g. Sophia's estimator). */
  config?: (classification: boolean) => Record<string, unknown>;
  /** Hook after each step (Sophia refreshes its Hessian estimate from a closure). */
  afterStep?: 'hessian';
}

const lrAdam: Range = [1e-4, 3e-2, 'log'];

export const OPTIMIZERS: OptimizerEntry[] = [
  {
    name: 'SGD',
    space: { lr: [1e-3, 1, 'log'], momentum: [0.8, 0.99, 'linear'] },
    options: (h) => ({ lr: h.lr, momentum: h.momentum }),
  },
  {
    name: 'Adam',
    space: { lr: lrAdam, beta1: [0.8, 0.95, 'linear'] },
    options: (h) => ({ lr: h.lr, betas: [h.beta1, 0.999] }),
  },
  {
    name: 'AdamW',
    space: { lr: lrAdam, weightDecay: [1e-4, 1e-1, 'log'] },
    options: (h) => ({ lr: h.lr, weightDecay: h.weightDecay }),
  },
  { name: 'NAdam', space: { lr: lrAdam }, options: (h) => ({ lr: h.lr }) },
  { name: 'RAdam', space: { lr: lrAdam }, options: (h) => ({ lr: h.lr }) },
  { name: 'Adamax', space: { lr: lrAdam }, options: (h) => ({ lr: h.lr }) },
  {
    name: 'Lion',
    space: { lr: [1e-5, 3e-3, 'log'], weightDecay: [1e-4, 1e-1, 'log'] },
    options: (h) => ({ lr: h.lr, weightDecay: h.weightDecay }),
  },
  { name: 'Adagrad', space: { lr: [1e-3, 1, 'log'] }, options: (h) => ({ lr: h.lr }) },
  { name: 'RMSprop', space: { lr: lrAdam }, options: (h) => ({ lr: h.lr }) },
  { name: 'Adadelta', space: { lr: [0.1, 10, 'log'] }, options: (h) => ({ lr: h.lr }) },
  { name: 'Adafactor', space: { lr: [1e-4, 3e-2, 'log'] }, options: (h) => ({ lr: h.lr }) },
  { name: 'NormalizedSGD', space: { lr: [1e-3, 1, 'log'] }, options: (h) => ({ lr: h.lr }) },
  { name: 'SignSGD', space: { lr: [1e-5, 3e-2, 'log'] }, options: (h) => ({ lr: h.lr }) },
  {
    name: 'Sophia',
    space: { lr: [1e-5, 3e-2, 'log'], rho: [0.01, 0.1, 'log'] },
    options: (h) => ({ lr: h.lr, rho: h.rho }),
    config: (classification) => ({ estimator: classification ? 'gnb' : 'hutchinson', hessianInterval: 10 }),
    afterStep: 'hessian',
  },
  { name: 'Muon', space: { lr: [1e-3, 1e-1, 'log'] }, options: (h) => ({ lr: h.lr }) },
  { name: 'Shampoo', space: { lr: [1e-4, 1e-1, 'log'] }, options: (h) => ({ lr: h.lr }) },
];

/** The minimal shape of an @descent/optim optimizer the benchmark drives. */
export interface DrivenOptimizer {
  step(): void;
  zeroGrad(): void;
  maybeUpdateHessian?(closure: () => Tensor): boolean;
  dispose?(): void;
}
export type OptimizerCtor = new (params: Tensor[], options: Record<string, unknown>) => DrivenOptimizer;
