import type { Tensor } from '@descent/core';
import * as optim from '@descent/optim';
import type { OptimizerLike, Setting } from './types.js';

/**
 * The optimizers the app offers, one entry each: the @descent/optim class, its sliders, and how
 * slider values map to the class's options.
 */
export interface OptimizerEntry {
  id: string;
  label: string;
  /** The @descent/optim class, built as `new ctor(params, options(sliders))` … */
  ctor?: OptimizerClass;
  /** … or a builder, for optimizers that wrap another one (SAM). */
  build?: (params: Tensor[], options: Record<string, unknown>) => OptimizerLike;
  /** `step` takes a closure that recomputes the loss and its gradient (SAM evaluates twice). */
  closure?: boolean;
  settings: Setting[];
  options(v: Record<string, number>): Record<string, unknown>;
}

type OptimizerClass = new (params: Tensor[], options: Record<string, unknown>) => OptimizerLike;

const lr = (value: number): Setting => ({
  key: 'lr',
  label: 'learning rate',
  value,
  min: 1e-4,
  max: 2,
  log: true,
});
const beta = (key: string, value: number, label = key): Setting => ({
  key,
  label,
  value,
  min: 0,
  max: 0.9999,
});
const wd = (value: number): Setting => ({
  key: 'weightDecay',
  label: 'weight decay',
  value,
  min: 0,
  max: 0.5,
});

const adamBetas = () => [beta('beta1', 0.9, 'β₁'), beta('beta2', 0.999, 'β₂')];
const betas = (v: Record<string, number>) => [v.beta1, v.beta2];

export const OPTIMIZERS: OptimizerEntry[] = [
  {
    id: 'sgd',
    label: 'SGD',
    ctor: optim.SGD as unknown as OptimizerClass,
    settings: [lr(0.3), wd(0)],
    options: (v) => ({ lr: v.lr, weightDecay: v.weightDecay }),
  },
  {
    id: 'momentum',
    label: 'SGD + momentum',
    ctor: optim.SGD as unknown as OptimizerClass,
    settings: [lr(0.5), beta('momentum', 0.9, 'momentum'), wd(0)],
    options: (v) => ({ lr: v.lr, momentum: v.momentum, weightDecay: v.weightDecay }),
  },
  {
    id: 'nesterov',
    label: 'SGD + Nesterov',
    ctor: optim.SGD as unknown as OptimizerClass,
    settings: [lr(0.5), beta('momentum', 0.9, 'momentum'), wd(0)],
    options: (v) => ({ lr: v.lr, momentum: v.momentum, nesterov: true, weightDecay: v.weightDecay }),
  },
  {
    id: 'signsgd',
    label: 'signSGD / Signum',
    ctor: optim.SignSGD as unknown as OptimizerClass,
    settings: [lr(0.01), beta('momentum', 0.9, 'momentum')],
    options: (v) => ({ lr: v.lr, momentum: v.momentum }),
  },
  {
    id: 'normalized',
    label: 'normalized SGD',
    ctor: optim.NormalizedSGD as unknown as OptimizerClass,
    settings: [lr(0.05)],
    options: (v) => ({ lr: v.lr, normalize: 'tensor' }),
  },
  {
    id: 'adagrad',
    label: 'Adagrad',
    ctor: optim.Adagrad as unknown as OptimizerClass,
    settings: [lr(0.1)],
    options: (v) => ({ lr: v.lr }),
  },
  {
    id: 'rmsprop',
    label: 'RMSprop',
    ctor: optim.RMSprop as unknown as OptimizerClass,
    settings: [lr(0.01), beta('alpha', 0.99, 'α (decay)'), beta('momentum', 0, 'momentum')],
    options: (v) => ({ lr: v.lr, alpha: v.alpha, momentum: v.momentum }),
  },
  {
    id: 'adadelta',
    label: 'Adadelta',
    ctor: optim.Adadelta as unknown as OptimizerClass,
    settings: [lr(1), beta('rho', 0.9, 'ρ')],
    options: (v) => ({ lr: v.lr, rho: v.rho }),
  },
  {
    id: 'adam',
    label: 'Adam',
    ctor: optim.Adam as unknown as OptimizerClass,
    settings: [lr(0.01), ...adamBetas()],
    options: (v) => ({ lr: v.lr, betas: betas(v) }),
  },
  {
    id: 'adamw',
    label: 'AdamW',
    ctor: optim.AdamW as unknown as OptimizerClass,
    settings: [lr(0.01), ...adamBetas(), wd(0.01)],
    options: (v) => ({ lr: v.lr, betas: betas(v), weightDecay: v.weightDecay }),
  },
  {
    id: 'nadam',
    label: 'NAdam',
    ctor: optim.NAdam as unknown as OptimizerClass,
    settings: [lr(0.01), ...adamBetas()],
    options: (v) => ({ lr: v.lr, betas: betas(v) }),
  },
  {
    id: 'radam',
    label: 'RAdam',
    ctor: optim.RAdam as unknown as OptimizerClass,
    settings: [lr(0.01), ...adamBetas()],
    options: (v) => ({ lr: v.lr, betas: betas(v) }),
  },
  {
    id: 'adamax',
    label: 'Adamax',
    ctor: optim.Adamax as unknown as OptimizerClass,
    settings: [lr(0.02), ...adamBetas()],
    options: (v) => ({ lr: v.lr, betas: betas(v) }),
  },
  {
    id: 'lion',
    label: 'Lion',
    ctor: optim.Lion as unknown as OptimizerClass,
    settings: [lr(0.003), beta('beta1', 0.9, 'β₁'), beta('beta2', 0.99, 'β₂'), wd(0)],
    options: (v) => ({ lr: v.lr, betas: betas(v), weightDecay: v.weightDecay }),
  },
  {
    id: 'adafactor',
    label: 'Adafactor',
    ctor: optim.Adafactor as unknown as OptimizerClass,
    settings: [lr(0.01)],
    options: (v) => ({ lr: v.lr, relativeStep: false, scaleParameter: false }),
  },
  {
    id: 'muon',
    label: 'Muon (+ AdamW for vectors)',
    ctor: optim.Muon as unknown as OptimizerClass,
    settings: [
      lr(0.02),
      beta('momentum', 0.95, 'momentum'),
      { key: 'adamLr', label: 'AdamW lr (vectors)', value: 0.003, min: 1e-4, max: 0.1, log: true },
      wd(0),
    ],
    options: (v) => ({
      lr: v.lr,
      momentum: v.momentum,
      weightDecay: v.weightDecay,
      adamw: { lr: v.adamLr, weightDecay: v.weightDecay },
    }),
  },
  {
    id: 'sam',
    label: 'SAM (around SGD + momentum)',
    settings: [
      lr(0.5),
      beta('momentum', 0.9, 'momentum'),
      { key: 'rho', label: 'ρ (radius)', value: 0.05, min: 0.001, max: 1, log: true },
    ],
    options: (v) => ({ lr: v.lr, momentum: v.momentum, rho: v.rho }),
    build: (params, o) =>
      new optim.SAM(new optim.SGD(params, { lr: o.lr as number, momentum: o.momentum as number }), {
        rho: o.rho as number,
      }),
    closure: true,
  },
  {
    id: 'shampoo',
    label: 'Shampoo',
    ctor: optim.Shampoo as unknown as OptimizerClass,
    settings: [lr(0.01), beta('momentum', 0.9, 'momentum')],
    options: (v) => ({ lr: v.lr, momentum: v.momentum }),
  },
];

export function optimizerById(id: string): OptimizerEntry {
  const entry = OPTIMIZERS.find((o) => o.id === id);
  if (!entry) throw new Error(`unknown optimizer '${id}' (known: ${OPTIMIZERS.map((o) => o.id).join(', ')})`);
  return entry;
}

/** Builds the optimizer over `params` from slider values (defaults fill the missing ones). */
export function makeOptimizer(id: string, params: Tensor[], values: Record<string, number>): OptimizerLike {
  const entry = optimizerById(id);
  const options = entry.options(settingValues(entry.settings, values));
  if (entry.build) return entry.build(params, options);
  if (!entry.ctor) throw new Error(`optimizer entry '${id}' has neither a class nor a builder`);
  return new entry.ctor(params, options);
}

/** The settings' defaults overridden by the given values. */
export function settingValues(
  settings: Setting[],
  values: Record<string, number> = {},
): Record<string, number> {
  return Object.fromEntries(settings.map((s) => [s.key, values[s.key] ?? s.value]));
}
