import { describe, expect, it } from 'vitest';
import { type Conv2dGeometry, convOutputSize } from '../src/index.js';
import { convGeometry, createModule, expectClose, randomF32, U } from './helpers.js';

const km = createModule();

/** Direct float64 convolution; returns y, and Σ|x·w| per output for the error bound. Also the adjoints. */
function refConv(x: Float32Array, w: Float32Array, g: Conv2dGeometry) {
  const { OH, OW } = convOutputSize(g);
  const Cg = g.C / g.groups;
  const Coutg = g.Cout / g.groups;
  const y = new Float64Array(g.N * OH * OW * g.Cout);
  const ya = new Float64Array(y.length);
  const taps: [number, number, number][] = []; // (yIndex, xIndex, wIndex)
  for (let n = 0; n < g.N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let co = 0; co < g.Cout; co++) {
          const grp = Math.floor(co / Coutg);
          const yi = ((n * OH + oh) * OW + ow) * g.Cout + co;
          for (let kh = 0; kh < g.KH; kh++)
            for (let kw = 0; kw < g.KW; kw++) {
              const ih = oh * g.strideH - g.padTop + kh * g.dilationH;
              const iw = ow * g.strideW - g.padLeft + kw * g.dilationW;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              for (let ci = 0; ci < Cg; ci++) {
                const xi = ((n * g.H + ih) * g.W + iw) * g.C + grp * Cg + ci;
                const wi = ((kh * g.KW + kw) * Cg + ci) * g.Cout + co;
                y[yi] += x[xi]! * w[wi]!;
                ya[yi] += Math.abs(x[xi]! * w[wi]!);
                taps.push([yi, xi, wi]);
              }
            }
        }
  return { y, ya, taps };
}

const GEOMS: Conv2dGeometry[] = [
  convGeometry({ N: 1, H: 5, W: 5, C: 1, KH: 3, KW: 3, Cout: 1 }),
  convGeometry({ N: 2, H: 7, W: 6, C: 3, KH: 3, KW: 3, Cout: 5, pad: 1 }),
  convGeometry({
    N: 1,
    H: 9,
    W: 8,
    C: 4,
    KH: 3,
    KW: 2,
    Cout: 6,
    strideH: 2,
    strideW: 3,
    padTop: 2,
    padLeft: 1,
    padRight: 1,
    dilationH: 2,
  }),
  convGeometry({ N: 2, H: 6, W: 6, C: 6, KH: 3, KW: 3, Cout: 4, groups: 2, pad: 1 }),
  convGeometry({ N: 1, H: 5, W: 5, C: 8, KH: 3, KW: 3, Cout: 8, groups: 8, pad: 1 }), // depthwise
  convGeometry({ N: 3, H: 4, W: 5, C: 17, KH: 1, KW: 1, Cout: 9 }), // pointwise fast path
  convGeometry({ N: 1, H: 16, W: 16, C: 65, KH: 3, KW: 3, Cout: 33, pad: 1 }),
  // Small channel counts (the im2col run paths) with ≥ 512 output pixels, so the filter gradient sums
  // several pixel segments (checked below): the 1-channel stem, 'same' padding, stride 1
  convGeometry({ N: 2, H: 28, W: 28, C: 1, KH: 3, KW: 3, Cout: 8, pad: 1 }),
  // 3 channels, stride 2, 'valid' (no padding), a row of x never read
  convGeometry({ N: 3, H: 30, W: 29, C: 3, KH: 3, KW: 3, Cout: 5, strideH: 2, strideW: 2 }),
  // 8 channels, 'same' padding (whole window rows and cut ones)
  convGeometry({ N: 2, H: 20, W: 18, C: 8, KH: 3, KW: 3, Cout: 8, pad: 1 }),
  // 8 channels, horizontal dilation (tap by tap), stride 2 across W, uneven padding
  convGeometry({
    N: 2,
    H: 24,
    W: 26,
    C: 8,
    KH: 3,
    KW: 3,
    Cout: 6,
    strideW: 2,
    padTop: 2,
    padBottom: 2,
    padLeft: 3,
    padRight: 1,
    dilationH: 2,
    dilationW: 2,
  }),
  // 2 groups of 4 channels (window rows not contiguous per group), 5 wide, stride 2 'same'
  convGeometry({
    N: 2,
    H: 22,
    W: 21,
    C: 8,
    KH: 3,
    KW: 5,
    Cout: 4,
    groups: 2,
    strideH: 2,
    strideW: 2,
    padTop: 1,
    padBottom: 1,
    padLeft: 2,
    padRight: 2,
  }),
  // 1-channel pointwise with many pixels: the filter gradient's segments on the gemm-only path
  convGeometry({ N: 4, H: 16, W: 16, C: 1, KH: 1, KW: 1, Cout: 3 }),
];

describe('conv2d NHWC', () => {
  for (const g of GEOMS) {
    it(`forward and both gradients: ${JSON.stringify(g)}`, () => {
      const { OH, OW } = convOutputSize(g);
      const x = randomF32(g.N * g.H * g.W * g.C, 1);
      const w = randomF32(g.KH * g.KW * (g.C / g.groups) * g.Cout, 2);
      const dy = randomF32(g.N * OH * OW * g.Cout, 3);
      const ref = refConv(x, w, g);
      const [px, pw, py, pdy] = [
        km.allocF32(x.length, x),
        km.allocF32(w.length, w),
        km.allocF32(ref.y.length),
        km.allocF32(dy.length, dy),
      ];
      const pdx = km.allocF32(x.length);
      const pdw = km.allocF32(w.length);
      km.conv2d(px, pw, py, g);
      const K = g.KH * g.KW * (g.C / g.groups);
      expectClose(km.readF32(py, ref.y.length), ref.y, (i) => (K + 2) * U * ref.ya[i]!, 'conv forward');
      // adjoints from the tap list: dx[xi] += dy[yi]·w[wi], dw[wi] += dy[yi]·x[xi]
      const dx = new Float64Array(x.length),
        dxa = new Float64Array(x.length);
      const dw = new Float64Array(w.length),
        dwa = new Float64Array(w.length);
      for (const [yi, xi, wi] of ref.taps) {
        dx[xi] += dy[yi]! * w[wi]!;
        dxa[xi] += Math.abs(dy[yi]! * w[wi]!);
        dw[wi] += dy[yi]! * x[xi]!;
        dwa[wi] += Math.abs(dy[yi]! * x[xi]!);
      }
      km.fill(pdx, x.length, 123); // must be overwritten
      km.conv2dBackwardInput(pdy, pw, pdx, g);
      expectClose(km.readF32(pdx, x.length), dx, (i) => (g.KH * g.KW * g.Cout + 2) * U * dxa[i]!, 'conv dx');
      km.fill(pdw, w.length, 123);
      km.conv2dBackwardFilter(px, pdy, pdw, g);
      const P = g.N * OH * OW;
      // from 512 output pixels on, dw is summed in ≥ 2 pixel segments (assembly/conv.ts)
      expect(km.exports.conv2d_filter_segments(km['geom'](g)) > 1).toBe(P >= 512);
      expectClose(km.readF32(pdw, w.length), dw, (i) => (P + 2) * U * dwa[i]!, 'conv dw');
      [px, pw, py, pdy, pdx, pdw].forEach((p) => {
        km.free(p);
      });
    });
  }
});

describe('pooling NHWC', () => {
  const POOLS: Conv2dGeometry[] = [
    convGeometry({ N: 1, H: 4, W: 4, C: 1, KH: 2, KW: 2, strideH: 2, strideW: 2 }),
    convGeometry({ N: 2, H: 7, W: 5, C: 6, KH: 3, KW: 3, strideH: 2, pad: 1 }),
    convGeometry({ N: 1, H: 9, W: 9, C: 17, KH: 3, KW: 2, strideH: 3, strideW: 2, dilationW: 2, padLeft: 1 }),
  ];
  for (const g of POOLS) {
    it(`max/avg forward and backward: ${JSON.stringify(g)}`, () => {
      const { OH, OW } = convOutputSize(g);
      const x = randomF32(g.N * g.H * g.W * g.C, 5).map((v) => Math.round(v * 3) / 3); // ties
      const dy = randomF32(g.N * OH * OW * g.C, 6);
      const ny = g.N * OH * OW * g.C;
      const [px, py, pdy, pdx] = [
        km.allocF32(x.length, x),
        km.allocF32(ny),
        km.allocF32(ny, dy),
        km.allocF32(x.length),
      ];
      const refMax = new Float64Array(ny),
        refAvg = new Float64Array(ny),
        refAvgInc = new Float64Array(ny);
      const dxMax = new Float64Array(x.length),
        dxAvg = new Float64Array(x.length);
      for (let n = 0; n < g.N; n++)
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++)
            for (let c = 0; c < g.C; c++) {
              const yi = ((n * OH + oh) * OW + ow) * g.C + c;
              let m = -Infinity,
                at = -1,
                s = 0,
                cnt = 0;
              const idx: number[] = [];
              for (let kh = 0; kh < g.KH; kh++)
                for (let kw = 0; kw < g.KW; kw++) {
                  const ih = oh * g.strideH - g.padTop + kh * g.dilationH;
                  const iw = ow * g.strideW - g.padLeft + kw * g.dilationW;
                  if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                  const xi = ((n * g.H + ih) * g.W + iw) * g.C + c;
                  if (at < 0 || x[xi]! > m) {
                    m = x[xi]!;
                    at = xi;
                  }
                  s += x[xi]!;
                  cnt++;
                  idx.push(xi);
                }
              refMax[yi] = m;
              refAvg[yi] = s / cnt;
              refAvgInc[yi] = s / (g.KH * g.KW);
              if (at >= 0) dxMax[at] += dy[yi]!;
              for (const xi of idx) dxAvg[xi] += dy[yi]! / cnt;
            }
      km.maxPool2d(px, py, g);
      expectClose(km.readF32(py, ny), refMax, () => 0, 'maxpool');
      km.maxPool2dBackward(px, pdy, pdx, g);
      expectClose(km.readF32(pdx, x.length), dxMax, (i) => 9 * U * Math.abs(dxMax[i]!) + 1e-6, 'maxpool dx');
      km.avgPool2d(px, py, g);
      expectClose(km.readF32(py, ny), refAvg, () => 12 * U * 2, 'avgpool');
      km.avgPool2d(px, py, g, true);
      expectClose(km.readF32(py, ny), refAvgInc, () => 12 * U * 2, 'avgpool countIncludePad');
      km.avgPool2dBackward(pdy, pdx, g);
      expectClose(km.readF32(pdx, x.length), dxAvg, () => 12 * U * 2, 'avgpool dx');
      [px, py, pdy, pdx].forEach((p) => {
        km.free(p);
      });
    });
  }
});

describe('normalization', () => {
  for (const n of [1, 3, 17, 64, 65, 257]) {
    it(`layerNorm / rmsNorm over rows of ${n}`, () => {
      const rows = 3;
      const x = randomF32(rows * n, n, -3, 3).map((v, i) => v + (i < n ? 100 : 0)); // row 0 has a large mean
      const gamma = randomF32(n, 2, 0.5, 1.5);
      const beta = randomF32(n, 3);
      const [px, pg, pb, py, pm, pr] = [
        km.allocF32(x.length, x),
        km.allocF32(n, gamma),
        km.allocF32(n, beta),
        km.allocF32(x.length),
        km.allocF32(rows),
        km.allocF32(rows),
      ];
      const eps = 1e-5;
      km.exports.layer_norm_f32(px, pg, pb, py, rows, n, eps, pm, pr);
      const y = km.readF32(py, x.length);
      const rstd = km.readF32(pr, rows);
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * n, (r + 1) * n));
        const mean = row.reduce((a, b) => a + b, 0) / n;
        const v = row.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
        const rs = 1 / Math.sqrt(v + eps);
        expect(Math.abs(rstd[r]! - rs)).toBeLessThanOrEqual(
          (2 * n + 8) * U * rs * (1 + Math.abs(mean) ** 2 / (v + eps)),
        );
        const ref = row.map((t, j) => (t - mean) * rs * gamma[j]! + beta[j]!);
        // error: the mean's rounding (n·u·|mean|) amplified by rstd, plus the variance's
        const tol = (2 * n + 8) * U * (1 + Math.abs(mean) * rs) * 4;
        expectClose(
          y.subarray(r * n, (r + 1) * n),
          ref,
          (j) => tol * (Math.abs(ref[j]!) + 1),
          `layerNorm row ${r}`,
        );
      }
      km.exports.rms_norm_f32(px, pg, py, rows, n, eps, pr);
      const z = km.readF32(py, x.length);
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * n, (r + 1) * n));
        const rs = 1 / Math.sqrt(row.reduce((a, b) => a + b * b, 0) / n + eps);
        const ref = row.map((t, j) => t * rs * gamma[j]!);
        expectClose(
          z.subarray(r * n, (r + 1) * n),
          ref,
          (j) => (n + 8) * U * Math.abs(ref[j]!) + U,
          `rmsNorm row ${r}`,
        );
      }
      [px, pg, pb, py, pm, pr].forEach((p) => {
        km.free(p);
      });
    });
  }

  it('batchNorm apply, channels last (with and without affine)', () => {
    for (const [rows, C] of [
      [1, 1],
      [7, 3],
      [5, 17],
      [2, 64],
    ]) {
      const x = randomF32(rows * C, 1, -2, 2);
      const mean = randomF32(C, 2);
      const variance = randomF32(C, 3, 0.1, 2);
      const gamma = randomF32(C, 4);
      const beta = randomF32(C, 5);
      const ps = [x, mean, variance, gamma, beta].map((a) => km.allocF32(a.length, a));
      const py = km.allocF32(x.length);
      for (const affine of [true, false]) {
        km.batchNormApply(
          ps[0]!,
          ps[1]!,
          ps[2]!,
          affine ? ps[3]! : 0,
          affine ? ps[4]! : 0,
          py,
          rows,
          C,
          1e-5,
        );
        const ref = Array.from(x, (v, i) => {
          const c = i % C;
          const t = (v - mean[c]!) / Math.sqrt(variance[c]! + 1e-5);
          return affine ? t * gamma[c]! + beta[c]! : t;
        });
        expectClose(km.readF32(py, x.length), ref, (i) => 8 * U * (Math.abs(ref[i]!) + 1) * 4, 'batchNorm');
      }
      [...ps, py].forEach((p) => {
        km.free(p);
      });
    }
  });
});

describe('AdamW', () => {
  it('one fused pass matches the reference update (several steps, awkward n)', () => {
    for (const n of [1, 3, 17, 65]) {
      const p = randomF32(n, 1);
      const m = new Float32Array(n);
      const v = new Float32Array(n);
      const [pp, pg, pm, pv] = [km.allocF32(n, p), km.allocF32(n), km.allocF32(n, m), km.allocF32(n, v)];
      // hyperparameters as the kernel sees them (f32)
      const [lr, b1, b2, eps, wd] = [1e-2, 0.9, 0.999, 1e-8, 0.01].map(Math.fround) as [
        number,
        number,
        number,
        number,
        number,
      ];
      const P = Float64Array.from(p),
        M = new Float64Array(n),
        V = new Float64Array(n),
        Ma = new Float64Array(n);
      for (let t = 1; t <= 5; t++) {
        const g = randomF32(n, 10 + t);
        km.writeF32(pg, g);
        const bc1 = 1 - b1 ** t,
          bc2 = 1 - b2 ** t;
        km.exports.adamw_f32(pp, pg, pm, pv, n, lr, b1, b2, eps, wd, bc1, bc2);
        for (let i = 0; i < n; i++) {
          P[i] -= lr * wd * P[i]!;
          M[i] = b1 * M[i]! + Math.fround(1 - b1) * g[i]!;
          Ma[i] = b1 * Ma[i]! + Math.fround(1 - b1) * Math.abs(g[i]!); // scale of m's rounding errors
          V[i] = b2 * V[i]! + Math.fround(1 - b2) * g[i]! ** 2;
          P[i] -= (lr * M[i]!) / bc1 / (Math.sqrt(V[i]! / bc2) + eps);
        }
      }
      expectClose(km.readF32(pp, n), P, () => 1e-6, 'adamw p');
      expectClose(km.readF32(pm, n), M, (i) => 16 * U * Ma[i]!, 'adamw m');
      expectClose(km.readF32(pv, n), V, (i) => 64 * U * Math.abs(V[i]!), 'adamw v');
      [pp, pg, pm, pv].forEach((q) => {
        km.free(q);
      });
    }
  });
});
