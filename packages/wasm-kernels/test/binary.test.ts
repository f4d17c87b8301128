import { describe, expect, it } from 'vitest';
import { type BinaryOpName, broadcastPlan } from '../src/index.js';
import { createModule, randomF32, rng } from './helpers.js';

const km = createModule();

const F32: Record<BinaryOpName, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  max: Math.max,
  min: Math.min,
  eq: (a, b) => +(a === b),
  ne: (a, b) => +(a !== b),
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b),
  jumpRelu: (a, b) => (a > b ? a : 0),
};

function strides(shape: number[]): number[] {
  const s = shape.map(() => 1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1]! * shape[d + 1]!;
  return s;
}

/** Reference broadcast: out index → input index by right-aligned dims. */
function refBroadcast(
  out: number[],
  shapes: number[][],
  arrays: ArrayLike<number>[],
  f: (...v: number[]) => number,
): Float64Array {
  const size = out.reduce((a, b) => a * b, 1);
  const res = new Float64Array(size);
  const os = strides(out);
  for (let i = 0; i < size; i++) {
    const vals = shapes.map((s, k) => {
      const st = strides(s);
      let idx = 0;
      for (let d = 0; d < s.length; d++) {
        const od = out.length - s.length + d;
        const coord = Math.floor(i / os[od]!) % out[od]!;
        idx += (s[d] === 1 ? 0 : coord) * st[d]!;
      }
      return arrays[k]![idx]!;
    });
    res[i] = f(...vals);
  }
  return res;
}

const CASES: [number[], number[], number[]][] = [
  [[0], [0], [0]],
  [[1], [1], [1]],
  [[65], [65], [65]],
  [[257], [257], []], // scalar b
  [[3, 17], [], [3, 17]], // scalar a
  [
    [3, 17],
    [3, 1],
    [1, 17],
  ], // outer product
  [[2, 3, 63], [2, 3, 63], [63]], // row vector
  [
    [2, 3, 64, 5],
    [3, 1, 5],
    [2, 1, 64, 1],
  ],
  [[2, 1, 3, 4, 5, 6, 7], [2, 1, 3, 4, 5, 6, 7], [7]], // rank 7 merges to ≤ 6
  [
    [4, 5, 3, 2, 3, 2],
    [4, 1, 3, 1, 3, 1],
    [1, 5, 1, 2, 1, 2],
  ], // 6 alternating dims
];

describe('binary broadcast', () => {
  for (const op of Object.keys(F32) as BinaryOpName[]) {
    it(`f32 ${op}`, () => {
      for (const [out, as, bs] of CASES) {
        const na = as.reduce((x, y) => x * y, 1);
        const nb = bs.reduce((x, y) => x * y, 1);
        const a = randomF32(na, 1, -3, 3);
        const b = randomF32(nb, 2, -3, 3);
        if (op === 'pow') for (let i = 0; i < na; i++) a[i] = Math.abs(a[i]!);
        if (['eq', 'ne', 'le', 'ge'].includes(op)) for (let i = 0; i < Math.min(na, nb); i += 3) a[i] = b[i]!;
        if (na > 2) a[1] = NaN;
        const plan = broadcastPlan(out, [as, bs]);
        expect(plan.shape.length).toBeLessThanOrEqual(6);
        const pa = km.allocF32(na, a);
        const pb = km.allocF32(nb, b);
        const py = km.allocF32(plan.size);
        km.binary(op, pa, pb, py, plan);
        const y = km.readF32(py, plan.size);
        const ref = refBroadcast(out, [as, bs], [a, b], F32[op]);
        for (let i = 0; i < ref.length; i++) {
          const want = Math.fround(ref[i]!);
          const ok = Number.isNaN(want)
            ? Number.isNaN(y[i])
            : op === 'pow'
              ? Math.abs(y[i]! - want) <= 2 ** -23 * Math.abs(want)
              : y[i] === want;
          if (!ok) throw new Error(`${op} out [${out}] a [${as}] b [${bs}] at ${i}: ${y[i]} vs ${want}`);
        }
        km.free(pa);
        km.free(pb);
        km.free(py);
      }
    });
  }

  it('i32 add/sub/mul/max/min and comparisons (→ f32 0/1)', () => {
    const r = rng(4);
    for (const op of [
      'add',
      'sub',
      'mul',
      'max',
      'min',
      'eq',
      'ne',
      'lt',
      'le',
      'gt',
      'ge',
    ] as BinaryOpName[]) {
      for (const [out, as, bs] of CASES) {
        const na = as.reduce((x, y) => x * y, 1);
        const nb = bs.reduce((x, y) => x * y, 1);
        const a = Int32Array.from({ length: na }, () => Math.floor(r(-5, 5)));
        const b = Int32Array.from({ length: nb }, () => Math.floor(r(-5, 5)));
        const plan = broadcastPlan(out, [as, bs]);
        const pa = km.allocI32(na, a);
        const pb = km.allocI32(nb, b);
        const py = km.alloc(plan.size * 4);
        km.binary(op, pa, pb, py, plan, 'i32');
        const cmp = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(op);
        const y = cmp ? km.readF32(py, plan.size) : km.readI32(py, plan.size);
        const f = op === 'mul' ? Math.imul : F32[op];
        const ref = refBroadcast(out, [as, bs], [a, b], (x, z) => (cmp ? f(x!, z!) : f(x!, z!) | 0));
        expect(Array.from(y)).toEqual(Array.from(ref));
        km.free(pa);
        km.free(pb);
        km.free(py);
      }
    }
  });

  it('where(cond, a, b) with three-way broadcasting', () => {
    for (const [out, cs, as, bs] of [
      [[65], [65], [65], [65]],
      [[3, 17], [3, 1], [17], []],
      [
        [2, 3, 5],
        [1, 3, 1],
        [2, 3, 5],
        [2, 1, 5],
      ],
    ] as number[][][]) {
      const n = (s: number[]) => s.reduce((x, y) => x * y, 1);
      const c = randomF32(n(cs), 7).map((v) => (v > 0 ? 1 : 0));
      const a = randomF32(n(as), 8);
      const b = randomF32(n(bs), 9);
      const plan = broadcastPlan(out, [cs, as, bs]);
      const [pc, pa, pb] = [km.allocF32(c.length, c), km.allocF32(a.length, a), km.allocF32(b.length, b)];
      const py = km.allocF32(plan.size);
      km.where(pc, pa, pb, py, plan);
      const ref = refBroadcast(out, [cs, as, bs], [c, a, b], (cv, av, bv) => (cv ? av! : bv!));
      expect(Array.from(km.readF32(py, plan.size))).toEqual(Array.from(ref).map(Math.fround));
    }
  });

  it('broadcastPlan merges same-shape operands into one dim and rejects bad shapes', () => {
    expect(
      broadcastPlan(
        [2, 3, 4],
        [
          [2, 3, 4],
          [2, 3, 4],
        ],
      ).shape,
    ).toEqual([24]);
    expect(broadcastPlan([2, 3, 4], [[2, 3, 4], [4]])).toMatchObject({
      shape: [6, 4],
      strides: [
        [4, 1],
        [0, 1],
      ],
    });
    expect(() => broadcastPlan([2, 3], [[3, 3]])).toThrow(/does not broadcast/);
  });

  it('fill writes f32 and i32 patterns', () => {
    const p = km.allocF32(7);
    km.fill(p, 7, -2.5);
    expect(Array.from(km.readF32(p, 7))).toEqual(new Array(7).fill(-2.5));
    km.fill(p, 5, -3, 'i32');
    expect(Array.from(km.readI32(p, 5))).toEqual(new Array(5).fill(-3));
  });
});
