/**
 * Shape helpers that turn tensor shapes into the compact descriptions the kernels take: broadcast plans
 * (merged output shape + per-input element strides), reduction views ([outer, R, inner]) and permutations
 * with merged dims.
 */

/** Max rank the kernels accept after merging. */
export const MAX_RANK = 6;

export interface BroadcastPlan {
  /** Output shape after merging dims (rank 1..6; [n] for a same-shape op, [1] for scalars). */
  readonly shape: readonly number[];
  /** Per input, element strides over `shape` (0 on broadcast dims). */
  readonly strides: readonly (readonly number[])[];
  /** Output element count. */
  readonly size: number;
}

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

/**
 * Plans `out = f(in_0, in_1, ...)` with NumPy broadcasting: each input shape is right-aligned against
 * `outShape` and must be 1 or equal on every dim. Size-1 output dims are dropped and adjacent dims merged
 * wherever every input stays linear across them, so same-shape operands become one flat dim.
 */
export function broadcastPlan(
  outShape: readonly number[],
  inputShapes: readonly (readonly number[])[],
): BroadcastPlan {
  const rank = outShape.length;
  const size = outShape.reduce((a, b) => a * b, 1);
  const strides = inputShapes.map((s, k) => {
    if (s.length > rank)
      throw new Error(`broadcastPlan: input ${k} shape [${s}] has more dims than [${outShape}]`);
    const cs = contiguousStrides(s);
    const out = new Array<number>(rank).fill(0);
    for (let d = 0; d < s.length; d++) {
      const od = rank - s.length + d;
      const n = s[d]!;
      if (n === outShape[od]) out[od] = n === 1 ? 0 : cs[d]!;
      else if (n === 1) out[od] = 0;
      else
        throw new Error(
          `broadcastPlan: input ${k} shape [${s}] does not broadcast to [${outShape}] (axis ${od})`,
        );
    }
    return out;
  });
  // drop size-1 dims, then merge neighbours d, d+1 when every input has stride[d] == stride[d+1]·shape[d+1]
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let d = 0; d < rank; d++) {
    if (outShape[d] === 1) continue;
    const n = outShape[d]!;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => st[k]![last] === s[d]! * n)) {
      dims[last] = dims[last]! * n;
      strides.forEach((s, k) => {
        st[k]![last] = s[d]!;
      });
    } else {
      dims.push(n);
      strides.forEach((s, k) => {
        st[k]!.push(s[d]!);
      });
    }
  }
  if (dims.length === 0) {
    dims.push(1);
    for (const s of st) s.push(0);
  }
  if (dims.length > MAX_RANK) {
    throw new Error(
      `broadcastPlan: [${outShape}] needs rank ${dims.length} after merging dims; kernels take ≤ ${MAX_RANK}`,
    );
  }
  return { shape: dims, strides: st, size };
}

/** The [outer, R, inner] view of reducing `shape` over the contiguous axis range [axisStart, axisEnd). */
export function reductionView(
  shape: readonly number[],
  axisStart: number,
  axisEnd: number,
): [number, number, number] {
  const prod = (a: number, b: number) => a * b;
  return [
    shape.slice(0, axisStart).reduce(prod, 1),
    shape.slice(axisStart, axisEnd).reduce(prod, 1),
    shape.slice(axisEnd).reduce(prod, 1),
  ];
}

/**
 * Simplifies a permutation: drops size-1 dims and merges input dims that stay adjacent and in order in
 * the output. Returns the merged input shape and permutation (y = x.transpose(perm)).
 */
export function simplifyPermutation(
  shape: readonly number[],
  perm: readonly number[],
): { shape: number[]; perm: number[] } {
  if (perm.length !== shape.length) throw new Error(`permutation [${perm}] does not match shape [${shape}]`);
  const keep = perm.filter((p) => shape[p] !== 1); // output order of the non-trivial input dims
  // groups: runs of consecutive input dims in the output order
  const groups: number[][] = [];
  for (const p of keep) {
    const g = groups[groups.length - 1];
    if (g && g[g.length - 1] === p - 1) {
      g.push(p);
    } else {
      groups.push([p]);
    }
  }
  const order = [...groups].sort((a, b) => a[0]! - b[0]!);
  const newShape = order.map((g) => g.reduce((a, p) => a * shape[p]!, 1));
  const newPerm = groups.map((g) => order.indexOf(g));
  if (newShape.length === 0) return { shape: [1], perm: [0] };
  return { shape: newShape, perm: newPerm };
}
