/**
 * The optimizer-step suite's pure parts: the parameter set it claims (sizes, tensor counts, the
 * shapes the matrix methods see), the step table's ratios and short n/a cells, Shampoo's amortized
 * time, and that CI flags a failed step. Timings are never asserted.
 */
import { describe, expect, it } from 'vitest';
import { ciProblems } from '../src/cli.js';
import {
  modelParams,
  type OptimStepBenchmark,
  type OptimStepResult,
  optimStepTable,
  SHAMPOO_INTERVAL,
  shampooAmortized,
} from '../src/optim-step.js';
import type { BenchResults } from '../src/results.js';
import { summarize } from '../src/stats.js';

const ok = (step: string, impl: string, ms: number): OptimStepResult => ({
  step,
  impl,
  status: 'ok',
  samples: [ms],
  summary: summarize([ms]),
});

function bench(results: OptimStepResult[]): OptimStepBenchmark {
  return {
    params: 1,
    tensors: 1,
    shapes: [],
    variants: [
      { id: 'adamw', label: 'AdamW' },
      { id: 'shampoo', label: 'Shampoo' },
      { id: 'shampoo-refresh', label: 'Shampoo refresh' },
    ],
    bytes: {},
    results,
    budgetSeconds: 10,
  };
}

describe('optimizer step suite', () => {
  it('measures a GPT-shaped set of ~10M parameters (quick: ~1M) with matrices and vectors', () => {
    const count = (q: boolean) => modelParams(q).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
    expect(count(false)).toBe(10_538_496);
    expect(modelParams(false)).toHaveLength(29);
    expect(count(true)).toBe(1_053_824);
    expect(modelParams(true)).toHaveLength(38);
    const shapes = new Set(modelParams(false).map((p) => p.shape.join('x')));
    expect([...shapes].sort()).toEqual(['1376x512', '2048x512', '512', '512x1376', '512x512']);
  });

  it('tabulates ms, ratio to the copy and tfjs-adam ÷ descent from the same results', () => {
    const b = bench([
      ok('adamw', 'descent-wasm-1t', 20),
      ok('adamw', 'memcopy', 10),
      ok('tfjs-adam', 'tfjs-wasm-1t', 200),
      ok('tfjs-adam', 'memcopy', 10),
      ok('shampoo', 'descent-wasm-1t', 100),
      ok('shampoo-refresh', 'descent-wasm-1t', 1100),
      {
        step: 'shampoo',
        impl: 'descent-js',
        status: 'skipped',
        reason: 'one step took 12.3 s, over the 30 s budget',
      },
      {
        step: 'shampoo-refresh',
        impl: 'descent-js',
        status: 'skipped',
        reason: "≈ 71.05 s per step expected from the backend's nominal speed, over the 30 s budget",
      },
    ]);
    const md = optimStepTable(b);
    const adamw = md.split('\n').find((l) => l.startsWith('| AdamW |'))!;
    expect(adamw).toContain('20.0 ms (2.0× copy)');
    expect(adamw).toContain('**10.00×**'); // 200 ms tfjs-wasm Adam ÷ 20 ms
    const shampoo = md.split('\n').find((l) => l.startsWith('| Shampoo |'))!;
    expect(shampoo).toContain('n/a (1 step: 12.3 s)');
    expect(md).toContain('n/a (≈ 71.05 s est.)');
    expect(md).toContain('tfjs-wasm-1t 200.0 ms (20.0× copy)');
    // plain + (refresh − plain) / interval
    expect(shampooAmortized(b, 'descent-wasm-1t')).toBeCloseTo(100 + 1000 / SHAMPOO_INTERVAL);
    expect(shampooAmortized(b, 'descent-js')).toBeUndefined();
  });

  it('a failed step is a CI problem; a step over budget is not', () => {
    const r = {
      unavailable: {},
      kernels: [],
      optimSteps: bench([
        { step: 'muon', impl: 'descent-webgpu-node', status: 'error', reason: 'boom' },
        { step: 'adamw', impl: 'descent-js', status: 'skipped', reason: 'one step took 1 s' },
      ]),
    } as unknown as BenchResults;
    expect(ciProblems(r)).toEqual(['optimizer step muon on descent-webgpu-node: boom']);
  });
});
