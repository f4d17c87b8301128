// Data movement: permute (transpose), strided copies (slice, pad, concat, broadcast), gather and
// scatter-add. 4-byte elements (f32 or i32) unless a kernel's name says otherwise.
import { loadPartial, storePartial } from './common';

const IDX = memory.data(64, 16);
const OSTR = memory.data(64, 16);
const ISTR = memory.data(64, 16);
const ODIM = memory.data(64, 16);

/**
 * dst = src with arbitrary element strides: for every index i of `shape` (rank ≤ 6),
 * dst[Σ i_d·dstStrides_d] = src[Σ i_d·srcStrides_d]. shape/srcStrides/dstStrides point to `rank` i32s.
 * Slices: src offset + src strides; pad: dst offset + the padded tensor's strides (fill first);
 * concat: one call per input into the output with the output's strides.
 */
export function copy_strided(src: usize, dst: usize, rank: i32, shape: usize, ss: usize, ds: usize): void {
  const r1 = rank - 1;
  const n = load<i32>(shape + (<usize>r1 << 2));
  const si = load<i32>(ss + (<usize>r1 << 2));
  const di = load<i32>(ds + (<usize>r1 << 2));
  let rows = 1;
  for (let d = 0; d < r1; d++) {
    rows *= load<i32>(shape + (<usize>d << 2));
    store<i32>(IDX + (<usize>d << 2), 0);
  }
  if (n <= 0 || rows <= 0) return;
  let ps = src;
  let pd = dst;
  const sib = <usize>si << 2;
  const dib = <usize>di << 2;
  for (let r = 0; r < rows; r++) {
    if (si == 1 && di == 1) {
      memory.copy(pd, ps, <usize>n << 2);
    } else if (si == 0 && di == 1) {
      // broadcast of one element along the row
      const v = v128.load32_splat(ps);
      let i = 0;
      for (; i + 4 <= n; i += 4) v128.store(pd + (<usize>i << 2), v);
      for (; i < n; i++) store<i32>(pd + (<usize>i << 2), load<i32>(ps));
    } else {
      for (let i = 0; i < n; i++) store<i32>(pd + dib * i, load<i32>(ps + sib * i));
    }
    for (let d = r1 - 1; d >= 0; d--) {
      const off = <usize>d << 2;
      const k = load<i32>(IDX + off) + 1;
      const a = <usize>load<i32>(ss + off) << 2;
      const b = <usize>load<i32>(ds + off) << 2;
      if (k < load<i32>(shape + off)) {
        store<i32>(IDX + off, k);
        ps += a;
        pd += b;
        break;
      }
      store<i32>(IDX + off, 0);
      ps -= a * <usize>(k - 1);
      pd -= b * <usize>(k - 1);
    }
  }
}

/** dst[i, j] = src[j, i] for i < I, j < J; src row stride sRow, dst row stride dRow (elements). */
export function transpose2d(src: usize, sRow: i32, dst: usize, dRow: i32, I: i32, J: i32): void {
  const sr = <usize>sRow << 2;
  const dr = <usize>dRow << 2;
  const TB = 32; // cache tile
  for (let i0 = 0; i0 < I; i0 += TB) {
    const i1 = min(I, i0 + TB);
    for (let j0 = 0; j0 < J; j0 += TB) {
      const j1 = min(J, j0 + TB);
      let j = j0;
      for (; j + 4 <= j1; j += 4) {
        let i = i0;
        for (; i + 4 <= i1; i += 4) {
          // 4×4 block: rows j..j+3 of src, columns i..i+3
          const s = src + sr * j + (<usize>i << 2);
          const x0 = v128.load(s), x1 = v128.load(s + sr), x2 = v128.load(s + 2 * sr), x3 = v128.load(s + 3 * sr);
          const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5);
          const t1 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
          const t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
          const d = dst + dr * i + (<usize>j << 2);
          v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(d + dr, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
          v128.store(d + 2 * dr, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
          v128.store(d + 3 * dr, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
        }
        for (; i < i1; i++) {
          const s = src + (<usize>i << 2);
          const d = dst + dr * i;
          for (let jj = j; jj < j + 4; jj++) store<i32>(d + (<usize>jj << 2), load<i32>(s + sr * jj));
        }
      }
      for (; j < j1; j++) {
        const s = src + sr * j;
        for (let i = i0; i < i1; i++) store<i32>(dst + dr * i + (<usize>j << 2), load<i32>(s + (<usize>i << 2)));
      }
    }
  }
}

/**
 * y = x.transpose(perm): x has shape `shape` (rank ≤ 6, `rank` i32s), y[..., i_k, ...] = x[..., i_perm[k], ...].
 * When the last axis stays last, rows are copied; otherwise the two output axes carrying x's last axis
 * and y's last axis are transposed in 4×4 SIMD blocks (32×32 cache tiles), batched over the others.
 */
export function permute(x: usize, y: usize, rank: i32, shape: usize, perm: usize): void {
  // input strides (elements)
  let total = 1;
  for (let d = rank - 1; d >= 0; d--) {
    store<i32>(ISTR + (<usize>d << 2), total);
    total *= load<i32>(shape + (<usize>d << 2));
  }
  if (total == 0) return;
  // output dims and, per output dim, the input stride
  for (let k = 0; k < rank; k++) {
    const p = load<i32>(perm + (<usize>k << 2));
    store<i32>(ODIM + (<usize>k << 2), load<i32>(shape + (<usize>p << 2)));
    store<i32>(OSTR + (<usize>k << 2), load<i32>(ISTR + (<usize>p << 2)));
  }
  const last = rank - 1;
  if (load<i32>(perm + (<usize>last << 2)) == last) {
    // rows stay contiguous: a strided copy with a contiguous destination
    let os = 1;
    for (let k = last; k >= 0; k--) {
      store<i32>(ISTR + (<usize>k << 2), os); // reuse ISTR as the output strides
      os *= load<i32>(ODIM + (<usize>k << 2));
    }
    copy_strided(x, y, rank, ODIM, OSTR, ISTR);
    return;
  }
  // q: the output axis that carries x's last axis (input stride 1)
  let q = 0;
  for (let k = 0; k < rank; k++) if (load<i32>(perm + (<usize>k << 2)) == last) q = k;
  // output strides
  let os = 1;
  for (let k = last; k >= 0; k--) {
    store<i32>(ISTR + (<usize>k << 2), os);
    os *= load<i32>(ODIM + (<usize>k << 2));
  }
  const I = load<i32>(ODIM + (<usize>q << 2));
  const J = load<i32>(ODIM + (<usize>last << 2));
  const sRow = load<i32>(OSTR + (<usize>last << 2));
  const dRow = load<i32>(ISTR + (<usize>q << 2));
  // odometer over the output axes other than q and last
  let outer = 1;
  for (let k = 0; k < last; k++) {
    store<i32>(IDX + (<usize>k << 2), 0);
    if (k != q) outer *= load<i32>(ODIM + (<usize>k << 2));
  }
  let px = x;
  let py = y;
  for (let o = 0; o < outer; o++) {
    transpose2d(px, sRow, py, dRow, I, J);
    for (let k = last - 1; k >= 0; k--) {
      if (k == q) continue;
      const off = <usize>k << 2;
      const c = load<i32>(IDX + off) + 1;
      const a = <usize>load<i32>(OSTR + off) << 2;
      const b = <usize>load<i32>(ISTR + off) << 2;
      if (c < load<i32>(ODIM + off)) {
        store<i32>(IDX + off, c);
        px += a;
        py += b;
        break;
      }
      store<i32>(IDX + off, 0);
      px -= a * <usize>(c - 1);
      py -= b * <usize>(c - 1);
    }
  }
}

// ---- gather / scatter-add over [outer, axisSize, inner] --------------------------------------------------

/** Position of the first of n i32 indices outside [0, size), or −1 when all are in range. */
export function find_bad_index(idx: usize, n: i32, size: i32): i32 {
  const lim = i32x4.splat(size);
  let i = 0;
  // one unsigned compare catches both negatives and ≥ size
  for (; i + 4 <= n; i += 4) {
    if (v128.any_true(i32x4.ge_u(v128.load(idx + (<usize>i << 2)), lim))) break;
  }
  for (; i < n; i++) {
    if (<u32>load<i32>(idx + (<usize>i << 2)) >= <u32>size) return i;
  }
  return -1;
}

/**
 * y[o, j, :] = x[o, idx[j], :] (x [outer, axisSize, inner], y [outer, numIndices, inner]).
 * Checks every index first: returns the position of the first index outside [0, axisSize) without
 * writing anything, or −1 on success.
 */
export function gather_32(
  x: usize, idx: usize, y: usize, outer: i32, axisSize: i32, inner: i32, numIndices: i32,
): i32 {
  const bad = find_bad_index(idx, numIndices, axisSize);
  if (bad >= 0) return bad;
  const rb = <usize>inner << 2;
  let dst = y;
  for (let o = 0; o < outer; o++) {
    const xo = x + <usize>o * axisSize * rb;
    for (let j = 0; j < numIndices; j++) {
      const src = xo + <usize>load<i32>(idx + (<usize>j << 2)) * rb;
      if (inner == 1) store<i32>(dst, load<i32>(src));
      else memory.copy(dst, src, rb);
      dst += rb;
    }
  }
  return -1;
}

class AddF32 { @inline f(a: v128, b: v128): v128 { return f32x4.add(a, b); } }
class AddI32 { @inline f(a: v128, b: v128): v128 { return i32x4.add(a, b); } }

/** y[0..n) += u[0..n) */
@inline function addRow<Op>(y: usize, u: usize, n: i32): void {
  const op = changetype<Op>(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, op.f(v128.load(y + o), v128.load(u + o)));
  }
  const t = n - i;
  if (t > 0) {
    const o = <usize>i << 2;
    storePartial(y + o, op.f(loadPartial(y + o, t), loadPartial(u + o, t)), t);
  }
}

function scatterAdd<Op>(
  u: usize, idx: usize, y: usize, outer: i32, axisSize: i32, inner: i32, numIndices: i32,
): i32 {
  const bad = find_bad_index(idx, numIndices, axisSize);
  if (bad >= 0) return bad;
  const rb = <usize>inner << 2;
  memory.fill(y, 0, <usize>outer * axisSize * rb);
  let src = u;
  for (let o = 0; o < outer; o++) {
    const yo = y + <usize>o * axisSize * rb;
    for (let j = 0; j < numIndices; j++) {
      addRow<Op>(yo + <usize>load<i32>(idx + (<usize>j << 2)) * rb, src, inner);
      src += rb;
    }
  }
  return -1;
}

/**
 * y = 0; y[o, idx[j], :] += u[o, j, :] (duplicates add up, in order of j). Same index check and return
 * value as gather_32 (nothing is written when an index is bad).
 */
export function scatter_add_f32(
  u: usize, idx: usize, y: usize, outer: i32, axisSize: i32, inner: i32, numIndices: i32,
): i32 {
  return scatterAdd<AddF32>(u, idx, y, outer, axisSize, inner, numIndices);
}

/** i32 version of scatter_add_f32 (wrap-around sums). */
export function scatter_add_i32(
  u: usize, idx: usize, y: usize, outer: i32, axisSize: i32, inner: i32, numIndices: i32,
): i32 {
  return scatterAdd<AddI32>(u, idx, y, outer, axisSize, inner, numIndices);
}
