import { intValues } from '@descent/core';

/** A permutation of 0..n−1 by Fisher–Yates driven by the seeded counter-based generator. */
export function permutation(n: number, seed: number, stream: number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  // One 30-bit draw per swap; j = draw mod (i+1) has bias < (i+1)/2^30, negligible at these sizes.
  const draws = intValues(n, 0, 2 ** 30, seed, stream);
  for (let i = n - 1; i > 0; i--) {
    const j = draws[i] % (i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
