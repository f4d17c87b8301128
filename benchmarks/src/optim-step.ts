/**
 * Optimizer step time on a model-shaped parameter set (issue #5): AdamW, Lion, Adafactor, Muon and
 * Shampoo steps of @descent/optim on every descent backend in Node, against (a) a plain copy of the
 * bytes the step must move (the memcopy roofline of the kernel suite) and (b) TensorFlow.js's
 * `tf.train.adam` on the same parameters in the same run.
 *
 * The parameter set is a small pre-norm GPT with SwiGLU FFNs: token embedding [vocab, d]; per layer
 * two RMSNorm gains [d], q/k/v/o [d, d], gate/up [d, h] and down [h, d]; a final norm [d]. Full mode:
 * d 512, h 1376, 3 layers, vocab 2048 (10.5M parameters); quick: d 128, h 344, 4 layers (1.05M).
 * Gradients are fixed seeded tensors, set once (an optimizer step leaves `.grad` alone), so a sample
 * is exactly one `opt.step()` followed by a wait for the device.
 */
import type { Tensor } from '@descent/core';
import * as d from '@descent/core';
import { Adafactor, AdamW, Lion, Muon, type OptimizerStateDict, Shampoo } from '@descent/optim';
import type * as TF from '@tensorflow/tfjs-core';
import { hashSeed, normal } from './data.js';
import type { Tf } from './graphs/tfjs.js';
import { memcopyImpl } from './impls/wasm-kernels.js';
import { type DescentBackendSpec, loadNodeTf, nodeDescentBackends } from './node-impls.js';
import type { Progress } from './progress.js';
import { fmtMs } from './report.js';
import { type Summary, summarize } from './stats.js';
import { measure } from './timing.js';

/** One named parameter of the model-shaped set. */
export interface ParamShape {
  name: string;
  shape: number[];
}

/** The GPT-shaped parameter set (see the file comment). */
export function modelParams(quick: boolean): ParamShape[] {
  const [dm, h, layers, vocab] = quick ? [128, 344, 4, 2048] : [512, 1376, 3, 2048];
  const out: ParamShape[] = [{ name: 'embed', shape: [vocab, dm] }];
  for (let l = 0; l < layers; l++) {
    const p = (name: string, shape: number[]) => out.push({ name: `layers.${l}.${name}`, shape });
    p('norm1', [dm]);
    for (const w of ['q', 'k', 'v', 'o']) p(`attn.${w}`, [dm, dm]);
    p('norm2', [dm]);
    p('ffn.gate', [dm, h]);
    p('ffn.up', [dm, h]);
    p('ffn.down', [h, dm]);
  }
  out.push({ name: 'norm', shape: [dm] });
  return out;
}

/** What the benchmark needs of an optimizer. */
interface StepOptimizer {
  step(): unknown;
  stateDict(): OptimizerStateDict;
  dispose(): void;
}

/** Options every variant shares (the benchmark measures speed; the values are ordinary ones). */
const SHAMPOO_ITERATIONS = 20;
const SHAMPOO_MAX_DIM = 1024;
/**
 * Shampoo's step with root refresh gets this many times the suite's per-step budget (full mode: a
 * warm refresh at 10M parameters takes ~1 min on wasm here; quick mode keeps its run short).
 */
const refreshBudgetScale = (quick: boolean) => (quick ? 6 : 12);
/** Refresh interval the amortized Shampoo time is quoted for. */
export const SHAMPOO_INTERVAL = 10;

/** One optimizer configuration measured as a row. */
interface StepVariant {
  id: string;
  label: string;
  /** Builds the optimizer over the parameters (same order as `modelParams`). */
  make(params: Tensor[], shapes: ParamShape[]): StepOptimizer;
  /** Floating-point work of one step beyond the elementwise passes (matmuls), for the time estimate. */
  flops(shapes: ParamShape[]): number;
  /** The per-step budget in units of the suite's (elementwise steps 1; matrix methods more). */
  budgetScale: number;
  /**
   * An optimizer that refreshes something every SHAMPOO_INTERVAL steps (Shampoo's roots, computed on
   * its first step too): its refresh step is a second row, timed on step SHAMPOO_INTERVAL + 1.
   */
  refresh?: { id: string; label: string; flops(shapes: ParamShape[]): number };
}

/** Muon's matrices: every rank-2 weight except the embedding (which, like the norms, takes AdamW). */
const isMuonMatrix = (s: ParamShape) => s.shape.length === 2 && s.name !== 'embed';

/** 5 quintic Newton–Schulz steps on the smaller Gram side: A = XXᵀ (2s²l), A² (2s³), (bA + cA²)X (2s²l). */
function muonFlops(shapes: ParamShape[]): number {
  let f = 0;
  for (const s of shapes.filter(isMuonMatrix)) {
    const [m, n] = s.shape;
    const sm = Math.min(m, n);
    const l = Math.max(m, n);
    f += 5 * (4 * sm * sm * l + 2 * sm ** 3);
  }
  return f;
}

/** Axes Shampoo preconditions (≤ maxPreconditionerDim), as sizes. */
const shampooAxes = (s: ParamShape) => s.shape.filter((x) => x <= SHAMPOO_MAX_DIM);

/** Per preconditioned axis d: the statistic G₍ᵢ₎ᵀG₍ᵢ₎ (2dP) and the mode product (2dP). */
function shampooStepFlops(shapes: ParamShape[]): number {
  let f = 0;
  for (const s of shapes) for (const dim of shampooAxes(s)) f += 4 * dim * d.sizeOf(s.shape);
  return f;
}

/** Plus each inverse p-th root: `rootIterations` coupled-Newton steps of ~4 (p = 4) or 3 (p = 2) d×d matmuls. */
function shampooRefreshFlops(shapes: ParamShape[]): number {
  let f = shampooStepFlops(shapes);
  for (const s of shapes) {
    const perIteration = s.shape.length === 1 ? 3 : 4;
    for (const dim of shampooAxes(s)) f += SHAMPOO_ITERATIONS * perIteration * 2 * dim ** 3;
  }
  return f;
}

export const STEP_VARIANTS: StepVariant[] = [
  {
    id: 'adamw',
    label: 'AdamW, fused, per tensor',
    make: (p) => new AdamW(p, { lr: 1e-3, weightDecay: 0.01, fused: true }),
    flops: () => 0,
    budgetScale: 1,
  },
  {
    id: 'adamw-flat',
    label: 'AdamW, fused, flat',
    make: (p) => new AdamW(p, { lr: 1e-3, weightDecay: 0.01, fused: true, flat: true }),
    flops: () => 0,
    budgetScale: 1,
  },
  {
    id: 'lion',
    label: 'Lion, fused, per tensor',
    make: (p) => new Lion(p, { lr: 1e-4, weightDecay: 0.1, fused: true }),
    flops: () => 0,
    budgetScale: 1,
  },
  {
    id: 'lion-flat',
    label: 'Lion, fused, flat',
    make: (p) => new Lion(p, { lr: 1e-4, weightDecay: 0.1, fused: true, flat: true }),
    flops: () => 0,
    budgetScale: 1,
  },
  {
    // Factored second moments for the matrices; the elementwise part is the fused kernel.
    id: 'adafactor',
    label: 'Adafactor (factored, fused)',
    make: (p) => new Adafactor(p, { fused: true }),
    // RMS(U) without forming U: one matrix-vector product per matrix (2P) — elementwise in cost.
    flops: (shapes) => shapes.reduce((a, s) => a + 2 * d.sizeOf(s.shape), 0),
    budgetScale: 1,
  },
  {
    id: 'muon',
    label: 'Muon (NS5) + AdamW (embedding, norms)',
    make: (p, shapes) =>
      new Muon(
        [
          { params: p.filter((_, i) => isMuonMatrix(shapes[i])), useMuon: true },
          { params: p.filter((_, i) => !isMuonMatrix(shapes[i])), useMuon: false, lr: 3e-4 },
        ],
        { lr: 0.02, fused: true },
      ),
    flops: muonFlops,
    budgetScale: 3,
  },
  {
    // One optimizer gives both Shampoo rows: with the roots recomputed every SHAMPOO_INTERVAL steps,
    // step 1 (cold) and step SHAMPOO_INTERVAL + 1 refresh; steps 3 … SHAMPOO_INTERVAL are the plain
    // samples (statistics update + cached roots applied), step 2 their warm-up.
    id: 'shampoo',
    label: 'Shampoo, step without root refresh',
    make: (p) =>
      new Shampoo(p, {
        lr: 1e-3,
        preconditionInterval: SHAMPOO_INTERVAL,
        rootIterations: SHAMPOO_ITERATIONS,
        maxPreconditionerDim: SHAMPOO_MAX_DIM,
      }),
    flops: shampooStepFlops,
    budgetScale: 3,
    refresh: {
      id: 'shampoo-refresh',
      label: `Shampoo, step with root refresh (${SHAMPOO_ITERATIONS} Newton iterations per root)`,
      flops: shampooRefreshFlops,
    },
  },
];

/** The result of one step variant (or tf.train.adam, or the copy) on one implementation. */
export interface OptimStepResult {
  /** A step variant id, 'tfjs-adam' or 'copy'. */
  step: string;
  impl: string;
  status: 'ok' | 'skipped' | 'error';
  reason?: string;
  coldMs?: number;
  samples?: number[];
  summary?: Summary;
  /** Bytes the step must read + write at least (params, grads, state; see `stepBytes`). */
  bytes?: number;
}

export interface OptimStepBenchmark {
  params: number;
  tensors: number;
  shapes: ParamShape[];
  variants: { id: string; label: string }[];
  /** Per variant id: the bytes its step must move (the copy row moves the same). */
  bytes: Record<string, number>;
  results: OptimStepResult[];
  budgetSeconds: number;
  /** Budget of Shampoo's refresh step (absent in older results: 12 × budgetSeconds). */
  refreshBudgetSeconds?: number;
}

/**
 * Bytes a step must move at least: read params and grads, write params, read and write every state
 * buffer once (4 bytes each). For the matrix methods the matmuls make the real traffic much larger;
 * this is the floor a perfectly fused step could reach.
 */
function stepBytes(params: number, stateElements: number): number {
  return 4 * (3 * params + 2 * stateElements);
}

/** Elements of an optimizer's state (from its state dict: one copy, then freed). */
function stateElements(opt: StepOptimizer): number {
  const dict = opt.stateDict();
  let n = 0;
  for (const s of Object.values(dict.state))
    for (const t of Object.values(s.buffers)) {
      n += t.size;
      t.dispose();
    }
  return n;
}

interface HostSet {
  shapes: ParamShape[];
  values: Float32Array[];
  grads: Float32Array[];
}

function hostSet(quick: boolean): HostSet {
  const shapes = modelParams(quick);
  return {
    shapes,
    values: shapes.map((s) => normal(d.sizeOf(s.shape), hashSeed(`p:${s.name}`), 0.02)),
    grads: shapes.map((s) => normal(d.sizeOf(s.shape), hashSeed(`g:${s.name}`), 1e-3)),
  };
}

interface MeasureOpts {
  quick: boolean;
  budgetMs: number;
}

/**
 * Times `run` after its first call (made and timed by the caller: `firstMs`): a call over the budget
 * is reported with its time instead of samples — judged on the first call, or where the first call
 * does more (a GPU compiles its shaders; Shampoo's first step computes its roots) on a second one. Then warm-up and samples, the kernel suite's method.
 */
async function timeStep(
  run: () => Promise<void>,
  firstMs: number,
  o: MeasureOpts & { budgetMs: number; judgeSecond?: boolean },
): Promise<Pick<OptimStepResult, 'status' | 'reason' | 'coldMs' | 'samples' | 'summary'>> {
  let callMs = firstMs;
  if (callMs > o.budgetMs && o.judgeSecond) {
    const t = performance.now();
    await run();
    callMs = performance.now() - t;
  }
  if (callMs > o.budgetMs)
    return {
      status: 'skipped',
      coldMs: firstMs,
      reason: `one step took ${fmtMs(callMs)}, over the ${fmtMs(o.budgetMs)} budget`,
    };
  // Steps of seconds (the matrix methods on CPU, tfjs-cpu at 10M): 3 samples and no warm-up.
  const slow = callMs > SLOW_STEP_MS;
  const m = await measure(run, {
    warmup: slow ? 0 : 1,
    reps: slow ? 3 : o.quick ? 5 : 7,
    minSampleMs: o.quick ? 5 : 20,
    skipCold: true,
  });
  return { status: 'ok', coldMs: firstMs, samples: m.samples, summary: m.summary };
}

/** A step longer than this gets 3 samples instead of 5 (quick) or 7. */
const SLOW_STEP_MS = 3000;

/** The first call of `run`, timed. */
async function firstCall(run: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await run();
  return performance.now() - t;
}

/** Checks that a step moved the parameters and left them finite (the tests check the numbers). */
async function checkMoved(params: Tensor[], before: Float32Array[]): Promise<string | undefined> {
  let moved = false;
  for (let i = 0; i < params.length; i++) {
    const v = await params[i].data();
    for (let j = 0; j < v.length; j++) {
      if (!Number.isFinite(v[j])) return `parameter ${i} has a non-finite value after one step`;
      if (v[j] !== before[i][j]) moved = true;
    }
  }
  return moved ? undefined : 'one step left every parameter unchanged';
}

async function runDescent(
  spec: DescentBackendSpec,
  host: HostSet,
  o: MeasureOpts,
  bytes: Record<string, number>,
  progress: Progress,
): Promise<OptimStepResult[]> {
  const out: OptimStepResult[] = [];
  await d.setBackend(spec.backendName);
  const sync = async () => {
    await spec.sync?.();
  };
  for (const v of STEP_VARIANTS) {
    progress.status(`optim-step ${v.id} · ${spec.id}`);
    const base = { step: v.id, impl: spec.id };
    const total = host.values.reduce((a, x) => a + x.length, 0);
    // Skip what the backend's nominal speed says cannot fit the budget (reported with the estimate).
    const budget = v.budgetScale * o.budgetMs;
    const estimate = (flops: number) =>
      (flops / (spec.nominal.gflops * 1e9) + (28 * total) / (spec.nominal.gbps * 1e9)) * 1000;
    const est = estimate(v.flops(host.shapes));
    // A first step that refreshes (Shampoo computes its roots) must fit the refresh budget.
    const first = v.refresh ? estimate(v.refresh.flops(host.shapes)) : 0;
    const firstBudget = refreshBudgetScale(o.quick) * o.budgetMs;
    let r: OptimStepResult;
    let refreshRow: OptimStepResult | undefined;
    if (est > budget || first > firstBudget) {
      r = {
        ...base,
        status: 'skipped',
        reason:
          est > budget
            ? `≈ ${fmtMs(est)} per step expected from the backend's nominal speed, over the ${fmtMs(budget)} budget`
            : `its first step (computing the roots) ≈ ${fmtMs(first)} expected from the backend's nominal speed, over the ${fmtMs(firstBudget)} budget`,
      };
      if (v.refresh) refreshRow = { ...r, step: v.refresh.id };
    } else {
      const params = host.shapes.map((s, i) => d.tensor(host.values[i], s.shape).requireGrad());
      const grads = host.shapes.map((s, i) => d.tensor(host.grads[i], s.shape));
      params.forEach((p, i) => {
        p.grad = grads[i];
      });
      let opt: StepOptimizer | undefined;
      try {
        opt = v.make(params, host.shapes);
        const step = async () => {
          opt!.step();
          await sync();
        };
        // The first step is the cold one; check it before timing the rest.
        const firstMs = await firstCall(step);
        const wrong = await checkMoved(params, host.values);
        if (wrong) throw new Error(wrong);
        bytes[v.id] ??= stepBytes(total, stateElements(opt));
        if (v.refresh) {
          const rows = await timeRefreshing(step, firstMs, budget, firstBudget);
          r = { ...base, ...rows.plain, bytes: bytes[v.id] };
          refreshRow = { ...base, step: v.refresh.id, ...rows.refresh, bytes: bytes[v.id] };
          bytes[v.refresh.id] ??= bytes[v.id];
        } else {
          const timed = await timeStep(step, firstMs, {
            ...o,
            budgetMs: budget,
            judgeSecond: spec.reportsCold,
          });
          r = { ...base, ...timed, bytes: bytes[v.id] };
        }
      } catch (e) {
        r = { ...base, status: 'error', reason: (e as Error).message.split('\n')[0] };
        if (v.refresh) refreshRow = { ...r, step: v.refresh.id };
      } finally {
        opt?.dispose();
        for (const p of params) p.grad = null;
        d.dispose([...params, ...grads]);
      }
    }
    for (const row of refreshRow ? [r, refreshRow] : [r]) {
      out.push(row);
      progress.tick(`optim-step ${row.step} · ${spec.id}: ${describe(row)}`);
      if (row.status === 'error')
        progress.log(`  optim-step ${row.step} on ${spec.id}: error — ${row.reason}`);
    }
  }
  return out;
}

type Timed = Pick<OptimStepResult, 'status' | 'reason' | 'coldMs' | 'samples' | 'summary'>;

/**
 * The two rows of an optimizer that refreshes every SHAMPOO_INTERVAL steps, after its first
 * (refreshing, cold) step: step 2 is the plain steps' warm-up and budget check, steps
 * 3 … SHAMPOO_INTERVAL the plain samples, step SHAMPOO_INTERVAL + 1 the one warm refresh sample.
 */
async function timeRefreshing(
  step: () => Promise<void>,
  firstMs: number,
  budgetMs: number,
  refreshBudgetMs: number,
): Promise<{ plain: Timed; refresh: Timed }> {
  const second = await firstCall(step);
  if (second > budgetMs) {
    const plain: Timed = {
      status: 'skipped',
      reason: `one step took ${fmtMs(second)}, over the ${fmtMs(budgetMs)} budget`,
    };
    return {
      plain,
      refresh: {
        status: 'skipped',
        coldMs: firstMs,
        reason: `its plain steps are over budget; the first step (cold, with the refresh) took ${fmtMs(firstMs)}`,
      },
    };
  }
  const samples: number[] = [];
  for (let t = 3; t <= SHAMPOO_INTERVAL; t++) samples.push(await firstCall(step));
  const plain: Timed = { status: 'ok', samples, summary: summarize(samples) };
  if (firstMs > refreshBudgetMs)
    return {
      plain,
      refresh: {
        status: 'skipped',
        coldMs: firstMs,
        reason: `the first step (cold, with the refresh) took ${fmtMs(firstMs)}, over the ${fmtMs(refreshBudgetMs)} budget`,
      },
    };
  const warm = await firstCall(step);
  return { plain, refresh: { status: 'ok', coldMs: firstMs, samples: [warm], summary: summarize([warm]) } };
}

/** tf.train.adam over the same parameters (tfjs variables), one `applyGradients` per step. */
async function runTfjsAdam(
  id: string,
  backend: 'cpu' | 'wasm',
  host: HostSet,
  o: MeasureOpts,
  progress: Progress,
): Promise<OptimStepResult> {
  progress.status(`optim-step tfjs-adam · ${id}`);
  const base = { step: 'tfjs-adam', impl: id };
  let r: OptimStepResult;
  let tf: Tf | undefined;
  const vars: TF.Variable[] = [];
  const grads: { name: string; tensor: TF.Tensor }[] = [];
  let opt: TF.AdamOptimizer | undefined;
  try {
    tf = await loadNodeTf();
    await tf.setBackend(backend);
    await tf.ready();
    if (tf.getBackend() !== backend) throw new Error(`tfjs backend ${backend} failed to start`);
    const t = tf;
    host.shapes.forEach((s, i) => {
      const name = `optim-step/${id}/${s.name}`;
      vars.push(t.variable(t.tensor(host.values[i], s.shape), true, name));
      grads.push({ name, tensor: t.tensor(host.grads[i], s.shape) });
    });
    const adam = t.train.adam(1e-3, 0.9, 0.999, 1e-8);
    opt = adam;
    const total = host.values.reduce((a, x) => a + x.length, 0);
    const run = async () => {
      adam.applyGradients(grads);
    };
    // Its first step creates the moment variables (and tfjs-wasm compiles): judged on a second.
    const timed = await timeStep(run, await firstCall(run), { ...o, judgeSecond: true });
    r = { ...base, ...timed, bytes: stepBytes(total, 2 * total) };
  } catch (e) {
    r = { ...base, status: 'error', reason: (e as Error).message.split('\n')[0] };
  } finally {
    opt?.dispose();
    tf?.dispose([...vars, ...grads.map((g) => g.tensor)]);
  }
  progress.tick(`optim-step tfjs-adam · ${id}: ${describe(r)}`);
  return r;
}

function describe(r: OptimStepResult): string {
  return r.status === 'ok' ? fmtMs(r.summary!.median) : r.status;
}

/**
 * The memory-copy roofline, measured once per distinct byte count (steps that move the same bytes —
 * AdamW per tensor and flat, tf.train.adam — share one copy row, so their ratios are comparable).
 */
async function runCopies(bytes: Record<string, number>, o: MeasureOpts): Promise<OptimStepResult[]> {
  const impl = memcopyImpl();
  const timedBy = new Map<number, Timed>();
  for (const b of new Set(Object.values(bytes))) {
    const prepared = await impl.prepare(
      { id: `copy-${b}`, group: 'optim-step', label: '', spec: { kind: 'silu', n: 0 }, bytes: b },
      {},
    );
    try {
      const run = async () => prepared.run();
      timedBy.set(b, await timeStep(run, await firstCall(run), o));
    } finally {
      await prepared.dispose();
    }
  }
  return Object.entries(bytes).map(([step, b]) => ({ step, impl: 'memcopy', ...timedBy.get(b)!, bytes: b }));
}

export async function runOptimStep(o: {
  quick: boolean;
  progress: Progress;
  webgpu: boolean;
  only?: string[];
}): Promise<OptimStepBenchmark> {
  const host = hostSet(o.quick);
  const keep = (id: string) => !o.only || o.only.some((x) => id.startsWith(x));
  const backends = (await nodeDescentBackends({ webgpu: o.webgpu })).filter((b) => keep(b.id));
  const tfjs = (
    [
      ['tfjs-cpu', 'cpu'],
      ['tfjs-wasm-1t', 'wasm'],
    ] as const
  ).filter(([id]) => keep(id));
  const mo: MeasureOpts = { quick: o.quick, budgetMs: o.quick ? 500 : 10_000 };
  o.progress.grow(backends.length * STEP_VARIANTS.reduce((a, v) => a + (v.refresh ? 2 : 1), 0) + tfjs.length);
  const bytes: Record<string, number> = {};
  const results: OptimStepResult[] = [];
  for (const b of backends) results.push(...(await runDescent(b, host, mo, bytes, o.progress)));
  for (const [id, backend] of tfjs) results.push(await runTfjsAdam(id, backend, host, mo, o.progress));
  if (keep('memcopy')) {
    const total = host.values.reduce((a, x) => a + x.length, 0);
    bytes['tfjs-adam'] ??= stepBytes(total, 2 * total);
    results.push(...(await runCopies(bytes, mo)));
  }
  await d.setBackend('js');
  return {
    params: host.values.reduce((a, x) => a + x.length, 0),
    tensors: host.shapes.length,
    shapes: host.shapes,
    variants: STEP_VARIANTS.flatMap((v) => [
      { id: v.id, label: v.label },
      ...(v.refresh ? [v.refresh] : []),
    ]).map(({ id, label }) => ({ id, label })),
    bytes,
    results,
    budgetSeconds: mo.budgetMs / 1000,
    refreshBudgetSeconds: (refreshBudgetScale(o.quick) * mo.budgetMs) / 1000,
  };
}

// ------------------------------------------------------------------------------ report

const DESCENT_COLUMNS: [string, string][] = [
  ['descent-js', 'js'],
  ['descent-wasm-1t', 'wasm 1t'],
  ['descent-wasm-2t', 'wasm 2t'],
  ['descent-webgpu-node', 'webgpu (lavapipe)'],
];

function find(b: OptimStepBenchmark, step: string, impl: string): OptimStepResult | undefined {
  return b.results.find((r) => r.step === step && r.impl === impl);
}

const median = (r: OptimStepResult | undefined) => (r?.status === 'ok' ? r.summary!.median : undefined);

function timeCell(r: OptimStepResult | undefined, copy?: number): string {
  if (!r) return '';
  if (r.status === 'ok') {
    const t = r.summary!.median;
    return copy ? `${fmtMs(t)} (${(t / copy).toFixed(1)}× copy)` : fmtMs(t);
  }
  if (r.status === 'error') return `error: ${r.reason}`;
  // Short forms of the two skip reasons this suite writes (the JSON keeps the full text).
  const took = r.reason?.match(/took ([\d.]+ \S+?),? /);
  const expected = r.reason?.match(/≈ ([\d.]+ \S+) /);
  return took ? `n/a (1 step: ${took[1]})` : expected ? `n/a (≈ ${expected[1]} est.)` : `n/a: ${r.reason}`;
}

const ratioStr = (x: number | undefined) => (x === undefined ? '—' : `**${x.toFixed(2)}×**`);

/** tf.train.adam ÷ descent: which tfjs backend is compared with which descent backend. */
const TF_PAIRS: [string, string, string][] = [
  ['tfjs-wasm-1t', 'descent-wasm-1t', 'tfjs-wasm 1t adam ÷ wasm 1t'],
  ['tfjs-wasm-1t', 'descent-wasm-2t', 'tfjs-wasm 1t adam ÷ wasm 2t'],
  ['tfjs-cpu', 'descent-js', 'tfjs-cpu adam ÷ js'],
];

/**
 * The step table: per variant the median ms/step on each descent backend (and its ratio to the copy
 * of the same bytes), the copy's time, and tf.train.adam's time ÷ descent's (> 1: descent faster).
 */
export function optimStepTable(b: OptimStepBenchmark): string {
  const impls = DESCENT_COLUMNS.filter(([id]) => b.results.some((r) => r.impl === id));
  const pairs = TF_PAIRS.filter(
    ([tf, de]) => find(b, 'tfjs-adam', tf) && b.results.some((r) => r.impl === de),
  );
  let md = `| step | ${impls.map(([, l]) => `descent ${l}`).join(' | ')} | copy of the same bytes | ${pairs.map((p) => p[2]).join(' | ')} |\n`;
  md += `|${' --- |'.repeat(2 + impls.length + pairs.length)}\n`;
  for (const v of b.variants) {
    const copy = median(find(b, v.id, 'memcopy'));
    const cells = impls.map(([id]) => timeCell(find(b, v.id, id), copy));
    const vsTf = pairs.map(([tf, de]) => {
      const t = median(find(b, v.id, de));
      const a = median(find(b, 'tfjs-adam', tf));
      return ratioStr(t !== undefined && a !== undefined ? a / t : undefined);
    });
    md += `| ${v.label} | ${cells.join(' | ')} | ${copy !== undefined ? fmtMs(copy) : '—'} | ${vsTf.join(' | ')} |\n`;
  }
  const adamCopy = median(find(b, 'tfjs-adam', 'memcopy'));
  const tfRows = ['tfjs-cpu', 'tfjs-wasm-1t']
    .map((id) => [id, find(b, 'tfjs-adam', id)] as const)
    .filter(([, r]) => r)
    .map(([id, r]) => `${id} ${timeCell(r, adamCopy)}`);
  md += `\nn/a (1 step: t): one step took t, over the budget, so no samples; n/a (≈ t est.): not run, the backend's nominal speed predicts t per step (for Shampoo: its first step, which computes the roots), over the budget.\n`;
  if (tfRows.length)
    md += `\ntf.train.adam on the same parameters (its bytes: those of AdamW; copy ${adamCopy !== undefined ? fmtMs(adamCopy) : '—'}): ${tfRows.join(', ')}.\n`;
  return md;
}

/** Amortized Shampoo step over `SHAMPOO_INTERVAL` steps: plain + (refresh − plain)/interval. */
export function shampooAmortized(b: OptimStepBenchmark, impl: string): number | undefined {
  const plain = median(find(b, 'shampoo', impl));
  const refresh = median(find(b, 'shampoo-refresh', impl));
  if (plain === undefined || refresh === undefined) return undefined;
  return plain + (refresh - plain) / SHAMPOO_INTERVAL;
}

export function optimStepSection(b: OptimStepBenchmark | undefined): string {
  if (!b) return '';
  let md = `## Optimizer step on a model-shaped parameter set\n\n${(b.params / 1e6).toFixed(2)}M parameters in ${b.tensors} tensors (GPT shapes: ${[...new Set(b.shapes.map((s) => `[${s.shape.join('×')}]`))].join(', ')}). One sample = one \`opt.step()\` and a wait for the device; median of the samples. "Copy" is a copy of the bytes the step must read + write at least (params and grads read, params written, every state buffer read and written; 4 bytes each) inside one wasm memory. The last columns are tf.train.adam's time (same parameters, same run) ÷ descent's (> 1: descent faster). Shampoo recomputes its inverse roots (${SHAMPOO_ITERATIONS} coupled-Newton iterations each) every ${SHAMPOO_INTERVAL} steps: its plain row is the median of steps 3–${SHAMPOO_INTERVAL} (cached roots), its refresh row the one warm refresh step ${SHAMPOO_INTERVAL + 1}. Budget per step: ${b.budgetSeconds} s (Muon, Shampoo ${3 * b.budgetSeconds} s, Shampoo's refresh ${b.refreshBudgetSeconds ?? 12 * b.budgetSeconds} s); a step over it is shown with its one measured time, a step whose estimate from the backend's nominal speed is over it is not run (both say so).\n\n`;
  md += optimStepTable(b);
  const am = DESCENT_COLUMNS.map(([id, l]) => [l, shampooAmortized(b, id)] as const).filter(
    ([, x]) => x !== undefined,
  );
  if (am.length)
    md += `\nShampoo amortized over a refresh every ${SHAMPOO_INTERVAL} steps: ${am.map(([l, x]) => `${l} ${fmtMs(x!)}`).join(', ')}.\n`;
  return `${md}\n`;
}

/** The console summary printed at the end of a run. */
export function optimStepSummary(b: OptimStepBenchmark): string {
  const rows = [['step', ...DESCENT_COLUMNS.map(([, l]) => l), 'copy', 'tfjs-cpu adam', 'tfjs-wasm adam']];
  for (const v of b.variants)
    rows.push([
      v.id,
      ...DESCENT_COLUMNS.map(([id]) => {
        const r = find(b, v.id, id);
        return r ? (r.status === 'ok' ? fmtMs(r.summary!.median) : r.status) : '';
      }),
      fmtMs(median(find(b, v.id, 'memcopy')) ?? Number.NaN),
      fmtMs(median(find(b, 'tfjs-adam', 'tfjs-cpu')) ?? Number.NaN),
      fmtMs(median(find(b, 'tfjs-adam', 'tfjs-wasm-1t')) ?? Number.NaN),
    ]);
  const w = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return `optimizer step, ${(b.params / 1e6).toFixed(2)}M params (ms/step, median)\n${rows.map((r) => r.map((c, j) => c.padStart(w[j])).join('  ')).join('\n')}\n`;
}
