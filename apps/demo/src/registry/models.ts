import { reshape, slice } from '@descent/core';
import * as models from '@descent/models';
import type { Availability, InputKind, ModelLike, Setting, TaskData, TaskView } from './types.js';

/**
 * The models the Train page offers, built from @descent/models layers. Each entry says which
 * input kinds it reads and builds a model for a task's input shape and class count.
 */
export interface ModelEntry {
  id: string;
  label: string;
  inputs: InputKind[];
  settings: Setting[];
  availability(): Availability;
  make(view: TaskView, task: TaskData, v: Record<string, number>, seed: number): ModelLike;
}

const width = (value: number, label = 'hidden width'): Setting => ({
  key: 'hidden',
  label,
  value,
  min: 4,
  max: 256,
  int: true,
});
const depth = (value: number, label = 'hidden layers'): Setting => ({
  key: 'depth',
  label,
  value,
  min: 1,
  max: 6,
  int: true,
});

const flat = (view: TaskView) => view.inputShape.reduce((a, b) => a * b, 1);
/** Images arrive NHWC; dense models read them flattened. */
const flatten = (view: TaskView, m: models.Module): models.Module =>
  view.input === 'image' ? new models.Sequential(new models.Flatten(), m) : m;
const plain = (module: models.Module): ModelLike => ({ module, forward: (x) => module.forward(x) });
const ok = (): Availability => ({ available: true });

export const MODELS: ModelEntry[] = [
  {
    id: 'mlp',
    label: 'MLP (tanh)',
    inputs: ['features', 'image'],
    settings: [width(32), depth(2)],
    availability: ok,
    make: (view, task, v, seed) =>
      plain(
        flatten(view, new models.MLP([flat(view), ...Array(v.depth).fill(v.hidden), task.classes], { seed })),
      ),
  },
  {
    id: 'swiglu',
    label: 'SwiGLU MLP (residual gated FFN)',
    inputs: ['features', 'image'],
    settings: [width(32), depth(1, 'FFN blocks')],
    availability: ok,
    make(view, task, v, seed) {
      const h = v.hidden;
      const blocks = Array.from(
        { length: v.depth },
        (_, i) =>
          new models.Residual(new models.GatedFFN(h, 2 * h, { gate: 'swiglu', seed: seed + 10 * (i + 1) })),
      );
      return plain(
        new models.Sequential(
          new models.Flatten(),
          new models.Linear(flat(view), h, { seed }),
          new models.Tanh(),
          ...blocks,
          new models.Linear(h, task.classes, { seed: seed + 1 }),
        ),
      );
    },
  },
  {
    id: 'cnn',
    label: 'Small CNN (conv-BN-ReLU ×2)',
    inputs: ['image'],
    settings: [width(8, 'channels')],
    availability: ok,
    make(view, task, v, seed) {
      const c = view.inputShape[2];
      const w = v.hidden;
      return plain(
        new models.Sequential(
          new models.Conv2d(c, w, 3, { padding: 1, seed }),
          new models.BatchNorm2d(w),
          new models.ReLU(),
          new models.MaxPool2d(2),
          new models.Conv2d(w, 2 * w, 3, { padding: 1, seed: seed + 1 }),
          new models.BatchNorm2d(2 * w),
          new models.ReLU(),
          new models.GlobalAvgPool(),
          new models.Linear(2 * w, task.classes, { seed: seed + 2 }),
        ),
      );
    },
  },
  {
    id: 'resnet',
    label: 'ResNet-8 (CIFAR-style)',
    inputs: ['image'],
    settings: [width(8, 'first-stage width')],
    availability: ok,
    make: (view, task, v) =>
      plain(
        new models.CifarResNet({
          depth: 8,
          width: v.hidden,
          inChannels: view.inputShape[2],
          classes: task.classes,
        }),
      ),
  },
  {
    id: 'gpt',
    label: 'Small GPT (causal transformer)',
    inputs: ['tokens'],
    settings: [width(64, 'model width'), depth(1, 'blocks')],
    availability: ok,
    make(view, task, v, seed) {
      const gpt = new models.GPT({
        vocab: task.vocab!,
        context: view.inputShape[0],
        dModel: v.hidden,
        heads: 4,
        layers: v.depth,
        seed,
      });
      // logits [n, T, vocab]; the answer is predicted at the last position
      const last = view.inputShape[0] - 1;
      return {
        module: gpt,
        forward(x) {
          const out = gpt.forward(x);
          return reshape(slice(out, [0, last, 0], [-1, 1, -1]), [out.shape[0], out.shape[2]]);
        },
      };
    },
  },
];

export function modelById(id: string): ModelEntry {
  const m = MODELS.find((x) => x.id === id);
  if (!m) throw new Error(`unknown model '${id}' (known: ${MODELS.map((x) => x.id).join(', ')})`);
  return m;
}
