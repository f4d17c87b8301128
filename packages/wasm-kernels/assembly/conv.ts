// conv2d (NHWC) forward and gradients via im2col + the packed gemm, and 2-D max/avg pooling.
//
// Geometry is passed as 18 i32s at `geom`:
//   N H W C KH KW Cout strideH strideW padTop padBottom padLeft padRight dilationH dilationW groups OH OW
// x [N,H,W,C], w [KH,KW,C/groups,Cout], y [N,OH,OW,Cout]. The im2col matrix of a group has one row per
// output pixel and KH·KW·(C/groups) columns in w's (kh, kw, ci) order, so conv = col · w_g. Rows are
// processed in chunks that fit the workspace, so the col matrix is never materialised whole.
import { gemm, matmul_workspace_bytes } from './matmul';
import { splat } from './common';

@inline function g(geom: usize, i: i32): i32 {
  return load<i32>(geom + (<usize>i << 2));
}

const COL_TARGET_BYTES: i32 = 4 << 20; // col chunk size the workspace is sized for

@inline function isPointwise(geom: usize): bool {
  return g(geom, 4) == 1 && g(geom, 5) == 1 && g(geom, 7) == 1 && g(geom, 8) == 1 && g(geom, 9) == 0 &&
    g(geom, 10) == 0 && g(geom, 11) == 0 && g(geom, 12) == 0 && g(geom, 15) == 1;
}

/** Workspace bytes for pass 0 (forward), 1 (input gradient), 2 (filter gradient). */
export function conv2d_workspace_bytes(geom: usize, pass: i32): i32 {
  const base = matmul_workspace_bytes();
  if (isPointwise(geom)) return base;
  const KK = g(geom, 4) * g(geom, 5) * (g(geom, 3) / g(geom, 15));
  const P = g(geom, 0) * g(geom, 16) * g(geom, 17);
  const rows = min(P, max(16, COL_TARGET_BYTES / max(1, KK * 4)));
  return base + rows * KK * 4;
}

/** Rows of col that fit the workspace. */
@inline function chunkRows(wsBytes: i32, KK: i32, P: i32): i32 {
  return min(P, max(1, (wsBytes - matmul_workspace_bytes()) / max(1, KK * 4)));
}

/**
 * col[r, k − k0] = x[n, ih, iw, grp·Cg + ci] (0 outside) for output pixels p0..p0+rows and the im2col
 * columns k = (kh·KW + kw)·Cg + ci in [k0, k1) (the full row is [0, KH·KW·Cg)). A column range lets a
 * filter-gradient thread build only the columns of its own dw rows.
 */
function im2col(x: usize, geom: usize, grp: i32, p0: i32, rows: i32, col: usize, k0: i32, k1: i32): void {
  const H = g(geom, 1), W = g(geom, 2), C = g(geom, 3), KW = g(geom, 5);
  const sH = g(geom, 7), sW = g(geom, 8), pT = g(geom, 9), pL = g(geom, 11), dH = g(geom, 13), dW = g(geom, 14);
  const Cg = C / g(geom, 15), OH = g(geom, 16), OW = g(geom, 17);
  if (k1 <= k0) return; // no columns (C = 0): nothing to copy, and Cg = 0 below
  // taps t0..t1 (t = kh·KW + kw) intersect [k0, k1); the first and last may be partial channel spans
  const t0 = k0 / Cg, t1 = (k1 - 1) / Cg;
  let dst = col;
  for (let p = p0; p < p0 + rows; p++) {
    const ow = p % OW;
    const t = p / OW;
    const oh = t % OH;
    const n = t / OH;
    for (let tap = t0; tap <= t1; tap++) {
      const kh = tap / KW, kw = tap % KW;
      const c0 = max(0, k0 - tap * Cg), c1 = min(Cg, k1 - tap * Cg);
      const cb = <usize>(c1 - c0) << 2;
      const ih = oh * sH - pT + kh * dH;
      const iw = ow * sW - pL + kw * dW;
      if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
        memory.copy(dst, x + ((((<usize>n * H + ih) * W + iw) * C + <usize>grp * Cg + c0) << 2), cb);
      } else {
        memory.fill(dst, 0, cb);
      }
      dst += cb;
    }
  }
}

/**
 * dx[n, ih, iw, grp·Cg + ci] += col[r, ...] (the adjoint of im2col), only into the image rows
 * n·H + ih in [rLo, rHi) (a thread's share; [0, N·H) is everything).
 */
function col2imAdd(dx: usize, geom: usize, grp: i32, p0: i32, rows: i32, col: usize, rLo: i32, rHi: i32): void {
  const H = g(geom, 1), W = g(geom, 2), C = g(geom, 3), KH = g(geom, 4), KW = g(geom, 5);
  const sH = g(geom, 7), sW = g(geom, 8), pT = g(geom, 9), pL = g(geom, 11), dH = g(geom, 13), dW = g(geom, 14);
  const Cg = C / g(geom, 15), OH = g(geom, 16), OW = g(geom, 17);
  const cb = <usize>Cg << 2;
  let src = col;
  for (let p = p0; p < p0 + rows; p++) {
    const ow = p % OW;
    const t = p / OW;
    const oh = t % OH;
    const n = t / OH;
    for (let kh = 0; kh < KH; kh++) {
      const ih = oh * sH - pT + kh * dH;
      const r = n * H + ih;
      for (let kw = 0; kw < KW; kw++) {
        const iw = ow * sW - pL + kw * dW;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W && r >= rLo && r < rHi) {
          const d = dx + ((((<usize>n * H + ih) * W + iw) * C + <usize>grp * Cg) << 2);
          let c = 0;
          for (; c + 4 <= Cg; c += 4) {
            const o = <usize>c << 2;
            v128.store(d + o, f32x4.add(v128.load(d + o), v128.load(src + o)));
          }
          for (; c < Cg; c++) {
            const o = <usize>c << 2;
            store<f32>(d + o, load<f32>(d + o) + load<f32>(src + o));
          }
        }
        src += cb;
      }
    }
  }
}

// Each pass has a range form that computes a disjoint part of the output, for threads (src/threads):
//   forward          output pixels [p0, p1)   (rows of y; each row's arithmetic is independent of the range)
//   input gradient   image rows [r0, r1)      (r = n·H + ih; the output pixels reaching them, clipped)
//   filter gradient  dw rows [k0, k1)         (rows of KH·KW·Cg; every thread reduces over ALL pixels)
// Chunk boundaries along the pixels are fixed by the geometry and wsBytes alone, never by the range, so the
// filter gradient's sum over pixels is associated the same way whatever the split: results are
// bit-identical to the full-range call.

/** y = conv2d(x, w). ws: `conv2d_workspace_bytes(geom, 0)` bytes (more is used if given). */
export function conv2d_f32(x: usize, w: usize, y: usize, geom: usize, ws: usize, wsBytes: i32): void {
  conv2d_rows_f32(x, w, y, geom, ws, wsBytes, 0, g(geom, 0) * g(geom, 16) * g(geom, 17));
}

/** Rows [p0, p1) of y = conv2d(x, w) (p = (n·OH + oh)·OW + ow). */
export function conv2d_rows_f32(
  x: usize, w: usize, y: usize, geom: usize, ws: usize, wsBytes: i32, p0: i32, p1: i32,
): void {
  const C = g(geom, 3), Cout = g(geom, 6), groups = g(geom, 15);
  if (p1 <= p0 || Cout == 0) return;
  if (isPointwise(geom)) {
    gemm(0, 0, p1 - p0, Cout, C, x + (<usize>p0 * C << 2), C, w, Cout, y + (<usize>p0 * Cout << 2), Cout, 0, ws);
    return;
  }
  const Cg = C / groups, Coutg = Cout / groups;
  const KK = g(geom, 4) * g(geom, 5) * Cg;
  const col = ws + matmul_workspace_bytes();
  const rows = chunkRows(wsBytes, KK, p1 - p0);
  for (let p = p0; p < p1; p += rows) {
    const r = min(rows, p1 - p);
    for (let grp = 0; grp < groups; grp++) {
      im2col(x, geom, grp, p, r, col, 0, KK);
      gemm(0, 0, r, Coutg, KK, col, KK, w + (<usize>grp * Coutg << 2), Cout,
        y + ((<usize>p * Cout + <usize>grp * Coutg) << 2), Cout, 0, ws);
    }
  }
}

/** dx = ∂/∂x of conv2d given dy: dcol = dy_g·w_gᵀ, then col2im (dx is overwritten). */
export function conv2d_backward_input_f32(dy: usize, w: usize, dx: usize, geom: usize, ws: usize, wsBytes: i32): void {
  conv2d_backward_input_rows_f32(dy, w, dx, geom, ws, wsBytes, 0, g(geom, 0) * g(geom, 1));
}

@inline function floorDiv(x: i32, d: i32): i32 {
  return x >= 0 ? x / d : -((-x + d - 1) / d);
}

/**
 * Image rows [r0, r1) of dx (r = n·H + ih; overwritten, other rows untouched). The output pixels whose
 * windows reach those rows are the rows oh of the first image from ⌈(ih0 + pT − (KH−1)·dH) / sH⌉ on, through
 * the rows of the last image up to ⌊(ih1 − 1 + pT) / sH⌋: their dcol rows are computed (a split recomputes
 * the few at its borders), and col2im adds only into [r0, r1). Every dx element still receives its
 * contributions in increasing pixel order, each computed as in the full call: bit-identical results.
 */
export function conv2d_backward_input_rows_f32(
  dy: usize, w: usize, dx: usize, geom: usize, ws: usize, wsBytes: i32, r0: i32, r1: i32,
): void {
  const H = g(geom, 1), W = g(geom, 2), C = g(geom, 3), KH = g(geom, 4), Cout = g(geom, 6);
  const sH = g(geom, 7), pT = g(geom, 9), dH = g(geom, 13), groups = g(geom, 15);
  const OH = g(geom, 16), OW = g(geom, 17);
  if (r1 <= r0 || W * C == 0) return;
  const rowBytes = <usize>W * C << 2;
  const dxRows = dx + <usize>r0 * rowBytes;
  if (OH * OW == 0 || Cout == 0) {
    memory.fill(dxRows, 0, <usize>(r1 - r0) * rowBytes);
    return;
  }
  if (isPointwise(geom)) {
    // 1×1, stride 1, no padding: dx pixel = output pixel
    const q0 = r0 * W, q1 = r1 * W;
    gemm(0, 1, q1 - q0, C, Cout, dy + (<usize>q0 * Cout << 2), Cout, w, Cout, dxRows, C, 0, ws);
    return;
  }
  memory.fill(dxRows, 0, <usize>(r1 - r0) * rowBytes);
  const nFirst = r0 / H, nLast = (r1 - 1) / H;
  const ohLo = max(0, -floorDiv(-(r0 - nFirst * H + pT - (KH - 1) * dH), sH)); // ceil
  const ohHi = min(OH - 1, floorDiv(r1 - 1 - nLast * H + pT, sH));
  const p0 = (nFirst * OH + ohLo) * OW;
  const p1 = (nLast * OH + ohHi + 1) * OW;
  if (p1 <= p0) return;
  const Cg = C / groups, Coutg = Cout / groups;
  const KK = KH * g(geom, 5) * Cg;
  const col = ws + matmul_workspace_bytes();
  const rows = chunkRows(wsBytes, KK, p1 - p0);
  for (let p = p0; p < p1; p += rows) {
    const r = min(rows, p1 - p);
    for (let grp = 0; grp < groups; grp++) {
      gemm(0, 1, r, KK, Coutg, dy + ((<usize>p * Cout + <usize>grp * Coutg) << 2), Cout,
        w + (<usize>grp * Coutg << 2), Cout, col, KK, 0, ws);
      col2imAdd(dx, geom, grp, p, r, col, r0, r1);
    }
  }
}

/** dw = ∂/∂w of conv2d given x and dy: dw_g = Σ_chunks col_gᵀ·dy_g (dw is overwritten). */
export function conv2d_backward_filter_f32(x: usize, dy: usize, dw: usize, geom: usize, ws: usize, wsBytes: i32): void {
  conv2d_backward_filter_rows_f32(x, dy, dw, geom, ws, wsBytes, 0, g(geom, 4) * g(geom, 5) * (g(geom, 3) / g(geom, 15)));
}

/** Rows [k0, k1) of dw viewed as [KH·KW·Cg, Cout] (overwritten; other rows untouched). */
export function conv2d_backward_filter_rows_f32(
  x: usize, dy: usize, dw: usize, geom: usize, ws: usize, wsBytes: i32, k0: i32, k1: i32,
): void {
  const C = g(geom, 3), Cout = g(geom, 6), groups = g(geom, 15);
  const P = g(geom, 0) * g(geom, 16) * g(geom, 17);
  const Cg = C / groups, Coutg = Cout / groups;
  const KK = g(geom, 4) * g(geom, 5) * Cg;
  const kn = k1 - k0;
  if (kn <= 0 || Cout == 0) return;
  const dwRows = dw + (<usize>k0 * Cout << 2);
  if (P == 0) {
    memory.fill(dwRows, 0, <usize>kn * Cout << 2);
    return;
  }
  if (isPointwise(geom)) {
    gemm(1, 0, kn, Cout, P, x + (<usize>k0 << 2), C, dy, Cout, dwRows, Cout, 0, ws);
    return;
  }
  const col = ws + matmul_workspace_bytes();
  // chunking from the FULL row width KK: the same pixel chunks (hence the same summation) for every range
  const rows = chunkRows(wsBytes, KK, P);
  for (let p0 = 0; p0 < P; p0 += rows) {
    const r = min(rows, P - p0);
    for (let grp = 0; grp < groups; grp++) {
      im2col(x, geom, grp, p0, r, col, k0, k1);
      gemm(1, 0, kn, Coutg, r, col, kn, dy + ((<usize>p0 * Cout + <usize>grp * Coutg) << 2), Cout,
        dwRows + (<usize>grp * Coutg << 2), Cout, p0 > 0 ? 1 : 0, ws);
    }
  }
}

// ---- pooling (NHWC; window KH×KW, stride, pads, dilation from geom; channels C, vectorized over C) ---------

/** y = max over the in-bounds part of each window (padding never wins); NaN propagates. */
export function max_pool2d_f32(x: usize, y: usize, geom: usize): void {
  const N = g(geom, 0), H = g(geom, 1), W = g(geom, 2), C = g(geom, 3), KH = g(geom, 4), KW = g(geom, 5);
  const sH = g(geom, 7), sW = g(geom, 8), pT = g(geom, 9), pL = g(geom, 11), dH = g(geom, 13), dW = g(geom, 14);
  const OH = g(geom, 16), OW = g(geom, 17);
  let out = y;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let c = 0;
        for (; c < C; c += 4) {
          const t = min(4, C - c);
          let m = splat(-Infinity);
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * sH - pT + kh * dH;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * sW - pL + kw * dW;
              if (iw < 0 || iw >= W) continue;
              const src = x + ((((<usize>n * H + ih) * W + iw) * C + c) << 2);
              if (t == 4) m = f32x4.max(m, v128.load(src));
              else {
                // partial channel group: fold through memory
                v128.store(LANE, m);
                for (let l = 0; l < t; l++) {
                  const o = <usize>l << 2;
                  store<f32>(LANE + o, max<f32>(load<f32>(LANE + o), load<f32>(src + o)));
                }
                m = v128.load(LANE);
              }
            }
          }
          if (t == 4) v128.store(out + (<usize>c << 2), m);
          else {
            v128.store(LANE, m);
            for (let l = 0; l < t; l++) store<f32>(out + (<usize>(c + l) << 2), load<f32>(LANE + (<usize>l << 2)));
          }
        }
        out += <usize>C << 2;
      }
    }
  }
}

const LANE = memory.data(32, 16);

/** dx = Σ over windows of dy routed to the first maximal in-bounds element of each window (per channel). */
export function max_pool2d_backward_f32(x: usize, dy: usize, dx: usize, geom: usize): void {
  const N = g(geom, 0), H = g(geom, 1), W = g(geom, 2), C = g(geom, 3), KH = g(geom, 4), KW = g(geom, 5);
  const sH = g(geom, 7), sW = g(geom, 8), pT = g(geom, 9), pL = g(geom, 11), dH = g(geom, 13), dW = g(geom, 14);
  const OH = g(geom, 16), OW = g(geom, 17);
  memory.fill(dx, 0, <usize>N * H * W * C << 2);
  let gy = dy;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let c = 0; c < C; c++) {
          let best: f32 = -Infinity;
          let at: isize = -1;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * sH - pT + kh * dH;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * sW - pL + kw * dW;
              if (iw < 0 || iw >= W) continue;
              const idx = <isize>(((<usize>n * H + ih) * W + iw) * C + c);
              const v = load<f32>(x + (<usize>idx << 2));
              if (at < 0 || v > best || (v != v && best == best)) {
                best = v;
                at = idx;
              }
            }
          }
          if (at >= 0) {
            const d = dx + (<usize>at << 2);
            store<f32>(d, load<f32>(d) + load<f32>(gy + (<usize>c << 2)));
          }
        }
        gy += <usize>C << 2;
      }
    }
  }
}

/** y = mean over each window: divisor KH·KW with countIncludePad, else the in-bounds count. */
export function avg_pool2d_f32(x: usize, y: usize, geom: usize, countIncludePad: i32): void {
  const N = g(geom, 0), H = g(geom, 1), W = g(geom, 2), C = g(geom, 3), KH = g(geom, 4), KW = g(geom, 5);
  const sH = g(geom, 7), sW = g(geom, 8), pT = g(geom, 9), pL = g(geom, 11), dH = g(geom, 13), dW = g(geom, 14);
  const OH = g(geom, 16), OW = g(geom, 17);
  let out = y;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        memory.fill(out, 0, <usize>C << 2);
        let count = 0;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sH - pT + kh * dH;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sW - pL + kw * dW;
            if (iw < 0 || iw >= W) continue;
            count++;
            const src = x + ((((<usize>n * H + ih) * W + iw) * C) << 2);
            let c = 0;
            for (; c + 4 <= C; c += 4) {
              const o = <usize>c << 2;
              v128.store(out + o, f32x4.add(v128.load(out + o), v128.load(src + o)));
            }
            for (; c < C; c++) {
              const o = <usize>c << 2;
              store<f32>(out + o, load<f32>(out + o) + load<f32>(src + o));
            }
          }
        }
        const div = countIncludePad ? KH * KW : count;
        const s: f32 = div > 0 ? <f32>1 / <f32>div : 0; // a window wholly in padding averages to 0
        let c = 0;
        for (; c + 4 <= C; c += 4) {
          const o = <usize>c << 2;
          v128.store(out + o, f32x4.mul(v128.load(out + o), splat(s)));
        }
        for (; c < C; c++) {
          const o = <usize>c << 2;
          store<f32>(out + o, load<f32>(out + o) * s);
        }
        out += <usize>C << 2;
      }
    }
  }
}

/** dx = adjoint of avg_pool2d: each dy spread evenly over its window's in-bounds elements. */
export function avg_pool2d_backward_f32(dy: usize, dx: usize, geom: usize, countIncludePad: i32): void {
  const N = g(geom, 0), H = g(geom, 1), W = g(geom, 2), C = g(geom, 3), KH = g(geom, 4), KW = g(geom, 5);
  const sH = g(geom, 7), sW = g(geom, 8), pT = g(geom, 9), pL = g(geom, 11), dH = g(geom, 13), dW = g(geom, 14);
  const OH = g(geom, 16), OW = g(geom, 17);
  memory.fill(dx, 0, <usize>N * H * W * C << 2);
  let gy = dy;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let count = 0;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sH - pT + kh * dH;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sW - pL + kw * dW;
            if (iw >= 0 && iw < W) count++;
          }
        }
        const div = countIncludePad ? KH * KW : count;
        const vs = splat(<f32>1 / <f32>max(div, 1));
        const ss: f32 = <f32>1 / <f32>max(div, 1);
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sH - pT + kh * dH;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sW - pL + kw * dW;
            if (iw < 0 || iw >= W) continue;
            const d = dx + ((((<usize>n * H + ih) * W + iw) * C) << 2);
            let c = 0;
            for (; c + 4 <= C; c += 4) {
              const o = <usize>c << 2;
              v128.store(d + o, f32x4.add(v128.load(d + o), f32x4.mul(v128.load(gy + o), vs)));
            }
            for (; c < C; c++) {
              const o = <usize>c << 2;
              store<f32>(d + o, load<f32>(d + o) + load<f32>(gy + o) * ss);
            }
          }
        }
        gy += <usize>C << 2;
      }
    }
  }
}
