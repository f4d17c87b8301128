import type { Tensor } from '@descent/core';
import * as models from '@descent/models';
import type { Availability, InputKind, ModelLike, Setting, TaskData } from './types.js';

/**
 * The models the Train page offers. Each entry says which input kinds it reads and builds a
 * @descent/models model for a task's input shape and class count.
 */
export interface ModelEntry {
  id: string;
  label: string;
  inputs: InputKind[];
  settings: Setting[];
  availability(): Availability;
  make(task: TaskData, v: Record<string, number>, seed: number): ModelLike;
}

/** Any object with `forward` and `parameters` (and maybe `namedParameters`) from @descent/models. */
interface ModuleShape {
  forward(x: Tensor): Tensor;
  parameters(): Tensor[];
  namedParameters?(): Iterable<[string, Tensor]> | Record<string, Tensor>;
}

/** Adapts a @descent/models module to the app's ModelLike, taking its parameter names when it has them. */
export function asModel(m: ModuleShape): ModelLike {
  return {
    forward: (x) => m.forward(x),
    parameters: () => m.parameters(),
    names() {
      if (typeof m.namedParameters === 'function') {
        const named = m.namedParameters();
        const pairs =
          Symbol.iterator in named ? [...(named as Iterable<[string, Tensor]>)] : Object.entries(named);
        return pairs.map(([name]) => name);
      }
      return m.parameters().map((_, i) => `param.${i}`);
    },
  };
}

const width = (value: number): Setting => ({
  key: 'hidden',
  label: 'hidden width',
  value,
  min: 4,
  max: 512,
  int: true,
});
const depth = (value: number): Setting => ({
  key: 'depth',
  label: 'hidden layers',
  value,
  min: 1,
  max: 6,
  int: true,
});

const flatFeatures = (task: TaskData) => task.inputShape.reduce((a, b) => a * b, 1);

const mlp: ModelEntry = {
  id: 'mlp',
  label: 'MLP (tanh)',
  inputs: ['features', 'image'],
  settings: [width(32), depth(2)],
  availability: () => ({ available: true }),
  make(task, v, seed) {
    const sizes = [flatFeatures(task), ...Array(v.depth).fill(v.hidden), task.classes];
    const net = new models.MLP(sizes, { seed });
    const model = asModel(net);
    // MLP's layers are Linear layers with weight (+ bias): name them like a state dict.
    model.names = () =>
      net.layers.flatMap((layer, i) =>
        layer.bias ? [`layers.${i}.weight`, `layers.${i}.bias`] : [`layers.${i}.weight`],
      );
    // Image tasks arrive as [n, h, w, c]; the MLP reads them flattened.
    const forward = model.forward;
    model.forward = (x) => forward(x.rank > 2 ? x.reshape([x.shape[0], -1]) : x);
    return model;
  },
};

export const MODELS: ModelEntry[] = [mlp];

export function modelById(id: string): ModelEntry {
  const m = MODELS.find((x) => x.id === id);
  if (!m) throw new Error(`unknown model '${id}' (known: ${MODELS.map((x) => x.id).join(', ')})`);
  return m;
}
