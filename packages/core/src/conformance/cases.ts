import * as ops from '../index.js';
import type { Tensor } from '../tensor.js';
import { REFERENCE } from './check.js';
import { HOSTILE, type InputSpec } from './inputs.js';
import {
  type Bound,
  type ChainBound,
  exact,
  linearIn,
  multilinear,
  stable,
  transcendental,
} from './tolerance.js';

/**
 * One conformance case: an op applied to generated inputs, compared with the float64 reference.
 * `op` names the kernel op the case is about (cases are grouped by it, and the coverage check
 * requires every kernel op to have one). `grad` lists the inputs whose gradients are compared too.
 */
export interface Case {
  op: string;
  name: string;
  inputs: InputSpec[];
  fn: (...xs: Tensor[]) => Tensor;
  bound: Bound;
  grad?: number[];
  /** The forward's bound, when its kernel computes a cancelling formula (tolerance.ts, chains). */
  forwardChain?: ChainBound;
  /**
   * Gradients (keyed by input index) that the backward rule computes with a chain of kernels whose
   * error the single-kernel rule does not bound: their bound from the chain's error analysis.
   */
  gradChain?: Record<number, ChainBound>;
}

const f = (shape: number[], gen?: InputSpec['gen']): InputSpec => ({ shape, gen });
const i32 = (shape: number[], lo: number, hi: number): InputSpec => ({
  shape,
  dtype: 'i32',
  gen: { kind: 'ints', lo, hi },
});
const desc = (shape: readonly number[]) => `[${shape.join(',')}]`;

/** The awkward sizes every elementwise op sees: scalar, 1, odd, around 64, > 256, empty, 2-D. */
const ELEMENTWISE_SHAPES = [[], [1], [3], [17], [63], [64], [65], [257], [0], [4, 65], [3, 5, 7]];
/** Broadcasting on every axis, scalars, and empties. */
const BROADCAST_PAIRS: [number[], number[]][] = [
  [[17], [17]],
  [[65], []],
  [[], [63]],
  [
    [3, 1],
    [1, 5],
  ],
  [[2, 3, 4], [4]],
  [
    [2, 1, 4],
    [3, 1],
  ],
  [
    [1, 3, 1],
    [2, 1, 5],
  ],
  [
    [65, 64],
    [65, 1],
  ],
  [[257], [1]],
  [[0, 3], [3]],
];

type UnaryEntry = [string, (x: Tensor) => Tensor, InputSpec['gen'] | undefined, Bound, boolean];
const POS = { kind: 'uniform', lo: 0.05, hi: 4 } as const;
const AWAY = { kind: 'away', lo: 0.05, hi: 3 } as const;
const W = { kind: 'normal', scale: 3 } as const;

const UNARY: UnaryEntry[] = [
  ['neg', ops.neg, W, exact, true],
  ['abs', ops.abs, AWAY, exact, true],
  ['sign', ops.sign, W, exact, false],
  ['exp', ops.exp, W, transcendental(), true],
  ['log', ops.log, POS, transcendental(), true],
  ['sqrt', ops.sqrt, POS, stable(), true],
  ['rsqrt', ops.rsqrt, POS, stable(), true],
  ['square', ops.square, W, stable(), true],
  ['reciprocal', ops.reciprocal, AWAY, stable(), true],
  ['relu', ops.relu, AWAY, exact, true],
  ['sigmoid', ops.sigmoid, W, transcendental(), true],
  ['tanh', ops.tanh, W, transcendental(), true],
  ['erf', ops.erf, W, transcendental(), true],
  ['erfc', ops.erfc, W, transcendental(), true],
  ['softplus', ops.softplus, W, transcendental(), true],
  ['silu', (x) => ops.silu(x, 1.7), W, transcendental(), true],
  ['gelu', (x) => ops.gelu(x), W, transcendental(), true],
  ['gelu', (x) => ops.gelu(x, 'tanh'), W, transcendental(), true],
  ['leakyRelu', (x) => ops.leakyRelu(x, 0.1), AWAY, stable(), true],
  ['clamp', (x) => ops.clamp(x, -1, 1.5), W, exact, true],
];

type BinaryEntry = [
  string,
  (a: Tensor, b: Tensor) => Tensor,
  InputSpec['gen'],
  InputSpec['gen'],
  Bound,
  boolean,
];
const TIES = { kind: 'ints', lo: -3, hi: 4 } as const;
const BINARY: BinaryEntry[] = [
  ['add', ops.add, W, W, stable(), true],
  ['sub', ops.sub, W, W, stable(), true],
  ['mul', ops.mul, W, W, stable(), true],
  ['div', ops.div, W, AWAY, stable(), true],
  ['pow', ops.pow, POS, { kind: 'uniform', lo: -2, hi: 2 }, transcendental(), true],
  ['maximum', ops.maximum, { kind: 'distinct' }, W, exact, true],
  ['minimum', ops.minimum, { kind: 'distinct' }, W, exact, true],
  ['equal', ops.equal, TIES, TIES, exact, false],
  ['notEqual', ops.notEqual, TIES, TIES, exact, false],
  ['less', ops.less, TIES, TIES, exact, false],
  ['lessEqual', ops.lessEqual, TIES, TIES, exact, false],
  ['greater', ops.greater, TIES, TIES, exact, false],
  ['greaterEqual', ops.greaterEqual, TIES, TIES, exact, false],
  [
    'jumpRelu',
    (z, k) => ops.jumpRelu(z, k, { bandwidth: 0.5 }),
    W,
    { kind: 'uniform', lo: 0, hi: 1 },
    exact,
    true,
  ],
];
const INT_BINARY: [string, (a: Tensor, b: Tensor) => Tensor][] = [
  ['add', ops.add],
  ['sub', ops.sub],
  ['mul', ops.mul],
  ['maximum', ops.maximum],
  ['minimum', ops.minimum],
  ['equal', ops.equal],
  ['less', ops.less],
  ['greaterEqual', ops.greaterEqual],
];

function elementwiseCases(): Case[] {
  const cases: Case[] = [];
  for (const [op, fn, gen, bound, diff] of UNARY) {
    for (const shape of ELEMENTWISE_SHAPES) {
      cases.push({
        op,
        name: `${op} ${desc(shape)}`,
        inputs: [f(shape, gen)],
        fn,
        bound,
        grad: diff ? [0] : undefined,
      });
    }
    cases.push({
      op,
      name: `${op} hostile values`,
      inputs: [f([HOSTILE.length], { kind: 'values', values: HOSTILE })],
      fn,
      bound,
    });
  }
  const intUnary: [string, (x: Tensor) => Tensor][] = [
    ['neg', ops.neg],
    ['abs', ops.abs],
    ['sign', ops.sign],
    ['square', ops.square],
    ['relu', ops.relu],
  ];
  for (const [op, fn] of intUnary) {
    cases.push({ op, name: `${op} i32 [65]`, inputs: [i32([65], -1000, 1000)], fn, bound: exact });
  }
  cases.push({
    op: 'clamp',
    name: 'clamp i32 [17]',
    inputs: [i32([17], -10, 10)],
    fn: (x) => ops.clamp(x, -3, 4),
    bound: exact,
  });
  for (const [op, fn, ga, gb, bound, diff] of BINARY) {
    for (const [sa, sb] of BROADCAST_PAIRS) {
      cases.push({
        op,
        name: `${op} ${desc(sa)} ${desc(sb)}`,
        inputs: [f(sa, ga), f(sb, gb)],
        fn,
        bound,
        grad: diff ? [0, 1] : undefined,
      });
    }
  }
  const hostileBinary: [string, (a: Tensor, b: Tensor) => Tensor][] = [
    ['add', ops.add],
    ['sub', ops.sub],
    ['mul', ops.mul],
    ['div', ops.div],
    ['maximum', ops.maximum],
    ['minimum', ops.minimum],
    ['less', ops.less],
    ['equal', ops.equal],
  ];
  for (const [op, fn] of hostileBinary) {
    cases.push({
      op,
      name: `${op} hostile values`,
      inputs: [
        f([HOSTILE.length, 1], { kind: 'values', values: HOSTILE }),
        f([1, HOSTILE.length], { kind: 'values', values: HOSTILE }),
      ],
      fn,
      bound: op === 'div' || op === 'mul' ? stable() : op === 'add' || op === 'sub' ? stable() : exact,
    });
  }
  for (const [op, fn] of INT_BINARY) {
    cases.push({
      op,
      name: `${op} i32 [3,17] [17]`,
      inputs: [i32([3, 17], -1000, 1000), i32([17], -1000, 1000)],
      fn,
      bound: exact,
    });
  }
  for (const [sc, sa, sb] of [
    [[17], [17], [17]],
    [
      [3, 1],
      [1, 4],
      [3, 4],
    ],
    [[65], [], [65]],
    [[2, 1, 5], [5], [2, 3, 1]],
    [[0], [0], [1]],
  ]) {
    cases.push({
      op: 'where',
      name: `where ${desc(sc)} ${desc(sa)} ${desc(sb)}`,
      inputs: [f(sc, { kind: 'ints', lo: 0, hi: 2 }), f(sa), f(sb)],
      fn: ops.where,
      bound: exact,
      grad: [1, 2],
    });
  }
  cases.push({
    op: 'cast',
    name: 'cast f32→i32',
    inputs: [f([65], { kind: 'uniform', lo: -100, hi: 100 })],
    fn: (x) => ops.cast(x, 'i32'),
    bound: exact,
  });
  cases.push({
    op: 'cast',
    name: 'cast i32→f32',
    inputs: [i32([65], -100000, 100000)],
    fn: (x) => ops.cast(x, 'f32'),
    bound: exact,
  });
  return cases;
}

function reductionCases(): Case[] {
  const cases: Case[] = [];
  const layouts: [number[], number | number[] | undefined, boolean][] = [
    [[257], undefined, false],
    [[1], 0, false],
    [[3, 17], 0, false],
    [[3, 17], 1, true],
    [[3, 17], [0, 1], false],
    [[2, 3, 4], [0, 2], false],
    [[2, 3, 4], 1, true],
    [[65, 64], 0, false],
    [[4, 1025], 1, false],
  ];
  for (const [shape, axes, keep] of layouts) {
    const n =
      axes === undefined ? shape.reduce((a, b) => a * b, 1) : [axes].flat().reduce((p, a) => p * shape[a], 1);
    const tag = `${desc(shape)} axes=${JSON.stringify(axes)}${keep ? ' keepDims' : ''}`;
    cases.push({
      op: 'sum',
      name: `sum ${tag}`,
      inputs: [f(shape)],
      fn: (x) => ops.sum(x, axes, keep),
      bound: multilinear(n),
      grad: [0],
    });
    cases.push({
      op: 'sum',
      name: `mean ${tag}`,
      inputs: [f(shape)],
      fn: (x) => ops.mean(x, axes, keep),
      bound: multilinear(n + 1),
      grad: [0],
    });
    for (const [op, reduceFn] of [
      ['max', ops.max],
      ['min', ops.min],
    ] as const) {
      cases.push({
        op,
        name: `${op} ${tag}`,
        inputs: [f(shape, { kind: 'distinct' })],
        fn: (x) => reduceFn(x, axes, keep),
        bound: exact,
        grad: [0],
      });
    }
  }
  cases.push({
    op: 'max',
    name: 'max with ties [4,6]',
    inputs: [f([4, 6], { kind: 'ints', lo: 0, hi: 3 })],
    fn: (x) => ops.max(x, 1),
    bound: exact,
    grad: [0],
  });
  cases.push({
    op: 'sum',
    name: 'sum over empty axis [0,5] axis 0',
    inputs: [f([0, 5])],
    fn: (x) => ops.sum(x, 0),
    bound: exact,
  });
  cases.push({
    op: 'sum',
    name: 'sum of empty [5,0] axis 0',
    inputs: [f([5, 0])],
    fn: (x) => ops.sum(x, 0),
    bound: exact,
  });
  cases.push({
    op: 'sum',
    name: 'sum i32 [3,65]',
    inputs: [i32([3, 65], -1000, 1000)],
    fn: (x) => ops.sum(x, 1),
    bound: exact,
  });
  cases.push({
    op: 'max',
    name: 'max i32 [3,65]',
    inputs: [i32([3, 65], -1000, 1000)],
    fn: (x) => ops.max(x, 0),
    bound: exact,
  });
  cases.push({
    op: 'max',
    name: 'max hostile',
    inputs: [f([2, 8], { kind: 'values', values: HOSTILE })],
    fn: (x) => ops.max(x, 1),
    bound: exact,
  });
  for (const [shape, axis] of [
    [[257], 0],
    [[3, 17], 1],
    [[3, 17], 0],
    [[2, 65, 3], 1],
  ] as [number[], number][]) {
    for (const [op, argFn] of [
      ['argmax', ops.argmax],
      ['argmin', ops.argmin],
    ] as const) {
      cases.push({
        op,
        name: `${op} ${desc(shape)} axis ${axis}`,
        inputs: [f(shape, { kind: 'distinct' })],
        fn: (x) => argFn(x, axis),
        bound: exact,
      });
    }
  }
  cases.push({
    op: 'argmax',
    name: 'argmax ties [4,6] (first wins)',
    inputs: [f([4, 6], { kind: 'ints', lo: 0, hi: 3 })],
    fn: (x) => ops.argmax(x, 1),
    bound: exact,
  });
  for (const [shape, k] of [
    [[3, 17], 17],
    [[4, 1025], 1025],
    [[1, 1], 1],
  ] as [number[], number][]) {
    cases.push({
      op: 'logSumExp',
      name: `logSumExp ${desc(shape)}`,
      inputs: [f(shape, W)],
      fn: (x) => ops.logSumExp(x, -1),
      bound: transcendental(k, k + 2),
      grad: [0],
    });
    cases.push({
      op: 'variance',
      name: `variance ${desc(shape)}`,
      inputs: [f(shape)],
      fn: (x) => ops.variance(x, -1, true),
      bound: stable(k, 4, k + 2),
      grad: [0],
    });
  }
  // Confident slices with the max near 0: log Σ = log1p(s') with s' down to e⁻³⁰ (fl(1 + s') = 1).
  cases.push({
    op: 'logSumExp',
    name: 'logSumExp confident rows, max near 0 [5,2]',
    inputs: [f([5, 2], { kind: 'values', values: [0, -20, -9, 0, 1e-3, -15, -0.5, -30, 0, 0] })],
    fn: (x) => ops.logSumExp(x, -1),
    bound: transcendental(2, 4),
    grad: [0],
  });
  return cases;
}

function matmulCases(): Case[] {
  const cases: Case[] = [];
  const sizes: [number, number, number][] = [
    [1, 1, 1],
    [3, 17, 5],
    [17, 63, 65],
    [64, 64, 64],
    [65, 257, 3],
    [2, 1100, 3],
    [0, 5, 3],
    [4, 0, 3],
  ];
  for (const [m, k, n] of sizes) {
    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      const a = tA ? [k, m] : [m, k];
      const b = tB ? [n, k] : [k, n];
      cases.push({
        op: 'matmul',
        name: `matmul ${m}x${k}x${n}${tA ? ' Aᵀ' : ''}${tB ? ' Bᵀ' : ''}`,
        inputs: [f(a), f(b)],
        fn: (x, y) => ops.matmul(x, y, { transposeA: tA, transposeB: tB }),
        bound: multilinear(k, Math.max(m, n)),
        grad: [0, 1],
      });
    }
  }
  const batched: [number[], number[]][] = [
    [
      [2, 3, 5],
      [2, 5, 4],
    ],
    [
      [2, 1, 3, 5],
      [3, 5, 4],
    ],
    [
      [4, 3, 5],
      [5, 2],
    ],
    [
      [3, 5],
      [2, 5, 4],
    ],
    [[7], [7, 3]],
    [[3, 7], [7]],
  ];
  for (const [a, b] of batched) {
    cases.push({
      op: 'matmul',
      name: `matmul ${desc(a)}·${desc(b)}`,
      inputs: [f(a), f(b)],
      fn: (x, y) => ops.matmul(x, y),
      bound: multilinear(8, 24),
      grad: [0, 1],
    });
  }
  return cases;
}

function shapeCases(): Case[] {
  const c: Case[] = [];
  const add = (op: string, name: string, inputs: InputSpec[], fn: Case['fn'], grad?: number[]) =>
    c.push({ op, name, inputs, fn, bound: exact, grad });
  add('transpose', 'transpose [17,65]', [f([17, 65])], (x) => ops.transpose(x), [0]);
  add('transpose', 'transpose [2,3,4] perm 2,0,1', [f([2, 3, 4])], (x) => ops.transpose(x, [2, 0, 1]), [0]);
  add(
    'transpose',
    'transpose [1,3,1,5] perm 3,1,2,0',
    [f([1, 3, 1, 5])],
    (x) => ops.transpose(x, [3, 1, 2, 0]),
    [0],
  );
  add(
    'transpose',
    'transpose [2,3,4,5,2] perm 4,2,0,3,1',
    [f([2, 3, 4, 5, 2])],
    (x) => ops.transpose(x, [4, 2, 0, 3, 1]),
    [0],
  );
  add('transpose', 'transpose [0,4]', [f([0, 4])], (x) => ops.transpose(x));
  add('transpose', 'transpose i32 [3,5]', [i32([3, 5], -9, 9)], (x) => ops.transpose(x));
  add('slice', 'slice [65] 3..20', [f([65])], (x) => ops.slice(x, [3], [17]), [0]);
  add('slice', 'slice [5,17,3] mid', [f([5, 17, 3])], (x) => ops.slice(x, [1, 2, 0], [3, 14, -1]), [0]);
  add('slice', 'slice to empty', [f([4, 4])], (x) => ops.slice(x, [1, 1], [0, 2]));
  add(
    'pad',
    'pad [3,5] (1,2),(0,3)',
    [f([3, 5])],
    (x) =>
      ops.pad(x, [
        [1, 2],
        [0, 3],
      ]),
    [0],
  );
  add(
    'pad',
    'pad [2,3,4] value -1',
    [f([2, 3, 4])],
    (x) =>
      ops.pad(
        x,
        [
          [0, 1],
          [2, 0],
          [1, 1],
        ],
        -1,
      ),
    [0],
  );
  add('pad', 'pad empty [0,2]', [f([0, 2])], (x) =>
    ops.pad(x, [
      [1, 1],
      [0, 0],
    ]),
  );
  add(
    'concat',
    'concat axis 0 [3,5]+[1,5]+[0,5]',
    [f([3, 5]), f([1, 5]), f([0, 5])],
    (a, b, d) => ops.concat([a, b, d], 0),
    [0, 1, 2],
  );
  add(
    'concat',
    'concat axis 1 [2,3]+[2,17]',
    [f([2, 3]), f([2, 17])],
    (a, b) => ops.concat([a, b], 1),
    [0, 1],
  );
  add(
    'concat',
    'concat axis -1 [2,3,1]+[2,3,4]',
    [f([2, 3, 1]), f([2, 3, 4])],
    (a, b) => ops.concat([a, b], -1),
    [0, 1],
  );
  add(
    'concat',
    'stack 3×[4,5] axis 1',
    [f([4, 5]), f([4, 5]), f([4, 5])],
    (a, b, d) => ops.stack([a, b, d], 1),
    [0, 1, 2],
  );
  add(
    'gather',
    'gather [10,17] rows, repeated',
    [f([10, 17]), i32([13], 0, 10)],
    (x, i) => ops.gather(x, i, 0),
    [0],
  );
  add(
    'gather',
    'gather [3,65,2] axis 1, 2-D indices',
    [f([3, 65, 2]), i32([4, 5], 0, 65)],
    (x, i) => ops.gather(x, i, 1),
    [0],
  );
  add('gather', 'gather empty indices', [f([5, 3]), i32([0], 0, 5)], (x, i) => ops.gather(x, i, 0));
  add('gather', 'gather i32 table', [i32([6, 3], -5, 5), i32([4], 0, 6)], (x, i) => ops.gather(x, i, 0));
  c.push({
    op: 'scatterAdd',
    name: 'scatterAdd [13,17] into 10 rows',
    inputs: [f([13, 17]), i32([13], 0, 10)],
    fn: (u, i) => ops.scatterAdd(u, i, 0, 10),
    bound: multilinear(13),
    grad: [0],
  });
  c.push({
    op: 'scatterAdd',
    name: 'scatterAdd [3,4,5,2] axis 1',
    inputs: [f([3, 4, 5, 2]), i32([4, 5], 0, 7)],
    fn: (u, i) => ops.scatterAdd(u, i, 1, 7),
    bound: multilinear(20),
    grad: [0],
  });
  add('broadcastTo', 'broadcastTo [3,1] → [2,3,5]', [f([3, 1])], (x) => ops.broadcastTo(x, [2, 3, 5]), [0]);
  add('broadcastTo', 'broadcastTo [] → [65]', [f([])], (x) => ops.broadcastTo(x, [65]), [0]);
  add('broadcastTo', 'oneHot [7] depth 5', [i32([7], -1, 6)], (i) => ops.oneHot(i, 5));
  add('reshape', 'reshape [3,4] → [2,-1]', [f([3, 4])], (x) => ops.mul(ops.reshape(x, [2, -1]), 1), [0]);
  return c;
}

/** Logit pairs of confident rows: one class with s ≈ 1 − e⁻⁶ … 1 − e⁻¹⁵ (see softmaxGradChain). */
const CONFIDENT: InputSpec['gen'] = { kind: 'values', values: [6, 0, 0.5, 15, 9, -1, -2, 11] };
/**
 * Long confident rows of 300: one logit 22 above others in [−3, 3], so log Σ = log(1 + s') with
 * s' ≈ 3e-8 < 2⁻²⁴, where fl(1 + s') = 1; the max at column 270 in one row, 5 in the other, so a kernel
 * that walks the row in segments (WebGPU with small bindings) merges it across them.
 */
const CONFIDENT_LONG: InputSpec['gen'] = {
  kind: 'values',
  values: Array.from({ length: 600 }, (_, i) => (i === 270 || i === 305 ? 22 : (i % 7) - 3)),
};

/** Softmax's backward formula s ⊙ (u − Σ u⊙s) on magnitudes: s ⊙ (|u| + Σ|u|⊙s), over the last axis. */
function softmaxBackwardTerms(x: Tensor, u: Tensor): Tensor {
  const s = ops.softmax(x);
  const a = ops.abs(u);
  return ops.mul(s, ops.add(a, ops.sum(ops.mul(a, s), -1, true)));
}

/**
 * Gradients of softmax and logSoftmax (last axis, C classes) are chains of kernels (tolerance.ts,
 * chains; u: unit roundoff; y the forward kernel's output, within its bound y(x + δx)(1 + η),
 * |δx| ≤ 8u·|x|, |η| ≤ 8C·u; G = mul(1, G) first, 12u):
 * - softmax: dx = y ⊙ (G − Σ G⊙y) is crossEntropyBackward's logits-gradient chain (derived at its
 *   cases below) with u = G, one mul fewer on u: (8C + 32)·P_i + (20C + 44)·Q_i ≤ (20C + 44)·T_i.
 * - logSoftmax: dx = G − exp(y)·ΣG, with s = exp(y): exp (8u·(1 + |y_i|) relative), the row sum
 *   (4C·u·Σ|G|), mul (12u), sub (4u·(|dx_i| + |G_i| + |m_i|)). With P_i = |G_i|, Q_i = s_i·Σ|G_j|:
 *   G's 12u gives 12u·(P_i + Q_i); η moves y_i by 8C·u·|y_i|, so s_i by that relatively: 8C·u·|y_i|·Q_i;
 *   exp 8u·(1 + |y_i|)·Q_i; the sum 4C·u·Q_i; the mul 12u·Q_i; the sub 8u·(P_i + Q_i). In all
 *   ≤ u·(20·P_i + (4C + 40)·Q_i + (8C + 8)·|y_i|·Q_i) ≤ (8C + 40)·u·T_i, T_i = |G_i| + s_i·(1 + |y_i|)·Σ|G_j|.
 * δx adds 8u·Σ|∂dx_i/∂x_k||x_k| to both.
 */
const softmaxGradChain = (classes: number): ChainBound => ({
  c: 8,
  k: 20 * classes + 44,
  terms: ([x], G) => softmaxBackwardTerms(x, G!),
});
const logSoftmaxGradChain = (classes: number): ChainBound => ({
  c: 8,
  k: 8 * classes + 40,
  terms: ([x], G) => {
    const y = ops.logSoftmax(x);
    const spread = ops.mul(ops.exp(y), ops.add(ops.abs(y), 1));
    return ops.add(ops.abs(G!), ops.mul(spread, ops.sum(ops.abs(G!), -1, true)));
  },
});

/**
 * rmsNorm's gradient for x (last axis C) is a chain of kernels too: rstd = rsqrt(mean(x²) + ε),
 * x̂ = x·rstd, then dx = rstd·(ĝ − x̂·mean(ĝ⊙x̂)) with ĝ = G·γ (G = mul(1, G) first), each mean a sum
 * (4C·u of Σ|terms|) and a mul by 1/C. Every step's error is counted as a relative error of its
 * result (a mul 12u, an add of positives 8u, rsqrt 6u and half its input's), so nothing remains for
 * an input perturbation (c = 0). rstd: square 12u, sum 4C·u, ·1/C 12u, +ε 8u, halved by rsqrt, plus
 * 6u: ρ_r = (2C + 22)·u; x̂: ρ_r + 12u = (2C + 34)·u; ĝ: 24u. With P_i = |ĝ_i|, M = mean_j|ĝ_j·x̂_j|,
 * Q_i = |x̂_i|·M, the error of dx_i/rstd is at most: ĝ's 24u·(P_i + Q_i); x̂ twice in x̂_i·mean(ĝ⊙x̂):
 * 2ρ_x̂·Q_i; the products ĝ⊙x̂ 12u, their sum 4C·u and ·1/C 12u: (4C + 24)·u·Q_i; x̂·mean 12u·Q_i;
 * the sub 4u·(|d| + P_i + Q_i) ≤ 8u·(P_i + Q_i); the last mul 12u and rstd's ρ_r on |d| ≤ P_i + Q_i.
 * In all ≤ u·((2C + 66)·P_i + (10C + 170)·Q_i) ≤ (10C + 170)·u·T_i, T_i = rstd·(|ĝ_i| + |x̂_i|·M).
 */
const rmsNormGradChain = (size: number, eps: number): ChainBound => ({
  c: 0,
  k: 10 * size + 170,
  terms: ([x, gamma], G) => {
    const rstd = ops.rsqrt(ops.add(ops.mean(ops.square(x), -1, true), eps));
    const xhat = ops.abs(ops.mul(x, rstd));
    const gh = ops.abs(ops.mul(G!, gamma));
    return ops.mul(rstd, ops.add(gh, ops.mul(xhat, ops.mean(ops.mul(gh, xhat), -1, true))));
  },
});

/** crossEntropyBackward's formula (s − q)·g on magnitudes, (s + q)·|g|, with g one per row. */
const crossEntropyBackwardTerms =
  (ls: number) =>
  ([x, y, g]: Tensor[]): Tensor => {
    const classes = x.shape[x.rank - 1];
    const q = ops.add(ops.mul(ops.oneHot(y, classes), 1 - ls), ls / classes);
    return ops.mul(ops.add(ops.softmax(x), q), ops.abs(ops.expandDims(g, -1)));
  };
/**
 * crossEntropy's logits gradient (reduction 'none') is crossEntropyBackward's fused kernel applied to
 * g = mul(1, G): that kernel's chain bound (derived at its cases, 8u·Σ|J||x| + (8C + 20)·u·T) plus
 * g's 12u relative error: k = 8C + 32.
 */
const crossEntropyGradChain = (classes: number, ls: number): ChainBound => ({
  c: 8,
  k: 8 * classes + 32,
  terms: ([x, y], G) => crossEntropyBackwardTerms(ls)([x, y, G!]),
});

function nnCases(): Case[] {
  const c: Case[] = [];
  for (const [shape, axis] of [
    [[1], -1],
    [[3, 17], -1],
    [[4, 257], -1],
    [[3, 1025], -1],
    [[2, 64, 3], 1],
    [[5, 0], -1],
  ] as [number[], number][]) {
    const k = shape[axis < 0 ? shape.length + axis : axis];
    c.push({
      op: 'softmax',
      name: `softmax ${desc(shape)} axis ${axis}`,
      inputs: [f(shape, W)],
      fn: (x) => ops.softmax(x, axis),
      bound: transcendental(axis === -1 ? k : 1, k),
      grad: axis === -1 ? [0] : undefined,
      gradChain: axis === -1 ? { 0: softmaxGradChain(k) } : undefined,
    });
    c.push({
      op: 'logSoftmax',
      name: `logSoftmax ${desc(shape)} axis ${axis}`,
      inputs: [f(shape, W)],
      fn: (x) => ops.logSoftmax(x, axis),
      bound: transcendental(axis === -1 ? k : 1, k),
      grad: axis === -1 ? [0] : undefined,
      gradChain: axis === -1 ? { 0: logSoftmaxGradChain(k) } : undefined,
    });
  }
  // Rows far from uniform: huge logits (softmax one-hot to f32 precision), and confident rows where the
  // single-kernel rule for softmax's gradient (8u·Σ_j|J_ji||G_j| ≈ 8u·(1 − s_i)·…) falls below the
  // rounding of its row sum (see crossEntropyBackward's derivation). In a confident row logSoftmax's
  // forward at the max, y = −log(1 + s'), s' = Σ_{j≠max} e^(x_j − max) ≈ e⁻ᴸ, is held to the single-kernel
  // rule 8u·(C·|y| + Σ|J||x|) ≈ 8u·e⁻ᴸ·(…): a kernel must take log1p(s'), not log(fl(1 + s')) = 0 for
  // s' < 2⁻²⁴ (every backend splits the row's sum into its maxima and the rest for that).
  for (const [tag, shape, gen] of [
    ['large logits', [4, 65], { kind: 'normal', scale: 300 }],
    ['confident rows', [8, 2], CONFIDENT],
    ['long confident rows', [2, 300], CONFIDENT_LONG],
  ] as [string, number[], InputSpec['gen']][]) {
    const k = shape[1];
    c.push({
      op: 'softmax',
      name: `softmax ${tag} ${desc(shape)}`,
      inputs: [f(shape, gen)],
      fn: (x) => ops.softmax(x),
      bound: transcendental(k),
      grad: [0],
      gradChain: { 0: softmaxGradChain(k) },
    });
    c.push({
      op: 'logSoftmax',
      name: `logSoftmax ${tag} ${desc(shape)}`,
      inputs: [f(shape, gen)],
      fn: (x) => ops.logSoftmax(x),
      bound: transcendental(k),
      grad: [0],
      gradChain: { 0: logSoftmaxGradChain(k) },
    });
  }
  for (const [rows, classes, ls, reduction] of [
    [4, 10, 0, 'none'],
    [17, 65, 0.1, 'none'],
    [3, 1025, 0, 'none'],
    [1, 1, 0.2, 'none'],
  ] as [number, number, number, 'none'][]) {
    c.push({
      op: 'crossEntropy',
      name: `crossEntropy [${rows},${classes}] smoothing ${ls}`,
      inputs: [f([rows, classes], W), i32([rows], 0, classes)],
      fn: (x, y) => ops.crossEntropy(x, y, { labelSmoothing: ls, reduction }),
      bound: transcendental(classes, classes + 3),
      grad: [0],
      gradChain: { 0: crossEntropyGradChain(classes, ls) },
    });
  }
  // Confident rows, labels at the max in the first half of the rows (the loss is log Σ ≈ e⁻ᴸ alone:
  // (max − x_label) = 0 exactly, and log1p as for logSoftmax) and elsewhere in the second.
  for (const [shape, gen, labels, ls] of [
    [[8, 2], CONFIDENT, [0, 1, 0, 1, 1, 0, 1, 0], 0],
    [[8, 2], CONFIDENT, [0, 1, 0, 1, 1, 0, 1, 0], 0.1],
    [[2, 300], CONFIDENT_LONG, [270, 5], 0],
  ] as [number[], InputSpec['gen'], number[], number][]) {
    const classes = shape[1];
    c.push({
      op: 'crossEntropy',
      name: `crossEntropy confident rows ${desc(shape)} smoothing ${ls}`,
      inputs: [f(shape, gen), { shape: [shape[0]], dtype: 'i32', gen: { kind: 'values', values: labels } }],
      fn: (x, y) => ops.crossEntropy(x, y, { labelSmoothing: ls, reduction: 'none' }),
      bound: transcendental(classes, classes + 3),
      grad: [0],
      gradChain: { 0: crossEntropyGradChain(classes, ls) },
    });
  }
  for (const reduction of ['mean', 'sum'] as const) {
    c.push({
      op: 'crossEntropy',
      name: `crossEntropy [8,5] ${reduction}`,
      inputs: [f([8, 5], W), i32([8], 0, 5)],
      fn: (x, y) => ops.crossEntropy(x, y, { reduction }),
      bound: multilinear(8 * 8, 8 * 8, 8),
      grad: [0],
    });
  }
  // The fused gradient r = (s − q)·g, s = softmax(x), q = (1−ε)·onehot + ε/C, is itself a chain within
  // one kernel (tolerance.ts, chains; u: unit roundoff): s within softmax's bound 8u·(C·s_i + Σ_k
  // |∂s_i/∂x_k||x_k|), then s − q (a sub's bound: 4u·(|s_i − q_i| + s_i + q_i)), then ·g (a mul's:
  // 4u·(|r| + |a||b| + |b||a|) = 12u·|r_i|). With |g|·|s_i − q_i| = |r_i| ≤ T_i = (s_i + q_i)·|g|:
  //   |err_i| ≤ 8u·Σ_k|∂r_i/∂x_k||x_k| + u·|g|·(8C·s_i + 4(s_i + q_i)) + 16u·|r_i|
  //          ≤ 8u·Σ_k|∂r_i/∂x_k||x_k| + (8C + 20)·u·T_i.
  // T_i, not |r_i|: in a confident row s_label − 1 ≈ −e⁻ᴸ is tiny while s's own rounding is not.
  // The gradient for g is a sum over the row, bounded by the broadcast rule. The one for the logits,
  // dx = s ⊙ (u − A) with u = G·g (G the cotangent), A = Σ_j u_j·s_j, is a chain of kernels, each
  // within its own bound:
  //   G = mul(1, G) and u = mul(G, g) (12u each), s = softmax(x) (s_j(x + δx)(1 + η_j), |δx| ≤ 8u·|x|,
  //   |η_j| ≤ 8C·u), p = mul(u, s) (12u), A = sum(p) (4C·u·Σ|p_j|), d = sub(u, A) (4u·(|d| + |u_i|
  //   + |A|)), dx = mul(s, d) (12u·|dx_i|).
  // δx moves dx by ≤ 8u·Σ_k|∂dx_i/∂x_k||x_k| (double backward on the reference). To first order the
  // other errors, with P_i = s_i·|u_i| and Q_i = s_i·Σ_j s_j·|u_j| (|dx_i| ≤ P_i + Q_i, s_i·|A| ≤ Q_i):
  //   relative errors of u (24u): P_i·24u + Q_i·24u;  η of the outer s_i: (P_i + Q_i)·8C·u;
  //   η inside A: Q_i·8C·u;  p: Q_i·12u;  the sum: Q_i·4C·u;  sub: s_i·4u·(2|u_i| + 2|A|) ≤
  //   (P_i + Q_i)·8u;  the last mul: (P_i + Q_i)·12u;
  // in all ≤ u·((8C + 44)·P_i + (20C + 56)·Q_i) ≤ (20C + 56)·u·T_i with T_i = P_i + Q_i, the formula
  // on magnitudes. The single-kernel rule would allow 8u·((C + 2)·|dx_i| + Σ|∂dx_i/∂x||x| +
  // Σ_j|J_ji||u_j|), where Σ_j|J_ji||u_j| = s_i(1 − s_i)|u_i| + Q_i − s_i²|u_i|: too little for the
  // sum's C roundings, and ~0 when s_i → 1 (the confident rows below fail it on the f32 reference).
  const logitsGradTerms = ([x, , g]: Tensor[], G?: Tensor) =>
    softmaxBackwardTerms(x, ops.mul(G!, ops.expandDims(g, -1)));
  for (const [shape, ls, gen] of [
    [[4, 10], 0, W],
    [[17, 65], 0.1, W],
    [[3, 1025], 0, W],
    [[1, 1], 0.2, W],
    [[2, 3, 7], 0.1, W],
    [[8, 2], 0, CONFIDENT],
  ] as [number[], number, InputSpec['gen']][]) {
    const classes = shape[shape.length - 1];
    const rows = shape.slice(0, -1);
    c.push({
      op: 'crossEntropyBackward',
      name: `crossEntropyBackward ${desc(shape)} smoothing ${ls}${gen === W ? '' : ' confident rows'}`,
      inputs: [f(shape, gen), i32(rows, 0, classes), f(rows)],
      fn: (x, y, g) => ops.runOp(ops.CrossEntropyBackward, [x, y, g], { labelSmoothing: ls })[0],
      bound: transcendental(classes, classes + 2),
      grad: [0, 2],
      forwardChain: { c: 8, k: 8 * classes + 20, terms: crossEntropyBackwardTerms(ls) },
      gradChain: { 0: { c: 8, k: 20 * classes + 56, terms: logitsGradTerms } },
    });
  }
  c.push({
    op: 'crossEntropy',
    name: 'crossEntropy 3-D [2,3,7]',
    inputs: [f([2, 3, 7], W), i32([2, 3], 0, 7)],
    fn: (x, y) => ops.crossEntropy(x, y, { reduction: 'none' }),
    bound: transcendental(7, 10),
    grad: [0],
    gradChain: { 0: crossEntropyGradChain(7, 0) },
  });
  c.push({
    op: 'mse',
    name: 'mse [17,3]',
    inputs: [f([17, 3]), f([17, 3])],
    fn: (a, b) => ops.mse(a, b, { reduction: 'none' }),
    bound: stable(),
    grad: [0, 1],
  });
  c.push({
    op: 'bceWithLogits',
    name: 'bceWithLogits [65]',
    inputs: [f([65], W), f([65], { kind: 'uniform', lo: 0, hi: 1 })],
    fn: (a, b) => ops.bceWithLogits(a, b, { reduction: 'none' }),
    bound: transcendental(1, 4),
    grad: [0, 1],
  });
  for (const shape of [
    [4, 17],
    [3, 64],
    [2, 257],
    [5, 1],
    [2, 3, 65],
  ]) {
    const k = shape[shape.length - 1];
    const p = [k];
    // With a last axis of 1 layerNorm's x − mean(x) is 0, and its gradients are checked for k > 1 only:
    // within the kernels' own bounds that difference may be ~u·|x| rather than 0, and the chain
    // amplifies it by powers of rstd = ε^(−1/2) at second order, beyond a first-order bound. rmsNorm's
    // chain bound covers k = 1 (x̂ = ±1, dx = rstd·ĝ·(1 − x̂²) tiny; the single-kernel rule fails there).
    const g = k > 1;
    c.push({
      op: 'layerNorm',
      name: `layerNorm ${desc(shape)}`,
      inputs: [f(shape, W), f(p), f(p)],
      fn: (x, gm, b) => ops.layerNorm(x, gm, b, 1e-5),
      bound: stable(k, 8, 2 * k + 8),
      grad: g ? [0, 1, 2] : undefined,
    });
    c.push({
      op: 'rmsNorm',
      name: `rmsNorm ${desc(shape)}`,
      inputs: [f(shape, W), f(p)],
      fn: (x, gm) => ops.rmsNorm(x, gm, 1e-6),
      bound: stable(k, 8, k + 8),
      grad: [0, 1],
      gradChain: { 0: rmsNormGradChain(k, 1e-6) },
    });
  }
  for (const shape of [
    [2, 3, 3, 5],
    [17, 4],
    [1, 65],
  ]) {
    const ch = [shape[shape.length - 1]];
    c.push({
      op: 'batchNorm',
      name: `batchNorm ${desc(shape)}`,
      inputs: [f(shape, W), f(ch), f(ch, { kind: 'uniform', lo: 0.2, hi: 3 }), f(ch), f(ch)],
      fn: (x, m, v, g, b) => ops.batchNorm(x, m, v, { gamma: g, beta: b }),
      bound: stable(1, 8, 8),
      grad: [0, 1, 2, 3, 4],
    });
  }
  c.push({
    op: 'batchNorm',
    name: 'batchNormTraining [4,3,3,5]',
    inputs: [f([4, 3, 3, 5], W), f([5]), f([5])],
    fn: (x, g, b) => ops.batchNormTraining(x, { gamma: g, beta: b }).y,
    bound: stable(1, 8, 3 * 36 + 8),
    grad: [0, 1, 2],
  });
  c.push({
    op: 'dropout',
    name: 'dropout [65] p=0.5 (seeded)',
    inputs: [f([65])],
    fn: (x) => ops.dropout(x, 0.5, { seed: 7 }),
    bound: exact,
    grad: [0],
  });
  return c;
}

function convCases(): Case[] {
  const c: Case[] = [];
  const geoms: [string, number[], number[], ops.Conv2dOptions][] = [
    ['3x3 valid', [1, 5, 5, 3], [3, 3, 3, 4], {}],
    ['3x3 same', [2, 6, 7, 3], [3, 3, 3, 5], { padding: 'same' }],
    ['stride 2 same odd', [1, 9, 7, 2], [3, 3, 2, 3], { padding: 'same', strides: 2 }],
    ['dilation 2', [1, 8, 8, 2], [3, 3, 2, 2], { dilations: 2, padding: 'same' }],
    ['groups 2', [2, 5, 5, 4], [3, 3, 2, 6], { groups: 2, padding: 1 }],
    ['1x1', [2, 3, 3, 17], [1, 1, 17, 5], {}],
    [
      'explicit pads',
      [1, 6, 5, 3],
      [2, 3, 3, 4],
      {
        padding: [
          [1, 0],
          [2, 1],
        ],
        strides: [2, 1],
      },
    ],
    ['depthwise', [1, 6, 6, 3], [3, 3, 1, 3], { groups: 3, padding: 'same' }],
  ];
  for (const [name, xs, ws, opts] of geoms) {
    const k = ws[0] * ws[1] * ws[2];
    const nOut = xs[0] * xs[1] * xs[2];
    c.push({
      op: 'conv2d',
      name: `conv2d ${name}`,
      inputs: [f(xs), f(ws)],
      fn: (x, w) => ops.conv2d(x, w, opts),
      bound: multilinear(k, Math.max(k * 4, nOut)),
      grad: [0, 1],
    });
  }
  c.push({
    op: 'conv2dBackpropInput',
    name: 'conv2dBackpropInput stride 2 same',
    inputs: [f([1, 5, 4, 3]), f([3, 3, 2, 3])],
    fn: (dy, w) =>
      ops.conv2dBackpropInput(dy, w, geometryOf([1, 9, 7, 2], [3, 3, 2, 3], { padding: 'same', strides: 2 })),
    bound: multilinear(27),
    grad: [0, 1],
  });
  c.push({
    op: 'conv2dBackpropFilter',
    name: 'conv2dBackpropFilter 3x3 same',
    inputs: [f([2, 6, 7, 3]), f([2, 6, 7, 5])],
    fn: (x, dy) =>
      ops.conv2dBackpropFilter(x, dy, geometryOf([2, 6, 7, 3], [3, 3, 3, 5], { padding: 'same' })),
    bound: multilinear(84, 84),
    grad: [0, 1],
  });
  const pools: [string, number[], number | [number, number], ops.Pool2dOptions][] = [
    ['2x2', [1, 6, 6, 3], 2, {}],
    ['3x3 s2 same', [2, 7, 7, 5], 3, { strides: 2, padding: 'same' }],
    ['2x2 s1', [1, 5, 5, 17], 2, { strides: 1 }],
    ['3x2 padded', [1, 5, 6, 2], [3, 2], { strides: [2, 2], padding: 1 }],
  ];
  for (const [name, xs, k, opts] of pools) {
    c.push({
      op: 'maxPool2d',
      name: `maxPool2d ${name}`,
      inputs: [f(xs, { kind: 'distinct' })],
      fn: (x) => ops.maxPool2d(x, k, opts),
      bound: exact,
      grad: [0],
    });
    c.push({
      op: 'avgPool2d',
      name: `avgPool2d ${name}`,
      inputs: [f(xs)],
      fn: (x) => ops.avgPool2d(x, k, opts),
      bound: multilinear(10),
      grad: [0],
    });
  }
  c.push({
    op: 'maxPool2dBackward',
    name: 'maxPool2dBackward 3x3 s2 same',
    inputs: [f([1, 7, 7, 2], { kind: 'distinct' }), f([1, 4, 4, 2])],
    fn: (x, dy) =>
      ops.runOp(
        ops.opRegistry().get('maxPool2dBackward')!,
        [x, dy],
        geometryOfPool([1, 7, 7, 2], 3, { strides: 2, padding: 'same' }),
      )[0],
    bound: linearIn([1], 4),
  });
  c.push({
    op: 'avgPool2dBackward',
    name: 'avgPool2dBackward 3x3 s2 same',
    inputs: [f([1, 4, 4, 2])],
    fn: (dy) =>
      ops.runOp(
        ops.opRegistry().get('avgPool2dBackward')!,
        [dy],
        geometryOfPool([1, 7, 7, 2], 3, { strides: 2, padding: 'same' }),
      )[0],
    bound: multilinear(4),
    grad: [0],
  });
  c.push({
    op: 'globalAvgPool',
    name: 'globalAvgPool [2,3,5,4]',
    inputs: [f([2, 3, 5, 4])],
    fn: ops.globalAvgPool,
    bound: multilinear(16),
    grad: [0],
  });
  return c;
}

const geometryOf = ops.conv2dGeometry;
const geometryOfPool = (x: number[], k: number, opts: ops.Pool2dOptions) =>
  ops.pool2dGeometry('pool', x, k, opts);

// ------------------------------------------------------------------------------- optimizer updates

/** Initial values of each named optimizer input: second moments and sums are positive. */
const UPDATE_GENS: Record<string, InputSpec['gen']> = {
  param: { kind: 'normal' },
  grad: { kind: 'normal' },
  momentumBuffer: { kind: 'normal', scale: 0.5 },
  expAvg: { kind: 'normal', scale: 0.5 },
  // |gradAvg| < 0.9 and squareAvg ≥ 1 keep RMSprop's centered variance ≥ 0.19·α, away from √0.
  gradAvg: { kind: 'uniform', lo: -0.9, hi: 0.9 },
  squareAvg: { kind: 'uniform', lo: 1, hi: 2 },
  sum: { kind: 'uniform', lo: 0.05, hi: 2 },
  accDelta: { kind: 'uniform', lo: 0.05, hi: 2 },
  expAvgSq: { kind: 'uniform', lo: 0.05, hi: 2 },
  maxExpAvgSq: { kind: 'uniform', lo: 0.05, hi: 2 },
  expInf: { kind: 'uniform', lo: 0.05, hi: 2 },
  rowScale: { kind: 'uniform', lo: 0.5, hi: 2 },
  colScale: { kind: 'uniform', lo: 0.5, hi: 2 },
  scale: { kind: 'uniform', lo: 0.01, hi: 0.1 },
};

const b1 = { beta1: 0.9, oneMinusBeta1: 0.1 };
const b2 = { beta2: 0.999, oneMinusBeta2: 0.001 };
/** Adam's coefficients at step t = 3 (lr 0.01): step size lr/(1 − β1ᵗ), 1/√(1 − β2ᵗ). */
const adamAt3 = { momentCoef: 0.01 / (1 - 0.9 ** 3), gradCoef: 0, denomScale: 1 / Math.sqrt(1 - 0.999 ** 3) };
const adamFlags = { amsgrad: false, infinityNorm: false, adaptive: true, maximize: false };

/** Variants of every fused update: defaults, every flag, weight decay of both kinds. */
const UPDATE_VARIANTS: [string, string, Record<string, number | boolean>][] = [
  [
    'sgdUpdate',
    'plain',
    {
      lr: 0.1,
      weightDecay: 0,
      momentum: 0,
      bufferDecay: 0,
      gradScale: 1,
      hasMomentum: false,
      nesterov: false,
      maximize: false,
      sign: false,
    },
  ],
  [
    'sgdUpdate',
    'momentum dampening wd maximize',
    {
      lr: 0.05,
      weightDecay: 0.01,
      momentum: 0.9,
      bufferDecay: 0.9,
      gradScale: 0.9,
      hasMomentum: true,
      nesterov: false,
      maximize: true,
      sign: false,
    },
  ],
  [
    'sgdUpdate',
    'nesterov wd',
    {
      lr: 0.05,
      weightDecay: 0.001,
      momentum: 0.9,
      bufferDecay: 0.9,
      gradScale: 1,
      hasMomentum: true,
      nesterov: true,
      maximize: false,
      sign: false,
    },
  ],
  [
    'sgdUpdate',
    'signum',
    {
      lr: 0.01,
      weightDecay: 0,
      momentum: 0.9,
      bufferDecay: 0.9,
      gradScale: 0.1,
      hasMomentum: true,
      nesterov: false,
      maximize: false,
      sign: true,
    },
  ],
  ['adagradUpdate', 'wd', { lr: 0.1, weightDecay: 0.01, eps: 1e-10, maximize: false }],
  ['adagradUpdate', 'maximize', { lr: 0.05, weightDecay: 0, eps: 1e-10, maximize: true }],
  [
    'rmspropUpdate',
    'plain',
    {
      lr: 0.01,
      alpha: 0.99,
      oneMinusAlpha: 0.01,
      eps: 1e-8,
      weightDecay: 0,
      momentum: 0,
      centered: false,
      hasMomentum: false,
      maximize: false,
    },
  ],
  [
    'rmspropUpdate',
    'centered momentum wd',
    {
      lr: 0.01,
      alpha: 0.9,
      oneMinusAlpha: 0.1,
      eps: 1e-8,
      weightDecay: 0.01,
      momentum: 0.9,
      centered: true,
      hasMomentum: true,
      maximize: false,
    },
  ],
  [
    'adadeltaUpdate',
    'wd',
    { lr: 1, rho: 0.9, oneMinusRho: 0.1, eps: 1e-6, weightDecay: 0.01, maximize: false },
  ],
  [
    'adamUpdate',
    'Adam L2 amsgrad',
    { ...b1, ...b2, weightDecay: 0.01, decay: 1, ...adamAt3, eps: 1e-8, ...adamFlags, amsgrad: true },
  ],
  [
    'adamUpdate',
    'AdamW maximize',
    {
      ...b1,
      ...b2,
      weightDecay: 0,
      decay: 1 - 0.01 * 0.1,
      ...adamAt3,
      eps: 1e-8,
      ...adamFlags,
      maximize: true,
    },
  ],
  [
    'adamUpdate',
    'Adamax',
    {
      ...b1,
      ...b2,
      weightDecay: 0,
      decay: 1,
      ...adamAt3,
      denomScale: 1,
      eps: 1e-8,
      ...adamFlags,
      infinityNorm: true,
    },
  ],
  [
    'adamUpdate',
    'NAdam',
    { ...b1, ...b2, weightDecay: 0.01, decay: 1, ...adamAt3, gradCoef: -0.004, eps: 1e-8, ...adamFlags },
  ],
  [
    'adamUpdate',
    'RAdam unrectified',
    { ...b1, ...b2, weightDecay: 0, decay: 1, ...adamAt3, eps: 1e-8, ...adamFlags, adaptive: false },
  ],
  [
    'lionUpdate',
    'decay maximize',
    {
      lr: 0.001,
      beta1: 0.9,
      oneMinusBeta1: 0.1,
      beta2: 0.99,
      oneMinusBeta2: 0.01,
      decay: 1 - 0.001 * 0.1,
      maximize: true,
    },
  ],
  [
    'lionUpdate',
    'plain',
    {
      lr: 0.001,
      beta1: 0.9,
      oneMinusBeta1: 0.1,
      beta2: 0.99,
      oneMinusBeta2: 0.01,
      decay: 1,
      maximize: false,
    },
  ],
  ['adafactorUpdate', 'momentum decay', { ...b1, decay: 1 - 0.01 * 0.1, hasMomentum: true }],
  ['adafactorUpdate', 'plain', { ...b1, decay: 1, hasMomentum: false }],
];

/**
 * Fused optimizer updates (in place). A case copies the updated inputs (exactly), runs the update
 * and returns one updated buffer. The float64 reference evaluates the op's composite (the same rule
 * written with core ops, `compositeUpdate`), whose autograd gives the first-order sensitivity of the
 * `stable` bound; hyperparameters arrive as float64 coefficients, so rounding them to f32 is one
 * relative error per coefficient, covered by that sensitivity.
 */
function optimCases(): Case[] {
  const c: Case[] = [];
  const elementShapes = [[], [17], [65], [4, 65]];
  const matrixShapes = [
    [1, 1],
    [3, 5],
    [17, 33],
    [64, 1],
  ];
  for (const [op, label, baseAttrs] of UPDATE_VARIANTS) {
    const def = ops.opRegistry().get(op)!;
    const u = ops.fusedUpdates().get(op)!;
    for (const shape of op === 'adafactorUpdate' ? matrixShapes : elementShapes) {
      const attrs = op === 'adafactorUpdate' ? { ...baseAttrs, rows: shape[0], cols: shape[1] } : baseAttrs;
      const spec = u.inputs(attrs);
      const inputs = spec.map((s) =>
        f(
          s.layout === 'elem'
            ? shape
            : s.layout === 'row'
              ? [shape[0]]
              : s.layout === 'col'
                ? [shape[1]]
                : [1],
          UPDATE_GENS[s.name],
        ),
      );
      for (const out of u.updated(attrs)) {
        c.push({
          op,
          name: `${op} ${label} ${desc(shape)} → ${out}`,
          inputs,
          fn: (...xs) => {
            const named = Object.fromEntries(spec.map((s, i) => [s.name, xs[i]]));
            if (xs[0].backend === REFERENCE) return ops.compositeUpdate(def, named, attrs)[out];
            for (const name of u.updated(attrs)) named[name] = ops.slice(named[name], []);
            ops.noGrad(() => ops.applyUpdate(def, named, attrs));
            return named[out];
          },
          bound: transcendental(),
        });
      }
    }
  }
  return c;
}

const h = (shape: number[], gen?: InputSpec['gen']): InputSpec => ({ shape, dtype: 'f16', gen });

/**
 * The f16 cases (run on backends that store f16, see `Backend.dtypes`): every f16 op — the float
 * elementwise maps, comparisons, matmul (f32 accumulation, K up to 1100) and the casts — on f16
 * inputs. Forward only: f16 is outside autograd. Bounds: tolerance.ts (the f32 bound plus one f16
 * rounding of the result).
 */
export function f16Cases(): Case[] {
  const cases: Case[] = [];
  for (const [op, fn, gen, bound] of UNARY) {
    for (const shape of [[], [65], [3, 5, 7]])
      cases.push({ op, name: `${op} f16 ${desc(shape)}`, inputs: [h(shape, gen)], fn, bound });
  }
  for (const [op, fn, ga, gb, bound] of BINARY) {
    for (const [sa, sb] of [BROADCAST_PAIRS[0], BROADCAST_PAIRS[1], BROADCAST_PAIRS[5], BROADCAST_PAIRS[7]])
      cases.push({
        op,
        name: `${op} f16 ${desc(sa)} ${desc(sb)}`,
        inputs: [h(sa, ga), h(sb, gb)],
        fn,
        bound,
      });
  }
  const products: [number[], number[], boolean, boolean][] = [
    [[1, 1], [1, 1], false, false],
    [[17, 63], [63, 65], false, false],
    [[63, 17], [63, 65], true, false],
    [[17, 63], [65, 63], false, true],
    [[64, 64], [64, 64], true, true],
    [[2, 1100], [1100, 3], false, false],
    [[0, 5], [5, 3], false, false],
    [[2, 3, 5], [2, 5, 4], false, false],
    [[4, 3, 5], [5, 2], false, false],
    [[3, 5], [2, 5, 4], false, false],
  ];
  for (const [a, b, tA, tB] of products) {
    const k = tA ? a[a.length - 2] : a[a.length - 1];
    cases.push({
      op: 'matmul',
      name: `matmul f16 ${desc(a)}${tA ? 'ᵀ' : ''}·${desc(b)}${tB ? 'ᵀ' : ''}`,
      inputs: [h(a), h(b)],
      fn: (x, y) => ops.matmul(x, y, { transposeA: tA, transposeB: tB }),
      bound: multilinear(k),
    });
  }
  // Casts into f16 round to nearest even, overflow to ±∞ from 65520 on and keep NaN; out of f16 exact.
  const edges = [
    0,
    -0,
    1,
    -1,
    65504,
    65519,
    65520,
    -7e4,
    1e-6,
    -3e-8,
    2 ** -25,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
  ];
  const specials = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN];
  cases.push(
    {
      op: 'cast',
      name: 'cast f32→f16 edges',
      inputs: [f([edges.length + specials.length], { kind: 'values', values: [...edges, ...specials] })],
      fn: (x) => ops.cast(x, 'f16'),
      bound: exact,
    },
    {
      op: 'cast',
      name: 'cast f32→f16 [257]',
      inputs: [f([257], W)],
      fn: (x) => ops.cast(x, 'f16'),
      bound: exact,
    },
    {
      op: 'cast',
      name: 'cast i32→f16',
      inputs: [i32([65], -5000, 5000)],
      fn: (x) => ops.cast(x, 'f16'),
      bound: exact,
    },
    { op: 'cast', name: 'cast f16→f32', inputs: [h([257], W)], fn: (x) => ops.cast(x, 'f32'), bound: exact },
    {
      op: 'cast',
      name: 'cast f16→i32',
      inputs: [h([65], { kind: 'uniform', lo: -100, hi: 100 })],
      fn: (x) => ops.cast(x, 'i32'),
      bound: exact,
    },
  );
  return cases;
}

/** Every conformance case (the f32/i32 ones every backend runs; the f16 ones are `f16Cases()`). */
export function allCases(): Case[] {
  return [
    ...elementwiseCases(),
    ...reductionCases(),
    ...matmulCases(),
    ...shapeCases(),
    ...nnCases(),
    ...convCases(),
    ...optimCases(),
  ];
}
