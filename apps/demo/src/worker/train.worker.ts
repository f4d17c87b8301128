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
  equal,
  getBackend,
  initBackend,
  intValues,
  mean,
  memory,
  noGrad,
  normalValues,
  setBackend,
  softmax,
  type Tensor,
  tensor,
  tidy,
} from '@descent/core';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../lib/safetensors.js';
import { backendById } from '../registry/backends.js';
import { modelById } from '../registry/models.js';
import { makeOptimizer } from '../registry/optimizers.js';
import { scheduleById } from '../registry/schedules.js';
import { taskById } from '../registry/tasks.js';
import type { ModelLike, OptimizerLike, Split, TaskData } from '../registry/types.js';
import type { Event, LandscapeResult, Metrics, ReadyInfo, Reply, Request, TrainConfig } from './protocol.js';

const post = (e: Event | Reply, transfer: Transferable[] = []) => self.postMessage(e, { transfer });

/** Everything one training run holds; disposed as a whole on re-init. */
interface Run {
  config: TrainConfig;
  data: TaskData;
  model: ModelLike;
  opt: OptimizerLike;
  baseLr: number;
  /** Full-batch tasks keep their inputs on the backend for the whole run. */
  full?: { x: Tensor; y: Tensor; valX: Tensor; valY: Tensor };
  /** Spirals: the decision-boundary grid points. */
  grid?: Tensor;
  step: number;
  batchSeed: number;
}

const BOUNDARY_RES = 64;
const BOUNDARY_EXTENT = 1.3;
const DIGITS_SHOWN = 32;

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
  if (!modelEntry.inputs.includes(data.input))
    throw new Error(`model '${modelEntry.label}' does not read ${data.input} inputs (task '${task.label}')`);
  const model = modelEntry.make(data, config.modelSettings, config.seed);
  const opt = makeOptimizer(config.optimizer, model.parameters(), config.optimizerSettings);
  const r: Run = {
    config,
    data,
    model,
    opt,
    baseLr: opt.groups[0].options.lr,
    step: 0,
    batchSeed: config.seed,
  };
  if (task.batch === 0) {
    r.full = {
      x: upload(data.train, data).keep(),
      y: tensor(data.train.y, [data.train.n]).keep(),
      valX: upload(data.val, data).keep(),
      valY: tensor(data.val.y, [data.val.n]).keep(),
    };
  }
  if (task.view === 'boundary') r.grid = boundaryGrid().keep();
  run = r;

  const params = model.parameters();
  const info: ReadyInfo = {
    config,
    backendName: config.backend,
    backendInfo: getBackend(config.backend).info?.() ?? {},
    parameterCount: params.reduce((s, p) => s + p.size, 0),
    parameterNames: model.names(),
    classes: data.classes,
    view: task.view,
  };
  if (task.view === 'boundary') info.points = { x: data.train.x as Float32Array, y: data.train.y };
  if (task.view === 'digits') info.digits = digitSample(data);
  return info;
}

function disposeRun(): void {
  if (!run) return;
  run.opt.zeroGrad();
  run.opt.dispose();
  for (const p of run.model.parameters()) p.dispose();
  if (run.full) for (const t of Object.values(run.full)) t.dispose();
  run.grid?.dispose();
  run = null;
}

/** A split's inputs as a tensor of shape [n, ...inputShape] (f32 features/images, i32 tokens). */
function upload(split: Split, data: TaskData, rows?: Int32Array): Tensor {
  const per = data.inputShape.reduce((a, b) => a * b, 1);
  if (!rows) return tensor(split.x, [split.n, ...data.inputShape]);
  const x =
    split.x instanceof Int32Array ? new Int32Array(rows.length * per) : new Float32Array(rows.length * per);
  rows.forEach((r, i) => {
    x.set(split.x.subarray(r * per, (r + 1) * per), i * per);
  });
  return tensor(x, [rows.length, ...data.inputShape]);
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

function digitSample(data: TaskData): ReadyInfo['digits'] {
  const [h, w] = data.inputShape;
  const count = Math.min(DIGITS_SHOWN, data.val.n);
  return {
    images: Float32Array.from((data.val.x as Float32Array).subarray(0, count * h * w)),
    labels: data.val.y.slice(0, count),
    size: h,
    count,
  };
}

// ------------------------------------------------------------------------------ training

function current(): Run {
  if (!run) throw new Error('no model yet: send init first');
  return run;
}

/** One optimizer step; returns the (kept) loss tensor, read back only when metrics are due. */
function trainStep(r: Run): Tensor {
  const task = taskById(r.config.task);
  r.opt.groups.forEach((g) => {
    g.options.lr = r.baseLr * scheduleById(r.config.schedule).factor(r.step, r.config.steps);
  });
  return tidy(() => {
    r.opt.zeroGrad();
    let x: Tensor;
    let y: Tensor;
    if (r.full) {
      x = r.full.x;
      y = r.full.y;
    } else {
      const rows = batchRows(r, task.batch);
      x = upload(r.data.train, r.data, rows);
      y = tensor(
        Int32Array.from(rows, (i) => r.data.train.y[i]),
        [rows.length],
      );
    }
    const loss = crossEntropy(r.model.forward(x), y);
    loss.backward();
    r.opt.step();
    return loss;
  });
}

/** A seeded minibatch of row indices (a fresh draw per step, reproducible per run seed). */
function batchRows(r: Run, batch: number): Int32Array {
  return intValues(batch, 0, r.data.train.n, r.batchSeed, 1000 + r.step);
}

/** Loss and accuracy of the model on a split (no gradients recorded). */
async function evaluate(r: Run, which: 'train' | 'val'): Promise<{ loss: number; accuracy: number }> {
  const split = which === 'train' ? r.data.train : r.data.val;
  const [lossT, accT] = noGrad(() =>
    tidy(() => {
      const x = r.full ? (which === 'train' ? r.full.x : r.full.valX) : upload(split, r.data);
      const y = r.full ? (which === 'train' ? r.full.y : r.full.valY) : tensor(split.y, [split.n]);
      const logits = r.model.forward(x);
      return [crossEntropy(logits, y), mean(equal(argmax(logits, -1), y))];
    }),
  );
  const [loss, accuracy] = [(await lossT.data())[0], (await accT.data())[0]];
  lossT.dispose();
  accT.dispose();
  return { loss, accuracy };
}

async function metrics(r: Run, trainLoss: number, stepsPerSecond: number): Promise<Metrics> {
  const [train, val] = [await evaluate(r, 'train'), await evaluate(r, 'val')];
  const mem = memory();
  return {
    step: r.step,
    loss: Number.isFinite(trainLoss) ? trainLoss : train.loss,
    accuracy: train.accuracy,
    valLoss: val.loss,
    valAccuracy: val.accuracy,
    lr: r.opt.groups[0].options.lr,
    stepsPerSecond,
    bytes: mem.bytes,
    tensors: mem.tensors,
    backendBytes: mem.backend.bytes,
  };
}

async function postPictures(r: Run): Promise<void> {
  const task = taskById(r.config.task);
  if (task.view === 'boundary' && r.grid) {
    const p = noGrad(() => tidy(() => softmax(r.model.forward(r.grid!), -1)));
    const all = (await p.data()) as Float32Array;
    p.dispose();
    const probs = new Float32Array(BOUNDARY_RES * BOUNDARY_RES);
    for (let i = 0; i < probs.length; i++) probs[i] = all[2 * i + 1];
    post({ type: 'boundary', res: BOUNDARY_RES, extent: BOUNDARY_EXTENT, probs }, [probs.buffer]);
  } else if (task.view === 'digits') {
    const count = Math.min(DIGITS_SHOWN, r.data.val.n);
    const rows = Int32Array.from({ length: count }, (_, i) => i);
    const pred = noGrad(() => tidy(() => argmax(r.model.forward(upload(r.data.val, r.data, rows)), -1)));
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
      let loss: Tensor | null = null;
      do {
        loss?.dispose();
        loss = trainStep(r);
        r.step++;
      } while (r.step % r.config.logEvery !== 0 && r.step < until);
      const value = (await loss.data())[0];
      loss.dispose();
      const sps = ((r.step - first) * 1000) / Math.max(1e-3, performance.now() - t0);
      lastSps = sps;
      if (!Number.isFinite(value)) {
        running = false;
        post({
          type: 'error',
          message: `the loss became ${value} at step ${r.step} (learning rate too high?)`,
        });
      }
      post({ type: 'metrics', metrics: await metrics(r, value, sps) });
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

/** Overwrites each parameter's values in place (`assign`), from host arrays in parameter order. */
function setWeights(params: Tensor[], values: Float32Array[]): void {
  noGrad(() =>
    tidy(() => {
      for (let k = 0; k < params.length; k++) assign(params[k], tensor(values[k], [...params[k].shape]));
    }),
  );
}

async function save(): Promise<ArrayBuffer> {
  const r = current();
  const names = r.model.names();
  const arrays: NamedArray[] = [];
  const params = r.model.parameters();
  for (let i = 0; i < params.length; i++) {
    const data = Float32Array.from((await params[i].data()) as Float32Array);
    arrays.push({ name: names[i], shape: [...params[i].shape], data });
  }
  return encodeSafetensors(arrays, {
    format: 'descent-demo',
    step: String(r.step),
    config: JSON.stringify(r.config),
  });
}

/** Restores a checkpoint: re-initializes with its config when that differs, then loads the weights. */
async function load(buffer: ArrayBuffer): Promise<{ info?: ReadyInfo; step: number }> {
  const { arrays, metadata } = decodeSafetensors(buffer);
  let info: ReadyInfo | undefined;
  if (metadata.config) {
    const saved = JSON.parse(metadata.config) as TrainConfig;
    const same =
      run && JSON.stringify({ ...run.config, backend: '' }) === JSON.stringify({ ...saved, backend: '' });
    if (!same) {
      info = await init({ ...saved, backend: run?.config.backend ?? saved.backend });
      post({ type: 'ready', info });
    }
  }
  const r = current();
  const names = r.model.names();
  const params = r.model.parameters();
  const byName = new Map(arrays.map((a) => [a.name, a]));
  // Check everything before changing anything, so a bad file leaves the model as it was.
  for (let i = 0; i < params.length; i++) {
    const a = byName.get(names[i]);
    if (!a)
      throw new Error(`checkpoint has no tensor '${names[i]}' (it has ${[...byName.keys()].join(', ')})`);
    if (a.shape.join() !== params[i].shape.join())
      throw new Error(
        `checkpoint tensor '${names[i]}' has shape [${a.shape}], the model expects [${params[i].shape}]`,
      );
  }
  setWeights(
    params,
    names.map((n) => byName.get(n)!.data as Float32Array),
  );
  r.step = Number(metadata.step ?? 0);
  post({ type: 'metrics', metrics: await metrics(r, Number.NaN, 0) });
  await postPictures(r);
  return { info, step: r.step };
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
  const params = r.model.parameters();
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
        const value = await load(msg.buffer);
        post({ type: 'done', id: msg.id, value: value.step });
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
