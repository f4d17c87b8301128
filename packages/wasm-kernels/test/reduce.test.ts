import { describe, expect, it } from 'vitest';
import { createModule, expectClose, randomF32, U } from './helpers.js';

const km = createModule();

const VIEWS: [number, number, number][] = [
  [1, 0, 1],
  [1, 1, 1],
  [3, 17, 1],
  [2, 63, 1],
  [1, 64, 1],
  [2, 65, 1],
  [1, 1000, 1],
  [1, 3, 257],
  [2, 17, 3],
  [3, 5, 63],
  [2, 64, 64],
  [1, 65, 17],
  [4, 1, 5],
  [0, 5, 3],
];

function refReduce(
  x: Float32Array,
  [outer, R, inner]: [number, number, number],
  f: (acc: number, v: number) => number,
  init: number,
) {
  const y = new Float64Array(outer * inner);
  const abs = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let acc = init;
      let a = 0;
      for (let r = 0; r < R; r++) {
        const v = x[(o * R + r) * inner + j]!;
        acc = f(acc, v);
        a += Math.abs(v);
      }
      y[o * inner + j] = acc;
      abs[o * inner + j] = a;
    }
  }
  return { y, abs };
}

describe('reductions over [outer, R, inner]', () => {
  it('sum, mean, sumSquares within R·u·Σ|x|; max, min exact', () => {
    for (const v of VIEWS) {
      const [outer, R, inner] = v;
      const x = randomF32(outer * R * inner, R + inner, -2, 2);
      const px = km.allocF32(x.length, x);
      const py = km.allocF32(outer * inner);
      for (const op of ['sum', 'mean', 'sumSquares', 'max', 'min'] as const) {
        km.reduce(op, px, py, outer, R, inner);
        const y = km.readF32(py, outer * inner);
        const sq = op === 'sumSquares';
        const { y: ref, abs } = refReduce(
          sq ? x.map((t) => t * t) : x,
          v,
          op === 'max' ? Math.max : op === 'min' ? Math.min : (a, b) => a + b,
          op === 'max' ? -Infinity : op === 'min' ? Infinity : 0,
        );
        if (op === 'mean') for (let i = 0; i < ref.length; i++) ref[i] = ref[i]! / R;
        const scale = op === 'mean' ? 1 / R : 1;
        expectClose(
          y,
          ref,
          (i) => (op === 'max' || op === 'min' ? 0 : (R + 2) * U * abs[i]! * scale * (sq ? 2 : 1)),
          `${op} [${v}]`,
        );
      }
      km.free(px);
      km.free(py);
    }
  });

  it('max/min propagate NaN; argmax/argmin: first extreme, NaN counts as extreme', () => {
    for (const v of VIEWS) {
      const [outer, R, inner] = v;
      if (R === 0) continue;
      const x = randomF32(outer * R * inner, 3 + R, -2, 2).map((t) => Math.round(t * 4) / 4); // many ties
      if (x.length > 40) x[37] = NaN;
      const px = km.allocF32(x.length, x);
      const py = km.alloc(outer * inner * 4);
      for (const op of ['argmax', 'argmin'] as const) {
        km.argReduce(op, px, py, outer, R, inner);
        const got = km.readI32(py, outer * inner);
        for (let o = 0; o < outer; o++) {
          for (let j = 0; j < inner; j++) {
            let best = x[o * R * inner + j]!;
            let at = 0;
            for (let r = 1; r < R && !Number.isNaN(best); r++) {
              const t = x[(o * R + r) * inner + j]!;
              if (Number.isNaN(t) || (op === 'argmax' ? t > best : t < best)) {
                best = t;
                at = r;
              }
            }
            if (got[o * inner + j] !== at)
              throw new Error(`${op} [${v}] (${o},${j}): ${got[o * inner + j]} vs ${at}`);
          }
        }
      }
      km.reduce('max', px, py, outer, R, inner);
      if (x.length > 40) {
        const nanCol = 37 % inner;
        const nanOuter = Math.floor(37 / (R * inner));
        expect(km.readF32(py, outer * inner)[nanOuter * inner + nanCol]).toBeNaN();
      }
      km.free(px);
      km.free(py);
    }
  });
});

function refSoftmaxRow(x: ArrayLike<number>): { p: Float64Array; lse: number } {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]!);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.exp(x[i]! - m);
  const p = Float64Array.from(x as ArrayLike<number>, (v) => Math.exp(v - m) / s);
  return { p, lse: m + Math.log(s) };
}

describe('softmax family', () => {
  for (const n of [1, 2, 3, 5, 7, 9, 17, 63, 64, 65, 257, 1000, 1027]) {
    it(`softmax / logSoftmax / logsumexp, rows of ${n}`, () => {
      const rows = 3;
      const x = randomF32(rows * n, n, -20, 20);
      x[0] = 80; // large logits must not overflow
      const px = km.allocF32(x.length, x);
      const py = km.allocF32(x.length);
      const pl = km.allocF32(rows);
      km.exports.softmax_f32(px, py, rows, n);
      const sm = km.readF32(py, x.length);
      km.exports.log_softmax_f32(px, py, rows, n);
      const lsm = km.readF32(py, x.length);
      km.exports.logsumexp_f32(px, pl, rows, n);
      const lse = km.readF32(pl, rows);
      for (let r = 0; r < rows; r++) {
        const ref = refSoftmaxRow(x.subarray(r * n, (r + 1) * n));
        // p_i = e_i/s: exp (1 ulp) + sum (n·u relative) + division
        // + the rounding of x − max (condition |x − max|) and an absolute subnormal floor
        const m = Math.max(...x.subarray(r * n, (r + 1) * n));
        expectClose(
          sm.subarray(r * n, (r + 1) * n),
          ref.p,
          (i) => (n + 4 + Math.abs(x[r * n + i]! - m)) * U * ref.p[i]! + 2 ** -148,
          `softmax row ${r}`,
        );
        expectClose(
          lsm.subarray(r * n, (r + 1) * n),
          Float64Array.from(x.subarray(r * n, (r + 1) * n), (v) => v - ref.lse),
          (i) => (n + 4) * U * (Math.abs(ref.lse) + Math.abs(x[r * n + i]!)),
          `logSoftmax row ${r}`,
        );
        expect(Math.abs(lse[r]! - ref.lse)).toBeLessThanOrEqual((n + 4) * U * Math.abs(ref.lse) + n * U);
      }
      // in place
      km.exports.softmax_f32(px, px, rows, n);
      expect(Array.from(km.readF32(px, x.length))).toEqual(Array.from(sm));
    });
  }

  it("rows outside exp's fast path give their other elements the fast path's bits", () => {
    // A row whose spread exceeds 86 (or with ±inf / NaN) takes the slow path; −200 below the max adds an
    // exact 0 to the sum, so the other 64 elements must come out bit-identical to the fast row's.
    const n = 64;
    const x = randomF32(n, 41, -20, 20);
    const wide = new Float32Array(n + 1);
    wide.set(x);
    wide[n] = -200;
    for (const fn of ['softmax_f32', 'log_softmax_f32'] as const) {
      const outs = [x, wide].map((v) => {
        const px = km.allocF32(v.length, v);
        const py = km.allocF32(v.length);
        km.exports[fn](px, py, 1, v.length);
        const y = km.readF32(py, v.length);
        km.free(px);
        km.free(py);
        return y;
      });
      expect(Array.from(outs[1]!.subarray(0, n)), fn).toEqual(Array.from(outs[0]!));
      if (fn === 'softmax_f32') expect(outs[1]![n]).toBe(0);
    }
  });

  it('cross-entropy forward and backward with label smoothing', () => {
    for (const [rows, C] of [
      [1, 1],
      [3, 17],
      [5, 65],
      [2, 1000],
    ]) {
      for (const eps of [0, 0.1]) {
        const x = randomF32(rows * C, C, -10, 10);
        const labels = Int32Array.from({ length: rows }, (_, i) => (i * 7) % C);
        const px = km.allocF32(x.length, x);
        const pl = km.allocI32(rows, labels);
        const ploss = km.allocF32(rows);
        km.exports.cross_entropy_f32(px, pl, ploss, rows, C, eps);
        const loss = km.readF32(ploss, rows);
        const pg = km.allocF32(1, [0.5]);
        const pdx = km.allocF32(x.length);
        km.exports.cross_entropy_backward_f32(px, pl, pg, 0, pdx, rows, C, eps);
        const dx = km.readF32(pdx, x.length);
        for (let r = 0; r < rows; r++) {
          const row = x.subarray(r * C, (r + 1) * C);
          const { p, lse } = refSoftmaxRow(row);
          const mean = row.reduce((a, b) => a + b, 0) / C;
          const want = lse - (1 - eps) * row[labels[r]!]! - eps * mean;
          const scale = Math.abs(lse) + Math.abs(row[labels[r]!]!) + Math.abs(mean) + 10;
          expect(Math.abs(loss[r]! - want)).toBeLessThanOrEqual((C + 8) * U * scale);
          const g = Float64Array.from(p, (v, j) => 0.5 * (v - (j === labels[r] ? 1 - eps : 0) - eps / C));
          expectClose(dx.subarray(r * C, (r + 1) * C), g, () => (C + 8) * U, `ce grad row ${r}`);
        }
        [px, pl, ploss, pg, pdx].forEach((q) => {
          km.free(q);
        });
      }
    }
  });

  it('softmax and logSoftmax backward', () => {
    const [rows, n] = [3, 65];
    const x = randomF32(rows * n, 1, -5, 5);
    const dy = randomF32(rows * n, 2);
    const px = km.allocF32(x.length, x);
    const py = km.allocF32(x.length);
    const pdy = km.allocF32(dy.length, dy);
    const pdx = km.allocF32(x.length);
    for (const log of [false, true]) {
      if (log) km.exports.log_softmax_f32(px, py, rows, n);
      else km.exports.softmax_f32(px, py, rows, n);
      if (log) km.exports.log_softmax_backward_f32(py, pdy, pdx, rows, n);
      else km.exports.softmax_backward_f32(py, pdy, pdx, rows, n);
      const dx = km.readF32(pdx, x.length);
      for (let r = 0; r < rows; r++) {
        const { p } = refSoftmaxRow(x.subarray(r * n, (r + 1) * n));
        const g = dy.subarray(r * n, (r + 1) * n);
        const ref = log
          ? Float64Array.from(g, (v, i) => v - p[i]! * g.reduce((a, b) => a + b, 0))
          : Float64Array.from(g, (v, i) => p[i]! * (v - g.reduce((a, b, j) => a + b * p[j]!, 0)));
        expectClose(
          dx.subarray(r * n, (r + 1) * n),
          ref,
          () => (n + 8) * U * 4,
          `${log ? 'log' : ''}softmax backward`,
        );
      }
    }
  });
});
