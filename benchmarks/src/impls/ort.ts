/**
 * onnxruntime-web (its wasm execution provider) on the ops ONNX has as single nodes: MatMul, Conv
 * (NCHW — ONNX's layout; inputs are transposed once in prepare and the output back before checking,
 * outside the timed region), x·Sigmoid(x), Softmax.
 */
import type * as ORT from 'onnxruntime-web';
import type { BenchCase, Outputs, Tensors } from '../cases.js';
import { type OnnxNode, type OnnxValue, onnxModel } from '../onnx.js';
import type { Impl } from './types.js';

type Ort = typeof ORT;

const F = 1;

function nhwcToNchw(x: Float32Array, N: number, H: number, W: number, C: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let n = 0; n < N; n++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++)
        for (let c = 0; c < C; c++) y[((n * C + c) * H + h) * W + w] = x[((n * H + h) * W + w) * C + c];
  return y;
}

function nchwToNhwc(x: Float32Array, N: number, C: number, H: number, W: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) y[((n * H + h) * W + w) * C + c] = x[((n * C + c) * H + h) * W + w];
  return y;
}

/** [KH, KW, Cin, Cout] → ONNX's [Cout, Cin, KH, KW]. */
function filterToOihw(w: Float32Array, KH: number, KW: number, C: number, Cout: number): Float32Array {
  const y = new Float32Array(w.length);
  for (let ky = 0; ky < KH; ky++)
    for (let kx = 0; kx < KW; kx++)
      for (let c = 0; c < C; c++)
        for (let o = 0; o < Cout; o++)
          y[((o * C + c) * KH + ky) * KW + kx] = w[((ky * KW + kx) * C + c) * Cout + o];
  return y;
}

interface Graph {
  nodes: OnnxNode[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  feeds: Record<string, Float32Array>;
  /** Maps ONNX's output back to the case's layout. */
  post?: (y: Float32Array) => Float32Array;
}

function graphFor(c: BenchCase, inputs: Tensors): Graph | undefined {
  const s = c.spec;
  switch (s.kind) {
    case 'matmul':
      return {
        nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
        inputs: [
          { name: 'a', elemType: F, shape: [s.m, s.k] },
          { name: 'b', elemType: F, shape: [s.k, s.n] },
        ],
        outputs: [{ name: 'y', elemType: F, shape: [s.m, s.n] }],
        feeds: { a: inputs.a as Float32Array, b: inputs.b as Float32Array },
      };
    case 'conv2d':
      return {
        nodes: [
          {
            op: 'Conv',
            inputs: ['x', 'w'],
            outputs: ['y'],
            attrs: [
              { name: 'kernel_shape', ints: [s.KH, s.KW] },
              { name: 'pads', ints: [1, 1, 1, 1] },
            ],
          },
        ],
        inputs: [
          { name: 'x', elemType: F, shape: [s.N, s.C, s.H, s.W] },
          { name: 'w', elemType: F, shape: [s.Cout, s.C, s.KH, s.KW] },
        ],
        outputs: [{ name: 'y', elemType: F, shape: [s.N, s.Cout, s.H, s.W] }],
        feeds: {
          x: nhwcToNchw(inputs.x as Float32Array, s.N, s.H, s.W, s.C),
          w: filterToOihw(inputs.w as Float32Array, s.KH, s.KW, s.C, s.Cout),
        },
        post: (y) => nchwToNhwc(y, s.N, s.Cout, s.H, s.W),
      };
    case 'silu':
      return {
        nodes: [
          { op: 'Sigmoid', inputs: ['x'], outputs: ['s'] },
          { op: 'Mul', inputs: ['x', 's'], outputs: ['y'] },
        ],
        inputs: [{ name: 'x', elemType: F, shape: [s.n] }],
        outputs: [{ name: 'y', elemType: F, shape: [s.n] }],
        feeds: { x: inputs.x as Float32Array },
      };
    case 'softmax':
      return {
        nodes: [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attrs: [{ name: 'axis', i: -1 }] }],
        inputs: [{ name: 'x', elemType: F, shape: [s.rows, s.size] }],
        outputs: [{ name: 'y', elemType: F, shape: [s.rows, s.size] }],
        feeds: { x: inputs.x as Float32Array },
      };
    default:
      return undefined;
  }
}

export function ortImpl(opts: { threads: number; load: () => Promise<Ort> }): Impl {
  let ort: Ort | undefined;
  return {
    id: `ort-wasm-${opts.threads}t`,
    library: 'onnxruntime-web',
    backend: `onnxruntime-web wasm EP, ${opts.threads} thread${opts.threads > 1 ? 's' : ''}`,
    threads: opts.threads,
    nominal: { gflops: 20, gbps: 5 },
    async init() {
      ort = await opts.load();
      ort.env.wasm.numThreads = opts.threads;
      ort.env.logLevel = 'error';
    },
    supports(c) {
      return ['matmul', 'conv2d', 'silu', 'softmax'].includes(c.spec.kind)
        ? true
        : 'no single ONNX inference op (no training in onnxruntime-web)';
    },
    async prepare(c, inputs) {
      const o = ort!;
      const g = graphFor(c, inputs)!;
      const session = await o.InferenceSession.create(onnxModel(g.nodes, g.inputs, g.outputs), {
        executionProviders: ['wasm'],
        graphOptimizationLevel: 'all',
      });
      const feeds: Record<string, ORT.Tensor> = {};
      for (const v of g.inputs) feeds[v.name] = new o.Tensor('float32', g.feeds[v.name], v.shape);
      let last: ORT.InferenceSession.OnnxValueMapType | undefined;
      return {
        async run() {
          if (last) for (const t of Object.values(last)) (t as ORT.Tensor).dispose();
          last = await session.run(feeds);
        },
        async outputs(): Promise<Outputs> {
          const y = (last!.y as ORT.Tensor).data as Float32Array;
          return { y: g.post ? g.post(y) : Float32Array.from(y) };
        },
        async dispose() {
          if (last) for (const t of Object.values(last)) (t as ORT.Tensor).dispose();
          await session.release();
        },
      };
    },
    info() {
      return { ort: ort?.env.versions, numThreads: ort?.env.wasm.numThreads };
    },
    async dispose() {},
  };
}
