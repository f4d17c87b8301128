import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BinaryOpName,
  broadcastPlan,
  type Conv2dGeometry,
  convOutputSize,
  KernelModule,
  kernelBinary,
  type UnaryOpName,
} from '../src/index.js';
import { toSharedMemoryBinary } from '../src/threads/shared-binary.js';
import { boxes, type GemmProblem, part, planGemm } from '../src/threads/split.js';
import { convGeometry, randomF32, rng, VARIANT } from './helpers.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

// ---- pure planning ------------------------------------------------------------------------------------

describe('split planning', () => {
  it('part() tiles [0, n) in order', () => {
    for (const [n, parts] of [
      [0, 3],
      [5, 3],
      [1000, 7],
      [2, 2],
    ] as const) {
      let next = 0;
      for (let t = 0; t < parts; t++) {
        const [s, e] = part(n, parts, t);
        expect(s).toBe(next);
        expect(e).toBeGreaterThanOrEqual(s);
        next = e;
      }
      expect(next).toBe(n);
    }
  });

  it('boxes() cover a flat range exactly, in order, with ≤ 2·rank − 1 boxes', () => {
    const r = rng(7);
    for (let trial = 0; trial < 400; trial++) {
      const rank = 1 + Math.floor(r(0, 5));
      const shape = Array.from({ length: rank }, () => 1 + Math.floor(r(0, 6)));
      const size = shape.reduce((a, b) => a * b, 1);
      const e0 = Math.floor(r(0, size + 1));
      const e1 = e0 + Math.floor(r(0, size - e0 + 1));
      const got: number[] = [];
      const bs = boxes(shape, e0, e1);
      expect(bs.length).toBeLessThanOrEqual(Math.max(0, 2 * rank - 1));
      for (const b of bs) {
        // enumerate the box's flat indices: fixed prefix, dim d in [lo, hi), later dims whole
        const d = b.fixed.length;
        const rest = shape.slice(d + 1);
        const restSize = rest.reduce((a, c) => a * c, 1);
        let prefix = 0;
        for (let i = 0; i < d; i++) prefix = prefix * shape[i]! + b.fixed[i]!;
        for (let i = b.lo; i < b.hi; i++)
          for (let j = 0; j < restSize; j++) got.push((prefix * shape[d]! + i) * restSize + j);
      }
      expect(got).toEqual(Array.from({ length: e1 - e0 }, (_, i) => e0 + i));
    }
  });

  it('planGemm writes every element of C exactly once, never splitting K', () => {
    for (const [M, N, K, batch] of [
      [300, 200, 513, 1],
      [37, 700, 300, 1],
      [64, 64, 1000, 5],
      [130, 9, 3000, 3],
    ] as const) {
      const p: GemmProblem = {
        transA: false,
        transB: false,
        M,
        N,
        K,
        a: 0,
        lda: K,
        b: 0,
        ldb: N,
        c: 0,
        ldc: N,
        accumulate: false,
        batch,
        strideA: M * K,
        strideB: K * N,
        strideC: M * N,
        contiguous: true,
      };
      const plan = planGemm(p, 3);
      expect(plan).not.toBeNull();
      const hits = new Uint8Array(batch * M * N);
      // a few tasks per thread, each naming its workspace argument
      expect(plan!.length).toBeGreaterThanOrEqual(3);
      for (const { fn, args, ws } of plan!) {
        expect(ws).toBe(fn === 'gemm' ? 12 : 13);
        if (fn === 'gemm') {
          const [, , m, n, k, , , , , c, ldc] = args as number[];
          expect(k).toBe(K);
          for (let i = 0; i < m!; i++) for (let j = 0; j < n!; j++) hits[c! / 4 + i * ldc! + j]!++;
        } else {
          expect(fn).toBe('matmul');
          const [, , c, m, n, k, , , , nb, , , sc] = args as number[];
          expect([m, n, k]).toEqual([M, N, K]);
          for (let q = 0; q < nb!; q++) for (let i = 0; i < M * N; i++) hits[c! / 4 + q * sc! + i]!++;
        }
      }
      expect(hits.every((h) => h === 1)).toBe(true);
    }
  });

  it('small problems are not split', () => {
    const p: GemmProblem = {
      transA: false,
      transB: false,
      M: 32,
      N: 32,
      K: 32,
      a: 0,
      lda: 32,
      b: 0,
      ldb: 32,
      c: 0,
      ldc: 32,
      accumulate: false,
      batch: 1,
      strideA: 0,
      strideB: 0,
      strideC: 0,
      contiguous: true,
    };
    expect(planGemm(p, 8)).toBeNull();
  });
});

describe('shared-memory binary', () => {
  it('is the same code importing (memory 1 65536 shared)', () => {
    const plain = kernelBinary(VARIANT);
    const shared = toSharedMemoryBinary(plain);
    expect(shared.length - plain.length).toBeLessThanOrEqual(4); // only the limits changed
    const mod = new WebAssembly.Module(shared);
    expect(WebAssembly.Module.imports(mod).find((i) => i.kind === 'memory')).toBeTruthy();
    const memory = new WebAssembly.Memory({
      initial: 2,
      maximum: 16,
      shared: true,
    } as WebAssembly.MemoryDescriptor);
    const inst = new WebAssembly.Instance(mod, { env: { memory, abort: () => {} } });
    expect(typeof inst.exports.gemm).toBe('function');
    // an unshared memory no longer matches the import
    expect(
      () =>
        new WebAssembly.Instance(mod, {
          env: { memory: new WebAssembly.Memory({ initial: 2, maximum: 16 }), abort: () => {} },
        }),
    ).toThrow();
  });
});

// ---- threaded vs single-threaded: bit-identical -------------------------------------------------------

describe(`threads (${VARIANT})`, () => {
  let km2: KernelModule;
  const km1 = KernelModule.createSync({ variant: VARIANT, initialBytes: 4 << 20 });

  beforeAll(async () => {
    km2 = await KernelModule.create({ variant: VARIANT, threads: 2, initialBytes: 1 << 20 });
  });
  afterAll(() => km2?.dispose());

  /** Runs `op` on both modules over the same inputs and expects bit-identical outputs. */
  function same(
    inputs: (Float32Array | Int32Array)[],
    outLen: number,
    op: (km: KernelModule, ins: number[], out: number) => void,
    opts: { split?: boolean | number; outInit?: Float32Array } = {},
  ): Float32Array {
    const outs: Float32Array[] = [];
    for (const km of [km1, km2]) {
      const ptrs = inputs.map((v) => {
        const p = km.alloc(v.byteLength);
        km.u8.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), p);
        return p;
      });
      const out = km.allocF32(outLen, opts.outInit);
      const jobs = km.parallelJobs;
      op(km, ptrs, out);
      if (km === km2) {
        const want = typeof opts.split === 'number' ? opts.split : opts.split === false ? 0 : 1;
        expect(km.parallelJobs - jobs, 'kernel calls split across threads').toBe(want);
      }
      outs.push(km.readF32(out, outLen));
      km.free(out);
      for (const p of ptrs) km.free(p);
    }
    const [a, b] = outs as [Float32Array, Float32Array];
    const ab = new Uint32Array(a.buffer);
    const bb = new Uint32Array(b.buffer);
    let bad = 0;
    for (let i = 0; i < ab.length; i++) if (ab[i] !== bb[i]) bad++;
    expect(bad, 'elements that differ between 1 and 2 threads').toBe(0);
    return a;
  }

  it('uses the requested threads; default = available cores', async () => {
    expect(km2.threads).toBe(2);
    expect(km1.threads).toBe(1);
    const dflt = await KernelModule.create({ variant: VARIANT });
    expect(dflt.threads).toBe(availableParallelism());
    dflt.dispose();
    expect(dflt.threads).toBe(1);
  });

  it('an unshared memory runs single-threaded', async () => {
    const km = await KernelModule.create({
      variant: VARIANT,
      threads: 4,
      memory: new WebAssembly.Memory({ initial: 64, maximum: 1024 }),
    });
    expect(km.threads).toBe(1);
    await expect(KernelModule.create({ variant: VARIANT, threads: 0 })).rejects.toThrow(/positive integer/);
    // a worker script that is not there fails loudly, naming the way out
    await expect(
      KernelModule.create({
        variant: VARIANT,
        threads: 2,
        workerUrl: new URL('./no-such-worker.js', import.meta.url),
      }),
    ).rejects.toThrow(/worker 1 failed to start .*workerUrl/);
  });

  describe('matmul / gemm', () => {
    const cases: [number, number, number, boolean, boolean][] = [
      [131, 97, 720, false, false],
      [131, 97, 720, true, false],
      [131, 97, 720, false, true],
      [131, 97, 720, true, true],
      [33, 517, 600, false, false], // N > M: column split
      [257, 129, 1100, true, false], // K over four KC blocks
    ];
    for (const [M, N, K, tA, tB] of cases) {
      it(`${M}×${N}×${K} transA=${tA} transB=${tB}, plain and accumulate`, () => {
        const a = randomF32(M * K, 1);
        const b = randomF32(K * N, 2);
        same([a, b], M * N, (km, [pa, pb], pc) =>
          km.matmul(pa!, pb!, pc, M, N, K, { transA: tA, transB: tB }),
        );
        const c0 = randomF32(M * N, 3);
        same(
          [a, b],
          M * N,
          (km, [pa, pb], pc) =>
            km.matmul(pa!, pb!, pc, M, N, K, { transA: tA, transB: tB, accumulate: true }),
          { outInit: c0 },
        );
      });
    }

    it('batched, with a broadcast operand (stride 0) and a batch that does not divide evenly', () => {
      const [B, M, N, K] = [3, 70, 90, 500];
      const a = randomF32(B * M * K, 4);
      const b = randomF32(K * N, 5);
      same([a, b], B * M * N, (km, [pa, pb], pc) =>
        km.matmul(pa!, pb!, pc, M, N, K, { batch: B, strideB: 0 }),
      );
      const bt = randomF32(B * N * K, 6);
      same([a, bt], B * M * N, (km, [pa, pb], pc) =>
        km.matmul(pa!, pb!, pc, M, N, K, { batch: B, transB: true }),
      );
    });

    it('gemm with leading dimensions larger than the operands', () => {
      const [M, N, K, lda, ldb, ldc] = [150, 100, 400, 430, 130, 120];
      const a = randomF32(M * lda, 7);
      const b = randomF32(K * ldb, 8);
      same(
        [a, b],
        M * ldc,
        (km, [pa, pb], pc) => km.gemm(false, false, M, N, K, pa!, lda, pb!, ldb, pc, ldc),
        {
          outInit: randomF32(M * ldc, 9), // the gap columns must stay untouched
        },
      );
    });

    it('small matmuls stay on the calling thread', () => {
      same(
        [randomF32(48 * 48, 1), randomF32(48 * 48, 2)],
        48 * 48,
        (km, [a, b], c) => km.matmul(a!, b!, c, 48, 48, 48),
        {
          split: false,
        },
      );
    });
  });

  describe('conv2d', () => {
    const geoms: Conv2dGeometry[] = [
      convGeometry({ N: 3, H: 17, W: 15, C: 32, KH: 3, KW: 3, Cout: 24, pad: 1 }),
      convGeometry({
        N: 4,
        H: 27,
        W: 25,
        C: 24,
        KH: 3,
        KW: 2,
        Cout: 80,
        strideH: 2,
        padTop: 2,
        padLeft: 1,
        padRight: 1,
        dilationH: 2,
        groups: 2,
      }),
      convGeometry({ N: 2, H: 30, W: 30, C: 64, KH: 1, KW: 1, Cout: 64 }), // pointwise path
      convGeometry({ N: 1, H: 24, W: 24, C: 8, KH: 5, KW: 5, Cout: 48, pad: 2 }), // one image: dx in bands of rows
      convGeometry({
        N: 2,
        H: 41,
        W: 64,
        C: 16,
        KH: 3,
        KW: 3,
        Cout: 64,
        strideH: 2,
        padTop: 3,
        padLeft: 1,
        padRight: 1,
        dilationH: 2,
      }), // bands that cross an image border, stride and dilation along H, uneven padding
      convGeometry({ N: 32, H: 28, W: 28, C: 1, KH: 3, KW: 3, Cout: 8, pad: 1 }), // 1-channel stem: dw from 8 pixel segments × 3 kernel rows, partials added in segment order
      convGeometry({ N: 4, H: 28, W: 28, C: 8, KH: 3, KW: 3, Cout: 8, pad: 1 }), // 8 channels: whole window rows as one run, dw from several segments
    ];
    for (const g of geoms) {
      const { OH, OW } = convOutputSize(g);
      const xLen = g.N * g.H * g.W * g.C;
      const wLen = g.KH * g.KW * (g.C / g.groups) * g.Cout;
      const yLen = g.N * OH * OW * g.Cout;
      it(`x [${g.N},${g.H},${g.W},${g.C}] ${g.KH}×${g.KW} → ${g.Cout} (groups ${g.groups}): forward, dx, dw`, () => {
        const x = randomF32(xLen, 11);
        const w = randomF32(wLen, 12);
        const dy = randomF32(yLen, 13);
        same([x, w], yLen, (km, [px, pw], py) => km.conv2d(px!, pw!, py, g));
        // dx: whole images, or bands of image rows when there are few images
        same([dy, w], xLen, (km, [pdy, pw], pdx) => km.conv2dBackwardInput(pdy!, pw!, pdx, g), {
          outInit: randomF32(xLen, 14),
        });
        same([x, dy], wLen, (km, [px, pdy], pdw) => km.conv2dBackwardFilter(px!, pdy!, pdw, g), {
          outInit: randomF32(wLen, 15),
        });
      });
    }
  });

  describe('elementwise', () => {
    const unary: [UnaryOpName, number][] = [
      ['exp', 600_003],
      ['geluErf', 100_001],
      ['relu', 2_500_003],
      ['silu', 400_000],
    ];
    for (const [op, n] of unary) {
      it(`unary ${op} over ${n}`, () => {
        const x = randomF32(n, 21, -20, 20);
        // lanes outside exp's fast path ([−86, 86]) scattered through: their vectors take the slow path
        for (let i = 5; i < n; i += 997) x[i] = [-100, 95, Number.NaN, -Infinity][i % 4]!;
        same([x], n, (km, [px], py) => km.unary(op, px!, py, n, 1, 0));
      });
    }

    for (const fn of ['softmax', 'logSoftmax'] as const) {
      it(`${fn} over 1001 rows of 400 (blocks of rows), incl. rows with −inf, NaN and a spread > 86`, () => {
        const rows = 1001;
        const n = 400;
        const x = randomF32(rows * n, 22, -30, 30);
        x[7 * n + 5] = -Infinity;
        x[100 * n + 1] = Number.NaN;
        x[500 * n + 399] = -200;
        same([x], rows * n, (km, [px], py) => km[fn](px!, py, rows, n));
      });
    }

    describe('row kernels over 2601 rows of 400 (blocks of rows)', () => {
      const rows = 2601;
      const n = 400;
      const x = randomF32(rows * n, 23, -30, 30);
      x[9 * n + 3] = -Infinity; // a row off exp's fast path
      const labels = Int32Array.from({ length: rows }, (_, r) => (r * 37) % n);
      const g = randomF32(rows, 24, -2, 2);
      const gamma = randomF32(n, 25, 0.5, 2);
      const beta = randomF32(n, 26, -1, 1);
      it('crossEntropy (smoothing 0.1)', () => {
        same([x, labels], rows, (km, [px, pl], py) => km.crossEntropy(px!, pl!, py, rows, n, 0.1));
      });
      it('crossEntropyBackward, per-row and broadcast dloss', () => {
        same([x, labels, g], rows * n, (km, [px, pl, pg], py) =>
          km.crossEntropyBackward(px!, pl!, pg!, 1, py, rows, n, 0.1),
        );
        same([x, labels, g], rows * n, (km, [px, pl, pg], py) =>
          km.crossEntropyBackward(px!, pl!, pg!, 0, py, rows, n, 0),
        );
      });
      it('layerNorm with the per-row mean and rstd outputs', () => {
        // y, then mean[rows], then rstd[rows] in one output buffer
        same([x, gamma, beta], rows * (n + 2), (km, [px, pg, pb], py) =>
          km.layerNorm(px!, pg!, pb!, py, rows, n, 1e-5, py + 4 * rows * n, py + 4 * rows * (n + 1)),
        );
      });
      it('rmsNorm with the per-row rstd output', () => {
        same([x, gamma], rows * (n + 1), (km, [px, pg], py) =>
          km.rmsNorm(px!, pg!, py, rows, n, 1e-5, py + 4 * rows * n),
        );
      });
    });

    describe('fused optimizer updates (ranges of elements; Adafactor by rows), in place', () => {
      const n = 1_000_003;
      const p = randomF32(n, 41, -1, 1);
      const g = randomF32(n, 42, -1, 1);
      const m = randomF32(n, 43, -0.1, 0.1);
      const v = randomF32(n, 44, 0, 0.01);
      const el = (ptr: number) => ({ ptr, stride: 4 });
      // the updated parameters are written over a copy of p in the output buffer
      const fromP = (km: KernelModule, pp: number, out: number, len: number) =>
        km.u8.copyWithin(out, pp, pp + 4 * len);
      it('adam (AdamW: adaptive, decoupled decay; no amsgrad operand)', () => {
        same([p, g, m, v], n, (km, [pp, pg, pm, pv], out) => {
          fromP(km, pp!, out, n);
          const coef = [0.9, 0.1, 0.999, 0.001, 0, 0.9999, 1e-3, 0, 1, 1e-8];
          km.update('adam_update_f32', [el(out), el(pg!), el(pm!), el(pv!), el(0), n, 128 | 512, ...coef], 5);
        });
      });
      it('lion', () => {
        same([p, g, m], n, (km, [pp, pg, pm], out) => {
          fromP(km, pp!, out, n);
          km.update(
            'lion_update_f32',
            [el(out), el(pg!), el(pm!), n, 512, 1e-4, 0.9, 0.1, 0.99, 0.01, 0.9999],
            3,
          );
        });
      });
      it('adafactor over [1001, 1000] with momentum', () => {
        const rows = 1001;
        const cols = 1000;
        const rs = randomF32(rows, 45, 0.5, 2);
        const cs = randomF32(cols, 46, 0.5, 2);
        const scale = Float32Array.of(1e-3);
        same([p, g, m, rs, cs, scale], rows * cols, (km, [pp, pg, pm, prs, pcs, ps], out) => {
          fromP(km, pp!, out, rows * cols);
          const row = (ptr: number) => ({ ptr, stride: 4 * cols });
          const args = [
            row(out),
            row(pg!),
            el(prs!),
            pcs!,
            ps!,
            row(pm!),
            rows,
            cols,
            2 | 512,
            0.9,
            0.1,
            0.9999,
          ];
          km.adafactorUpdate(args, 6, cols);
        });
      });
    });

    const binary: [BinaryOpName, number[], number[], number[]][] = [
      ['add', [13, 301, 357], [13, 301, 357], [301, 1]],
      ['mul', [9, 3, 211, 260], [1, 3, 1, 260], [9, 3, 211, 260]],
      ['pow', [60_001], [60_001], [1]],
      ['max', [3, 1, 500_000], [3, 1, 500_000], [3, 1, 1]],
    ];
    for (const [op, out, sa, sb] of binary) {
      it(`binary ${op} ${JSON.stringify(sa)} ∘ ${JSON.stringify(sb)} → ${JSON.stringify(out)}`, () => {
        const plan = broadcastPlan(out, [sa, sb]);
        const a = randomF32(
          sa.reduce((x, y) => x * y, 1),
          31,
          0.1,
          3,
        );
        const b = randomF32(
          sb.reduce((x, y) => x * y, 1),
          32,
          -2,
          2,
        );
        same([a, b], plan.size, (km, [pa, pb], py) => km.binary(op, pa!, pb!, py, plan));
      });
    }

    it('binary i32 with broadcasting', () => {
      const out = [900, 1501];
      const plan = broadcastPlan(out, [out, [1501]]);
      const r = rng(41);
      const a = Int32Array.from({ length: 900 * 1501 }, () => Math.floor(r(-1e6, 1e6)));
      const b = Int32Array.from({ length: 1501 }, () => Math.floor(r(-1e6, 1e6)));
      same([a, b], plan.size, (km, [pa, pb], py) => km.binary('sub', pa!, pb!, py, plan, 'i32'));
    });
  });

  it('hundreds of back-to-back accumulating jobs: every task runs exactly once', () => {
    // C += A·B is not idempotent: a task run twice, or skipped, by a worker waking late into the next
    // job would show up as a difference from the single-threaded sums
    const [M, N, K] = [160, 160, 200];
    const a = randomF32(M * K, 81);
    const b = randomF32(K * N, 82);
    const rounds = 150;
    same(
      [a, b],
      M * N,
      (km, [pa, pb], pc) => {
        for (let r = 0; r < rounds; r++) km.matmul(pa!, pb!, pc, M, N, K, { accumulate: true });
      },
      { split: rounds, outInit: randomF32(M * N, 83) },
    );
  });

  it('workers see the memory after it grows', () => {
    const before = km2.memory.buffer.byteLength;
    const n = 384;
    const bytes = 4 * n * n;
    // one block that straddles the old end of memory: put all three operands above that end
    const big = km2.alloc(before + 3 * bytes);
    expect(km2.memory.buffer.byteLength).toBeGreaterThan(before);
    const base = Math.ceil(Math.max(big, before) / 64) * 64;
    const [pa, pb, pc] = [base, base + bytes, base + 2 * bytes];
    km2.writeF32(pa, randomF32(n * n, 51));
    km2.writeF32(pb, randomF32(n * n, 52));
    const jobs = km2.parallelJobs;
    km2.matmul(pa, pb, pc, n, n, n);
    expect(km2.parallelJobs).toBe(jobs + 1);
    const got = km2.readF32(pc, n * n);
    km2.free(big);
    same([randomF32(n * n, 51), randomF32(n * n, 52)], n * n, (km, [a, b], c) => {
      km.matmul(a!, b!, c, n, n, n);
      if (km === km1) {
        const want = km.readF32(c, n * n);
        expect(new Uint32Array(got.buffer)).toEqual(new Uint32Array(want.buffer));
      }
    });
  });

  it('a trap on any thread throws, and the pool stays usable', () => {
    const n = 256;
    const a = km2.allocF32(n * n);
    const b = km2.allocF32(n * n);
    const outOfBounds = km2.memory.buffer.byteLength + 4096;
    expect(() => km2.matmul(a, b, outOfBounds, n, n, n)).toThrow(/out of bounds/);
    km2.free(a);
    km2.free(b);
    same([randomF32(n * n, 61), randomF32(n * n, 62)], n * n, (km, [pa, pb], pc) =>
      km.matmul(pa!, pb!, pc, n, n, n),
    );
  });

  it('dispose() stops the workers; the module keeps working single-threaded', async () => {
    const km = await KernelModule.create({ variant: VARIANT, threads: 2 });
    const inUse = km.memoryStats().bytesInUse;
    const n0 = 256;
    const m0 = km.allocF32(n0 * n0);
    const c0 = km.allocF32(n0 * n0);
    km.matmul(m0, m0, c0, n0, n0, n0); // split: allocates the per-thread workspaces
    km.free(m0);
    km.free(c0);
    expect(km.memoryStats().bytesInUse).toBeGreaterThan(inUse);
    km.dispose();
    const jobs = km.parallelJobs;
    expect(km.threads).toBe(1);
    expect(km.memoryStats().bytesInUse).toBeLessThan(inUse); // control block and thread workspaces freed
    const n = 200;
    const a = km.allocF32(n * n, randomF32(n * n, 71));
    const c = km.allocF32(n * n);
    km.matmul(a, a, c, n, n, n);
    expect(km.parallelJobs).toBe(jobs); // ran on the caller
    expect(Number.isFinite(km.readF32(c, 1)[0]!)).toBe(true);
  });
});

// ---- a Node process exits with live workers -----------------------------------------------------------

describe('process exit', () => {
  it('a script that never calls dispose() still exits', () => {
    // compile src to plain JS (the worker needs no compiling), then run a child that leaves the pool alive
    const out = mkdtempSync(join(tmpdir(), 'wk-threads-'));
    try {
      const tsc = join(
        dirname(createRequire(import.meta.url).resolve('typescript/package.json')),
        'bin',
        'tsc',
      );
      execFileSync(process.execPath, [tsc, '-p', join(pkgDir, 'tsconfig.build.json'), '--outDir', out], {
        stdio: 'pipe',
      });
      writeFileSync(join(out, 'package.json'), '{"type":"module"}');
      const script = `
        import { KernelModule } from ${JSON.stringify(join(out, 'module.js'))};
        const km = await KernelModule.create({ variant: 'simd', threads: 2 });
        const n = 256, a = km.allocF32(n * n), c = km.allocF32(n * n);
        km.matmul(a, a, c, n, n, n);
        console.log('threads', km.threads, 'jobs', km.parallelJobs);`;
      const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        timeout: 30_000,
        encoding: 'utf8',
      });
      expect(stdout.trim()).toBe('threads 2 jobs 1');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
