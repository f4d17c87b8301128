/**
 * The benchmark computations written once with @descent/core ops; the same code runs on every
 * descent backend and on 'js64', the float64 reference backend that checks the composite cases.
 */

import type { Tensor } from '@descent/core';
import * as d from '@descent/core';
import type { BenchCase, Tensors } from '../cases.js';

export type DescentInputs = Record<string, Tensor>;

export function upload(inputs: Tensors, shapes: Record<string, number[]>, backend: string): DescentInputs {
  const out: DescentInputs = {};
  for (const [k, v] of Object.entries(inputs)) out[k] = d.tensor(v, shapes[k], { backend });
  return out;
}

/** Shapes of a case's inputs (row-major; images NHWC, filters [KH, KW, Cin, Cout]). */
export function inputShapes(c: BenchCase): Record<string, number[]> {
  const s = c.spec;
  switch (s.kind) {
    case 'matmul':
      return { a: [s.m, s.k], b: [s.k, s.n] };
    case 'conv2d':
      return { x: [s.N, s.H, s.W, s.C], w: [s.KH, s.KW, s.C, s.Cout] };
    case 'silu':
      return { x: [s.n] };
    case 'softmax':
      return { x: [s.rows, s.size] };
    case 'softmaxCE':
      return { x: [s.rows, s.size], labels: [s.rows] };
    case 'adamw':
      return { p: [s.n], g: [s.n] };
    case 'ffn':
      return {
        x: [s.rows, s.d],
        w1: [s.d, s.hidden],
        w3: [s.d, s.hidden],
        w2: [s.hidden, s.d],
        dy: [s.rows, s.d],
      };
    case 'resblock':
      return {
        x: [s.N, s.H, s.W, s.C],
        w1: [3, 3, s.C, s.C],
        w2: [3, 3, s.C, s.C],
        g1: [s.C],
        b1: [s.C],
        g2: [s.C],
        b2: [s.C],
        dy: [s.N, s.H, s.W, s.C],
      };
  }
}

/** SwiGLU feed-forward: (silu(x·W1) ⊙ (x·W3))·W2. */
export function swiglu(x: Tensor, w1: Tensor, w3: Tensor, w2: Tensor): Tensor {
  return d.matmul(d.mul(d.silu(d.matmul(x, w1)), d.matmul(x, w3)), w2);
}

/** ResNet BasicBlock (training-mode batch norm, identity shortcut), NHWC. */
export function basicBlock(
  x: Tensor,
  w1: Tensor,
  w2: Tensor,
  g1: Tensor,
  b1: Tensor,
  g2: Tensor,
  b2: Tensor,
) {
  const h = d.relu(d.batchNormTraining(d.conv2d(x, w1, { padding: 'same' }), { gamma: g1, beta: b1 }).y);
  const z = d.batchNormTraining(d.conv2d(h, w2, { padding: 'same' }), { gamma: g2, beta: b2 }).y;
  return d.relu(d.add(z, x));
}

/**
 * Runs a case's computation on tensors of one backend; returns the outputs named by outputNames().
 * Composite cases compute y and the gradients of ⟨y, dy⟩ (dy = a fixed upstream gradient).
 */
export function compute(c: BenchCase, t: DescentInputs): Record<string, Tensor> {
  const s = c.spec;
  switch (s.kind) {
    case 'matmul':
      return { y: d.matmul(t.a, t.b) };
    case 'conv2d':
      return { y: d.conv2d(t.x, t.w, { padding: 'same' }) };
    case 'silu':
      return { y: d.silu(t.x) };
    case 'softmax':
      return { y: d.softmax(t.x) };
    case 'softmaxCE': {
      const [loss, dx] = d.valueAndGrad((x) => d.crossEntropy(x, t.labels))(t.x);
      return { loss, dx };
    }
    case 'ffn': {
      let y: Tensor | undefined;
      const [, grads] = d.valueAndGrad(
        (x, w1, w3, w2) => {
          y = swiglu(x, w1, w3, w2);
          return d.sum(d.mul(y, t.dy));
        },
        [0, 1, 2, 3],
      )(t.x, t.w1, t.w3, t.w2);
      return { y: d.detach(y!), dx: grads[0], dw1: grads[1], dw3: grads[2], dw2: grads[3] };
    }
    case 'resblock': {
      let y: Tensor | undefined;
      const [, grads] = d.valueAndGrad(
        (x, w1, w2) => {
          y = basicBlock(x, w1, w2, t.g1, t.b1, t.g2, t.b2);
          return d.sum(d.mul(y, t.dy));
        },
        [0, 1, 2],
      )(t.x, t.w1, t.w2);
      return { y: d.detach(y!), dx: grads[0], dw1: grads[1], dw2: grads[2] };
    }
    case 'adamw':
      throw new Error('adamw runs through the optimizer, not compute()');
  }
}

/** Float64 reference outputs of a case, from descent's 'js64' backend. */
export async function referenceOutputs(c: BenchCase, inputs: Tensors): Promise<Record<string, Float64Array>> {
  const t = upload(inputs, inputShapes(c), 'js64');
  const prev = d.currentBackend();
  await d.setBackend('js64');
  try {
    const outs = d.tidy(() => {
      const o = compute(c, t);
      for (const v of Object.values(o)) d.keep(v);
      return o;
    });
    const res: Record<string, Float64Array> = {};
    for (const [k, v] of Object.entries(outs)) res[k] = Float64Array.from(await v.data());
    d.dispose(outs, t);
    return res;
  } finally {
    await d.setBackend(prev);
  }
}
