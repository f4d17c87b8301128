/**
 * Every matmul tiling variant (and a forced K split) against the float64 reference, on the
 * conformance suite's matmul cases — odd sizes, all four transposes, batched and broadcast batches,
 * forward and backward (whose products are the transposed variants), f16 where the adapter has it —
 * plus sizes that cross two tiles of every variant, with the same error bound (γ_K, core's
 * `multilinear`). The heuristic picks one variant per shape; these tests force each in turn.
 */
import { engine, matmul, tensor } from '@descent/core';
import {
  allCases,
  type Case,
  checkCaseBackward,
  checkCaseForward,
  f16Cases,
  multilinear,
  REFERENCE,
} from '@descent/core/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGPUBackend, type WebGPUBackend } from '../src/index.js';
import type { DispatchSpec, KernelContext } from '../src/webgpu/kernel.js';
import {
  chooseMatmul,
  MATMUL_VARIANTS,
  type MatmulVariantName,
  matmul as matmulKernel,
  setMatmulOverride,
} from '../src/webgpu/kernels/matmul.js';
import { runGPU } from './gpu.js';

const NAME = 'webgpu-matmul-variants';
const VARIANTS = Object.keys(MATMUL_VARIANTS) as MatmulVariantName[];

/** Odd sizes past two tiles of every variant (64-row tiles, 8-row skinny tiles), K not a multiple of any K step. */
function crossingCases(): Case[] {
  const cases: Case[] = [];
  const sizes: [number, number, number][] = [
    [129, 67, 131],
    [3, 301, 517],
    [517, 301, 5],
    [9, 45, 130],
    [130, 45, 9],
    [1, 1100, 1],
  ];
  for (const [m, k, n] of sizes)
    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      cases.push({
        op: 'matmul',
        name: `matmul ${m}x${k}x${n}${tA ? ' Aᵀ' : ''}${tB ? ' Bᵀ' : ''}`,
        inputs: [{ shape: tA ? [k, m] : [m, k] }, { shape: tB ? [n, k] : [k, n] }],
        fn: (x, y) => matmul(x, y, { transposeA: tA, transposeB: tB }),
        bound: multilinear(k, Math.max(m, n)),
        grad: [0, 1],
      });
    }
  const batched: [number[], number[]][] = [
    [
      [3, 37, 19],
      [3, 19, 70],
    ],
    [
      [2, 1, 9, 70],
      [3, 70, 5],
    ],
    [
      [4, 33, 70],
      [70, 9],
    ],
  ];
  for (const [a, b] of batched)
    cases.push({
      op: 'matmul',
      name: `matmul [${a}]·[${b}]`,
      inputs: [{ shape: a }, { shape: b }],
      fn: (x, y) => matmul(x, y),
      bound: multilinear(70, 70),
      grad: [0, 1],
    });
  return cases;
}

const CASES = [...allCases().filter((c) => c.op === 'matmul'), ...crossingCases()];
const F16_CASES = f16Cases().filter((c) => c.op === 'matmul');

async function failures(cases: Case[], check: (c: Case, b: string) => Promise<string[]>) {
  const out: string[] = [];
  for (const c of cases) out.push(...(await check(c, NAME)));
  return out.join('\n');
}

describe('matmul plan', () => {
  it('the heuristic: skinny tiles for M or N ≤ 8, tile64 for many tiles, tile32 otherwise, K split for few tiles', () => {
    expect(chooseMatmul(1, 1, 4096, 4096)).toEqual({ variant: 'skinnyM', splitK: 1 });
    expect(chooseMatmul(1, 4, 64, 4096)).toEqual({ variant: 'skinnyM', splitK: 16 });
    expect(chooseMatmul(1, 4096, 3, 512)).toEqual({ variant: 'skinnyN', splitK: 1 });
    expect(chooseMatmul(1, 1024, 1024, 1024)).toEqual({ variant: 'tile64', splitK: 1 });
    expect(chooseMatmul(1, 128, 128, 128)).toEqual({ variant: 'tile32', splitK: 1 });
    expect(chooseMatmul(1, 64, 64, 4096)).toEqual({ variant: 'tile32', splitK: 8 });
    expect(chooseMatmul(8, 256, 256, 256)).toEqual({ variant: 'tile64', splitK: 1 });
    expect(chooseMatmul(1, 2, 3, 1100)).toEqual({ variant: 'tile32', splitK: 4 });
  });

  it('a forced variant and K split change the dispatches (tiles, workgroups, the slice-summing pass)', () => {
    const specs: DispatchSpec[] = [];
    const scratch: { size: number }[] = [];
    const ctx: KernelContext = {
      op: 'matmul',
      dispatch: (s) => specs.push(s),
      copy: () => {
        throw new Error('matmul records no copies');
      },
      limits: { maxComputeWorkgroupsPerDimension: 65535 },
      split: { maxElements: 2 ** 30, alignElements: 4 },
      scratch: (size, dtype) => {
        scratch.push({ size });
        return { data: {}, shape: [size], dtype, size };
      },
    };
    const info = (shape: number[]) => ({ data: {}, shape, dtype: 'f32' as const, size: shape[0] * shape[1] });
    const attrs = {
      batch: 2,
      m: 70,
      n: 9,
      k: 300,
      transposeA: false,
      transposeB: true,
      aBatchStride: 70 * 300,
      bBatchStride: 0,
    };
    try {
      setMatmulOverride({ variant: 'tile32', splitK: 3 });
      matmulKernel(ctx, [info([140, 300]), info([9, 300])], [info([140, 9])], attrs);
      expect(specs.map((s) => s.key)).toEqual(['matmul/tile32/f32/f32/kk', 'matmul/sumSlices/f32']);
      expect(specs[0].workgroups).toEqual([1, 3, 2 * 3]);
      expect(scratch).toEqual([{ size: 3 * 2 * 70 * 9 }]);
      specs.length = 0;
      setMatmulOverride({ variant: 'skinnyN', splitK: 1 });
      matmulKernel(ctx, [info([140, 300]), info([9, 300])], [info([140, 9])], attrs);
      expect(specs.map((s) => s.key)).toEqual(['matmul/skinnyN/f32/f32/kk']);
      expect(specs[0].workgroups).toEqual([2, 2, 2]);
    } finally {
      setMatmulOverride(null);
    }
    expect(() => setMatmulOverride({ variant: 'tile7' as MatmulVariantName })).toThrow(
      /unknown matmul variant 'tile7'/,
    );
    expect(() => setMatmulOverride({ splitK: 0 })).toThrow(/splitK must be an integer ≥ 1/);
  });
});

describe.runIf(runGPU)('matmul variants on WebGPU (float64 reference, γ_K bounds)', () => {
  let backend: WebGPUBackend;
  beforeAll(async () => {
    engine.registerBackend(NAME, () => createWebGPUBackend({ name: NAME }), { replace: true });
    backend = (await engine.initBackend(NAME)) as WebGPUBackend;
    await engine.initBackend(REFERENCE);
  });
  afterAll(() => {
    setMatmulOverride(null);
    engine.removeBackend(NAME);
  });

  for (const variant of VARIANTS) {
    describe(variant, () => {
      beforeAll(() => setMatmulOverride({ variant, splitK: 1 }));
      afterAll(() => setMatmulOverride(null));
      it(`forward (${CASES.length} cases)`, async () => {
        expect(await failures(CASES, checkCaseForward)).toBe('');
      });
      it('backward (the transposed products)', async () => {
        const before = engine.memory(NAME).tensors;
        expect(await failures(CASES, checkCaseBackward)).toBe('');
        expect(engine.memory(NAME).tensors).toBe(before);
      });
      it('forward with K split in 3 (odd slices, some empty)', async () => {
        setMatmulOverride({ variant, splitK: 3 });
        expect(await failures(CASES, checkCaseForward)).toBe('');
      });
      it(`f16 forward, with and without a K split (${F16_CASES.length} cases each)`, async (ctx) => {
        if (!backend.dtypes.includes('f16')) ctx.skip(`backend '${NAME}' does not store f16`);
        for (const splitK of [1, 3]) {
          setMatmulOverride({ variant, splitK });
          expect(await failures(F16_CASES, checkCaseForward)).toBe('');
        }
      });
    });
  }

  it('a K split sums its slices in a fixed order: identical results on every run', async () => {
    setMatmulOverride({ variant: 'tile32', splitK: 5 });
    try {
      const a = tensor(
        Float32Array.from({ length: 7 * 999 }, (_, i) => Math.sin(i)),
        [7, 999],
        { backend: NAME },
      );
      const b = tensor(
        Float32Array.from({ length: 999 * 5 }, (_, i) => Math.cos(i)),
        [999, 5],
        { backend: NAME },
      );
      const runs: Float32Array[] = [];
      for (let r = 0; r < 3; r++) {
        const c = matmul(a, b);
        runs.push(Float32Array.from(await c.data()));
        c.dispose();
      }
      expect(runs[1]).toEqual(runs[0]);
      expect(runs[2]).toEqual(runs[0]);
      a.dispose();
      b.dispose();
    } finally {
      setMatmulOverride(null);
    }
  });
});
