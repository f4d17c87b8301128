/** The training loop behind `descent train`: tasks × models × optimizers, resume, errors, no leaks. */
import { memory } from '@descent/core';
import { describe, expect, it } from 'vitest';
import {
  CifarResNet,
  loadCheckpoint,
  optimizerNames,
  PRESETS,
  saveCheckpoint,
  train,
  trainSpirals,
} from '../src/index.js';

const base = { backend: 'js', hidden: 16, samples: 200, seed: 1, logEvery: 1000, optimizer: 'sgd' } as const;

describe('train', () => {
  it('the spirals entry point drives the loss down without leaking', async () => {
    const before = memory('js').tensors;
    const { first, last } = await trainSpirals({ ...base, steps: 300, lr: 0.3, momentum: 0.9 });
    expect(last.loss).toBeLessThan(0.6 * first.loss);
    expect(last.accuracy).toBeGreaterThan(0.8);
    expect(memory('js').tensors).toBe(before);
  });

  it('fits imbalanced logistic data with a linear model (test accuracy above the 90% majority guess)', async () => {
    const r = await train({ ...base, task: 'logistic', model: 'linear', steps: 150, lr: 0.5, samples: 1000 });
    expect(r.test?.metric).toBe('accuracy');
    expect(r.test!.value).toBeGreaterThan(0.9);
    expect(r.last.loss).toBeLessThan(0.5 * r.first.loss);
    r.dispose();
  });

  it('a student MLP generalizes on teacher–student regression', async () => {
    const r = await train({ ...base, task: 'teacher', model: 'mlp', steps: 150, lr: 0.1 });
    expect(r.test?.metric).toBe('mse');
    // The targets have variance ≈ 0.5; a fitted student is far below that on unseen inputs.
    expect(r.test!.value).toBeLessThan(0.1);
    r.dispose();
  });

  it('resuming from a checkpoint continues exactly like an uninterrupted run', async () => {
    const o = { ...base, task: 'circles', model: 'swiglu', lr: 0.1 } as const;
    const straight = await train({ ...o, steps: 20 });
    const half = await train({ ...o, steps: 10 });
    const bytes = await saveCheckpoint({ model: half.model, optimizer: half.optimizer, step: 10 });
    half.dispose();
    const resumed = await train({
      ...o,
      steps: 10,
      resume: async (model, optimizer) => (await loadCheckpoint(bytes, { model, optimizer })).step,
    });
    expect(resumed.last.step).toBe(20);
    expect(resumed.model.parameters().map((p) => Array.from(p.dataSync()))).toEqual(
      straight.model.parameters().map((p) => Array.from(p.dataSync())),
    );
    straight.dispose();
    resumed.dispose();
  });

  it('the cosine schedule ends at a zero learning rate; an unknown schedule is an error', async () => {
    const r = await train({ ...base, task: 'circles', model: 'mlp', steps: 20, lr: 0.1, schedule: 'cosine' });
    const groups = (r.optimizer as unknown as { groups: { options: { lr: number } }[] }).groups;
    expect(groups[0].options.lr).toBeCloseTo(0, 12);
    r.dispose();
    await expect(
      train({ ...base, task: 'circles', model: 'mlp', steps: 1, schedule: 'step' as 'cosine' }),
    ).rejects.toThrow(/unknown schedule 'step'/);
  });

  it('names what is wrong: unknown optimizer, backend, or a model that does not fit the task', async () => {
    expect(optimizerNames()).toContain('sgd');
    await expect(
      train({ ...base, task: 'spirals', model: 'mlp', steps: 1, optimizer: 'nope' }),
    ).rejects.toThrow(/unknown optimizer 'nope' \(available: .*sgd/);
    await expect(train({ ...base, task: 'spirals', model: 'mlp', steps: 1, backend: 'tpu' })).rejects.toThrow(
      /unknown backend 'tpu'/,
    );
    await expect(train({ ...base, task: 'spirals', model: 'resnet', steps: 1 })).rejects.toThrow(
      /model 'resnet' does not fit task 'spirals' \(features input; it takes image\)/,
    );
  });

  it('--width sets the ResNet first-stage channels (default 8); the resnet-mnist preset is a ResNet on MNIST', async () => {
    const o = { ...base, task: 'shapes', model: 'resnet', steps: 1, samples: 8, batch: 4 } as const;
    const count = (width: number) => new CifarResNet({ width, inChannels: 1, classes: 4 }).parameterCount();
    for (const [width, expected] of [
      [undefined, count(8)],
      [3, count(3)],
    ] as const) {
      const r = await train({ ...o, width });
      expect(r.model).toBeInstanceOf(CifarResNet);
      expect(r.model.parameterCount()).toBe(expected);
      r.dispose();
    }
    await expect(train({ ...o, width: 0 })).rejects.toThrow(/--width must be a positive integer, got 0/);
    expect(PRESETS['resnet-mnist']).toMatchObject({ task: 'mnist', model: 'resnet', schedule: 'cosine' });
  });
});
