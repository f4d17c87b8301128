/**
 * The kernel/op benchmark cases: shapes, work (FLOPs or bytes moved), seeded inputs, and the float64
 * reference each output is checked against, with an error bound derived from the computation.
 */
import { type Agreement, checkElementwise, checkNormwise, combine, gamma, U32 } from './agree.js';
import { hashSeed, labels, normal, rng, uniform } from './data.js';

export type Tensors = Record<string, Float32Array | Int32Array>;
export type Outputs = Record<string, Float32Array>;

export type CaseSpec =
  | { kind: 'matmul'; m: number; n: number; k: number }
  | { kind: 'conv2d'; N: number; H: number; W: number; C: number; Cout: number; KH: number; KW: number }
  | { kind: 'silu'; n: number }
  | { kind: 'softmax'; rows: number; size: number }
  | { kind: 'softmaxCE'; rows: number; size: number }
  | { kind: 'adamw'; n: number; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number }
  | { kind: 'ffn'; rows: number; d: number; hidden: number }
  | { kind: 'resblock'; N: number; H: number; W: number; C: number };

export interface BenchCase {
  id: string;
  /** Rows of one table / one chart share a group. */
  group: string;
  label: string;
  spec: CaseSpec;
  /** Floating-point operations per call (compute-bound cases). */
  flops?: number;
  /** Bytes read + written per call at minimum (memory-bound cases). */
  bytes?: number;
  /** The x coordinate in cost-growth charts (matmul n, parameter count). */
  size?: number;
}

/** Bound on the relative error of one f32 transcendental as evaluated by any library (16 ulp). */
export const TRANSCENDENTAL_ULP = 16;
const T = TRANSCENDENTAL_ULP * U32;
/** Fixed "known" AdamW hyperparameters (one step from zero state, step t = 1). */
export const ADAMW = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

export function matmulCase(m: number, n: number, k: number, group = 'matmul', label?: string): BenchCase {
  return {
    id: `matmul-${m}x${k}x${n}`,
    group,
    label: label ?? (m === n && n === k ? `${n}³` : `[${m}×${k}]·[${k}×${n}]`),
    spec: { kind: 'matmul', m, n, k },
    flops: 2 * m * n * k,
    size: m === n && n === k ? n : undefined,
  };
}

export function conv2dCase(N: number, H: number, W: number, C: number, Cout: number): BenchCase {
  return {
    id: `conv2d-${N}x${H}x${W}x${C}-${Cout}`,
    group: 'conv2d',
    label: `3×3 same, x [${N},${H},${W},${C}] → ${Cout}`,
    spec: { kind: 'conv2d', N, H, W, C, Cout, KH: 3, KW: 3 },
    flops: 2 * N * H * W * Cout * 9 * C,
  };
}

/** The suite; `quick` shrinks the sizes so the whole run is a smoke test of the harness. */
export function kernelCases(quick: boolean): BenchCase[] {
  const sizes = quick ? [64, 128, 256] : [64, 128, 256, 512, 1024, 2048];
  const cases = sizes.map((s) => matmulCase(s, s, s));
  cases.push(
    quick
      ? matmulCase(512, 344, 128, 'ffn-matmul')
      : matmulCase(4096, 1376, 512, 'ffn-matmul', 'SwiGLU FFN shape'),
  );
  const [N, HW, C] = quick ? [2, 16, 32] : [8, 32, 64];
  cases.push(conv2dCase(N, HW, HW, C, C));
  const sn = quick ? 1 << 18 : 1 << 22;
  cases.push({
    id: `silu-${sn}`,
    group: 'elementwise',
    label: `x·sigmoid(x), ${sn / (1 << 20)}M`,
    spec: { kind: 'silu', n: sn },
    bytes: 8 * sn,
  });
  const [rows, size] = quick ? [512, 1024] : [4096, 1024];
  cases.push({
    id: `softmax-${rows}x${size}`,
    group: 'softmax',
    label: `softmax [${rows}×${size}]`,
    spec: { kind: 'softmax', rows, size },
    bytes: 8 * rows * size,
  });
  cases.push({
    id: `softmaxCE-${rows}x${size}`,
    group: 'softmax',
    label: `softmax-CE fwd+bwd [${rows}×${size}]`,
    spec: { kind: 'softmaxCE', rows, size },
    bytes: 8 * rows * size,
  });
  // AdamW at several sizes: the largest is the 10M; the others give the cost-growth fit.
  for (const an of quick ? [250_000, 1_000_000] : [1_000_000, 3_000_000, 10_000_000]) {
    cases.push({
      id: `adamw-${an}`,
      group: 'optimizer',
      label: `AdamW step, ${an / 1e6}M params`,
      spec: { kind: 'adamw', n: an, ...ADAMW },
      // reads p, g, m, v and writes p, m, v: 7 × 4 bytes per parameter
      bytes: 28 * an,
      size: an,
    });
  }
  const [R, d, h] = quick ? [256, 128, 344] : [4096, 512, 1376];
  cases.push({
    id: `ffn-${R}x${d}x${h}`,
    group: 'composite',
    label: `SwiGLU FFN fwd+bwd [${R}×${d}], hidden ${h}`,
    spec: { kind: 'ffn', rows: R, d, hidden: h },
    // forward 3 matmuls, backward 6, each 2·R·d·h
    flops: 18 * R * d * h,
  });
  cases.push({
    id: `resblock-${N}x${HW}x${HW}x${C}`,
    group: 'composite',
    label: `ResNet BasicBlock fwd+bwd [${N},${HW},${HW},${C}]`,
    spec: { kind: 'resblock', N, H: HW, W: HW, C },
    // 2 convs forward, each with 2 gradient convs backward (batch-norm and relu are lower order)
    flops: 6 * 2 * N * HW * HW * C * 9 * C,
  });
  return cases;
}

/** The memory-bound cases get a "memory copy of the same bytes" row as their roofline. */
export function isMemoryBound(c: BenchCase): boolean {
  return c.bytes !== undefined && c.flops === undefined;
}

/** Seeded inputs of a case (identical for every implementation). */
export function makeInputs(c: BenchCase): Tensors {
  const seed = hashSeed(c.id);
  const s = c.spec;
  switch (s.kind) {
    case 'matmul':
      return { a: normal(s.m * s.k, seed), b: normal(s.k * s.n, seed + 1) };
    case 'conv2d':
      return {
        x: normal(s.N * s.H * s.W * s.C, seed),
        w: normal(s.KH * s.KW * s.C * s.Cout, seed + 1, 1 / Math.sqrt(9 * s.C)),
      };
    case 'silu':
      return { x: normal(s.n, seed, 4) };
    case 'softmax':
      return { x: normal(s.rows * s.size, seed, 3) };
    case 'softmaxCE':
      return { x: normal(s.rows * s.size, seed, 3), labels: labels(s.rows, s.size, seed + 1) };
    case 'adamw':
      return { p: normal(s.n, seed), g: normal(s.n, seed + 1, 1e-2) };
    case 'ffn':
      return {
        x: normal(s.rows * s.d, seed),
        w1: normal(s.d * s.hidden, seed + 1, 1 / Math.sqrt(s.d)),
        w3: normal(s.d * s.hidden, seed + 2, 1 / Math.sqrt(s.d)),
        w2: normal(s.hidden * s.d, seed + 3, 1 / Math.sqrt(s.hidden)),
        dy: normal(s.rows * s.d, seed + 4),
      };
    case 'resblock':
      return {
        x: normal(s.N * s.H * s.W * s.C, seed),
        w1: normal(9 * s.C * s.C, seed + 1, Math.sqrt(2 / (9 * s.C))),
        w2: normal(9 * s.C * s.C, seed + 2, Math.sqrt(2 / (9 * s.C))),
        g1: uniform(s.C, seed + 3, 0.5, 1.5),
        b1: normal(s.C, seed + 4, 0.1),
        g2: uniform(s.C, seed + 5, 0.5, 1.5),
        b2: normal(s.C, seed + 6, 0.1),
        dy: normal(s.N * s.H * s.W * s.C, seed + 7),
      };
  }
}

/** Output names each case's implementations must return. */
export function outputNames(c: BenchCase): string[] {
  switch (c.spec.kind) {
    case 'softmaxCE':
      return ['loss', 'dx'];
    case 'adamw':
      return ['p', 'm', 'v'];
    case 'ffn':
      return ['y', 'dx', 'dw1', 'dw3', 'dw2'];
    case 'resblock':
      return ['y', 'dx', 'dw1', 'dw2'];
    default:
      return ['y'];
  }
}

/** Entries of a large output checked by exact float64 dot products: corners plus random picks. */
function sampleIndices(rows: number, cols: number, count: number, seed: number): number[] {
  const r = rng(seed);
  const set = new Set<number>([0, cols - 1, (rows - 1) * cols, rows * cols - 1]);
  while (set.size < Math.min(count, rows * cols)) set.add(Math.floor(r() * rows * cols));
  return [...set];
}

/**
 * Checks an implementation's outputs against float64. `reference` supplies float64 results for the
 * composite cases (computed once by descent's float64 reference backend, see run.ts).
 */
export function checkOutputs(
  c: BenchCase,
  inputs: Tensors,
  out: Outputs,
  reference?: Record<string, Float64Array>,
  opts: { weightDecay?: number } = {},
): Agreement {
  const s = c.spec;
  for (const name of outputNames(c)) {
    if (!out[name]) return combine({ [name]: checkNormwise([], [0], 1, 'missing output') });
  }
  switch (s.kind) {
    case 'matmul': {
      const a = inputs.a as Float32Array;
      const b = inputs.b as Float32Array;
      const idx = sampleIndices(s.m, s.n, 1024, hashSeed(c.id));
      const ref = new Float64Array(idx.length);
      const bound = new Float64Array(idx.length);
      const g = gamma(s.k + 2);
      idx.forEach((e, j) => {
        const i = Math.floor(e / s.n);
        const col = e % s.n;
        let acc = 0;
        let mag = 0;
        for (let t = 0; t < s.k; t++) {
          const p = a[i * s.k + t] * b[t * s.n + col];
          acc += p;
          mag += Math.abs(p);
        }
        ref[j] = acc;
        bound[j] = g * mag;
      });
      return checkElementwise(out.y, ref, bound, `γ(K+2)·Σ|a·b| on ${idx.length} sampled entries`, idx);
    }
    case 'conv2d': {
      const x = inputs.x as Float32Array;
      const w = inputs.w as Float32Array;
      const { N, H, W, C, Cout, KH, KW } = s;
      const idx = sampleIndices(N * H * W, Cout, 512, hashSeed(c.id));
      const ref = new Float64Array(idx.length);
      const bound = new Float64Array(idx.length);
      const g = gamma(KH * KW * C + 2);
      idx.forEach((e, j) => {
        const pix = Math.floor(e / Cout);
        const co = e % Cout;
        const n = Math.floor(pix / (H * W));
        const oy = Math.floor(pix / W) % H;
        const ox = pix % W;
        let acc = 0;
        let mag = 0;
        for (let ky = 0; ky < KH; ky++) {
          const iy = oy + ky - 1;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ox + kx - 1;
            if (ix < 0 || ix >= W) continue;
            for (let ci = 0; ci < C; ci++) {
              const p = x[((n * H + iy) * W + ix) * C + ci] * w[((ky * KW + kx) * C + ci) * Cout + co];
              acc += p;
              mag += Math.abs(p);
            }
          }
        }
        ref[j] = acc;
        bound[j] = g * mag;
      });
      return checkElementwise(out.y, ref, bound, `γ(KH·KW·C+2)·Σ|x·w| on ${idx.length} sampled entries`, idx);
    }
    case 'silu': {
      const x = inputs.x as Float32Array;
      const ref = new Float64Array(x.length);
      for (let i = 0; i < x.length; i++) ref[i] = x[i] / (1 + Math.exp(-x[i]));
      // sigmoid's relative error ≤ T (exp) + 3u (add, divide, f32 result); the product adds u.
      return checkElementwise(
        out.y,
        ref,
        (i) => (T + 4 * U32) * Math.abs(ref[i]),
        `(${TRANSCENDENTAL_ULP} ulp + 4u)·|y|`,
      );
    }
    case 'softmax': {
      const { ref, bound } = softmaxReference(inputs.x as Float32Array, s.rows, s.size);
      return checkElementwise(out.y, ref, bound, '(|x−max|·u + T + γ(n+2))·y, T = 16 ulp');
    }
    case 'softmaxCE': {
      const x = inputs.x as Float32Array;
      const lab = inputs.labels as Int32Array;
      const { rows, size } = s;
      const sm = softmaxReference(x, rows, size);
      // loss = mean over rows of lse − x[label]; dx = (softmax − onehot) / rows
      let loss = 0;
      let lossBound = 0;
      const dx = new Float64Array(rows * size);
      const dxBound = new Float64Array(rows * size);
      for (let r = 0; r < rows; r++) {
        let m = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < size; j++) m = Math.max(m, x[r * size + j]);
        let sum = 0;
        for (let j = 0; j < size; j++) sum += Math.exp(x[r * size + j] - m);
        const xl = x[r * size + lab[r]];
        const l = m + Math.log(sum) - xl;
        loss += l / rows;
        lossBound += (U32 * (2 * Math.abs(m) + Math.abs(xl) + Math.abs(l)) + T + gamma(size + 2)) / rows;
        for (let j = 0; j < size; j++) {
          const i = r * size + j;
          dx[i] = (sm.ref[i] - (j === lab[r] ? 1 : 0)) / rows;
          dxBound[i] = sm.bound[i] / rows + 2 * U32 * Math.abs(dx[i]);
        }
      }
      lossBound += gamma(rows) * loss;
      return combine({
        loss: checkElementwise(out.loss, [loss], [lossBound], 'u·(2|max|+|x_label|+|l|) + T + γ(n+2), mean'),
        dx: checkElementwise(out.dx, dx, dxBound, 'softmax bound / rows + 2u·|dx|'),
      });
    }
    case 'adamw':
      return checkAdamW(inputs, out, { ...s, weightDecay: opts.weightDecay ?? s.weightDecay });
    case 'ffn':
    case 'resblock': {
      if (!reference) throw new Error(`${c.id}: the composite check needs the float64 reference outputs`);
      // Normwise: a chain whose longest path sums reductions of total length K_path has
      // ‖ŷ − y‖ ≲ γ(K_path)·‖|A||B|‖; for these weight scalings ‖|A||B|‖ stays within a small factor
      // (≤ 4) of ‖y‖, plus one transcendental per element (silu), so τ = 4·γ(K_path) + T.
      const kPath =
        s.kind === 'ffn' ? s.d + s.hidden + s.rows : 2 * 9 * s.C + s.N * s.H * s.W + 2 * s.N * s.H * s.W;
      const tau = 4 * gamma(kPath) + T;
      const parts: Record<string, Agreement> = {};
      for (const name of outputNames(c)) {
        parts[name] = checkNormwise(out[name], reference[name], tau, `‖err‖/‖ref‖ ≤ 4γ(${kPath}) + T`);
      }
      return combine(parts);
    }
  }
}

function softmaxReference(x: Float32Array, rows: number, size: number) {
  const ref = new Float64Array(rows * size);
  const bound = new Float64Array(rows * size);
  const g = gamma(size + 2);
  for (let r = 0; r < rows; r++) {
    let m = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < size; j++) m = Math.max(m, x[r * size + j]);
    let sum = 0;
    for (let j = 0; j < size; j++) sum += Math.exp(x[r * size + j] - m);
    for (let j = 0; j < size; j++) {
      const i = r * size + j;
      ref[i] = Math.exp(x[i] - m) / sum;
      // x−m rounds with error u·|x−m| (a relative error of e^·), exp adds T, the sum γ(n), the divide u.
      bound[i] = ((Math.abs(x[i] - m) + 2) * U32 + T + g) * ref[i] + 2 ** -149;
    }
  }
  return { ref, bound };
}

function checkAdamW(
  inputs: Tensors,
  out: Outputs,
  h: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number },
): Agreement {
  const p = inputs.p as Float32Array;
  const g = inputs.g as Float32Array;
  const n = p.length;
  const rp = new Float64Array(n);
  const rm = new Float64Array(n);
  const rv = new Float64Array(n);
  const bp = new Float64Array(n);
  const bm = new Float64Array(n);
  const bv = new Float64Array(n);
  // One step from zero state (t = 1): bias corrections 1 − β₁ and 1 − β₂.
  const bc1 = 1 - h.beta1;
  const bc2 = 1 - h.beta2;
  // Implementations round β to f32 in some places (the moment updates) and not in others (a bias
  // correction computed in f64): a relative change of u in β changes 1 − β by u·β/(1 − β). The update
  // m̂/√v̂ has four such factors ((1−β₁), bc1, √(1−β₂), √bc2): ≤ (2·c₁ + c₂)·u on top of ~12 roundings.
  const c1 = h.beta1 / (1 - h.beta1);
  const c2 = h.beta2 / (1 - h.beta2);
  for (let i = 0; i < n; i++) {
    const m = (1 - h.beta1) * g[i];
    const v = (1 - h.beta2) * g[i] * g[i];
    const upd = m / bc1 / (Math.sqrt(v / bc2) + h.eps);
    rm[i] = m;
    rv[i] = v;
    rp[i] = p[i] - h.lr * (upd + h.weightDecay * p[i]);
    bm[i] = (3 + c1) * U32 * Math.abs(m);
    bv[i] = (4 + c2) * U32 * v;
    // p·(1 − lr·wd) rounds the factor, the product and the final subtraction: 3u·max(|p|, |p'|).
    bp[i] =
      3 * U32 * Math.max(Math.abs(p[i]), Math.abs(rp[i])) + h.lr * U32 * (12 + 2 * c1 + c2) * Math.abs(upd);
  }
  return combine({
    p: checkElementwise(out.p, rp, bp, '3u·|p| + lr·u·(12 + 2c₁ + c₂)·|update|, c = β/(1−β)'),
    m: checkElementwise(out.m, rm, bm, '(3 + c₁)·u·|m|'),
    v: checkElementwise(out.v, rv, bv, '(4 + c₂)·u·v'),
  });
}
