import { roundToF16 } from '../dtype.js';
import { intValues, normalValues, uniformValues } from '../random.js';
import { sizeOf } from '../shape.js';

/** How a conformance input is generated (deterministically, from its case's seed). */
export type Gen =
  | { kind: 'normal'; scale?: number }
  /** Uniform in [lo, hi). */
  | { kind: 'uniform'; lo: number; hi: number }
  /** Magnitude uniform in [lo, hi), random sign: keeps clear of a singular point at 0. */
  | { kind: 'away'; lo: number; hi: number }
  /** Integers in [lo, hi) (as f32 or i32): many ties, for comparisons and max/min. */
  | { kind: 'ints'; lo: number; hi: number }
  /** A permutation of 0..n−1 scaled, so max/argmax are unique (safe for gradients). */
  | { kind: 'distinct'; scale?: number }
  /** Cycles through the given values (hostile inputs: ±0, ±∞, NaN, huge, tiny). */
  | { kind: 'values'; values: number[] };

export interface InputSpec {
  shape: number[];
  dtype?: 'f32' | 'i32' | 'f16';
  gen?: Gen;
}

export const HOSTILE = [
  0,
  -0,
  1,
  -1,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.NaN,
  3e38,
  -3e38,
  1e-30,
  -1e-30,
  88.5,
  -88.5,
  100,
  -100,
  0.5,
];

/** Host values for one input: f32- (or f16-) representable, the same for the backend under test and the reference. */
export function makeInput(spec: InputSpec, seed: number, stream: number): Float32Array | Int32Array {
  const n = sizeOf(spec.shape);
  const gen: Gen = spec.gen ?? { kind: 'normal' };
  const isInt = spec.dtype === 'i32';
  let v: ArrayLike<number>;
  switch (gen.kind) {
    case 'normal':
      v = normalValues(n, 0, gen.scale ?? 1, seed, stream);
      break;
    case 'uniform':
      v = uniformValues(n, gen.lo, gen.hi, seed, stream);
      break;
    case 'away': {
      const mag = uniformValues(n, gen.lo, gen.hi, seed, stream);
      const signs = intValues(n, 0, 2, seed, stream + 1000);
      v = mag.map((m, i) => (signs[i] ? m : -m));
      break;
    }
    case 'ints':
      v = intValues(n, gen.lo, gen.hi, seed, stream);
      break;
    case 'distinct': {
      const keys = uniformValues(n, 0, 1, seed, stream);
      const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[a] - keys[b]);
      const out = new Float32Array(n);
      order.forEach((pos, rank) => {
        out[pos] = (rank - n / 2) * (gen.scale ?? 0.25);
      });
      v = out;
      break;
    }
    case 'values':
      v = Array.from({ length: n }, (_, i) => gen.values[i % gen.values.length]);
      break;
  }
  if (spec.dtype === 'f16') return Float32Array.from(v, roundToF16);
  return isInt ? Int32Array.from(v) : Float32Array.from(v);
}
