/** TensorFlow.js peers: tfjs-backend-cpu and tfjs-backend-wasm (XNNPACK) in Node. */
import type * as TF from '@tensorflow/tfjs-core';
import type { BenchCase, Outputs, Tensors } from '../cases.js';
import { inputShapes } from '../graphs/descent.js';
import { type Tf, tfCompute } from '../graphs/tfjs.js';
import type { Impl, Prepared } from './types.js';

export interface TfjsImplOptions {
  id: string;
  backendName: 'cpu' | 'wasm' | 'webgpu';
  label: string;
  threads?: number;
  nominal: { gflops: number; gbps: number };
  /** Loads tfjs and registers the backend; returns the tf namespace. */
  load: () => Promise<Tf>;
  sync?: (tf: Tf) => Promise<void>;
  reportsCold?: boolean;
  info?: (tf: Tf) => Record<string, unknown>;
}

export function tfjsImpl(o: TfjsImplOptions): Impl {
  let tf: Tf | undefined;
  const lib = () => {
    if (!tf) throw new Error(`${o.id}: init() was not called`);
    return tf;
  };
  return {
    id: o.id,
    library: 'tfjs',
    backend: o.label,
    threads: o.threads,
    nominal: o.nominal,
    reportsCold: o.reportsCold,
    async init() {
      tf = await o.load();
      await tf.setBackend(o.backendName);
      await tf.ready();
      if (tf.getBackend() !== o.backendName)
        throw new Error(`${o.id}: tfjs backend ${o.backendName} failed to start`);
    },
    supports: () => true,
    async prepare(c, inputs) {
      const t = lib();
      await t.setBackend(o.backendName);
      return prepareTf(t, c, inputs, o);
    },
    info() {
      return { tfjs: tf?.version_core, backend: o.backendName, ...(tf && o.info ? o.info(tf) : {}) };
    },
    async dispose() {
      tf?.engine().reset();
    },
  };
}

function uploadTf(tf: Tf, c: BenchCase, inputs: Tensors): Record<string, TF.Tensor> {
  const shapes = inputShapes(c);
  const t: Record<string, TF.Tensor> = {};
  for (const [k, v] of Object.entries(inputs))
    t[k] = tf.tensor(v, shapes[k], v instanceof Int32Array ? 'int32' : 'float32');
  return t;
}

async function readAll(outs: Record<string, TF.Tensor>): Promise<Outputs> {
  const res: Outputs = {};
  for (const [k, v] of Object.entries(outs)) res[k] = Float32Array.from(await v.data());
  return res;
}

function prepareTf(tf: Tf, c: BenchCase, inputs: Tensors, o: TfjsImplOptions): Prepared {
  const t = uploadTf(tf, c, inputs);
  const s = c.spec;
  if (s.kind === 'softmaxCE') t.onehot = tf.cast(tf.oneHot(t.labels as TF.Tensor1D, s.size), 'float32');
  if (s.kind === 'adamw') {
    // tfjs has Adam but no AdamW (decoupled weight decay): measured as Adam, checked with weightDecay 0.
    const p = tf.variable(t.p, true, 'p');
    const opt = tf.train.adam(s.lr, s.beta1, s.beta2, s.eps);
    return {
      variant: { weightDecay: 0, note: 'tf.train.adam (tfjs has no AdamW)' },
      async run() {
        opt.applyGradients([{ name: 'p', tensor: t.g }]);
        await o.sync?.(tf);
      },
      async outputs() {
        const w = await opt.getWeights();
        const m = w.find((x) => /m$/.test(x.name) || x.name.includes('/m'));
        const v = w.find((x) => /v$/.test(x.name) || x.name.includes('/v'));
        const res: Outputs = { p: Float32Array.from(await p.data()) };
        if (m) res.m = Float32Array.from(await m.tensor.data());
        if (v) res.v = Float32Array.from(await v.tensor.data());
        return res;
      },
      dispose() {
        opt.dispose();
        p.dispose();
        tf.dispose(Object.values(t));
      },
    };
  }
  let last: Record<string, TF.Tensor> | undefined;
  return {
    async run() {
      if (last) tf.dispose(Object.values(last));
      last = tf.tidy(() => tfCompute(tf, c, t));
      await o.sync?.(tf);
    },
    outputs: async () => readAll(last ?? {}),
    dispose() {
      if (last) tf.dispose(Object.values(last));
      tf.dispose(Object.values(t));
    },
  };
}
