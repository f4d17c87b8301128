/**
 * The benchmark computations written with TensorFlow.js ops (the peer), same architectures and
 * layouts as graphs/descent.ts: NHWC images, [KH, KW, Cin, Cout] filters, training-mode batch norm.
 */
import type * as TF from '@tensorflow/tfjs-core';
import type { BenchCase } from '../cases.js';

export type Tf = typeof TF;
type T = TF.Tensor;

export const BN_EPS = 1e-5;

export function tfSwiglu(tf: Tf, x: T, w1: T, w3: T, w2: T): T {
  const a = tf.matMul(x as TF.Tensor2D, w1 as TF.Tensor2D);
  return tf.matMul(
    tf.mul(tf.mul(a, tf.sigmoid(a)), tf.matMul(x as TF.Tensor2D, w3 as TF.Tensor2D)) as TF.Tensor2D,
    w2 as TF.Tensor2D,
  );
}

function bnTrain(tf: Tf, x: T, gamma: T, beta: T): T {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm(x, mean, variance, beta, gamma, BN_EPS);
}

export function tfBasicBlock(tf: Tf, x: T, w1: T, w2: T, g1: T, b1: T, g2: T, b2: T): T {
  const h = tf.relu(bnTrain(tf, tf.conv2d(x as TF.Tensor4D, w1 as TF.Tensor4D, 1, 'same'), g1, b1));
  const z = bnTrain(tf, tf.conv2d(h as TF.Tensor4D, w2 as TF.Tensor4D, 1, 'same'), g2, b2);
  return tf.relu(tf.add(z, x));
}

/** Runs a case (all but adamw) on tfjs tensors; returns the outputs named by outputNames(). */
export function tfCompute(tf: Tf, c: BenchCase, t: Record<string, T>): Record<string, T> {
  const s = c.spec;
  switch (s.kind) {
    case 'matmul':
      return { y: tf.matMul(t.a as TF.Tensor2D, t.b as TF.Tensor2D) };
    case 'conv2d':
      return { y: tf.conv2d(t.x as TF.Tensor4D, t.w as TF.Tensor4D, 1, 'same') };
    case 'silu':
      return { y: tf.mul(t.x, tf.sigmoid(t.x)) };
    case 'softmax':
      return { y: tf.softmax(t.x) };
    case 'softmaxCE': {
      // one-hot labels are made once in prepare (t.onehot); the mean over rows matches descent
      const { value, grad } = tf.valueAndGrad((x: T) => tf.losses.softmaxCrossEntropy(t.onehot, x))(t.x);
      return { loss: value, dx: grad };
    }
    case 'ffn': {
      let y: T | undefined;
      const grads = tf.grads((x: T, w1: T, w3: T, w2: T) => {
        y = tf.keep(tfSwiglu(tf, x, w1, w3, w2));
        return tf.sum(tf.mul(y, t.dy));
      })([t.x, t.w1, t.w3, t.w2]);
      return { y: y!, dx: grads[0], dw1: grads[1], dw3: grads[2], dw2: grads[3] };
    }
    case 'resblock': {
      let y: T | undefined;
      const grads = tf.grads((x: T, w1: T, w2: T) => {
        y = tf.keep(tfBasicBlock(tf, x, w1, w2, t.g1, t.b1, t.g2, t.b2));
        return tf.sum(tf.mul(y, t.dy));
      })([t.x, t.w1, t.w2]);
      return { y: y!, dx: grads[0], dw1: grads[1], dw2: grads[2] };
    }
    case 'adamw':
      throw new Error('adamw runs through tf.train.adam');
  }
}
