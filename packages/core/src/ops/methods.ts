/**
 * Chainable methods on Tensor (`x.matmul(w).add(b).relu()`), each a thin call of the function of the
 * same name. Declared by interface merging so they are typed; attached once, here.
 */
import { backward, detach } from '../autograd/api.js';
import type { BackwardOptions } from '../autograd/backward.js';
import type { DType } from '../dtype.js';
import { checkBackendDType, engine } from '../engine.js';
import { DescentError } from '../errors.js';
import { Tensor } from '../tensor.js';
import * as ew from './elementwise.js';
import { type MatmulOptions, matmul } from './matmul.js';
import { logSoftmax, softmax } from './nn.js';
import * as red from './reduce.js';
import * as sh from './shape-ops.js';
import type { TensorOrNumber } from './util.js';

type Axes = number | readonly number[];

declare module '../tensor.js' {
  interface Tensor {
    add(b: TensorOrNumber): Tensor;
    sub(b: TensorOrNumber): Tensor;
    mul(b: TensorOrNumber): Tensor;
    div(b: TensorOrNumber): Tensor;
    pow(b: TensorOrNumber): Tensor;
    maximum(b: TensorOrNumber): Tensor;
    minimum(b: TensorOrNumber): Tensor;
    neg(): Tensor;
    abs(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    square(): Tensor;
    relu(): Tensor;
    sigmoid(): Tensor;
    tanh(): Tensor;
    matmul(b: Tensor, opts?: MatmulOptions): Tensor;
    sum(axes?: Axes, keepDims?: boolean): Tensor;
    mean(axes?: Axes, keepDims?: boolean): Tensor;
    max(axes?: Axes, keepDims?: boolean): Tensor;
    min(axes?: Axes, keepDims?: boolean): Tensor;
    argmax(axis?: number, keepDims?: boolean): Tensor;
    reshape(shape: readonly number[]): Tensor;
    transpose(perm?: readonly number[]): Tensor;
    softmax(axis?: number): Tensor;
    logSoftmax(axis?: number): Tensor;
    cast(dtype: DType): Tensor;
    /** Back-propagates from this (scalar) tensor, filling `.grad` of leaves that require grad. */
    backward(grad?: Tensor, opts?: BackwardOptions): void;
    /** Same storage, cut from the autograd graph. */
    detach(): Tensor;
    /** A copy on another backend, synchronously (the source backend must read synchronously). */
    to(backend: string): Tensor;
    /** A copy on another backend (works from every backend). */
    toAsync(backend: string): Promise<Tensor>;
    /** Keeps this tensor alive past enclosing `tidy` scopes. */
    keep(): Tensor;
    clone(): Tensor;
  }
}

const P = Tensor.prototype;
P.add = function (b) {
  return ew.add(this, b);
};
P.sub = function (b) {
  return ew.sub(this, b);
};
P.mul = function (b) {
  return ew.mul(this, b);
};
P.div = function (b) {
  return ew.div(this, b);
};
P.pow = function (b) {
  return ew.pow(this, b);
};
P.maximum = function (b) {
  return ew.maximum(this, b);
};
P.minimum = function (b) {
  return ew.minimum(this, b);
};
P.neg = function () {
  return ew.neg(this);
};
P.abs = function () {
  return ew.abs(this);
};
P.exp = function () {
  return ew.exp(this);
};
P.log = function () {
  return ew.log(this);
};
P.sqrt = function () {
  return ew.sqrt(this);
};
P.square = function () {
  return ew.square(this);
};
P.relu = function () {
  return ew.relu(this);
};
P.sigmoid = function () {
  return ew.sigmoid(this);
};
P.tanh = function () {
  return ew.tanh(this);
};
P.matmul = function (b, opts) {
  return matmul(this, b, opts);
};
P.sum = function (axes, keepDims) {
  return red.sum(this, axes, keepDims);
};
P.mean = function (axes, keepDims) {
  return red.mean(this, axes, keepDims);
};
P.max = function (axes, keepDims) {
  return red.max(this, axes, keepDims);
};
P.min = function (axes, keepDims) {
  return red.min(this, axes, keepDims);
};
P.argmax = function (axis, keepDims) {
  return red.argmax(this, axis, keepDims);
};
P.reshape = function (shape) {
  return sh.reshape(this, shape);
};
P.transpose = function (perm) {
  return sh.transpose(this, perm);
};
P.softmax = function (axis) {
  return softmax(this, axis);
};
P.logSoftmax = function (axis) {
  return logSoftmax(this, axis);
};
P.cast = function (dtype) {
  return ew.cast(this, dtype);
};
P.backward = function (grad, opts) {
  backward(this, grad, opts);
};
P.detach = function () {
  return detach(this);
};
P.keep = function () {
  return engine.keep(this);
};
P.clone = function () {
  return ew.mul(this, 1);
};
P.to = function (name) {
  this.assertAlive('tensor.to');
  const target = engine.backend(name);
  if (target === this.storage.backend) return detach(this);
  if (!this.storage.backend.readSync) {
    throw new DescentError(
      'tensor.to',
      `backend '${this.backend}' cannot read synchronously; use await tensor.toAsync('${name}')`,
    );
  }
  return engine.makeTensor(target, this.shape, this.dtype, this.dataSync(), 'tensor.to');
};
P.toAsync = async function (name) {
  this.assertAlive('tensor.toAsync');
  const target = await engine.initBackend(name);
  if (target === this.storage.backend) return detach(this);
  // Before reading: a target that does not store this dtype fails without a wasted read.
  checkBackendDType('tensor.toAsync', target, this.dtype, this.shape);
  return engine.makeTensor(target, this.shape, this.dtype, await this.data(), 'tensor.toAsync');
};
