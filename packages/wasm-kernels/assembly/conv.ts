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

/**
 * Pixel segments of the filter gradient: dw = Σ_s dw_s, where dw_s sums over the s-th of S near-equal
 * contiguous runs of the output pixels. S depends on the geometry alone (never on the thread count), and
 * the partial sums are added in the order s = 0, 1, …, so threads may compute segments independently and
 * the result is bit-identical for any thread count. Segments of ≥ 256 pixels, at most 8, and the partials
 * (S dw-sized buffers) at most 8 MiB; S = 1 writes straight into dw.
 */
export function conv2d_filter_segments(geom: usize): i32 {
  const P = g(geom, 0) * g(geom, 16) * g(geom, 17);
  const dwFloats = g(geom, 4) * g(geom, 5) * (g(geom, 3) / max(1, g(geom, 15))) * g(geom, 6);
  return max(1, min(8, min(P / 256, (2 << 20) / max(1, dwFloats))));
}

/** Bytes of the filter gradient's partial sums (0 when there is one segment). */
export function conv2d_filter_partials_bytes(geom: usize): i32 {
  const S = conv2d_filter_segments(geom);
  return S > 1 ? S * g(geom, 4) * g(geom, 5) * (g(geom, 3) / g(geom, 15)) * g(geom, 6) * 4 : 0;
}

/** Rows of the im2col chunk the filter gradient uses: fixed by the geometry (the chunking fixes the sums). */
@inline function filterChunkRows(geom: usize, KK: i32): i32 {
  const P = g(geom, 0) * g(geom, 16) * g(geom, 17);
  return min(P, max(16, COL_TARGET_BYTES / max(1, KK * 4)));
}

/**
 * Workspace bytes for pass 0 (forward), 1 (input gradient), 2 (filter gradient: the one-call form
 * `conv2d_backward_filter_f32`, which keeps its partial sums at the end; a range task needs
 * `conv2d_workspace_bytes(geom, 2) − conv2d_filter_partials_bytes(geom)`).
 */
export function conv2d_workspace_bytes(geom: usize, pass: i32): i32 {
  const base = matmul_workspace_bytes() + (pass == 2 ? conv2d_filter_partials_bytes(geom) : 0);
  if (isPointwise(geom)) return base;
  const KK = g(geom, 4) * g(geom, 5) * (g(geom, 3) / g(geom, 15));
  return base + filterChunkRows(geom, KK) * KK * 4;
}

/** Rows of col that fit the workspace. */
@inline function chunkRows(wsBytes: i32, KK: i32, P: i32): i32 {
  return min(P, max(1, (wsBytes - matmul_workspace_bytes()) / max(1, KK * 4)));
}

// Short runs are moved by v128 loads/stores inline: a `memory.copy` is a call into the engine (≈ 15 ns),
// which cost more than the copy itself for the 4–32-byte runs of 1–8 channels.

/** dst[0..n) = src[0..n) (floats). */
@inline function copyRun(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

/** dst[0..n) = 0. */
@inline function zeroRun(dst: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), i32x4.splat(0));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
}

/** dst[0..n) += src[0..n). */
@inline function addRun(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

// The two directions of the im2col walk (the type parameter of `im2col`; AssemblyScript instantiates it
// once per direction and inlines these methods, so each walk compiles to its own loop, as if written out):
// `move` handles a run of n floats inside the image, `outside` a col run whose taps fall in the padding, and
// `keeps` says whether image row r (= n·H + ih) is this call's to touch.
/** col ← x: runs are copied into col, taps in the padding are zeros; every image row is read. */
class Gather {
  @inline move(col: usize, img: usize, n: i32): void { copyRun(col, img, n); }
  @inline outside(col: usize, n: i32): void { zeroRun(col, n); }
  @inline keeps(r: i32, rLo: i32, rHi: i32): bool { return true; }
}
/** x += col (the adjoint): col runs are added into the image; padding taps and rows outside [rLo, rHi) are dropped. */
class ScatterAdd {
  @inline move(col: usize, img: usize, n: i32): void { addRun(img, col, n); }
  @inline outside(col: usize, n: i32): void {}
  @inline keeps(r: i32, rLo: i32, rHi: i32): bool { return r >= rLo && r < rHi; }
}

/**
 * Walks the im2col matrix of group grp for output pixels p0..p0+rows and kernel rows [kh0, kh1) next to the
 * image `img` [N,H,W,C]: col[r, k] ↔ img[n, ih, iw, grp·Cg + ci], a col row having (kh1 − kh0)·KW·Cg columns
 * k = ((kh − kh0)·KW + kw)·Cg + ci, w's order. `im2col<Gather>` fills col from x (all kernel rows: the
 * forward's full row; fewer: a filter-gradient task's share of dw rows); `im2col<ScatterAdd>` adds col into
 * dx over all kernel rows, only into the image rows n·H + ih in [rLo, rHi) (a thread's share), each dx
 * element receiving its terms in (pixel, tap) order.
 * With one group and no horizontal dilation, the KW taps of a kernel row are KW·C consecutive floats of the
 * image (NHWC), so a window row wholly inside the image is one run; rows in the vertical padding are one
 * `outside` run; windows cut by the left/right padding go tap by tap.
 */
function im2col<Dir>(
  img: usize, geom: usize, grp: i32, p0: i32, rows: i32, col: usize, kh0: i32, kh1: i32, rLo: i32, rHi: i32,
): void {
  const dir = changetype<Dir>(0);
  const H = g(geom, 1), W = g(geom, 2), C = g(geom, 3), KW = g(geom, 5);
  const sH = g(geom, 7), sW = g(geom, 8), pT = g(geom, 9), pL = g(geom, 11), dH = g(geom, 13), dW = g(geom, 14);
  const Cg = C / g(geom, 15), OH = g(geom, 16), OW = g(geom, 17);
  const rowRun = KW * Cg; // floats of one kernel row in col
  const whole = Cg == C && dW == 1; // a window row is contiguous in the image
  const imgGrp = img + (<usize>grp * Cg << 2);
  let at = col;
  // (n, oh, ow) of pixel p0, then stepped: integer divisions per pixel cost more than a 1-channel row copy
  let ow = p0 % OW;
  let oh = (p0 / OW) % OH;
  let n = p0 / OW / OH;
  for (let p = p0; p < p0 + rows; p++) {
    const iw0 = ow * sW - pL;
    const inside = iw0 >= 0 && iw0 + (KW - 1) * dW < W;
    for (let kh = kh0; kh < kh1; kh++) {
      const ih = oh * sH - pT + kh * dH;
      const r = n * H + ih;
      if (ih < 0 || ih >= H || !dir.keeps(r, rLo, rHi)) {
        dir.outside(at, rowRun);
      } else {
        const imgRow = imgGrp + (<usize>r * W * C << 2);
        if (inside && whole) {
          dir.move(at, imgRow + (<usize>iw0 * C << 2), rowRun);
        } else {
          for (let kw = 0; kw < KW; kw++) {
            const iw = iw0 + kw * dW;
            const d = at + (<usize>(kw * Cg) << 2);
            if (iw >= 0 && iw < W) dir.move(d, imgRow + (<usize>iw * C << 2), Cg);
            else dir.outside(d, Cg);
          }
        }
      }
      at += <usize>rowRun << 2;
    }
    if (++ow == OW) {
      ow = 0;
      if (++oh == OH) {
        oh = 0;
        n++;
      }
    }
  }
}

// Each pass has a range form that computes a disjoint part of the output, for threads (src/threads):
//   forward          output pixels [p0, p1)   (rows of y; each row's arithmetic is independent of the range)
//   input gradient   image rows [r0, r1)      (r = n·H + ih; the output pixels reaching them, clipped)
//   filter gradient  units [u0, u1) of (pixel segment s, kernel row kh), u = s·KH + kh: the dw rows of kh
//                    summed over segment s, into partial buffer s (see conv2d_filter_segments)
// Chunk boundaries along the pixels are fixed by the geometry alone, never by the range, so every partial
// sum is associated the same way whatever the split, and the partials are added in a fixed order:
// results are bit-identical to the full-range call.

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
      if (KK > 0) im2col<Gather>(x, geom, grp, p, r, col, 0, g(geom, 4), 0, 0);
      gemm(0, 0, r, Coutg, KK, col, KK, w + (<usize>grp * Coutg << 2), Cout,
        y + ((<usize>p * Cout + <usize>grp * Coutg) << 2), Cout, 0, ws);
    }
  }
}

/** dx = ∂/∂x of conv2d given dy: dcol = dy_g·w_gᵀ, then im2col's adjoint (dx is overwritten). */
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
 * the few at its borders), and im2col<ScatterAdd> adds only into [r0, r1). Every dx element still receives its
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
      im2col<ScatterAdd>(dx, geom, grp, p, r, col, 0, KH, r0, r1);
    }
  }
}

/**
 * dw = ∂/∂w of conv2d given x and dy (overwritten): the partial sums of every pixel segment, then their
 * sum in segment order. ws: `conv2d_workspace_bytes(geom, 2)` bytes; the partials sit at its end.
 */
export function conv2d_backward_filter_f32(x: usize, dy: usize, dw: usize, geom: usize, ws: usize, wsBytes: i32): void {
  const S = conv2d_filter_segments(geom);
  const partialBytes = conv2d_filter_partials_bytes(geom);
  const partials = S > 1 ? ws + <usize>(wsBytes - partialBytes) : dw;
  conv2d_backward_filter_rows_f32(x, dy, partials, geom, ws, wsBytes - partialBytes, 0, S * g(geom, 4));
  if (S > 1) conv2d_filter_reduce_f32(partials, dw, geom);
}

/** dw = Σ_s partials[s] in the order s = 0, 1, … (partials: S dw-sized buffers, S > 1). */
export function conv2d_filter_reduce_f32(partials: usize, dw: usize, geom: usize): void {
  const S = conv2d_filter_segments(geom);
  const n = g(geom, 4) * g(geom, 5) * (g(geom, 3) / g(geom, 15)) * g(geom, 6);
  const stride = <usize>n << 2;
  copyRun(dw, partials, n);
  for (let s = 1; s < S; s++) addRun(dw, partials + <usize>s * stride, n);
}

/**
 * Units [u0, u1) of the filter gradient (u = s·KH + kh): dw rows of kernel row kh summed over the pixels of
 * segment s, written into `out + s·|dw|` (out = dw itself when there is one segment). A run of units inside
 * one segment is computed as one im2col + gemm sequence over its kernel rows.
 */
export function conv2d_backward_filter_rows_f32(
  x: usize, dy: usize, out: usize, geom: usize, ws: usize, wsBytes: i32, u0: i32, u1: i32,
): void {
  const C = g(geom, 3), KH = g(geom, 4), KW = g(geom, 5), Cout = g(geom, 6), groups = g(geom, 15);
  const P = g(geom, 0) * g(geom, 16) * g(geom, 17);
  const Cg = C / groups, Coutg = Cout / groups;
  const KK = KH * KW * Cg;
  if (u1 <= u0 || Cout == 0 || KK == 0) return;
  const S = conv2d_filter_segments(geom);
  const dwBytes = <usize>KK * Cout << 2;
  const rowRun = KW * Cg; // dw rows per kernel row
  const col = ws + matmul_workspace_bytes();
  const rows = filterChunkRows(geom, KK);
  for (let u = u0; u < u1; ) {
    const s = u / KH;
    const kh0 = u % KH;
    const kh1 = min(KH, kh0 + (u1 - u));
    u += kh1 - kh0;
    const kn = (kh1 - kh0) * rowRun;
    const dwRows = out + <usize>s * dwBytes + (<usize>(kh0 * rowRun) * Cout << 2);
    const q0 = <i32>((<i64>s * P) / S), q1 = <i32>((<i64>(s + 1) * P) / S);
    if (q1 <= q0) {
      memory.fill(dwRows, 0, <usize>kn * Cout << 2);
      continue;
    }
    if (isPointwise(geom)) {
      gemm(1, 0, kn, Cout, q1 - q0, x + (<usize>q0 * C << 2), C, dy + (<usize>q0 * Cout << 2), Cout,
        dwRows, Cout, 0, ws);
      continue;
    }
    // pixel chunks start at the segment's first pixel and have a size fixed by the geometry
    for (let p = q0; p < q1; p += rows) {
      const r = min(rows, q1 - p);
      for (let grp = 0; grp < groups; grp++) {
        im2col<Gather>(x, geom, grp, p, r, col, kh0, kh1, 0, 0);
        gemm(1, 0, kn, Coutg, r, col, kn, dy + ((<usize>p * Cout + <usize>grp * Coutg) << 2), Cout,
          dwRows + (<usize>grp * Coutg << 2), Cout, p > q0 ? 1 : 0, ws);
      }
    }
  }
}

// ---- pooling (NHWC; window KH×KW, stride, pads, dilation from geom; channels C, vectorized over C) ---------
//
// The in-bounds taps of a window form a rectangle: kh in [kh0, kh1) (ih = oh·sH − pT + kh·dH in [0, H)) by
// kw in [kw0, kw1), visited in (kh, kw) order. `pool<Op>` walks the output pixels, finds each window's
// rectangle and hands it to the op, which loops over its taps by pointer steps.

/** First k in [0, K) with o·s − pad + k·d ≥ 0. */
@inline function firstTap(o: i32, s: i32, pad: i32, d: i32): i32 {
  return max(0, -floorDiv(o * s - pad, d));
}

/** One past the last k in [0, K) with o·s − pad + k·d < size (≤ firstTap when there is none). */
@inline function endTap(o: i32, s: i32, pad: i32, d: i32, K: i32, size: i32): i32 {
  return min(K, floorDiv(size - 1 - (o * s - pad), d) + 1);
}

/**
 * For every output pixel, in order: op.pixel(win, out, aux, nh, nw, rowStep, tapStep, C, div) with `win` the
 * first in-bounds tap's pixel in `img` (bytes; not read when nh·nw = 0), nh × nw taps (either may be ≤ 0:
 * none), `rowStep` / `tapStep` the bytes from a tap to the next along kh / kw, `out` the pixel's C floats
 * in `y` (which `pool` steps), aux passed through, div = KH·KW with countIncludePad, else the tap count.
 */
function pool<Op>(img: usize, y: usize, aux: usize, geom: usize, countIncludePad: i32): void {
  const op = changetype<Op>(0);
  const N = g(geom, 0), H = g(geom, 1), W = g(geom, 2), C = g(geom, 3), KH = g(geom, 4), KW = g(geom, 5);
  const sH = g(geom, 7), sW = g(geom, 8), pT = g(geom, 9), pL = g(geom, 11), dH = g(geom, 13), dW = g(geom, 14);
  const OH = g(geom, 16), OW = g(geom, 17);
  const rowStep = <usize>dH * W * C << 2;
  const tapStep = <usize>dW * C << 2;
  let out = y;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const kh0 = firstTap(oh, sH, pT, dH);
      const nh = endTap(oh, sH, pT, dH, KH, H) - kh0;
      const ih = oh * sH - pT + kh0 * dH;
      for (let ow = 0; ow < OW; ow++) {
        const kw0 = firstTap(ow, sW, pL, dW);
        const nw = endTap(ow, sW, pL, dW, KW, W) - kw0;
        const iw = ow * sW - pL + kw0 * dW;
        const win = img + ((((<usize>n * H + ih) * W + iw) * C) << 2);
        const div = countIncludePad ? KH * KW : max(0, nh) * max(0, nw);
        op.pixel(win, out, aux, nh, nw, rowStep, tapStep, C, div);
        out += <usize>C << 2;
      }
    }
  }
}

const LANE = memory.data(32, 16);

/** out = max over the window's taps per channel (padding never wins; −∞ for none); NaN propagates. */
class MaxPool {
  @inline pixel(
    win: usize, out: usize, aux: usize, nh: i32, nw: i32, rowStep: usize, tapStep: usize, C: i32, div: i32,
  ): void {
    for (let c = 0; c < C; c += 4) {
      const t = min(4, C - c);
      let m = splat(-Infinity);
      let row = win + (<usize>c << 2);
      for (let a = 0; a < nh; a++, row += rowStep) {
        let src = row;
        for (let b = 0; b < nw; b++, src += tapStep) {
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
  }
}

/** dy (at out) routed per channel to the first maximal tap of the window in x; aux = dx − x (bytes). */
class MaxPoolBackward {
  @inline pixel(
    win: usize, out: usize, aux: usize, nh: i32, nw: i32, rowStep: usize, tapStep: usize, C: i32, div: i32,
  ): void {
    for (let c = 0; c < C; c++) {
      let best: f32 = -Infinity;
      let at: usize = 0;
      let found = false;
      let row = win + (<usize>c << 2);
      for (let a = 0; a < nh; a++, row += rowStep) {
        let src = row;
        for (let b = 0; b < nw; b++, src += tapStep) {
          const v = load<f32>(src);
          if (!found || v > best || (v != v && best == best)) {
            best = v;
            at = src;
            found = true;
          }
        }
      }
      if (found) {
        const d = at + aux;
        store<f32>(d, load<f32>(d) + load<f32>(out + (<usize>c << 2)));
      }
    }
  }
}

/** out = mean over the window's taps (÷ div; a window wholly in padding averages to 0). */
class AvgPool {
  @inline pixel(
    win: usize, out: usize, aux: usize, nh: i32, nw: i32, rowStep: usize, tapStep: usize, C: i32, div: i32,
  ): void {
    zeroRun(out, C);
    let row = win;
    for (let a = 0; a < nh; a++, row += rowStep) {
      let src = row;
      for (let b = 0; b < nw; b++, src += tapStep) addRun(out, src, C);
    }
    const s: f32 = div > 0 ? <f32>1 / <f32>div : 0;
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      v128.store(out + o, f32x4.mul(v128.load(out + o), splat(s)));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(out + o, load<f32>(out + o) * s);
    }
  }
}

/** The adjoint of AvgPool: dy (at out) ÷ div added into each tap of the window in dx (win). */
class AvgPoolBackward {
  @inline pixel(
    win: usize, out: usize, aux: usize, nh: i32, nw: i32, rowStep: usize, tapStep: usize, C: i32, div: i32,
  ): void {
    const ss: f32 = <f32>1 / <f32>max(div, 1);
    const vs = splat(ss);
    let row = win;
    for (let a = 0; a < nh; a++, row += rowStep) {
      let d = row;
      for (let b = 0; b < nw; b++, d += tapStep) {
        let c = 0;
        for (; c + 4 <= C; c += 4) {
          const o = <usize>c << 2;
          v128.store(d + o, f32x4.add(v128.load(d + o), f32x4.mul(v128.load(out + o), vs)));
        }
        for (; c < C; c++) {
          const o = <usize>c << 2;
          store<f32>(d + o, load<f32>(d + o) + load<f32>(out + o) * ss);
        }
      }
    }
  }
}

/** y = max over the in-bounds part of each window (padding never wins); NaN propagates. */
export function max_pool2d_f32(x: usize, y: usize, geom: usize): void {
  pool<MaxPool>(x, y, 0, geom, 0);
}

/** dx = Σ over windows of dy routed to the first maximal in-bounds element of each window (per channel). */
export function max_pool2d_backward_f32(x: usize, dy: usize, dx: usize, geom: usize): void {
  memory.fill(dx, 0, <usize>g(geom, 0) * g(geom, 1) * g(geom, 2) * g(geom, 3) << 2);
  pool<MaxPoolBackward>(x, dy, dx - x, geom, 0);
}

/** y = mean over each window: divisor KH·KW with countIncludePad, else the in-bounds count. */
export function avg_pool2d_f32(x: usize, y: usize, geom: usize, countIncludePad: i32): void {
  pool<AvgPool>(x, y, 0, geom, countIncludePad);
}

/** dx = adjoint of avg_pool2d: each dy spread evenly over its window's in-bounds elements. */
export function avg_pool2d_backward_f32(dy: usize, dx: usize, geom: usize, countIncludePad: i32): void {
  memory.fill(dx, 0, <usize>g(geom, 0) * g(geom, 1) * g(geom, 2) * g(geom, 3) << 2);
  pool<AvgPoolBackward>(dx, dy, 0, geom, countIncludePad);
}
