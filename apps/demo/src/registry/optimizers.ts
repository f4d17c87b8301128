import type { Tensor } from '@descent/core';
import * as optim from '@descent/optim';
import type { Availability, OptimizerLike, Setting } from './types.js';

/**
 * The optimizers the app offers, one entry each. An entry names the @descent/optim class it uses
 * and maps the slider values to that class's options; the class is looked up in the package's
 * exports at run time, so an optimizer appears as soon as the package exports it.
 */
export interface OptimizerEntry {
  id: string;
  label: string;
  /** Export name in @descent/optim. */
  className: string;
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

export const OPTIMIZERS: OptimizerEntry[] = [
  {
    id: 'sgd',
    label: 'SGD',
    className: 'SGD',
    settings: [lr(0.3), beta('momentum', 0, 'momentum'), wd(0)],
    options: (v) => ({ lr: v.lr, momentum: v.momentum, weightDecay: v.weightDecay }),
  },
  {
    id: 'momentum',
    label: 'SGD + momentum',
    className: 'SGD',
    settings: [lr(0.5), beta('momentum', 0.9, 'momentum'), wd(0)],
    options: (v) => ({ lr: v.lr, momentum: v.momentum, weightDecay: v.weightDecay }),
  },
  {
    id: 'nesterov',
    label: 'SGD + Nesterov',
    className: 'SGD',
    settings: [lr(0.5), beta('momentum', 0.9, 'momentum'), wd(0)],
    options: (v) => ({ lr: v.lr, momentum: v.momentum, nesterov: true, weightDecay: v.weightDecay }),
  },
  {
    id: 'adam',
    label: 'Adam',
    className: 'Adam',
    settings: [lr(0.01), beta('beta1', 0.9, 'β₁'), beta('beta2', 0.999, 'β₂')],
    options: (v) => ({ lr: v.lr, betas: [v.beta1, v.beta2] }),
  },
  {
    id: 'adamw',
    label: 'AdamW',
    className: 'AdamW',
    settings: [lr(0.01), beta('beta1', 0.9, 'β₁'), beta('beta2', 0.999, 'β₂'), wd(0.01)],
    options: (v) => ({ lr: v.lr, betas: [v.beta1, v.beta2], weightDecay: v.weightDecay }),
  },
  {
    id: 'rmsprop',
    label: 'RMSprop',
    className: 'RMSprop',
    settings: [lr(0.01), beta('alpha', 0.99, 'α (decay)'), beta('momentum', 0, 'momentum')],
    options: (v) => ({ lr: v.lr, alpha: v.alpha, momentum: v.momentum }),
  },
  {
    id: 'adagrad',
    label: 'Adagrad',
    className: 'Adagrad',
    settings: [lr(0.1)],
    options: (v) => ({ lr: v.lr }),
  },
  {
    id: 'lion',
    label: 'Lion',
    className: 'Lion',
    settings: [lr(0.001), beta('beta1', 0.9, 'β₁'), beta('beta2', 0.99, 'β₂'), wd(0)],
    options: (v) => ({ lr: v.lr, betas: [v.beta1, v.beta2], weightDecay: v.weightDecay }),
  },
];

function optimizerClass(entry: OptimizerEntry): OptimizerClass | undefined {
  const value = (optim as Record<string, unknown>)[entry.className];
  return typeof value === 'function' ? (value as OptimizerClass) : undefined;
}

export function optimizerAvailability(entry: OptimizerEntry): Availability {
  return optimizerClass(entry)
    ? { available: true }
    : { available: false, reason: `@descent/optim does not export ${entry.className} in this build` };
}

export function optimizerById(id: string): OptimizerEntry {
  const entry = OPTIMIZERS.find((o) => o.id === id);
  if (!entry) throw new Error(`unknown optimizer '${id}' (known: ${OPTIMIZERS.map((o) => o.id).join(', ')})`);
  return entry;
}

/** Builds the optimizer over `params` from slider values (defaults fill the missing ones). */
export function makeOptimizer(id: string, params: Tensor[], values: Record<string, number>): OptimizerLike {
  const entry = optimizerById(id);
  const cls = optimizerClass(entry);
  if (!cls) throw new Error(optimizerAvailability(entry).reason);
  return new cls(params, entry.options(settingValues(entry.settings, values)));
}

/** The settings' defaults overridden by the given values. */
export function settingValues(
  settings: Setting[],
  values: Record<string, number> = {},
): Record<string, number> {
  return Object.fromEntries(settings.map((s) => [s.key, values[s.key] ?? s.value]));
}
