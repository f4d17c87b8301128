import { intValues } from '@descent/core';
import * as models from '@descent/models';
import type { Availability, TaskData } from './types.js';

/**
 * The tasks the Train page offers. Each builds its data host-side, deterministically from a seed;
 * `view` says which live picture the page draws for it.
 */
export interface TaskEntry {
  id: string;
  label: string;
  description: string;
  view: 'boundary' | 'digits' | 'none';
  /** Examples per step; 0 means full batch. */
  batch: number;
  availability(): Availability;
  make(seed: number): Promise<TaskData>;
}

/** Two interleaved spirals from @descent/models: 2-D points, 2 classes, full batch. */
const spirals: TaskEntry = {
  id: 'spirals',
  label: 'Two spirals',
  description:
    '2-D points on two interleaved spirals (400 train / 200 validation); the decision boundary is drawn live.',
  view: 'boundary',
  batch: 0,
  availability: () => ({ available: true }),
  async make(seed) {
    const train = models.twoSpirals(400, { seed });
    const val = models.twoSpirals(200, { seed: seed + 7919 });
    return {
      train: { x: train.x, y: train.y, n: train.n },
      val: { x: val.x, y: val.y, n: val.n },
      inputShape: [2],
      input: 'features',
      classes: 2,
    };
  },
};

const MOD_P = 23;

/**
 * (a + b) mod p for all p² pairs, half of them (seeded shuffle) for training: the task on which
 * weight decay makes a network generalize long after it memorized ("grokking"). Features are the
 * two one-hot codes side by side; token models read the pair as a 2-token sequence.
 */
const modularAddition: TaskEntry = {
  id: 'modadd',
  label: `Modular addition (mod ${MOD_P})`,
  description: `(a + b) mod ${MOD_P} from one-hot a and b; half of the ${MOD_P * MOD_P} pairs train, half validate.`,
  view: 'none',
  batch: 0,
  availability: () => ({ available: true }),
  async make(seed) {
    const p = MOD_P;
    const pairs = p * p;
    // Fisher–Yates with the seeded generator (intValues draws uniform integers in [0, high)).
    const order = Array.from({ length: pairs }, (_, i) => i);
    const draws = intValues(pairs, 0, 2 ** 30, seed, 11);
    for (let i = pairs - 1; i > 0; i--) {
      const j = draws[i] % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    const nTrain = pairs >> 1;
    const split = (ids: number[]) => {
      const x = new Float32Array(ids.length * 2 * p);
      const y = new Int32Array(ids.length);
      ids.forEach((pair, r) => {
        const a = Math.floor(pair / p);
        const b = pair % p;
        x[r * 2 * p + a] = 1;
        x[r * 2 * p + p + b] = 1;
        y[r] = (a + b) % p;
      });
      return { x, y, n: ids.length };
    };
    return {
      train: split(order.slice(0, nTrain)),
      val: split(order.slice(nTrain)),
      inputShape: [2 * p],
      input: 'features',
      classes: p,
    };
  },
};

export const TASKS: TaskEntry[] = [spirals, modularAddition];

export function taskById(id: string): TaskEntry {
  const t = TASKS.find((x) => x.id === id);
  if (!t) throw new Error(`unknown task '${id}' (known: ${TASKS.map((x) => x.id).join(', ')})`);
  return t;
}
