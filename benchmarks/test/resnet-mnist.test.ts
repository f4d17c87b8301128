/**
 * Issue #6's training target at test size: a ResNet (`CifarResNet`, ResNet-8 with BasicBlocks and
 * projection shortcuts, from @descent/models) trained on MNIST digits on the wasm backend reaches a
 * held-out accuracy that a model with broken learning cannot.
 *
 * The full target — ≥ 95% test accuracy within a few CPU minutes — is the benchmark's
 * `resnet-mnist` case (`descent train --preset resnet-mnist`, 600 steps of 64 on 8,000 digits: 97–98%
 * over seeds 1–3). This test runs the same recipe with the benchmark's `--quick` budget, 150 steps
 * of 32 on 2,000 digits with peak rate 1e-2 (15–45 s on the shared 2-core VM), and asserts ≥ 85% on
 * 1,000 held-out digits. Why 85%: measured 90.1%, 92.0%, 91.4% for seeds 1–3 at this budget, while
 * the same budget with the convolutions frozen at their initial weights (only batch norm's scale and
 * shift and the classifier learning — what is left when the conv gradients are lost) reaches 32%,
 * the classifier alone 23%, and chance is 10%. The run is seeded (data split, initial weights,
 * batch order) and the wasm kernels give the same bits for any thread count.
 *
 * This lives with the benchmarks because the models package's own tests run on js/js64 only (models
 * imports just core); on the js reference backend this budget would take tens of minutes.
 */
import { engine, memory } from '@descent/core';
import { PRESETS, train } from '@descent/models';
import { createWasmBackend } from '@descent/wasm-kernels';
import { beforeAll, expect, it } from 'vitest';
import { TRAIN_TARGET_CASES, type TrainTargetResult, trainTargetSection } from '../src/train-target.js';

/**
 * A guard against hangs only: the run takes 15–45 s on the shared 2-core VM, more when CI runs every
 * package's tests at once.
 */
const HANG_GUARD_MS = 180_000;

const CASE = TRAIN_TARGET_CASES.find((c) => c.id === 'resnet-mnist')!;

beforeAll(() => {
  engine.registerBackend('wasm', () => createWasmBackend(), { replace: true });
});

it(
  'ResNet-8 on 2,000 MNIST digits, 150 steps on wasm: ≥ 85% of 1,000 held-out digits',
  async () => {
    const options = { ...PRESETS['resnet-mnist'], ...CASE.quick };
    expect(options).toMatchObject({ model: 'resnet', task: 'mnist', steps: 150, batch: 32, samples: 2000 });
    const before = memory('wasm').tensors;
    const r = await train({ ...options, backend: 'wasm', hidden: 32, seed: 1, logEvery: 50 });
    r.dispose();
    // It learned: the first batch's loss is near ln 10 (a uniform guess over 10 digits) and falls far below it.
    expect(r.first.loss).toBeGreaterThan(1.8);
    expect(r.first.loss).toBeLessThan(3.2);
    expect(r.last.loss).toBeLessThan(0.5 * r.first.loss);
    expect(r.test).toMatchObject({ metric: 'accuracy', n: 1000 });
    expect(r.test!.value).toBeGreaterThanOrEqual(0.85);
    // Nothing leaked: the model, optimizer state and every batch were freed.
    expect(memory('wasm').tensors).toBe(before);
  },
  HANG_GUARD_MS,
);

it('the benchmark report flags whether the target was reached (a flag, never a failure)', () => {
  const ok: TrainTargetResult = {
    id: 'resnet-mnist',
    impl: 'descent-wasm-2t',
    status: 'ok',
    options: { steps: 600, batch: 64, samples: 8000 },
    command: 'node packages/models/dist/cli.js train --preset resnet-mnist',
    quick: false,
    target: 0.95,
    wallSeconds: 120,
    cpuSeconds: 200,
    stepsPerSec: 5,
    firstLoss: 2.4,
    lastLoss: 0.05,
    testAccuracy: 0.969,
    testExamples: 1000,
    reached: true,
    loadAverage: [2, 3],
  };
  const short = { ...ok, quick: true, testAccuracy: 0.9, reached: false };
  const md = trainTargetSection([ok, short]);
  expect(md).toContain(
    '| resnet-mnist | descent-wasm-2t | 600 × 64 (8000 samples) | 120.0 s | 200.0 s | 5.00 |',
  );
  expect(md).toContain('96.9% of 1000 | ✓ ≥ 95% |');
  expect(md).toContain('90.0% of 1000 | ✗ below 95% (quick run: smaller budget, not expected) |');
  const failed = trainTargetSection([{ ...ok, status: 'error', reason: 'boom' }]);
  expect(failed).toContain('| error: boom |');
  expect(trainTargetSection(undefined)).toBe('');
});
