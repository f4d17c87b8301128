/**
 * Losses (core's fused/stable implementations, re-exported so a model file needs one import) and
 * metrics.
 */
import { argmax, DescentError, equal, greater, mean, type Tensor } from '@descent/core';

export { bceWithLogits, crossEntropy, type LossOptions, mse, type Reduction } from '@descent/core';

/**
 * Fraction of rows whose arg-max logit is the label: logits [..., C] with i32 labels [...], or, for
 * binary tasks, logits [...] with 0/1 f32 targets (a logit > 0 predicts 1). Returns a scalar tensor
 * (read it with `item()` or `await itemAsync()`).
 */
export function accuracy(logits: Tensor, labels: Tensor): Tensor {
  if (labels.dtype === 'i32') {
    if (labels.rank !== logits.rank - 1)
      throw new DescentError(
        'accuracy',
        `logits [${logits.shape.join(', ')}] need i32 labels of shape [${logits.shape.slice(0, -1).join(', ')}], got [${labels.shape.join(', ')}]`,
      );
    return mean(equal(argmax(logits, -1), labels));
  }
  if (labels.shape.join() !== logits.shape.join())
    throw new DescentError(
      'accuracy',
      `binary logits [${logits.shape.join(', ')}] need f32 0/1 targets of the same shape, got [${labels.shape.join(', ')}]`,
    );
  return mean(equal(greater(logits, 0), greater(labels, 0.5)));
}
