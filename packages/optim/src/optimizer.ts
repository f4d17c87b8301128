import { DescentError, noGrad, type Tensor, tidy } from '@descent/core';

/** A group of parameters sharing hyperparameters (PyTorch's param_groups). */
export interface ParamGroup<O> {
  params: Tensor[];
  options: O;
}

export type ParamsInput<O> = Tensor[] | { params: Tensor[]; options?: Partial<O> }[];

/**
 * Base of every optimizer: parameter groups, `zeroGrad()`, per-parameter state, and `step()` run
 * without recording gradients, inside a tidy scope so temporaries are freed.
 */
export abstract class Optimizer<O extends { lr: number }> {
  readonly groups: ParamGroup<O>[];
  /** Per-parameter state tensors (kept alive across steps; replaced ones are disposed). */
  protected readonly state = new Map<Tensor, Record<string, Tensor>>();
  stepCount = 0;

  constructor(params: ParamsInput<O>, defaults: O) {
    const list =
      Array.isArray(params) && params.length > 0 && 'params' in (params[0] as object)
        ? (params as { params: Tensor[]; options?: Partial<O> }[])
        : [{ params: params as Tensor[] }];
    this.groups = list.map((g) => {
      const options = { ...defaults, ...(g.options ?? {}) } as O;
      this.validate(options);
      for (const p of g.params) {
        if (!p.requiresGrad)
          throw new DescentError(this.constructor.name, `parameter ${p.toString()} does not require grad`);
      }
      return { params: g.params, options };
    });
  }

  /** Throws a clear error for invalid hyperparameters. */
  protected validate(options: O): void {
    if (!(options.lr >= 0))
      throw new DescentError(this.constructor.name, `learning rate must be >= 0, got ${options.lr}`);
  }

  /** Updates one parameter from its gradient (called without grad recording, inside tidy). */
  protected abstract update(param: Tensor, grad: Tensor, options: O, state: Record<string, Tensor>): void;

  step(): void {
    this.stepCount++;
    noGrad(() =>
      tidy(() => {
        for (const group of this.groups) {
          for (const p of group.params) {
            if (!p.grad) continue;
            let s = this.state.get(p);
            if (!s) {
              s = {};
              this.state.set(p, s);
            }
            this.update(p, p.grad, group.options, s);
          }
        }
      }),
    );
  }

  /** Replaces a state tensor, keeping the new one alive and freeing the old one. */
  protected setState(state: Record<string, Tensor>, key: string, value: Tensor): Tensor {
    const old = state[key];
    state[key] = value.keep();
    if (old && old !== value) old.dispose();
    return value;
  }

  /** Clears (disposes) every parameter's gradient. */
  zeroGrad(): void {
    for (const g of this.groups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** Frees all optimizer state. */
  dispose(): void {
    for (const s of this.state.values()) for (const t of Object.values(s)) t.dispose();
    this.state.clear();
  }
}
