import { describe, expect, it } from 'vitest';
import * as R from '../scripts/ref-math.mjs';
import type { UnaryOpName } from '../src/index.js';
import { createModule, randomF32, rng } from './helpers.js';

const km = createModule();
const { ulpError } = R;

/**
 * Max ulp error per op. The transcendental bounds are the measured maxima of scripts/accuracy-sweep.mjs
 * (over a 70M-point sweep of all f32 bit patterns, both builds) rounded up to the next half ulp.
 */
const ULP: Partial<Record<UnaryOpName, number>> = {
  exp: 1,
  log: 1,
  tanh: 1.5,
  sigmoid: 3,
  erf: 3,
  erfc: 6.5,
  softplus: 3,
  geluErf: 8,
  silu: 5,
  sqrt: 0.5,
  rsqrt: 1.5,
  reciprocal: 0.5,
};

const SPECIALS = [
  0,
  -0,
  1,
  -1,
  0.5,
  -0.5,
  2,
  -2,
  Infinity,
  -Infinity,
  NaN,
  1e-30,
  -1e-30,
  1e-40,
  -1e-40,
  2 ** -149,
  3.4e38,
  -3.4e38,
  88.72283,
  88.7229,
  88.0,
  89,
  -87.33,
  -87.34,
  -103.9,
  -104,
  -110,
  10,
  -10,
  20,
  -20,
  0.625,
  -0.625,
  0.875,
  1.5,
  -3.7,
];

function inputs(n: number, seed: number, lo: number, hi: number): Float32Array {
  const a = randomF32(n, seed, lo, hi);
  for (let i = 0; i < Math.min(n, SPECIALS.length); i++) a[(i * 7) % n] = SPECIALS[i]!;
  return a;
}

function run(op: UnaryOpName, x: Float32Array, p0 = 0, p1 = 0, inPlace = false): Float32Array {
  const px = km.allocF32(x.length, x);
  const py = inPlace ? px : km.allocF32(x.length);
  km.unary(op, px, py, x.length, p0, p1);
  const y = km.readF32(py, x.length);
  km.free(px);
  if (!inPlace) km.free(py);
  return y;
}

/**
 * Checks every result against `bound(x)` ulp. Subnormal results (|ref| < 2^-126) are held to 64 units of
 * 2^-149 instead (silu/sigmoid far left: e^x itself is subnormal there).
 */
function checkUlp(
  op: UnaryOpName,
  x: Float32Array,
  y: Float32Array,
  ref: (v: number) => number,
  bound: number | ((v: number) => number),
): void {
  let worst = 0;
  let at = 0;
  const bnd = typeof bound === 'number' ? () => bound : bound;
  for (let i = 0; i < x.length; i++) {
    const r = ref(x[i]!);
    const sub = Math.abs(r) < 2 ** -126;
    const e = ulpError(y[i]!, r) / (sub ? 64 : bnd(x[i]!));
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  if (!(worst <= 1)) {
    throw new Error(`${op}(${x[at]}) = ${y[at]}, want ${ref(x[at]!)}: ${worst} × the bound`);
  }
}

const EXACT: Partial<Record<UnaryOpName, (x: number, p0: number, p1: number) => number>> = {
  neg: (x) => -x,
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x),
  square: (x) => x * x,
  relu: (x) => (Number.isNaN(x) ? x : Math.max(x, 0)),
  leakyRelu: (x, a) => (x < 0 ? a * x : x),
  clamp: (x, lo, hi) => (Number.isNaN(x) ? x : Math.min(Math.max(x, lo), hi)),
  step: (x) => (x > 0 ? 1 : 0),
  floor: Math.floor,
  ceil: Math.ceil,
  round: (x) => {
    // round half to even
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  },
};

const APPROX: Partial<Record<UnaryOpName, [(x: number) => number, number, number]>> = {
  exp: [R.exp64, -110, 90],
  log: [R.log64, 0, 100],
  tanh: [R.tanh64, -12, 12],
  sigmoid: [R.sigmoid64, -110, 110],
  erf: [R.erf64, -5, 5],
  erfc: [R.erfc64, -6, 11],
  softplus: [R.softplus64, -110, 110],
  geluErf: [R.geluErf64, -15, 15],
  silu: [(x) => R.silu64(x, 1), -80, 80],
  sqrt: [Math.sqrt, 0, 1e6],
  rsqrt: [(x) => 1 / Math.sqrt(x), 0, 1e6],
  reciprocal: [(x) => 1 / x, -1e3, 1e3],
};

describe('unary maps', () => {
  for (const [op, f] of Object.entries(EXACT) as [
    UnaryOpName,
    (x: number, p0: number, p1: number) => number,
  ][]) {
    it(`${op} is exact on awkward lengths`, () => {
      for (const n of [0, 1, 3, 17, 63, 64, 65, 257]) {
        const x = inputs(n, n + 1, -5, 5);
        const [p0, p1] = op === 'clamp' ? [-0.5, 2] : op === 'leakyRelu' ? [0.01, 0] : [0, 0];
        const y = run(op, x, p0, p1, n === 17);
        for (let i = 0; i < n; i++) {
          const want = Math.fround(f(x[i]!, Math.fround(p0), Math.fround(p1)));
          if (!Object.is(y[i], want) && !(Number.isNaN(want) && Number.isNaN(y[i]))) {
            throw new Error(`${op}(${x[i]}) = ${y[i]}, want ${want}`);
          }
        }
      }
    });
  }

  for (const [op, [f, lo, hi]] of Object.entries(APPROX) as [
    UnaryOpName,
    [(x: number) => number, number, number],
  ][]) {
    it(`${op} within ${ULP[op]} ulp`, () => {
      for (const n of [1, 3, 17, 63, 64, 65, 257]) {
        const x = inputs(n, 100 + n, lo, hi);
        checkUlp(op, x, run(op, x, op === 'silu' ? 1 : 0), f, ULP[op]!);
      }
      // dense sweep of the interesting range
      const x = randomF32(200_000, 7, lo, hi);
      checkUlp(op, x, run(op, x, op === 'silu' ? 1 : 0), f, ULP[op]!);
      // log-spaced magnitudes of both signs
      const r = rng(3);
      const y = new Float32Array(100_000).map(() => (r() < 0 ? -1 : 1) * 2 ** r(-140, 7));
      checkUlp(op, y, run(op, y, op === 'silu' ? 1 : 0), f, ULP[op]!);
    });
  }

  it('gelu (tanh form) within (4 + 6|u|) ulp, u its tanh argument (f32 rounding of u, amplified)', () => {
    const x = randomF32(100_000, 11, -12, 12);
    const y = run('geluTanh', x);
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      const u = Math.abs(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v));
      const e = ulpError(y[i]!, R.geluTanh64(v));
      if (!(e <= 4 + 6 * u)) throw new Error(`geluTanh(${v}) = ${y[i]}: ${e} ulp`);
    }
  });

  it('silu with β, affine', () => {
    const x = randomF32(1000, 12, -20, 20);
    // β·x is rounded in f32 before σ: the bound grows with |βx| (the condition number of e^(βx))
    checkUlp(
      'silu',
      x,
      run('silu', x, 1.702),
      (v) => R.silu64(v, Math.fround(1.702)),
      (v) => 3 + Math.abs(1.702 * v),
    );
    const y = run('affine', x, 3, -0.25);
    for (let i = 0; i < x.length; i++) {
      const want = 3 * x[i]! - 0.25;
      expect(Math.abs(y[i]! - want)).toBeLessThanOrEqual(
        2 ** -24 * (Math.abs(3 * x[i]!) + Math.abs(want)) * 1.01,
      );
    }
  });

  it('fast and slow paths agree bit for bit (a lane never depends on its neighbours)', () => {
    // Ops built on exp take a fast path for vectors whose lanes keep exp's argument in [−86, 86]; a vector
    // pair with any lane outside runs the slow path, which must give the other lanes the very same bits
    // (threads and tails cut vectors differently). Inputs span each op's fast range.
    const fastRange: [UnaryOpName, number][] = [
      ['exp', 86],
      ['sigmoid', 86],
      ['silu', 86],
      ['softplus', 86],
      ['tanh', 43],
      ['erf', 9.1],
      ['erfc', 9.1],
      ['geluErf', 12.9],
    ];
    const n = 4099;
    for (const [op, r] of fastRange) {
      const x = randomF32(n, 31, -r, r);
      const mixed = x.slice();
      for (let i = 3; i < n; i += 8) mixed[i] = [100, -100, Number.NaN, -Infinity, 2 * r][i % 5]!;
      const a = new Uint32Array(run(op, x, 1).buffer);
      const b = new Uint32Array(run(op, mixed, 1).buffer);
      let differ = 0;
      for (let i = 0; i < n; i++) if (mixed[i] === x[i] && a[i] !== b[i]) differ++;
      expect(differ, `${op}: in-range lanes that changed`).toBe(0);
    }
  });

  it('exp edge cases: ±inf, NaN, overflow threshold, underflow, subnormals, −0', () => {
    const x = new Float32Array([
      Infinity,
      -Infinity,
      NaN,
      88.72283,
      88.72284,
      88.7229,
      -0,
      0,
      -87.33654,
      -88,
      -100,
      -103.27,
      -103.98,
      -104,
      -200,
    ]);
    const y = run('exp', x);
    expect(y[0]).toBe(Infinity);
    expect(y[1]).toBe(0);
    expect(y[2]).toBeNaN();
    expect(y[3]).toBe(Math.fround(Math.exp(x[3]!))); // largest finite result
    expect(Number.isFinite(y[3]!)).toBe(true);
    expect(y[5]).toBe(Infinity); // exp(88.7229) > FLT_MAX
    expect(y[6]).toBe(1);
    expect(y[7]).toBe(1);
    for (let i = 8; i < 13; i++) expect(ulpError(y[i]!, Math.exp(x[i]!))).toBeLessThanOrEqual(1); // subnormal range
    expect(y[10]! > 0 && y[10]! < 2 ** -126).toBe(true);
    expect(y[13]).toBe(0);
    expect(y[14]).toBe(0);
  });

  it('log edge cases', () => {
    const x = new Float32Array([0, -0, -1, -Infinity, Infinity, NaN, 1, 2 ** -149, 1e-40, 2 ** -126, 3.4e38]);
    const y = run('log', x);
    expect(y[0]).toBe(-Infinity);
    expect(y[1]).toBe(-Infinity);
    expect(y[2]).toBeNaN();
    expect(y[3]).toBeNaN();
    expect(y[4]).toBe(Infinity);
    expect(y[5]).toBeNaN();
    expect(y[6]).toBe(0);
    for (let i = 7; i < 11; i++) expect(ulpError(y[i]!, Math.log(x[i]!))).toBeLessThanOrEqual(1);
  });

  it('tanh / sigmoid / erf / erfc edge cases', () => {
    const x = new Float32Array([Infinity, -Infinity, NaN, -0, 1e-30, -1e-40, 50, -50]);
    const t = run('tanh', x);
    expect(Array.from(t.subarray(0, 2))).toEqual([1, -1]);
    expect(t[2]).toBeNaN();
    expect(Object.is(t[3], -0)).toBe(true);
    expect(t[4]).toBe(Math.fround(1e-30));
    expect(t[5]).toBe(Math.fround(-1e-40));
    expect(t[6]).toBe(1);
    const s = run('sigmoid', x);
    expect(s[0]).toBe(1);
    expect(s[1]).toBe(0);
    expect(s[2]).toBeNaN();
    expect(s[3]).toBe(0.5);
    expect(ulpError(s[7]!, R.sigmoid64(-50))).toBeLessThanOrEqual(3);
    const e = run('erf', x);
    expect(e[0]).toBe(1);
    expect(e[1]).toBe(-1);
    expect(e[2]).toBeNaN();
    expect(Object.is(e[3], -0)).toBe(true);
    const c = run('erfc', x);
    expect(Array.from(c.subarray(0, 2))).toEqual([0, 2]);
    expect(c[2]).toBeNaN();
    expect(c[3]).toBe(1);
    expect(c[6]).toBe(0); // erfc(50) underflows
    expect(c[7]).toBe(2);
    const g = run('geluErf', new Float32Array([Infinity, NaN, 0, -30]));
    expect(g[0]).toBe(Infinity);
    expect(g[1]).toBeNaN();
    expect(g[2]).toBe(0);
    expect(g[3]).toBe(-0);
  });
});
