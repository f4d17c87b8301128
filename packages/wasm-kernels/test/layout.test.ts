import { describe, expect, it } from 'vitest';
import { simplifyPermutation } from '../src/index.js';
import { createModule, randomF32 } from './helpers.js';

const km = createModule();

function refPermute(x: Float32Array, shape: number[], perm: number[]): Float32Array {
  const out = perm.map((p) => shape[p]!);
  const inStr = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const y = new Float32Array(x.length);
  for (let i = 0; i < y.length; i++) {
    let rem = i;
    let src = 0;
    for (let k = out.length - 1; k >= 0; k--) {
      const c = rem % out[k]!;
      rem = Math.floor(rem / out[k]!);
      src += c * inStr[perm[k]!]!;
    }
    y[i] = x[src]!;
  }
  return y;
}

describe('permute / transpose', () => {
  const CASES: [number[], number[]][] = [
    [[1], [0]],
    [
      [3, 17],
      [1, 0],
    ],
    [
      [63, 65],
      [1, 0],
    ],
    [
      [64, 64],
      [1, 0],
    ],
    [
      [257, 5],
      [1, 0],
    ],
    [
      [2, 3, 4],
      [0, 2, 1],
    ],
    [
      [2, 3, 4],
      [2, 0, 1],
    ],
    [
      [2, 3, 4],
      [1, 0, 2],
    ], // last axis stays
    [
      [5, 1, 7, 3],
      [3, 2, 1, 0],
    ],
    [
      [2, 3, 4, 5, 6, 7],
      [5, 3, 1, 0, 2, 4],
    ],
    [
      [2, 3, 2, 3, 2, 3, 2],
      [6, 5, 4, 3, 2, 1, 0],
    ], // rank 7 without mergeable dims → error
    [
      [0, 3],
      [1, 0],
    ],
  ];
  for (const [shape, perm] of CASES) {
    it(`shape [${shape}] perm [${perm}]`, () => {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = randomF32(n, n + 1);
      const px = km.allocF32(n, x);
      const py = km.allocF32(n);
      if (shape.length > 6) {
        expect(() => km.permute(px, py, shape, perm)).toThrow(/rank/);
        return;
      }
      km.permute(px, py, shape, perm);
      expect(Array.from(km.readF32(py, n))).toEqual(Array.from(refPermute(x, shape, perm)));
      km.free(px);
      km.free(py);
    });
  }

  it('simplifyPermutation merges runs and drops size-1 dims', () => {
    expect(simplifyPermutation([2, 3, 4, 5], [2, 3, 0, 1])).toEqual({ shape: [6, 20], perm: [1, 0] });
    expect(simplifyPermutation([2, 1, 4], [2, 1, 0])).toEqual({ shape: [2, 4], perm: [1, 0] });
    expect(simplifyPermutation([2, 3], [0, 1])).toEqual({ shape: [6], perm: [0] });
  });
});

describe('strided copy (slice / pad / concat)', () => {
  it('slices a [5, 7, 9] block [1:4, 2:7:2, 3:9]', () => {
    const x = randomF32(5 * 7 * 9, 1);
    const px = km.allocF32(x.length, x);
    const shape = [3, 3, 6];
    const py = km.allocF32(54);
    km.copyStrided(px + 4 * (1 * 63 + 2 * 9 + 3), py, shape, [63, 18, 1], [18, 6, 1]);
    const y = km.readF32(py, 54);
    const ref: number[] = [];
    for (let a = 1; a < 4; a++)
      for (let b = 2; b < 7; b += 2) for (let c = 3; c < 9; c++) ref.push(x[a * 63 + b * 9 + c]!);
    expect(Array.from(y)).toEqual(ref);
  });

  it('pads [3, 5] into [6, 9] (fill then copy) and concatenates along axis 1', () => {
    const x = randomF32(15, 2);
    const px = km.allocF32(15, x);
    const py = km.allocF32(54);
    km.fill(py, 54, -1);
    km.copyStrided(px, py + 4 * (2 * 9 + 1), [3, 5], [5, 1], [9, 1]);
    const y = km.readF32(py, 54);
    for (let i = 0; i < 6; i++)
      for (let j = 0; j < 9; j++) {
        const inside = i >= 2 && i < 5 && j >= 1 && j < 6;
        expect(y[i * 9 + j]).toBe(inside ? x[(i - 2) * 5 + (j - 1)] : -1);
      }
    // concat [3,5] and [3,4] → [3,9]
    const z = randomF32(12, 3);
    const pz = km.allocF32(12, z);
    const pc = km.allocF32(27);
    km.copyStrided(px, pc, [3, 5], [5, 1], [9, 1]);
    km.copyStrided(pz, pc + 20, [3, 4], [4, 1], [9, 1]);
    const c = km.readF32(pc, 27);
    for (let i = 0; i < 3; i++)
      expect(Array.from(c.subarray(i * 9, i * 9 + 9))).toEqual([
        ...x.subarray(i * 5, i * 5 + 5),
        ...z.subarray(i * 4, i * 4 + 4),
      ]);
  });
});
