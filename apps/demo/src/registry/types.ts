import type { Tensor } from '@descent/core';

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

/** What every optimizer of @descent/optim offers (PyTorch-shaped). */
export interface OptimizerLike {
  step(): void;
  zeroGrad(): void;
  dispose(): void;
  readonly groups: { options: { lr: number } }[];
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

export interface TaskData {
  train: Split;
  val: Split;
  /** Shape of one example (without the batch axis). */
  inputShape: number[];
  input: InputKind;
  classes: number;
  /** Token vocabulary (token tasks). */
  vocab?: number;
}

/** A trainable model as the app sees it: a forward pass and named parameters. */
export interface ModelLike {
  forward(x: Tensor): Tensor;
  parameters(): Tensor[];
  /** Stable parameter names for checkpoints (the app falls back to `param.<i>`). */
  names(): string[];
}
