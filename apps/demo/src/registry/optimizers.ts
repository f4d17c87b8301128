import type { Tensor } from '@descent/core';
import * as optim from '@descent/optim';
import type { OptimizerLike, Setting } from './types.js';

/**
 * The optimizers the app offers: one row each in OPTIMIZER_TABLE (the @descent/optim class, the
 * defaults of its sliders, any fixed options), turned into entries by one generic builder.
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

/**
 * Any @descent/optim optimizer class. Each takes its own options type; the `never` parameter admits them
 * all, and `makeOptimizer` passes the options the row's sliders produce.
 */
type OptimizerClass = new (params: Tensor[], options: never) => OptimizerLike;

/** A slider's look and range; its key and default value come from the table row. */
type Slider = Omit<Setting, 'key' | 'value'>;

const COEFFICIENT = { min: 0, max: 0.9999 };

/** The sliders optimizers share, by option name. */
const SLIDERS: Record<string, Slider> = {
  lr: { label: 'learning rate', min: 1e-4, max: 2, log: true },
  momentum: { label: 'momentum', ...COEFFICIENT },
  beta1: { label: 'β₁', ...COEFFICIENT },
  beta2: { label: 'β₂', ...COEFFICIENT },
  alpha: { label: 'α (decay)', ...COEFFICIENT },
  rho: { label: 'ρ', ...COEFFICIENT },
  weightDecay: { label: 'weight decay', min: 0, max: 0.5 },
};

interface OptimizerRow extends Pick<OptimizerEntry, 'id' | 'label' | 'build' | 'closure'> {
  ctor?: OptimizerClass;
  /**
   * The sliders in display order, by option name: a default value (the slider of SLIDERS), or a whole
   * slider where an optimizer's option has its own meaning and range (SAM's ρ is a radius).
   */
  sliders: Record<string, number | Setting>;
  /** Options no slider sets (Nesterov, the normalization, Adafactor's fixed step). */
  fixed?: Record<string, unknown>;
  /** Where the sliders do not map to options by name (Muon's AdamW for vectors). */
  options?: OptimizerEntry['options'];
}

const ADAM = { beta1: 0.9, beta2: 0.999 };

const OPTIMIZER_TABLE: OptimizerRow[] = [
  { id: 'sgd', label: 'SGD', ctor: optim.SGD, sliders: { lr: 0.3, weightDecay: 0 } },
  {
    id: 'momentum',
    label: 'SGD + momentum',
    ctor: optim.SGD,
    sliders: { lr: 0.5, momentum: 0.9, weightDecay: 0 },
  },
  {
    id: 'nesterov',
    label: 'SGD + Nesterov',
    ctor: optim.SGD,
    sliders: { lr: 0.5, momentum: 0.9, weightDecay: 0 },
    fixed: { nesterov: true },
  },
  { id: 'signsgd', label: 'signSGD / Signum', ctor: optim.SignSGD, sliders: { lr: 0.01, momentum: 0.9 } },
  {
    id: 'normalized',
    label: 'normalized SGD',
    ctor: optim.NormalizedSGD,
    sliders: { lr: 0.05 },
    fixed: { normalize: 'tensor' },
  },
  { id: 'adagrad', label: 'Adagrad', ctor: optim.Adagrad, sliders: { lr: 0.1 } },
  { id: 'rmsprop', label: 'RMSprop', ctor: optim.RMSprop, sliders: { lr: 0.01, alpha: 0.99, momentum: 0 } },
  { id: 'adadelta', label: 'Adadelta', ctor: optim.Adadelta, sliders: { lr: 1, rho: 0.9 } },
  { id: 'adam', label: 'Adam', ctor: optim.Adam, sliders: { lr: 0.01, ...ADAM } },
  { id: 'adamw', label: 'AdamW', ctor: optim.AdamW, sliders: { lr: 0.01, ...ADAM, weightDecay: 0.01 } },
  { id: 'nadam', label: 'NAdam', ctor: optim.NAdam, sliders: { lr: 0.01, ...ADAM } },
  { id: 'radam', label: 'RAdam', ctor: optim.RAdam, sliders: { lr: 0.01, ...ADAM } },
  { id: 'adamax', label: 'Adamax', ctor: optim.Adamax, sliders: { lr: 0.02, ...ADAM } },
  {
    id: 'lion',
    label: 'Lion',
    ctor: optim.Lion,
    sliders: { lr: 0.003, beta1: 0.9, beta2: 0.99, weightDecay: 0 },
  },
  {
    id: 'adafactor',
    label: 'Adafactor',
    ctor: optim.Adafactor,
    sliders: { lr: 0.01 },
    fixed: { relativeStep: false, scaleParameter: false },
  },
  {
    id: 'muon',
    label: 'Muon (+ AdamW for vectors)',
    ctor: optim.Muon,
    sliders: {
      lr: 0.02,
      momentum: 0.95,
      adamLr: { key: 'adamLr', label: 'AdamW lr (vectors)', value: 0.003, min: 1e-4, max: 0.1, log: true },
      weightDecay: 0,
    },
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
    sliders: {
      lr: 0.5,
      momentum: 0.9,
      rho: { key: 'rho', label: 'ρ (radius)', value: 0.05, min: 0.001, max: 1, log: true },
    },
    build: (params, o) =>
      new optim.SAM(new optim.SGD(params, { lr: o.lr as number, momentum: o.momentum as number }), {
        rho: o.rho as number,
      }),
    closure: true,
  },
  { id: 'shampoo', label: 'Shampoo', ctor: optim.Shampoo, sliders: { lr: 0.01, momentum: 0.9 } },
];

/**
 * Slider values as optimizer options: each slider sets the option of its name, except β₁ and β₂, which
 * @descent/optim takes as one `betas` pair (at β₁'s place).
 */
function optionsByName(v: Record<string, number>): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(v)) {
    if (key === 'beta1') options.betas = [v.beta1, v.beta2];
    else if (key !== 'beta2') options[key] = value;
  }
  return options;
}

/** The entry a table row describes: its sliders as Settings, and its options from slider values. */
function optimizerEntry({ sliders, fixed, options, ...row }: OptimizerRow): OptimizerEntry {
  return {
    ...row,
    settings: Object.entries(sliders).map(([key, s]) =>
      typeof s === 'number' ? { key, value: s, ...SLIDERS[key] } : s,
    ),
    options: options ?? ((v) => ({ ...optionsByName(v), ...fixed })),
  };
}

export const OPTIMIZERS: OptimizerEntry[] = OPTIMIZER_TABLE.map(optimizerEntry);

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
  return new entry.ctor(params, options as never);
}

/** The settings' defaults overridden by the given values. */
export function settingValues(
  settings: Setting[],
  values: Record<string, number> = {},
): Record<string, number> {
  return Object.fromEntries(settings.map((s) => [s.key, values[s.key] ?? s.value]));
}
