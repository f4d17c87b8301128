/**
 * Every model family of @descent/models on every kernel backend (wasm, WebGPU) against the float64
 * reference backend js64: the same weights (the js64 model's state dict, rounded to f32, copied into
 * the backend's model by `to()` + `loadStateDict`), the same input; forward outputs, every parameter
 * gradient and batch norm's running statistics within a rounding-depth bound (below); a short SGD
 * training run whose loss curve follows js64; and a safetensors checkpoint written on wasm that
 * loads into a model (and optimizer) on WebGPU. The models package's own tests run on js/js64 only;
 * this lives with the benchmarks, the one package that may depend on every other.
 *
 * Shapes are tiny: WebGPU runs on lavapipe (a CPU) here and the machine has 2 shared cores.
 */
import {
  crossEntropy,
  dispose,
  engine,
  intValues,
  mul,
  noGrad,
  normalValues,
  reshape,
  setBackend,
  setSeed,
  sum,
  type Tensor,
  tensor,
  tidy,
} from '@descent/core';
import { U } from '@descent/core/conformance/checks';
import {
  AvgPool2d,
  BasicBlock,
  BatchNorm2d,
  Bottleneck,
  CausalSelfAttention,
  Checkpointed,
  CifarResNet,
  Conv2d,
  Dropout,
  Embedding,
  FFN,
  Flatten,
  GATES,
  GatedFFN,
  type GatedVariant,
  GELU,
  GlobalAvgPool,
  GPT,
  JumpReLU,
  LayerNorm,
  Linear,
  loadCheckpoint,
  MaxPool2d,
  MLP,
  type Module,
  ReLU,
  RMSNorm,
  Sequential,
  Sigmoid,
  Softplus,
  Swish,
  saveCheckpoint,
  TransformerBlock,
} from '@descent/models';
import { SGD } from '@descent/optim';
import { createWasmBackend } from '@descent/wasm-kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { gpu, requireWebGPUInCI, webgpu } from './node-webgpu.js';

requireWebGPUInCI('models-backends');

const BACKENDS = ['wasm', ...(webgpu.available ? ['webgpu'] : [])];
const REF = 'js64';

/*
 * The bound. A backend computes in f32 what js64 computes in float64 from the same f32 weights and
 * inputs. Each f32 kernel returns its exact result on its (already perturbed) inputs to within k
 * roundings, where k is the kernel's longest chain of dependent roundings: a length-K dot product or
 * sum has k = K (any summation order, γ_K ≈ K·u, Higham §3.1), an elementwise map a few (8 allows
 * WGSL's transcendental accuracy), a norm over n values 2n + 8 (mean, variance, rsqrt, scale),
 * a softmax over n values n + 8. The relative errors of a chain of kernels add up (to first order),
 * so a forward pass of rounding depth D — the sum of k along the model's longest path — is off by at
 * most ≈ D·u relative to the magnitude of the values it combined. These models are initialised to
 * keep activations at unit scale layer after layer (Glorot/He init, normalisation layers), so that
 * magnitude is the output's own scale: |y_i − r_i| ≤ C·D·u·(|r_i| + max|r|) with C = 4, the
 * constant core's conformance bounds use. Gradients walk the chain back (the forward chain again,
 * then the transposed reductions, then the reduction over the batch rows that forms a parameter's
 * gradient), so their depth D_b is written out per model the same way, and each parameter tensor is
 * measured against its own scale max|∂r|. First order means away from kinks: ReLU, max-pool and
 * JumpReLU switch where an input is within rounding of a threshold; with these seeded random inputs
 * none is (a flipped one would show as an O(1) gradient difference, not pass silently).
 */
const C = 4;
/** A Linear/matmul/conv output: a dot product of `k` terms plus the bias add. */
const dot = (k: number) => k + 1;
/** An elementwise map (transcendental: WGSL allows a few ulp). */
const ELEM = 8;
/** LayerNorm/RMSNorm/BatchNorm over n values: mean and variance sums, rsqrt, scale and shift. */
const norm = (n: number) => 2 * n + 8;
/** softmax over n values: max, exp, sum, divide. */
const softmaxDepth = (n: number) => n + 8;

interface Depth {
  /** Rounding depth of the forward pass. */
  fwd: number;
  /** Rounding depth of a parameter gradient (forward chain + backward chain + batch reduction). */
  bwd: number;
}

interface Family {
  name: string;
  /** Builds the model on the current backend (a copy's own initial values are overwritten by loadStateDict). */
  build: () => Module;
  /** The input, on `backend` (the same values on every backend). */
  input: (backend: string) => Tensor;
  depth: Depth;
}

const f32Input = (shape: number[], seed: number) => (backend: string) =>
  tensor(
    normalValues(
      shape.reduce((a, b) => a * b, 1),
      0,
      1,
      seed,
      0,
    ),
    shape,
    { backend },
  );
const tokens = (shape: number[], vocab: number, seed: number) => (backend: string) =>
  tensor(
    intValues(
      shape.reduce((a, b) => a * b, 1),
      0,
      vocab,
      seed,
      0,
    ),
    shape,
    { backend, dtype: 'i32' },
  );

/*
 * Depths, written from each model's longest path (K = in features of a dot product, n = normalised
 * width, R = the rows summed into a weight gradient: batch × input positions, an upper bound).
 */
// MLP [6, 16, 16, 4], tanh, batch 8: three dots and two tanh; backward adds the transposed dots
// (lengths 16, 16, 4) and the 8-row weight-gradient sum.
const mlpFwd = dot(6) + ELEM + dot(16) + ELEM + dot(16);
// Embedding(12, 16) → LayerNorm(16) → Linear(16, 16) → RMSNorm(16), tokens [4, 5] (R = 20).
const embFwd = norm(16) + dot(16) + norm(16);
// Gated FFN d 8 → hidden 12 → 8, rows 6: gate and up dots, the gate, the product, the down dot.
const ffnFwd = dot(8) + ELEM + 1 + dot(12);
// CNN on [2, 8, 8, 3]: conv 3×3×3 → BN over 2·8·8 → ReLU → maxpool to 4×4 → conv 3×3×6 (valid, 2×2)
// → ReLU → avgpool 2×2 (1×1) → global average (1 term) → Linear 8 → 3.
const cnnFwd = dot(27) + norm(128) + dot(54) + 4 + 1 + dot(8);
// BasicBlock(4 → 8, stride 2) on [2, 6, 6, 4]: conv 36 → BN over 18 → conv 72 → BN → add.
const basicFwd = dot(36) + norm(18) + dot(72) + norm(18) + 1;
// Bottleneck(4, width 4 → 16, stride 2) on [2, 6, 6, 4]: 1×1 conv 4 → BN 72 → 3×3 conv 36 → BN 18
// → 1×1 conv 4 → BN 18 → add.
const bottleneckFwd = dot(4) + norm(72) + dot(36) + norm(18) + dot(4) + norm(18) + 1;
// CifarResNet-8, width 2, on [2, 8, 8, 1]: stem conv 9 + BN over 128, three basic blocks (widths
// 2, 4, 8: convs of 18/36/72 terms, BNs over 128/32/8), global pool over 2×2, Linear 8 → 3.
const resnetFwd =
  dot(9) +
  norm(128) +
  (dot(18) + norm(128) + dot(18) + norm(128) + 1) +
  (dot(18) + norm(32) + dot(36) + norm(32) + 1) +
  (dot(36) + norm(8) + dot(72) + norm(8) + 1) +
  4 +
  dot(8);
// Attention d 8, 2 heads of 4, T positions: q/k/v dots (8), scores (4), softmax (T), ·V (T), proj (8).
const attnFwd = (t: number) => dot(8) + dot(4) + softmaxDepth(t) + dot(t) + dot(8);
// Pre-norm block: RMSNorm, attention, residual, RMSNorm, SwiGLU FFN (8 → 22 → 8), residual.
const blockFwd = (t: number) => norm(8) + attnFwd(t) + 1 + norm(8) + dot(8) + ELEM + 1 + dot(22) + 1;
// GPT on 6 positions: embeddings + position, two blocks, final RMSNorm, head 8 → 11.
const gptFwd = 1 + 2 * blockFwd(6) + norm(8) + dot(8);
// Linear 6 → 12, then four more Linear 12 → 12 each after an activation (GELU, dropout, softplus,
// swish β = 1.5, sigmoid, tanh-GELU), a learnable JumpReLU and the Linear 12 → 4 head; batch 8.
const actFwd = dot(6) + 5 * (ELEM + dot(12)) + 2;
/** Backward: the forward chain (recomputed values feed it), the transposed chain, the R-row sum. */
const bwd = (fwd: number, rows: number): Depth => ({ fwd, bwd: 2 * fwd + rows });

const GATED = Object.keys(GATES) as GatedVariant[];

const FAMILIES: Family[] = [
  {
    name: 'MLP (Linear, tanh)',
    build: () => new MLP([6, 16, 16, 4], { seed: 1 }),
    input: f32Input([8, 6], 11),
    depth: bwd(mlpFwd, 8),
  },
  {
    name: 'Embedding → LayerNorm → Linear → RMSNorm',
    build: () =>
      new Sequential(
        new Embedding(12, 16, { seed: 2 }),
        new LayerNorm(16),
        new Linear(16, 16, { seed: 3 }),
        new RMSNorm(16),
      ),
    input: tokens([4, 5], 12, 12),
    depth: bwd(embFwd, 20),
  },
  {
    name: 'activation modules + Dropout + JumpReLU (learnable threshold)',
    build: () =>
      new Sequential(
        new Linear(6, 12, { seed: 50 }),
        new GELU(),
        new Dropout(0.25),
        new Linear(12, 12, { seed: 51 }),
        new Softplus(),
        new Linear(12, 12, { seed: 52 }),
        new Swish(1.5),
        new Linear(12, 12, { seed: 53 }),
        new Sigmoid(),
        new Linear(12, 12, { seed: 54 }),
        new GELU('tanh'),
        // A wide pseudo-derivative band, so the threshold's (straight-through) gradient is not 0.
        new JumpReLU(0.1, { learnable: true, features: 12, bandwidth: 0.5 }),
        new Linear(12, 4, { seed: 55 }),
      ),
    input: f32Input([8, 6], 56),
    depth: bwd(actFwd, 8),
  },
  ...GATED.map(
    (gate): Family => ({
      name: `GatedFFN (${gate})`,
      build: () => new GatedFFN(8, 12, { gate, seed: 4 }),
      input: f32Input([6, 8], 13),
      depth: bwd(ffnFwd, 6),
    }),
  ),
  {
    name: 'FFN (classic ReLU)',
    build: () => new FFN(8, 12, { seed: 5 }),
    input: f32Input([6, 8], 13),
    depth: bwd(ffnFwd, 6),
  },
  {
    // No bias before the batch norm: its gradient would be exactly 0 (pure rounding noise).
    name: 'Conv2d + BatchNorm2d + ReLU + MaxPool2d + AvgPool2d + GlobalAvgPool + Linear',
    build: () =>
      new Sequential(
        new Conv2d(3, 6, 3, { padding: 1, bias: false, seed: 6 }),
        new BatchNorm2d(6),
        new ReLU(),
        new MaxPool2d(2),
        new Conv2d(6, 8, 3, { seed: 7 }),
        new ReLU(),
        new AvgPool2d(2, { strides: 1 }),
        new GlobalAvgPool(),
        new Flatten(),
        new Linear(8, 3, { seed: 8 }),
      ),
    input: f32Input([2, 8, 8, 3], 14),
    depth: bwd(cnnFwd, 128),
  },
  {
    name: 'BasicBlock (stride 2, projection shortcut)',
    build: () => new BasicBlock(4, 8, 2),
    input: f32Input([2, 6, 6, 4], 15),
    depth: bwd(basicFwd, 72),
  },
  {
    name: 'Bottleneck (stride 2, projection shortcut)',
    build: () => new Bottleneck(4, 4, 2),
    input: f32Input([2, 6, 6, 4], 16),
    depth: bwd(bottleneckFwd, 72),
  },
  {
    name: 'CifarResNet-8 (width 2)',
    build: () => new CifarResNet({ depth: 8, width: 2, inChannels: 1, classes: 3 }),
    input: f32Input([2, 8, 8, 1], 17),
    depth: bwd(resnetFwd, 128),
  },
  {
    name: 'CausalSelfAttention',
    build: () => new CausalSelfAttention(8, 2, { seed: 9 }),
    input: f32Input([2, 5, 8], 18),
    depth: bwd(attnFwd(5), 10),
  },
  {
    name: 'TransformerBlock (pre-norm, RMSNorm, SwiGLU)',
    build: () => new TransformerBlock(8, 2, { seed: 10 }),
    input: f32Input([2, 5, 8], 19),
    depth: bwd(blockFwd(5), 10),
  },
  {
    name: 'Checkpointed(TransformerBlock)',
    build: () => new Checkpointed(new TransformerBlock(8, 2, { seed: 10 })),
    input: f32Input([2, 5, 8], 19),
    depth: bwd(blockFwd(5), 10),
  },
  {
    name: 'GPT (2 layers, checkpointed blocks)',
    build: () =>
      new GPT({
        vocab: 11,
        context: 6,
        dModel: 8,
        heads: 2,
        layers: 2,
        embeddingStd: 1,
        checkpointBlocks: true,
        seed: 20,
      }),
    input: tokens([2, 6], 11, 21),
    depth: bwd(gptFwd, 12),
  },
];

// ------------------------------------------------------------------------------------------ helpers

async function host(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

/** Rounds every f32 tensor of a js64 model to f32 in place, so both sides start from the same values. */
function roundToF32(model: Module): void {
  const rounded = new Map<string, Tensor>();
  for (const [name, t] of model.stateDict()) {
    const values = t.dataSync();
    rounded.set(
      name,
      tensor(t.dtype === 'f32' ? Float32Array.from(values) : Int32Array.from(values), t.shape, {
        backend: REF,
        dtype: t.dtype,
      }),
    );
  }
  model.loadStateDict(rounded);
  dispose([...rounded.values()]);
}

/** A copy of `ref` on `backend`: a fresh build moved by `to()`, then given ref's values by loadStateDict. */
function copyTo(family: Family, ref: Module, backend: string): Module {
  const m = family.build().to(backend);
  m.loadStateDict(ref.stateDict());
  return m;
}

interface Run {
  out: number[];
  /** Parameter gradients by state-dict name. */
  grads: Map<string, number[]>;
  /** Buffers (batch norm's running statistics) after the forward pass. */
  buffers: Map<string, number[]>;
}

/** Forward on `x`, then backward of Σ y ⊙ G for a fixed cotangent G (seeded, the same everywhere). */
async function forwardBackward(model: Module, x: Tensor): Promise<Run> {
  const params = model.namedParameters();
  // Dropout draws its masks on the host from the global stream: the same masks on every backend.
  setSeed(7);
  const y = tidy(() => {
    const y = model.forward(x);
    const g = tensor(normalValues(y.size, 0, 1, 99, 0), y.shape, { backend: x.backend });
    sum(mul(y, g)).backward();
    return y;
  });
  const run: Run = { out: await host(y), grads: new Map(), buffers: new Map() };
  y.dispose();
  for (const [name, p] of params) {
    if (!p.grad) throw new Error(`no gradient for ${name}`);
    run.grads.set(name, await host(p.grad));
    noGrad(() => p.grad?.dispose());
    p.grad = null;
  }
  for (const e of model.namedTensors()) if (!e.trainable) run.buffers.set(e.name, await host(e.tensor));
  return run;
}

/** The output in eval mode (no gradients, running statistics); the model is left in eval mode. */
async function evalForward(model: Module, x: Tensor): Promise<number[]> {
  model.eval();
  const y = tidy(() => noGrad(() => model.forward(x)));
  const out = await host(y);
  y.dispose();
  return out;
}

/**
 * Largest err/tol over the elements, tol_i = C·depth·u·(|r_i| + max|r|); throws with the first
 * element outside the bound.
 */
function compare(what: string, got: number[], want: number[], depth: number): number {
  expect(got.length).toBe(want.length);
  const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const tol = C * depth * U * (Math.abs(want[i]) + scale);
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol))
      throw new Error(`${what}[${i}] = ${got[i]}, js64 ${want[i]} (|err| ${err} > tol ${tol})`);
    if (tol > 0) worst = Math.max(worst, err / tol);
  }
  return worst;
}

const worstRatio = new Map<string, number>();

// ---------------------------------------------------------------------------------------- the tests

describe('@descent/models on the kernel backends against js64', () => {
  beforeAll(async () => {
    engine.registerBackend('wasm', () => createWasmBackend(), { replace: true });
    await engine.initBackend('wasm');
    if (BACKENDS.includes('webgpu')) {
      engine.registerBackend('webgpu', () => gpu.createWebGPUBackend(), { replace: true });
      await engine.initBackend('webgpu');
    }
    // Models are built on js64 (the reference) and copied to the backends.
    await setBackend(REF);
  }, 120_000);
  afterAll(async () => {
    await setBackend('js');
  });

  for (const family of FAMILIES) {
    it(`${family.name}: outputs, parameter gradients and buffers on ${BACKENDS.join(' and ')} follow js64`, async () => {
      const ref = family.build();
      roundToF32(ref);
      // Copies first: the reference forward below updates batch norm's running statistics.
      const before = BACKENDS.map((b) => engine.memory(b).tensors);
      const models = BACKENDS.map((b) => copyTo(family, ref, b));
      for (const [k, model] of models.entries())
        for (const [name, t] of model.stateDict())
          expect(await host(t), `${name} on ${BACKENDS[k]}: bit for bit`).toEqual(
            await host(ref.stateDict().get(name)!),
          );
      const x = family.input(REF);
      const want = await forwardBackward(ref, x);
      // With running statistics (batch norm), eval mode normalizes with them: check that path too.
      const wantEval = want.buffers.size > 0 ? await evalForward(ref, x) : null;
      x.dispose();
      // The comparison must be of something: a nonzero output and gradient for every parameter.
      expect(Math.max(...want.out.map(Math.abs))).toBeGreaterThan(0);
      for (const [name, g] of want.grads)
        expect(Math.max(...g.map(Math.abs)), `js64 gradient of ${name}`).toBeGreaterThan(0);
      for (const [k, backend] of BACKENDS.entries()) {
        const model = models[k];
        const xb = family.input(backend);
        const got = await forwardBackward(model, xb);
        const gotEval = wantEval ? await evalForward(model, xb) : null;
        xb.dispose();
        const at = `${family.name} on ${backend}`;
        let worst = compare(`${at}: output`, got.out, want.out, family.depth.fwd);
        for (const [name, g] of want.grads)
          worst = Math.max(worst, compare(`${at}: ∂/∂${name}`, got.grads.get(name)!, g, family.depth.bwd));
        for (const [name, b] of want.buffers)
          worst = Math.max(
            worst,
            compare(`${at}: buffer ${name}`, got.buffers.get(name)!, b, family.depth.fwd),
          );
        // Eval mode reads the running statistics, which carry one forward pass's error already.
        if (wantEval && gotEval)
          worst = Math.max(
            worst,
            compare(`${at}: eval-mode output`, gotEval, wantEval, 2 * family.depth.fwd),
          );
        worstRatio.set(`${family.name}/${backend}`, worst);
        model.dispose();
        expect(engine.memory(backend).tensors, `live tensors on ${backend}`).toBe(before[k]);
      }
      ref.dispose();
    }, 120_000);
  }
});

/*
 * Training. A tiny GPT learns to predict (token + 1) mod 11 at every position, full batch, 30 steps
 * of SGD with momentum. Step t's loss on an f32 backend is the float64 loss of parameters that took
 * t updates, each from a gradient off by its rounding depth D_b (plus ≤ 8 roundings in the update):
 * to first order, and while the short run does not amplify perturbations (small lr), the relative
 * errors add up, |L_t − L64_t| ≤ C·u·(D_f + t·(D_b + 8))·(1 + |L_t|) — the form the optimizer
 * tests use (benchmarks/test/optim-backends.test.ts), with the model's depth in place of the update's.
 */
const TRAIN_STEPS = 30;
const VOCAB = 11;
const trainConfig = { vocab: VOCAB, context: 6, dModel: 8, heads: 2, layers: 2, embeddingStd: 1, seed: 30 };
/** The GPT's depths, plus the cross-entropy (a log-softmax over the vocabulary) on top. */
const trainDepth = bwd(gptFwd + softmaxDepth(VOCAB), 12);
const sgdOptions = { lr: 0.1, momentum: 0.9 };

function trainData(backend: string): [Tensor, Tensor] {
  const ids = intValues(12, 0, VOCAB, 31, 0);
  return [
    tensor(ids, [2, 6], { backend, dtype: 'i32' }),
    tensor(
      ids.map((v) => (v + 1) % VOCAB),
      [12],
      { backend, dtype: 'i32' },
    ),
  ];
}

/** TRAIN_STEPS steps of `model` (already on `backend`); returns the losses and the optimizer. */
async function trainGPT(model: GPT, backend: string): Promise<{ losses: number[]; opt: SGD }> {
  const [x, y] = trainData(backend);
  const opt = new SGD(model.parameters(), sgdOptions);
  const losses: number[] = [];
  for (let t = 0; t < TRAIN_STEPS; t++) {
    const loss = tidy(() => {
      const l = crossEntropy(reshape(model.forward(x), [12, VOCAB]), y);
      l.backward();
      return l;
    });
    losses.push((await loss.data())[0]);
    loss.dispose();
    opt.step();
    opt.zeroGrad();
  }
  dispose([x, y]);
  return { losses, opt };
}

describe('@descent/models: training and checkpoints across backends', () => {
  let ref: GPT;
  beforeAll(async () => {
    await setBackend(REF);
    ref = new GPT(trainConfig);
    roundToF32(ref);
  });
  afterAll(async () => {
    ref.dispose();
    await setBackend('js');
  });

  /** A copy of the (untrained) reference GPT on `backend`. */
  const copyGPT = (backend: string) => {
    const m = new GPT(trainConfig).to(backend);
    m.loadStateDict(ref.stateDict());
    return m;
  };

  it(`a tiny GPT trained ${TRAIN_STEPS} SGD steps on ${BACKENDS.join(' and ')} follows the js64 loss curve`, async () => {
    const before = BACKENDS.map((b) => engine.memory(b).tensors);
    const models = [REF, ...BACKENDS].map(copyGPT);
    const runs = [];
    for (const [k, backend] of [REF, ...BACKENDS].entries()) runs.push(await trainGPT(models[k], backend));
    const want = runs[0].losses;
    // The curve moves far more than the tolerance: the comparison is of a real descent.
    expect(want[TRAIN_STEPS - 1]).toBeLessThan(0.5 * want[0]);
    for (const [k, backend] of BACKENDS.entries()) {
      const got = runs[k + 1].losses;
      let worst = 0;
      for (const [t, w] of want.entries()) {
        const tol = C * U * (trainDepth.fwd + t * (trainDepth.bwd + 8)) * (1 + Math.abs(w));
        const err = Math.abs(got[t] - w);
        if (!(err <= tol))
          throw new Error(
            `GPT training on ${backend}: loss at step ${t} = ${got[t]}, js64 ${w} (tol ${tol})`,
          );
        worst = Math.max(worst, err / tol);
      }
      worstRatio.set(`GPT training/${backend}`, worst);
    }
    for (const [k, run] of runs.entries()) {
      run.opt.dispose();
      models[k].dispose();
    }
    for (const [k, backend] of BACKENDS.entries())
      expect(engine.memory(backend).tensors, `live tensors on ${backend}`).toBe(before[k]);
  }, 120_000);

  it.runIf(BACKENDS.includes('webgpu'))(
    'a checkpoint saved on wasm mid-training (weights, SGD momentum, step) loads on WebGPU and gives the same outputs',
    async () => {
      const before = ['wasm', 'webgpu'].map((b) => engine.memory(b).tensors);
      const onWasm = copyGPT('wasm');
      const { opt: wasmOpt } = await trainGPT(onWasm, 'wasm');
      const bytes = await saveCheckpoint({ model: onWasm, optimizer: wasmOpt, step: TRAIN_STEPS });
      // A fresh GPT with other weights, moved to WebGPU, with its own optimizer.
      const onGpu = new GPT({ ...trainConfig, seed: 77 }).to('webgpu');
      const gpuOpt = new SGD(onGpu.parameters(), sgdOptions);
      const { step } = await loadCheckpoint(bytes, { model: onGpu, optimizer: gpuOpt });
      expect(step).toBe(TRAIN_STEPS);
      // Weights and the momentum buffers arrive bit for bit.
      for (const [name, t] of onWasm.stateDict())
        expect(await host(onGpu.stateDict().get(name)!), name).toEqual(await host(t));
      const wasmState = await hostState(wasmOpt.stateDict());
      expect(await hostState(gpuOpt.stateDict())).toEqual(wasmState);
      expect(JSON.stringify(wasmState)).toContain('momentum');
      // Same outputs: each backend is within the forward bound of the float64 result on these
      // weights, so the two are within twice that of each other.
      const outputs = [];
      for (const [model, backend] of [
        [onWasm, 'wasm'],
        [onGpu, 'webgpu'],
      ] as const) {
        const [x, y] = trainData(backend);
        const logits = tidy(() => model.forward(x));
        outputs.push(await host(logits));
        dispose([x, y, logits]);
      }
      const worst = compare('logits on webgpu vs wasm', outputs[1], outputs[0], 2 * trainDepth.fwd);
      worstRatio.set('checkpoint wasm → webgpu', worst);
      // And one more SGD step from the loaded state follows the same path on both.
      const next = [];
      for (const [model, opt, backend] of [
        [onWasm, wasmOpt, 'wasm'],
        [onGpu, gpuOpt, 'webgpu'],
      ] as const) {
        const [x, y] = trainData(backend);
        tidy(() => crossEntropy(reshape(model.forward(x), [12, VOCAB]), y).backward());
        opt.step();
        opt.zeroGrad();
        next.push(await host(model.head.weight));
        dispose([x, y]);
      }
      compare('head.weight after one more step, webgpu vs wasm', next[1], next[0], 2 * (trainDepth.bwd + 8));
      for (const o of [wasmOpt, gpuOpt]) o.dispose();
      onWasm.dispose();
      onGpu.dispose();
      expect(['wasm', 'webgpu'].map((b) => engine.memory(b).tensors)).toEqual(before);
    },
    120_000,
  );
});

describe('@descent/models: gradient checkpointing on the kernel backends', () => {
  beforeAll(async () => {
    await setBackend(REF);
  });
  afterAll(async () => {
    await setBackend('js');
  });

  it(`a checkpointed 4-block GPT on ${BACKENDS.join(' and ')}: the plain model's gradients bit for bit, a lower peak of live bytes`, async () => {
    const config = { vocab: 16, context: 8, dModel: 16, heads: 2, layers: 4, seed: 40 };
    for (const backend of BACKENDS) {
      const before = engine.memory(backend).tensors;
      const x = tokens([4, 8], 16, 41)(backend);
      const run = async (checkpointBlocks: boolean) => {
        const model = new GPT({ ...config, checkpointBlocks }).to(backend);
        const base = engine.memory(backend).bytes;
        let peak = 0;
        // memory() after every kernel: the high-water mark of live tensor bytes during the step.
        const stop = engine.addKernelListener(() => {
          peak = Math.max(peak, engine.memory(backend).bytes - base);
        });
        try {
          tidy(() => sum(model.forward(x)).backward());
        } finally {
          stop();
        }
        const grads = [];
        for (const p of model.parameters()) grads.push(await host(p.grad!));
        model.dispose();
        return { peak, grads };
      };
      const plain = await run(false);
      const ckpt = await run(true);
      // Recomputation runs the same kernels on the same values, so the gradients are identical.
      expect(ckpt.grads).toEqual(plain.grads);
      // Four blocks' activations kept vs one block's at a time.
      expect(ckpt.peak).toBeLessThan(0.6 * plain.peak);
      worstRatio.set(`checkpointing peak ratio/${backend}`, ckpt.peak / plain.peak);
      x.dispose();
      expect(engine.memory(backend).tensors, `live tensors on ${backend}`).toBe(before);
    }
  }, 120_000);
});

/** An optimizer state dict with its tensors read to host arrays (and disposed: they are copies). */
async function hostState(state: unknown): Promise<unknown> {
  if (state instanceof Object && 'dataSync' in state && 'dispose' in state) {
    const t = state as Tensor;
    const v = await host(t);
    t.dispose();
    return { tensor: v, shape: [...t.shape] };
  }
  if (Array.isArray(state)) return Promise.all(state.map(hostState));
  if (state && typeof state === 'object')
    return Object.fromEntries(
      await Promise.all(Object.entries(state).map(async ([k, v]) => [k, await hostState(v)] as const)),
    );
  return state;
}

afterAll(() => {
  console.log(
    `[models-backends] largest |err|/tol (and checkpointing's peak ratio): ${[...worstRatio].map(([k, v]) => `${k} ${v.toFixed(3)}`).join('; ')}`,
  );
});
