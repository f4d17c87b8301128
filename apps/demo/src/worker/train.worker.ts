/// <reference lib="webworker" />
/**
 * The training worker: owns the model, the optimizer and the data on one @descent/core backend and
 * runs the training loop off the page's main thread. The page talks to it with the messages of
 * protocol.ts; every `logEvery` steps it reads the loss back and posts metrics.
 */
import {
  argmax,
  assign,
  crossEntropy,
  dispose,
  equal,
  getBackend,
  initBackend,
  intValues,
  mean,
  memory,
  noGrad,
  normalValues,
  setBackend,
  slice,
  softmax,
  type Tensor,
  tensor,
  tidy,
} from '@descent/core';
import { loadCheckpoint, readSafetensors, saveCheckpoint } from '@descent/models';
import { clipGradNorm, LRScheduler } from '@descent/optim';
import { backendById } from '../registry/backends.js';
import { modelById } from '../registry/models.js';
import { makeOptimizer, optimizerById } from '../registry/optimizers.js';
import { scheduleById } from '../registry/schedules.js';
import { type TaskEntry, taskById } from '../registry/tasks.js';
import type { ModelLike, OptimizerLike, Split, TaskView } from '../registry/types.js';
import type { Event, LandscapeResult, Metrics, ReadyInfo, Reply, Request, TrainConfig } from './protocol.js';

const post = (e: Event | Reply, transfer: Transferable[] = []) => self.postMessage(e, { transfer });

/** Inputs and labels kept on the backend for the whole run. */
interface OnDevice {
  x: Tensor;
  y: Tensor;
}

/** Everything one training run holds; disposed as a whole on re-init. */
interface Run {
  config: TrainConfig;
  task: TaskEntry;
  view: TaskView;
  model: ModelLike;
  opt: OptimizerLike;
  scheduler: LRScheduler;
  /** Full-batch tasks train on `evalSets.train` itself. */
  fullBatch: boolean;
  /** Fixed sets the metrics are measured on (the whole split, or its first EVAL_ROWS rows). */
  evalSets: { train: OnDevice; val: OnDevice };
  /** Spirals/circles: the decision-boundary grid points. */
  grid?: Tensor;
  step: number;
}

const BOUNDARY_RES = 64;
const BOUNDARY_EXTENT = 1.3;
const DIGITS_SHOWN = 32;
/** Rows of a minibatch task's splits that the loss and accuracy curves are measured on. */
const EVAL_ROWS = 512;

let run: Run | null = null;
let running = false;
/** `run` stops when the step count reaches this. */
let until = Number.POSITIVE_INFINITY;

// ------------------------------------------------------------------------------ setup

async function init(config: TrainConfig): Promise<ReadyInfo> {
  pause();
  disposeRun();
  const backend = backendById(config.backend);
  const availability = await backend.probe();
  if (!availability.available)
    throw new Error(`backend '${config.backend}' is not available: ${availability.reason}`);
  backend.register();
  await initBackend(config.backend);
  await setBackend(config.backend);

  const task = taskById(config.task);
  const data = await task.make(config.seed);
  const modelEntry = modelById(config.model);
  const view = data.views.find((v) => modelEntry.inputs.includes(v.input));
  if (!view)
    throw new Error(
      `model '${modelEntry.label}' reads ${modelEntry.inputs.join('/')} inputs; task '${task.label}' has ${data.views.map((v) => v.input).join('/')}`,
    );
  const model = modelEntry.make(view, data, config.modelSettings, config.seed);
  let opt: OptimizerLike;
  try {
    opt = makeOptimizer(config.optimizer, model.module.parameters(), config.optimizerSettings);
  } catch (e) {
    model.module.dispose();
    throw e;
  }
  const rows = (split: Split) =>
    task.batch === 0 ? undefined : Int32Array.from({ length: Math.min(split.n, EVAL_ROWS) }, (_, i) => i);
  const onDevice = (split: Split): OnDevice => {
    const r = rows(split);
    return {
      x: upload(split, view, r).keep(),
      y: (r
        ? tensor(
            Int32Array.from(r, (i) => split.y[i]),
            [r.length],
          )
        : tensor(split.y, [split.n])
      ).keep(),
    };
  };
  const r: Run = {
    config,
    task,
    view,
    model,
    opt,
    scheduler: new LRScheduler(opt, scheduleById(config.schedule).make(config.steps)),
    fullBatch: task.batch === 0,
    evalSets: { train: onDevice(view.train), val: onDevice(view.val) },
    step: 0,
  };
  if (task.view === 'boundary') r.grid = boundaryGrid().keep();
  run = r;

  const info: ReadyInfo = {
    config,
    backendName: config.backend,
    backendInfo: getBackend(config.backend).info?.() ?? {},
    parameterCount: model.module.parameterCount(),
    parameterNames: model.module.namedParameters().map(([n]) => n),
    classes: data.classes,
    view: task.view,
  };
  if (task.view === 'boundary') info.points = { x: view.train.x as Float32Array, y: view.train.y };
  if (task.view === 'digits') info.digits = digitSample(view);
  return info;
}

function disposeRun(): void {
  if (!run) return;
  run.opt.zeroGrad();
  run.opt.dispose();
  run.model.module.dispose();
  for (const s of Object.values(run.evalSets)) dispose(s);
  run.grid?.dispose();
  run = null;
}

/** A split's inputs (or the given rows of it) as a tensor [n, ...inputShape]: f32 features/images, i32 tokens. */
function upload(split: Split, view: TaskView, rows?: Int32Array): Tensor {
  const per = view.inputShape.reduce((a, b) => a * b, 1);
  if (!rows) return tensor(split.x, [split.n, ...view.inputShape]);
  const x =
    split.x instanceof Int32Array ? new Int32Array(rows.length * per) : new Float32Array(rows.length * per);
  rows.forEach((r, i) => {
    x.set(split.x.subarray(r * per, (r + 1) * per), i * per);
  });
  return tensor(x, [rows.length, ...view.inputShape]);
}

function boundaryGrid(): Tensor {
  const g = new Float32Array(BOUNDARY_RES * BOUNDARY_RES * 2);
  for (let i = 0; i < BOUNDARY_RES; i++) {
    for (let j = 0; j < BOUNDARY_RES; j++) {
      // row i = y from top (+extent) to bottom (−extent), column j = x from left to right
      const k = (i * BOUNDARY_RES + j) * 2;
      g[k] = -BOUNDARY_EXTENT + (2 * BOUNDARY_EXTENT * (j + 0.5)) / BOUNDARY_RES;
      g[k + 1] = BOUNDARY_EXTENT - (2 * BOUNDARY_EXTENT * (i + 0.5)) / BOUNDARY_RES;
    }
  }
  return tensor(g, [BOUNDARY_RES * BOUNDARY_RES, 2]);
}

function digitSample(view: TaskView): ReadyInfo['digits'] {
  const [h, w] = view.inputShape;
  const count = Math.min(DIGITS_SHOWN, view.val.n);
  return {
    images: Float32Array.from((view.val.x as Float32Array).subarray(0, count * h * w)),
    labels: view.val.y.slice(0, count),
    size: h,
    count,
  };
}

// ------------------------------------------------------------------------------ training

function current(): Run {
  if (!run) throw new Error('no model yet: send init first');
  return run;
}

/** One step's outputs, kept past the step's tidy scope and read back only when metrics are due. */
interface StepOut {
  loss: Tensor;
  /** Global gradient norm before clipping (measured when clipping, or when `wantNorm`). */
  gradNorm: Tensor | null;
}

/** One optimizer step (with gradient clipping when configured). */
function trainStep(r: Run, wantNorm: boolean): StepOut {
  const out = tidy((): StepOut => {
    r.opt.zeroGrad();
    let x: Tensor;
    let y: Tensor;
    if (r.fullBatch) {
      ({ x, y } = r.evalSets.train);
    } else {
      const rows = intValues(r.task.batch, 0, r.view.train.n, r.config.seed, 1000 + r.step);
      x = upload(r.view.train, r.view, rows);
      y = tensor(
        Int32Array.from(rows, (i) => r.view.train.y[i]),
        [rows.length],
      );
    }
    const loss = crossEntropy(r.model.forward(x), y);
    loss.backward();
    // clipGradNorm scales the gradients to at most `clip` and returns their norm before; with an
    // infinite bound it only measures
    const clip = r.config.clip > 0 ? r.config.clip : wantNorm ? Number.POSITIVE_INFINITY : 0;
    const gradNorm = clip > 0 ? clipGradNorm(r.model.module.parameters(), clip) : null;
    if (optimizerById(r.config.optimizer).closure)
      r.opt.step(() => crossEntropy(r.model.forward(x), y).backward());
    else r.opt.step();
    return { loss, gradNorm };
  });
  r.scheduler.step();
  return out;
}

/** Loss and accuracy of the model on a fixed set, in eval mode (batch norm uses running statistics). */
async function evaluate(r: Run, which: 'train' | 'val'): Promise<{ loss: number; accuracy: number }> {
  const { x, y } = r.evalSets[which];
  r.model.module.eval();
  try {
    const [lossT, accT] = noGrad(() =>
      tidy(() => {
        const logits = r.model.forward(x);
        return [crossEntropy(logits, y), mean(equal(argmax(logits, -1), y))];
      }),
    );
    const [loss, accuracy] = [(await lossT.data())[0], (await accT.data())[0]];
    dispose(lossT, accT);
    return { loss, accuracy };
  } finally {
    r.model.module.train();
  }
}

async function metrics(
  r: Run,
  trainLoss: number,
  stepsPerSecond: number,
  gradNorm = Number.NaN,
): Promise<Metrics> {
  const [train, val] = [await evaluate(r, 'train'), await evaluate(r, 'val')];
  const mem = memory();
  return {
    step: r.step,
    loss: Number.isFinite(trainLoss) ? trainLoss : train.loss,
    accuracy: train.accuracy,
    valLoss: val.loss,
    valAccuracy: val.accuracy,
    lr: r.opt.groups[0].options.lr,
    gradNorm,
    stepsPerSecond,
    bytes: mem.bytes,
    tensors: mem.tensors,
    backendBytes: mem.backend.bytes,
  };
}

async function postPictures(r: Run): Promise<void> {
  if (r.task.view === 'boundary' && r.grid) {
    r.model.module.eval();
    const p = noGrad(() => tidy(() => softmax(r.model.forward(r.grid!), -1)));
    r.model.module.train();
    const all = (await p.data()) as Float32Array;
    p.dispose();
    const probs = new Float32Array(BOUNDARY_RES * BOUNDARY_RES);
    for (let i = 0; i < probs.length; i++) probs[i] = all[2 * i + 1];
    post({ type: 'boundary', res: BOUNDARY_RES, extent: BOUNDARY_EXTENT, probs }, [probs.buffer]);
  } else if (r.task.view === 'digits') {
    const count = Math.min(DIGITS_SHOWN, r.view.val.n);
    r.model.module.eval();
    const pred = noGrad(() => tidy(() => argmax(r.model.forward(slice(r.evalSets.val.x, [0], [count])), -1)));
    r.model.module.train();
    const preds = Int32Array.from((await pred.data()) as Int32Array);
    pred.dispose();
    post({ type: 'predictions', preds }, [preds.buffer]);
  }
}

/** Lets queued messages (pause, save …) run between chunks of steps without a timer clamp. */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    ch.port2.postMessage(null);
  });
}

const PICTURE_EVERY = 5; // metric rounds between decision-boundary / prediction redraws

async function loop(): Promise<void> {
  const r = current();
  let rounds = 0;
  let lastSps = 0;
  post({ type: 'running', running: true, step: r.step });
  try {
    while (running && run === r && r.step < until) {
      const t0 = performance.now();
      const first = r.step;
      let out: StepOut | null = null;
      do {
        if (out) dispose(out.loss, out.gradNorm);
        const last = (r.step + 1) % r.config.logEvery === 0 || r.step + 1 >= until;
        out = trainStep(r, last);
        r.step++;
      } while (r.step % r.config.logEvery !== 0 && r.step < until);
      const value = (await out.loss.data())[0];
      const gradNorm = out.gradNorm ? (await out.gradNorm.data())[0] : Number.NaN;
      dispose(out.loss, out.gradNorm);
      const sps = ((r.step - first) * 1000) / Math.max(1e-3, performance.now() - t0);
      lastSps = sps;
      if (!Number.isFinite(value)) {
        running = false;
        post({
          type: 'error',
          message: `the loss became ${value} at step ${r.step} (learning rate too high?)`,
        });
      }
      post({ type: 'metrics', metrics: await metrics(r, value, sps, gradNorm) });
      if (++rounds % PICTURE_EVERY === 0 || r.step >= until) await postPictures(r);
      await yieldToEvents();
    }
  } finally {
    running = false;
    if (run === r) {
      // On stopping, report the loss at the weights as they are now (the per-step loss is the
      // loss before that step's update), so a paused run shows what a checkpoint would restore.
      try {
        post({ type: 'metrics', metrics: await metrics(r, Number.NaN, lastSps) });
        await postPictures(r);
      } finally {
        post({ type: 'running', running: false, step: r.step });
      }
    }
  }
}

function pause(): void {
  running = false;
}

// ------------------------------------------------------------------------------ checkpoints

/** Model weights, optimizer state and the schedule's position, as safetensors bytes (@descent/models). */
async function save(): Promise<ArrayBuffer> {
  const r = current();
  const bytes = await saveCheckpoint({
    model: r.model.module,
    optimizer: r.opt,
    step: r.step,
    metadata: {
      'demo.config': JSON.stringify(r.config),
      'demo.scheduler': JSON.stringify(r.scheduler.stateDict()),
    },
  });
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Restores a checkpoint: re-initializes with its config when that differs, then loads it. */
async function load(buffer: ArrayBuffer): Promise<number> {
  const header = readSafetensors(new Uint8Array(buffer));
  const savedConfig = header.metadata['demo.config'];
  if (savedConfig) {
    const saved = JSON.parse(savedConfig) as TrainConfig;
    const same =
      run && JSON.stringify({ ...run.config, backend: '' }) === JSON.stringify({ ...saved, backend: '' });
    if (!same)
      post({ type: 'ready', info: await init({ ...saved, backend: run?.config.backend ?? saved.backend }) });
  }
  const r = current();
  const { step, metadata } = await loadCheckpoint(buffer, { model: r.model.module, optimizer: r.opt });
  if (metadata['demo.scheduler']) r.scheduler.loadStateDict(JSON.parse(metadata['demo.scheduler']));
  r.step = step;
  post({ type: 'metrics', metrics: await metrics(r, Number.NaN, 0) });
  await postPictures(r);
  return step;
}

/** Overwrites each parameter's values in place (`assign`), from host arrays in parameter order. */
function setWeights(params: Tensor[], values: Float32Array[]): void {
  noGrad(() =>
    tidy(() => {
      for (let k = 0; k < params.length; k++) assign(params[k], tensor(values[k], [...params[k].shape]));
    }),
  );
}

// ------------------------------------------------------------------------------ loss landscape

/**
 * A random direction with the filter normalization of Li et al. (2018): each filter (the slice of
 * a weight along its last, output axis) gets the norm of the matching filter of the weights, so
 * directions are comparable across layers whatever their scale; 1-D parameters (biases) get zero.
 */
function filterNormalizedDirection(
  weights: Float32Array[],
  shapes: number[][],
  seed: number,
): Float32Array[] {
  return weights.map((w, k) => {
    const shape = shapes[k];
    if (shape.length < 2) return new Float32Array(w.length);
    const d = normalValues(w.length, 0, 1, seed, k + 1);
    const outs = shape[shape.length - 1];
    for (let f = 0; f < outs; f++) {
      let wn = 0;
      let dn = 0;
      for (let i = f; i < w.length; i += outs) {
        wn += w[i] * w[i];
        dn += d[i] * d[i];
      }
      const scale = Math.sqrt(wn) / (Math.sqrt(dn) + 1e-10);
      for (let i = f; i < w.length; i += outs) d[i] *= scale;
    }
    return d;
  });
}

async function landscape(
  span: number,
  lineRes: number,
  planeRes: number,
  seed: number,
): Promise<LandscapeResult> {
  const r = current();
  if (running) throw new Error('pause training before computing the loss landscape');
  const params = r.model.module.parameters();
  const w0 = await Promise.all(params.map(async (p) => Float32Array.from((await p.data()) as Float32Array)));
  const shapes = params.map((p) => [...p.shape]);
  const d1 = filterNormalizedDirection(w0, shapes, seed);
  const d2 = filterNormalizedDirection(w0, shapes, seed + 1);
  const lossAt = async (a: number, b: number): Promise<number> => {
    setWeights(
      params,
      w0.map((w, k) => {
        const v = new Float32Array(w.length);
        for (let i = 0; i < v.length; i++) v[i] = w[i] + a * d1[k][i] + b * d2[k][i];
        return v;
      }),
    );
    return (await evaluate(r, 'train')).loss;
  };
  const total = lineRes + planeRes * planeRes;
  let done = 0;
  const tick = async () => {
    if (++done % 16 === 0) {
      post({ type: 'progress', done, total });
      await yieldToEvents();
    }
  };
  try {
    const alphas = Array.from({ length: lineRes }, (_, i) => -span + (2 * span * i) / (lineRes - 1));
    const line: number[] = [];
    for (const a of alphas) {
      line.push(await lossAt(a, 0));
      await tick();
    }
    const grid: number[] = [];
    for (let i = 0; i < planeRes; i++) {
      for (let j = 0; j < planeRes; j++) {
        const a = -span + (2 * span * j) / (planeRes - 1);
        const b = -span + (2 * span * i) / (planeRes - 1);
        grid.push(await lossAt(a, b));
        await tick();
      }
    }
    return { span, alphas, line, res: planeRes, grid, center: 0 };
  } finally {
    // Put the trained weights back whatever happened.
    setWeights(params, w0);
    post({ type: 'progress', done: total, total });
  }
}

// ------------------------------------------------------------------------------ dispatch

self.onmessage = async (ev: MessageEvent<Request>) => {
  const msg = ev.data;
  try {
    switch (msg.type) {
      case 'init': {
        const info = await init(msg.config);
        post({ type: 'ready', info });
        const r = current();
        post({ type: 'metrics', metrics: await metrics(r, Number.NaN, 0) });
        await postPictures(r);
        post({ type: 'done', id: msg.id });
        break;
      }
      case 'run': {
        if (running) {
          until = msg.until ?? Number.POSITIVE_INFINITY;
          post({ type: 'done', id: msg.id });
          break;
        }
        until = msg.until ?? Number.POSITIVE_INFINITY;
        running = true;
        post({ type: 'done', id: msg.id });
        await loop();
        break;
      }
      case 'pause':
        pause();
        post({ type: 'done', id: msg.id });
        break;
      case 'save': {
        const buffer = await save();
        post({ type: 'done', id: msg.id, value: buffer }, [buffer]);
        break;
      }
      case 'load': {
        post({ type: 'done', id: msg.id, value: await load(msg.buffer) });
        break;
      }
      case 'evaluate': {
        const r = current();
        const [train, val] = [await evaluate(r, 'train'), await evaluate(r, 'val')];
        post({ type: 'done', id: msg.id, value: { step: r.step, train, val } });
        break;
      }
      case 'landscape': {
        const value = await landscape(msg.span, msg.lineRes, msg.planeRes, msg.seed);
        post({ type: 'done', id: msg.id, value });
        break;
      }
    }
  } catch (e) {
    running = false;
    const message = e instanceof Error ? e.message : String(e);
    if (msg.type === 'run') post({ type: 'error', message });
    else post({ type: 'failed', id: msg.id, message });
  }
};
