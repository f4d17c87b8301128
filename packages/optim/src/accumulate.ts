import { assign, DescentError, mul, noGrad, type Tensor, tidy } from '@descent/core';

/** The part of an optimizer gradient accumulation drives. */
export interface Steppable {
  groups: readonly { params: readonly Tensor[] }[];
  step(): void;
  zeroGrad(): void;
}

/**
 * Gradient accumulation: trains with the gradient of the mean loss over `steps` micro-batches
 * while holding only one micro-batch's activations. Each `backward(loss)` back-propagates
 * loss/steps (`.grad` accumulates across backward calls); after every `steps`-th call it runs the
 * optimizer's `step()` and `zeroGrad()` and returns true.
 *
 *     const acc = new GradientAccumulator(opt, 4);
 *     for (const batch of batches) tidy(() => acc.backward(lossOf(batch)));
 *     acc.flush(); // a last partial group, if any
 */
export class GradientAccumulator {
  /** Micro-batches back-propagated since the last optimizer step. */
  pending = 0;

  constructor(
    readonly optimizer: Steppable,
    readonly steps: number,
  ) {
    if (!Number.isInteger(steps) || steps < 1)
      throw new DescentError('GradientAccumulator', `steps must be a positive integer, got ${steps}`);
  }

  /** Back-propagates loss/steps; steps the optimizer when `steps` micro-batches are in. */
  backward(loss: Tensor): boolean {
    tidy(() => mul(loss, 1 / this.steps).backward());
    this.pending++;
    if (this.pending < this.steps) return false;
    this.apply();
    return true;
  }

  /**
   * Steps on a partial group (fewer than `steps` micro-batches), rescaling the gradients by
   * steps/pending so they are the mean over the micro-batches actually seen. Returns false (and
   * does nothing) when no micro-batch is pending.
   */
  flush(): boolean {
    if (this.pending === 0) return false;
    if (this.pending < this.steps) {
      const scale = this.steps / this.pending;
      noGrad(() =>
        tidy(() => {
          for (const g of this.optimizer.groups)
            for (const p of g.params) if (p.grad) assign(p.grad, mul(p.grad, scale));
        }),
      );
    }
    this.apply();
    return true;
  }

  private apply(): void {
    this.optimizer.step();
    this.optimizer.zeroGrad();
    this.pending = 0;
  }
}
