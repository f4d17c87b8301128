/**
 * The row kernels (softmax, logSoftmax, crossEntropy and its backward, layerNorm, rmsNorm) and the workgroup
 * reductions beyond what the conformance suite's shapes reach: rows long enough for the 256-invocation
 * kernels (> 2048 elements), and rows whose max is not finite (NaN, +∞, all −∞) or that hold some −∞
 * — where the kernels' per-invocation (max, Σexp) merge must give what the float64 reference gives.
 * Same checks and error bounds as the conformance suite.
 */
import {
  CrossEntropyBackward,
  crossEntropy,
  engine,
  layerNorm,
  logSoftmax,
  max,
  rmsNorm,
  runOp,
  softmax,
  sum,
} from '@descent/core';
import {
  type Case,
  checkCaseBackward,
  checkCaseForward,
  multilinear,
  REFERENCE,
  stable,
  transcendental,
} from '@descent/core/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGPUBackend } from '../src/index.js';
import { rowThreads } from '../src/webgpu/kernels/nn.js';
import { runGPU } from './gpu.js';

const NAME = 'webgpu-rows';
const LONG = 2049; // > 2048: the 256-invocation row kernels and reductions
const W = { kind: 'normal', scale: 3 } as const;

const longCases: Case[] = [
  {
    op: 'softmax',
    name: `softmax [2,${LONG}]`,
    inputs: [{ shape: [2, LONG], gen: W }],
    fn: (x) => softmax(x),
    bound: transcendental(LONG, LONG),
  },
  {
    op: 'logSoftmax',
    name: `logSoftmax [2,${LONG}]`,
    inputs: [{ shape: [2, LONG], gen: W }],
    fn: (x) => logSoftmax(x),
    bound: transcendental(LONG, LONG),
  },
  {
    op: 'crossEntropy',
    name: `crossEntropy [3,${LONG}]`,
    inputs: [
      { shape: [3, LONG], gen: W },
      { shape: [3], dtype: 'i32', gen: { kind: 'ints', lo: 0, hi: LONG } },
    ],
    fn: (x, y) => crossEntropy(x, y, { labelSmoothing: 0.1, reduction: 'none' }),
    bound: transcendental(LONG, LONG + 3),
  },
  {
    op: 'crossEntropyBackward',
    name: `crossEntropyBackward [3,${LONG}]`,
    inputs: [
      { shape: [3, LONG], gen: W },
      { shape: [3], dtype: 'i32', gen: { kind: 'ints', lo: 0, hi: LONG } },
      { shape: [3] },
    ],
    fn: (x, y, g) => runOp(CrossEntropyBackward, [x, y, g], { labelSmoothing: 0.1 })[0],
    bound: transcendental(LONG, LONG + 2),
  },
  {
    op: 'layerNorm',
    name: `layerNorm [2,${LONG}]`,
    inputs: [{ shape: [2, LONG] }, { shape: [LONG] }, { shape: [LONG] }],
    fn: (x, g, b) => layerNorm(x, g, b, 1e-5),
    bound: stable(LONG, 4, LONG + 2),
  },
  {
    op: 'rmsNorm',
    name: `rmsNorm [2,${LONG}]`,
    inputs: [{ shape: [2, LONG] }, { shape: [LONG] }],
    fn: (x, g) => rmsNorm(x, g, 1e-6),
    bound: stable(LONG, 4, LONG + 2),
  },
  {
    op: 'sum',
    name: `sum [3,${LONG}] axis -1`,
    inputs: [{ shape: [3, LONG] }],
    fn: (x) => sum(x, -1),
    bound: multilinear(LONG),
  },
  {
    op: 'max',
    name: `max [3,${LONG}] axis -1`,
    inputs: [{ shape: [3, LONG] }],
    fn: (x) => max(x, -1),
    bound: { kind: 'exact' },
  },
];

const inf = Number.POSITIVE_INFINITY;
/** Rows of 5 (every invocation but the first few holds no element) and of 200 (several per invocation). */
function hostileRows(size: number): number[] {
  const rows = [
    [Number.NaN, 1, 2],
    [inf, 1, 2],
    [-inf, -inf, -inf],
    [-inf, 1, 2],
    [3, -inf, 1e-30],
    [0.5, -2, 80],
  ];
  return rows.flatMap((r) => Array.from({ length: size }, (_, j) => (j < r.length ? r[j] : (j % 7) - 3)));
}

function hostileCases(): Case[] {
  const cases: Case[] = [];
  for (const size of [5, 200]) {
    const inputs = [{ shape: [6, size], gen: { kind: 'values' as const, values: hostileRows(size) } }];
    cases.push(
      {
        op: 'softmax',
        name: `softmax hostile rows [6,${size}]`,
        inputs,
        fn: (x) => softmax(x),
        bound: transcendental(size, size),
      },
      {
        op: 'logSoftmax',
        name: `logSoftmax hostile rows [6,${size}]`,
        inputs,
        fn: (x) => logSoftmax(x),
        bound: transcendental(size, size),
      },
      {
        op: 'crossEntropy',
        name: `crossEntropy hostile rows [6,${size}]`,
        inputs: [...inputs, { shape: [6], dtype: 'i32', gen: { kind: 'ints', lo: 0, hi: 3 } }],
        fn: (x, y) => crossEntropy(x, y, { reduction: 'none' }),
        bound: transcendental(size, size + 3),
      },
      {
        op: 'crossEntropyBackward',
        name: `crossEntropyBackward hostile rows [6,${size}]`,
        inputs: [
          ...inputs,
          { shape: [6], dtype: 'i32', gen: { kind: 'ints', lo: 0, hi: 3 } },
          { shape: [6] },
        ],
        fn: (x, y, g) => runOp(CrossEntropyBackward, [x, y, g], { labelSmoothing: 0 })[0],
        bound: transcendental(size, size + 2),
      },
    );
  }
  return cases;
}

describe('row kernels', () => {
  it('take 64 invocations per row up to 2048 elements, 256 beyond', () => {
    expect([1, 1024, 2048, 2049, 9001].map(rowThreads)).toEqual([64, 64, 64, 256, 256]);
  });
});

describe.runIf(runGPU)('row kernels on WebGPU (float64 reference, conformance bounds)', () => {
  beforeAll(async () => {
    engine.registerBackend(NAME, () => createWebGPUBackend({ name: NAME }), { replace: true });
    await engine.initBackend(NAME);
    await engine.initBackend(REFERENCE);
  });
  afterAll(() => engine.removeBackend(NAME));

  for (const c of longCases)
    it(`${c.name}: forward`, async () => {
      expect((await checkCaseForward(c, NAME)).join('\n')).toBe('');
    });

  it(`softmax [2,${LONG}]: backward`, async () => {
    const c = { ...longCases[0], inputs: [{ shape: [1, LONG], gen: W }], grad: [0] };
    expect((await checkCaseBackward(c, NAME)).join('\n')).toBe('');
  });

  for (const c of hostileCases())
    it(`${c.name}: NaN where the reference has NaN, the rest within the bound`, async () => {
      expect((await checkCaseForward(c, NAME)).join('\n')).toBe('');
    });
});
