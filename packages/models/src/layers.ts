import { add, matmul, rand, type Tensor, tanh, zeros } from '@descent/core';

/** Glorot/Xavier uniform: U(−a, a) with a = √(6 / (fanIn + fanOut)), from the seeded generator. */
export function glorotUniform(shape: [number, number], seed?: number): Tensor {
  const a = Math.sqrt(6 / (shape[0] + shape[1]));
  return rand(shape, { low: -a, high: a, seed });
}

/** y = x·W + b with W stored [in, out] (descent's layout; PyTorch stores [out, in]). */
export class Linear {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(inFeatures: number, outFeatures: number, opts: { bias?: boolean; seed?: number } = {}) {
    this.weight = glorotUniform([inFeatures, outFeatures], opts.seed).requireGrad();
    this.bias = opts.bias === false ? null : zeros([outFeatures]).requireGrad();
  }
  forward(x: Tensor): Tensor {
    const y = matmul(x, this.weight);
    return this.bias ? add(y, this.bias) : y;
  }
  parameters(): Tensor[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }
}

/** A multilayer perceptron with tanh hidden activations and a linear output layer. */
export class MLP {
  readonly layers: Linear[];
  constructor(sizes: readonly number[], opts: { seed?: number } = {}) {
    this.layers = sizes
      .slice(1)
      .map(
        (out, i) => new Linear(sizes[i], out, { seed: opts.seed === undefined ? undefined : opts.seed + i }),
      );
  }
  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, layer, i) => {
      const y = layer.forward(h);
      return i < this.layers.length - 1 ? tanh(y) : y;
    }, x);
  }
  parameters(): Tensor[] {
    return this.layers.flatMap((l) => l.parameters());
  }
}
