import type { Tensor } from '@descent/core';
import type { Module } from '@descent/models';

/** A numeric setting shown as a slider/number field (learning rate, momentum, hidden size …). */
export interface Setting {
  key: string;
  label: string;
  value: number;
  min: number;
  max: number;
  /** Slider moves on a log scale (learning rates, weight decay). */
  log?: boolean;
  /** Integer-valued setting. */
  int?: boolean;
}

/** An entry that may be missing in this build (its package export has not landed, or no adapter). */
export interface Availability {
  available: boolean;
  /** Why not, shown next to the disabled option. */
  reason?: string;
}

/** What the app uses of a @descent/optim optimizer (PyTorch-shaped). */
export interface OptimizerLike {
  /** SAM-style optimizers take a closure that recomputes the loss and calls backward(). */
  step(closure?: () => unknown): unknown;
  zeroGrad(): void;
  dispose(): void;
  readonly groups: readonly { options: { lr: number } }[];
  stateDict(): unknown;
  loadStateDict(state: any): void;
}

/** Input representations a task provides and a model consumes. */
export type InputKind = 'features' | 'image' | 'tokens';

/** One split of a classification data set, stored host-side in row-major order. */
export interface Split {
  /** Float features [n, ...inputShape] (features or NHWC images) or Int32 token ids [n, seqLen]. */
  x: Float32Array | Int32Array;
  y: Int32Array;
  n: number;
}

/** The task's examples in one input representation. */
export interface TaskView {
  input: InputKind;
  /** Shape of one example (without the batch axis). */
  inputShape: number[];
  train: Split;
  val: Split;
}

export interface TaskData {
  /** The representations on offer (a model takes the first one it reads). */
  views: TaskView[];
  classes: number;
  /** Token vocabulary (token views). */
  vocab?: number;
}

/** A trainable model as the app sees it: a @descent/models Module and a forward to [batch, classes] logits. */
export interface ModelLike {
  module: Module;
  forward(x: Tensor): Tensor;
}
