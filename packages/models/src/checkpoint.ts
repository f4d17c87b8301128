/**
 * Checkpoints: a model's parameters and buffers, optionally an optimizer's state, and metadata (the
 * step count, anything else as strings), in one safetensors file. Browser-safe: it produces and
 * consumes bytes (`Uint8Array`, or a `Blob` via `checkpointBlob`); the Node file helpers, with atomic
 * writes, are in `@descent/models/node`.
 *
 * Layouts. By default tensors are stored as descent holds them. With `layout: 'pytorch'` they are
 * written as PyTorch's `state_dict` holds them, and read back from that layout:
 *
 *   descent                          PyTorch
 *   Linear.weight   [in, out]        nn.Linear.weight  [out, in]          (transposed)
 *   Conv2d.weight   [kh, kw, in, out] nn.Conv2d.weight [out, in, kh, kw]  (axes permuted)
 *   BatchNorm2d     weight, bias, running_mean, running_var, num_batches_tracked (I64 in PyTorch)
 *   Embedding, LayerNorm, RMSNorm: same layout and names
 *
 * Names are the modules' state-dict names (`layers.0.weight`, `blocks.1.attn.q.weight`), which are
 * PyTorch's for a module tree with the same field names. Activations stay NHWC on descent's side:
 * only weights are converted.
 *
 * Optimizer state: whatever the optimizer's `stateDict()` returns (any JSON-like tree holding
 * tensors) is stored as tensors named `optimizer/<path>` plus the tree's JSON (with tensor
 * references) in the metadata key `descent.optimizer`; `loadStateDict` receives the same tree.
 *
 * Loading is all-or-nothing: the header and every tensor are decoded and checked against the model
 * (names, dtypes, shapes) before anything is assigned, and if the optimizer refuses its state the
 * model's previous values are put back.
 */
import { DescentError, detach, dispose, type Tensor, tensor } from '@descent/core';
import type { Layout, Module } from './module.js';
import { type HostTensor, readSafetensors, type TensorToWrite, writeSafetensors } from './safetensors.js';

/** The part of an optimizer a checkpoint uses (@descent/optim's `Optimizer` has it). */
export interface StatefulOptimizer {
  stateDict(): unknown;
  loadStateDict(state: unknown): void;
}

export interface SaveOptions {
  model: Module;
  optimizer?: StatefulOptimizer;
  /** Training steps done so far (stored as metadata `descent.step`). */
  step?: number;
  /** Extra string metadata. */
  metadata?: Record<string, string>;
  /** Tensor layout of the file (default 'descent'). */
  layout?: 'descent' | 'pytorch';
}

export interface LoadOptions {
  model: Module;
  optimizer?: StatefulOptimizer;
  /** Layout the file is in (default: what its metadata says, else 'descent'). */
  layout?: 'descent' | 'pytorch';
  /** Require every model tensor in the file and nothing unknown (default true). */
  strict?: boolean;
  maxHeaderBytes?: number;
}

export interface LoadedCheckpoint {
  step: number;
  metadata: Record<string, string>;
}

const OPT_PREFIX = 'optimizer/';
const META_FORMAT = 'descent.format';
const META_STEP = 'descent.step';
const META_LAYOUT = 'descent.layout';
const META_OPT = 'descent.optimizer';

// ------------------------------------------------------------------------------- layout conversion

/** Permutes a row-major host array: out[axes permuted by `perm`] (out.shape[i] = shape[perm[i]]). */
function permuteHost<T extends Float32Array | Int32Array>(
  data: T,
  shape: readonly number[],
  perm: readonly number[],
): T {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < data.length; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += idx[i] * inStrides[perm[i]];
    out[o] = data[src];
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < outShape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** descent → PyTorch axis order, per layout (PyTorch → descent is the inverse). */
const TO_TORCH: Record<Layout, number[] | null> = {
  plain: null,
  linear: [1, 0], // [in, out] → [out, in]
  conv2d: [3, 2, 0, 1], // [kh, kw, in, out] → [out, in, kh, kw]
};
const inverse = (p: readonly number[]) => p.map((_, i) => p.indexOf(i));

function toTorch(h: { data: Float32Array | Int32Array; shape: number[] }, layout: Layout) {
  const perm = TO_TORCH[layout];
  if (!perm) return h;
  return { data: permuteHost(h.data, h.shape, perm), shape: perm.map((p) => h.shape[p]) };
}

function fromTorch(h: HostTensor, layout: Layout): HostTensor {
  const perm = TO_TORCH[layout];
  if (!perm || h.shape.length !== perm.length) return h;
  const back = inverse(perm);
  return { ...h, data: permuteHost(h.data, h.shape, back), shape: back.map((p) => h.shape[p]) };
}

// ------------------------------------------------------------------------------- optimizer trees

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isTensor(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && 'storage' in x && 'shape' in x && 'dtype' in x;
}

/** Replaces tensors in a state tree by {"$tensor": name}, collecting them; keeps JSON-safe numbers. */
function encodeTree(x: unknown, path: string, found: [string, Tensor][]): Json {
  if (isTensor(x)) {
    const name = OPT_PREFIX + path;
    found.push([name, x]);
    return { $tensor: name };
  }
  if (typeof x === 'number') return Number.isFinite(x) ? x : { $number: String(x) };
  if (x === null || typeof x === 'boolean' || typeof x === 'string') return x;
  if (x === undefined) return { $undefined: true };
  if (x instanceof Map)
    return {
      $map: [...x].map(([k, v], i) => [
        encodeTree(k, `${path}.k${i}`, found),
        encodeTree(v, `${path}.${i}`, found),
      ]),
    };
  if (Array.isArray(x)) return x.map((v, i) => encodeTree(v, path ? `${path}.${i}` : String(i), found));
  if (typeof x === 'object') {
    const out: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(x)) out[k] = encodeTree(v, path ? `${path}.${k}` : k, found);
    return out;
  }
  throw new DescentError(
    'saveCheckpoint',
    `optimizer state at '${path}' has a ${typeof x}, which cannot be stored`,
  );
}

function decodeTree(x: Json, tensors: Map<string, Tensor>): unknown {
  if (Array.isArray(x)) return x.map((v) => decodeTree(v, tensors));
  if (x === null || typeof x !== 'object') return x;
  if ('$tensor' in x) {
    const t = tensors.get(x.$tensor as string);
    if (!t)
      throw new DescentError(
        'loadCheckpoint',
        `optimizer state refers to a missing tensor '${String(x.$tensor)}'`,
      );
    return t;
  }
  if ('$number' in x) return Number(x.$number);
  if ('$undefined' in x) return undefined;
  if ('$map' in x)
    return new Map((x.$map as Json[][]).map(([k, v]) => [decodeTree(k, tensors), decodeTree(v, tensors)]));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) out[k] = decodeTree(v, tensors);
  return out;
}

// ------------------------------------------------------------------------------- save

async function hostOf(t: Tensor): Promise<Float32Array | Int32Array> {
  const d = await t.data();
  if (t.dtype === 'i32') return d instanceof Int32Array ? d : Int32Array.from(d);
  return d instanceof Float32Array ? d : Float32Array.from(d);
}

/** Serializes a checkpoint to safetensors bytes (async: GPU tensors are read asynchronously). */
export async function saveCheckpoint(opts: SaveOptions): Promise<Uint8Array> {
  const layout = opts.layout ?? 'descent';
  const torch = layout === 'pytorch';
  const out: TensorToWrite[] = [];
  for (const e of opts.model.namedTensors()) {
    e.tensor.assertAlive('saveCheckpoint');
    const host = { data: await hostOf(e.tensor), shape: [...e.tensor.shape] };
    const h = torch ? toTorch(host, e.layout) : host;
    // PyTorch keeps its step counter num_batches_tracked as int64.
    const dtype = e.tensor.dtype === 'f32' ? 'F32' : torch ? 'I64' : 'I32';
    out.push({ name: e.name, dtype, shape: h.shape, data: h.data });
  }
  const metadata: Record<string, string> = {
    ...opts.metadata,
    [META_FORMAT]: 'descent-checkpoint/1',
    [META_STEP]: String(opts.step ?? 0),
    [META_LAYOUT]: layout,
  };
  if (opts.optimizer) {
    // The state dict's tensors are copies that belong to us (@descent/optim's contract): free them.
    const found: [string, Tensor][] = [];
    try {
      metadata[META_OPT] = JSON.stringify(encodeTree(opts.optimizer.stateDict(), '', found));
      for (const [name, t] of found) {
        out.push({
          name,
          dtype: t.dtype === 'f32' ? 'F32' : 'I32',
          shape: [...t.shape],
          data: await hostOf(t),
        });
      }
    } finally {
      dispose(found.map(([, t]) => t));
    }
  }
  return writeSafetensors(out, metadata);
}

/** A checkpoint as a Blob (browsers: download it, or store it in IndexedDB). */
export async function checkpointBlob(opts: SaveOptions): Promise<Blob> {
  const bytes = await saveCheckpoint(opts);
  return new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
}

// ------------------------------------------------------------------------------- load

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * Reads a checkpoint into a model (and optimizer). Throws a DescentError — with the model untouched
 * — for a malformed file or one that does not fit the model.
 */
export async function loadCheckpoint(
  source: Uint8Array | ArrayBuffer | Blob,
  opts: LoadOptions,
): Promise<LoadedCheckpoint> {
  const bytes =
    source instanceof Uint8Array
      ? source
      : source instanceof ArrayBuffer
        ? new Uint8Array(source)
        : new Uint8Array(await source.arrayBuffer());
  const { tensors, metadata } = readSafetensors(bytes, { maxHeaderBytes: opts.maxHeaderBytes });
  const layout = opts.layout ?? (metadata[META_LAYOUT] === 'pytorch' ? 'pytorch' : 'descent');
  const strict = opts.strict ?? true;
  const step = metadata[META_STEP] === undefined ? 0 : Number(metadata[META_STEP]);
  if (!Number.isSafeInteger(step) || step < 0)
    throw new DescentError(
      'loadCheckpoint',
      `metadata ${META_STEP} must be a non-negative integer, got '${metadata[META_STEP]}'`,
    );

  // 1. Check every model tensor against the file (after layout conversion) before touching anything.
  const own = opts.model.namedTensors();
  const problems: string[] = [];
  const ready = new Map<string, HostTensor>();
  for (const e of own) {
    const h = tensors.get(e.name);
    if (!h) {
      if (strict) problems.push(`missing '${e.name}'`);
      continue;
    }
    const v = layout === 'pytorch' ? fromTorch(h, e.layout) : h;
    const kind = v.data instanceof Float32Array ? 'f32' : 'i32';
    if (kind !== e.tensor.dtype)
      problems.push(`'${e.name}' is ${h.dtype} but the model holds ${e.tensor.dtype}`);
    else if (fmt(v.shape) !== fmt(e.tensor.shape))
      problems.push(
        `'${e.name}' has shape ${fmt(h.shape)}${layout === 'pytorch' ? ' (PyTorch layout)' : ''} but the model expects ${fmt(e.tensor.shape)}${layout === 'pytorch' && e.layout !== 'plain' ? ` (${fmt(toTorch({ data: new Float32Array(0), shape: [...e.tensor.shape] }, e.layout).shape)} in PyTorch's layout)` : ''}`,
      );
    else ready.set(e.name, v);
  }
  if (strict) {
    const known = new Set(own.map((e) => e.name));
    for (const k of tensors.keys())
      if (!k.startsWith(OPT_PREFIX) && !known.has(k)) problems.push(`unexpected '${k}'`);
  }
  let optTree: Json | undefined;
  if (opts.optimizer) {
    const raw = metadata[META_OPT];
    if (raw === undefined) problems.push('the file has no optimizer state');
    else {
      try {
        optTree = JSON.parse(raw) as Json;
      } catch {
        problems.push(`metadata ${META_OPT} is not valid JSON`);
      }
    }
  }
  if (problems.length > 0)
    throw new DescentError('loadCheckpoint', `checkpoint does not fit the model: ${problems.join('; ')}`);

  // 2. Upload and assign. The model keeps a snapshot (views of its current storage) to roll back to
  //    if the optimizer rejects its state.
  const backendOf = (name: string) => own.find((e) => e.name === name)?.tensor.backend;
  const upload = (h: HostTensor, backend?: string) =>
    tensor(h.data, h.shape, { backend, dtype: h.data instanceof Int32Array ? 'i32' : 'f32' });
  const values = new Map<string, Tensor>();
  const snapshot = new Map(own.map((e) => [e.name, detach(e.tensor)]));
  const optTensors = new Map<string, Tensor>();
  try {
    for (const [name, h] of ready) values.set(name, upload(h, backendOf(name)));
    opts.model.loadStateDict(values, { strict });
    if (opts.optimizer && optTree !== undefined) {
      const backend = own[0]?.tensor.backend;
      for (const [name, h] of tensors)
        if (name.startsWith(OPT_PREFIX)) optTensors.set(name, upload(h, backend));
      try {
        opts.optimizer.loadStateDict(decodeTree(optTree, optTensors));
      } catch (e) {
        opts.model.loadStateDict(snapshot, { strict: false });
        throw e instanceof DescentError
          ? e
          : new DescentError('loadCheckpoint', `optimizer rejected its state: ${(e as Error).message}`);
      }
    }
  } finally {
    // The model shares storage with what it was assigned and the optimizer copies its state
    // (@descent/optim's loadStateDict contract): our handles can go.
    dispose([...values.values(), ...snapshot.values(), ...optTensors.values()]);
  }
  return { step, metadata };
}
