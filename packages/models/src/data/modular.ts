import { DescentError } from '@descent/core';
import { permutation } from './shuffle.js';

export interface SequenceSplit {
  /** Token sequences, row-major [n, length]. */
  tokens: Int32Array;
  /** The answer token of each sequence [n]. */
  targets: Int32Array;
  n: number;
}

export interface ModularAddition {
  train: SequenceSplit;
  test: SequenceSplit;
  /** Tokens 0..p−1 are numbers, token p is '='. */
  vocab: number;
  length: number;
  p: number;
}

/**
 * (a + b) mod p as the 3-token sequence [a, b, '='] whose answer is the next token — the task of the
 * "grokking" papers (Power et al. 2022). All p² pairs, split by a seeded shuffle into train and test.
 */
export function modularAddition(
  p: number,
  opts: { trainFraction?: number; seed?: number } = {},
): ModularAddition {
  if (!Number.isInteger(p) || p < 2)
    throw new DescentError('modularAddition', `p must be an integer >= 2, got ${p}`);
  const frac = opts.trainFraction ?? 0.5;
  if (!(frac > 0 && frac <= 1))
    throw new DescentError('modularAddition', `trainFraction must be in (0, 1], got ${frac}`);
  const order = permutation(p * p, opts.seed ?? 0, 21);
  const nTrain = Math.max(1, Math.round(frac * p * p));
  const make = (ids: Int32Array): SequenceSplit => {
    const tokens = new Int32Array(3 * ids.length);
    const targets = new Int32Array(ids.length);
    ids.forEach((id, i) => {
      const a = Math.floor(id / p);
      const b = id % p;
      tokens.set([a, b, p], 3 * i);
      targets[i] = (a + b) % p;
    });
    return { tokens, targets, n: ids.length };
  };
  return {
    train: make(order.subarray(0, nTrain)),
    test: make(order.subarray(nTrain)),
    vocab: p + 1,
    length: 3,
    p,
  };
}
