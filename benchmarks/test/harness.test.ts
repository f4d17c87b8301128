import { describe, expect, it } from 'vitest';
import { checkElementwise, checkNormwise, gamma, U32 } from '../src/agree.js';
import { type BenchCase, checkOutputs, kernelCases, makeInputs, matmulCase } from '../src/cases.js';
import { ciProblems } from '../src/cli.js';
import { onnxModel } from '../src/onnx.js';
import { Progress } from '../src/progress.js';
import { buildReport, headlineTable, ratio } from '../src/report.js';
import type { BenchResults } from '../src/results.js';
import type { KernelResult } from '../src/run.js';
import { fitPowerLaw, halton, performanceRatios, profileArea, profileAt, summarize } from '../src/stats.js';
import { barChart, lineChart, ticks } from '../src/svg.js';
import { measure } from '../src/timing.js';

function matmulF32(a: Float32Array, b: Float32Array, m: number, n: number, k: number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s = Math.fround(s + Math.fround(a[i * k + t] * b[t * n + j]));
      c[i * n + j] = s;
    }
  return c;
}

describe('statistics', () => {
  it('summarizes with median, quartiles and MAD', () => {
    const s = summarize([5, 1, 3, 2, 4]);
    expect(s).toMatchObject({ n: 5, median: 3, min: 1, max: 5, q1: 2, q3: 4, mad: 1 });
    expect(s.relIqr).toBeCloseTo(2 / 3);
    expect(summarize([1, 2, 3, 4]).median).toBe(2.5);
    expect(() => summarize([])).toThrow(/empty/);
  });

  it('fits power laws in log-log space', () => {
    const xs = [64, 128, 256, 512];
    const f = fitPowerLaw(
      xs,
      xs.map((x) => 2e-6 * x ** 3),
    );
    expect(f.exponent).toBeCloseTo(3, 10);
    expect(f.c).toBeCloseTo(2e-6, 12);
    expect(f.r2).toBeCloseTo(1, 10);
    const noisy = fitPowerLaw(xs, [1, 9, 60, 600]);
    expect(noisy.exponent).toBeGreaterThan(3);
    expect(noisy.r2).toBeLessThan(1);
  });

  it('computes performance profiles and their normalized area', () => {
    const cost = {
      fast: { a: 1, b: 2, c: 10 },
      slow: { a: 2, b: 2, c: Number.POSITIVE_INFINITY },
    };
    const r = performanceRatios(cost);
    expect(r.fast).toEqual([1, 1, 1]);
    expect(r.slow).toEqual([2, 1, Number.POSITIVE_INFINITY]);
    expect(profileAt(r.slow, 1)).toBeCloseTo(1 / 3);
    expect(profileAt(r.slow, 2)).toBeCloseTo(2 / 3);
    expect(profileArea(r.fast, 4)).toBe(1);
    // ratio 2 contributes (4 − 2)/3, ratio 1 contributes 1, ∞ contributes 0
    expect(profileArea(r.slow, 4)).toBeCloseTo((2 / 3 + 1) / 3);
    // a problem no solver reached counts as unsolved for all
    const none = performanceRatios({
      x: { p: Number.POSITIVE_INFINITY },
      y: { p: Number.POSITIVE_INFINITY },
    });
    expect(profileArea(none.x)).toBe(0);
  });

  it('draws a Halton sequence in [0, 1)', () => {
    expect([1, 2, 3].map((i) => halton(i, 2))).toEqual([0.5, 0.25, 0.75]);
    expect(halton(1, 3)).toBeCloseTo(1 / 3);
  });
});

describe('timing', () => {
  it('takes a cold call, warm-up, and the requested samples from a fake clock', async () => {
    let t = 0;
    let calls = 0;
    const m = await measure(
      () => {
        calls++;
        t += calls === 1 ? 100 : 10; // the first call is slow (compile), then 10 ms each
      },
      { now: () => t, warmup: 2, reps: 5, minSampleMs: 20 },
    );
    expect(m.coldMs).toBe(100);
    expect(m.inner).toBe(2);
    expect(m.samples).toEqual([10, 10, 10, 10, 10]);
    expect(calls).toBe(1 + 2 + 5 * 2);
  });

  it('adds GPU time per call from a timer on the same calls, or says why there is none', async () => {
    let t = 0;
    let gpuNs = 0; // what a fake device would have timed: 3 ms per call
    const run = () => {
      t += 10;
      gpuNs += 3e6;
    };
    const timer = {
      time: async (fn: () => Promise<void>) => {
        const before = gpuNs;
        t += 1000; // the timer's own flush and read-back: not in the wall clock
        await fn();
        t += 1000;
        return (gpuNs - before) / 1e6;
      },
    };
    const m = await measure(run, { now: () => t, warmup: 1, reps: 5, minSampleMs: 20, gpu: timer });
    expect(m.coldMs).toBe(10);
    expect(m.samples).toEqual([10, 10, 10, 10, 10]);
    expect(m.gpu?.coldMs).toBe(3);
    expect(m.gpu?.samples).toEqual([3, 3, 3, 3, 3]);
    expect(m.gpu?.summary?.median).toBe(3);
    const none = await measure(run, {
      now: () => t,
      reps: 5,
      gpu: { unavailable: 'no timestamp-query on this adapter', time: () => Promise.reject(new Error('x')) },
    });
    expect(none.gpu).toEqual({ unavailable: 'no timestamp-query on this adapter' });
    expect(none.samples).toEqual([10, 10, 10, 10, 10]);
  });
});

describe('agreement checks', () => {
  it('passes a correct f32 matmul and catches a slightly wrong one', () => {
    const c = matmulCase(33, 17, 65);
    const inputs = makeInputs(c);
    const y = matmulF32(inputs.a as Float32Array, inputs.b as Float32Array, 33, 17, 65);
    const good = checkOutputs(c, inputs, { y });
    expect(good.ok).toBe(true);
    expect(good.worstRatio).toBeLessThan(0.1);
    // a kernel that drops one term of one dot product (an off-by-one in K) must fail
    const bad = Float32Array.from(y);
    const a = inputs.a as Float32Array;
    const b = inputs.b as Float32Array;
    bad[5 * 17 + 3] -= a[5 * 65 + 64] * b[64 * 17 + 3];
    const r = checkOutputs(c, inputs, { y: bad });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/element 88/);
  });

  it('catches a half-precision result that is fast but wrong', () => {
    const c = kernelCases(true).find((x) => x.spec.kind === 'softmax')!;
    const inputs = makeInputs(c);
    const s = c.spec as { rows: number; size: number };
    const x = inputs.x as Float32Array;
    const y = new Float32Array(x.length);
    for (let r = 0; r < s.rows; r++) {
      let m = -Infinity;
      for (let j = 0; j < s.size; j++) m = Math.max(m, x[r * s.size + j]);
      let sum = 0;
      for (let j = 0; j < s.size; j++) sum += Math.exp(x[r * s.size + j] - m);
      for (let j = 0; j < s.size; j++) y[r * s.size + j] = Math.exp(x[r * s.size + j] - m) / sum;
    }
    expect(checkOutputs(c, inputs, { y }).ok).toBe(true);
    // round every output to 11 significant bits (f16's precision): plausible numbers, wrong
    const f16ish = y.map((v) => {
      const e = Math.floor(Math.log2(Math.abs(v) || 1));
      return Math.round(v / 2 ** (e - 10)) * 2 ** (e - 10);
    });
    expect(checkOutputs(c, inputs, { y: f16ish }).ok).toBe(false);
  });

  it('reports NaN, missing outputs and size mismatches as failures', () => {
    expect(checkElementwise([Number.NaN], [1], [1], 'b').ok).toBe(false);
    expect(checkElementwise([1, 2], [1], [1], 'b').reason).toMatch(/size mismatch/);
    expect(checkNormwise([1, 2.1], [1, 2], 1e-3, 'n').ok).toBe(false);
    expect(checkNormwise([1, 2 + 1e-7], [1, 2], 1e-6, 'n').ok).toBe(true);
    const c = matmulCase(4, 4, 4);
    expect(checkOutputs(c, makeInputs(c), {}).ok).toBe(false);
  });

  it('derives γ_n from the unit roundoff', () => {
    expect(gamma(1)).toBeCloseTo(U32 / (1 - U32), 20);
    expect(gamma(1000)).toBeGreaterThan(1000 * U32);
  });
});

describe('report', () => {
  const cases: BenchCase[] = [matmulCase(64, 64, 64), matmulCase(128, 128, 128), matmulCase(256, 256, 256)];
  const res = (
    impl: string,
    caseId: string,
    median: number,
    status: KernelResult['status'] = 'ok',
  ): KernelResult => ({
    caseId,
    impl,
    status,
    summary: summarize([median * 0.9, median, median * 1.1]),
    gflops: 1,
    coldMs: median * 3,
  });
  const results: BenchResults = {
    version: 1,
    date: '2026-01-01T00:00:00Z',
    mode: 'quick',
    command: 'npm run bench -- --quick',
    machine: {
      hostname: 'test',
      cpuModel: 'cpu',
      cores: 2,
      memoryGiB: 8,
      node: '20',
      platform: 'linux-x64',
      note: 'shared.',
      loadAverage: [1, 1, 1],
    },
    impls: [
      { id: 'descent-wasm-kernels-1t', library: 'descent', backend: 'wasm', env: 'node', info: {} },
      { id: 'tfjs-wasm-1t', library: 'tfjs', backend: 'wasm', env: 'node', info: {} },
    ],
    cases,
    kernels: [
      ...cases.map((c, i) => res('descent-wasm-kernels-1t', c.id, 2 ** i)),
      res('tfjs-wasm-1t', cases[0].id, 3),
      res('tfjs-wasm-1t', cases[1].id, 4),
      res('tfjs-wasm-1t', cases[2].id, 0.5, 'wrong'),
    ],
    durationSeconds: 1,
  };

  it('computes ratios only between correct results', () => {
    expect(ratio(results.kernels, cases[0].id, ['descent-wasm-kernels-1t'], 'tfjs-wasm-1t')?.value).toBe(3);
    expect(ratio(results.kernels, cases[1].id, ['descent-wasm-kernels-1t'], 'tfjs-wasm-1t')?.value).toBe(2);
    // the peer was fast but wrong: no ratio
    expect(ratio(results.kernels, cases[2].id, ['descent-wasm-kernels-1t'], 'tfjs-wasm-1t')).toBeUndefined();
  });

  it('writes Markdown tables and well-formed SVG charts', () => {
    const r = buildReport(results);
    expect(r.markdown).toContain('| 64³ | **3.00×** |');
    expect(r.markdown).toContain('✗ wrong');
    expect(r.markdown).toMatch(/descent-wasm-kernels-1t \| 1\.00 \(n = 64, 128, 256/); // 1, 2, 4 ms: exponent 1
    expect(Object.keys(r.charts)).toEqual(expect.arrayContaining(['matmul-time.svg', 'matmul-rate.svg']));
    for (const svg of Object.values(r.charts)) {
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.trim().endsWith('</svg>')).toBe(true);
      expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    }
  });

  it('reports GPU time next to wall-clock cold and warm times, or why there is none', () => {
    const gpuRes = (impl: string, gpu: KernelResult['gpu']): KernelResult => ({
      ...res(impl, cases[0].id, 2),
      gpu,
    });
    const md = buildReport({
      ...results,
      impls: [
        ...results.impls,
        { id: 'gpu-a', library: 'descent', backend: 'webgpu', env: 'node', info: {}, reportsCold: true },
        { id: 'gpu-b', library: 'descent', backend: 'webgpu', env: 'node', info: {}, reportsCold: true },
      ],
      kernels: [
        ...results.kernels,
        gpuRes('gpu-a', { coldMs: 1.5, samples: [1, 1.25, 1.5], summary: summarize([1, 1.25, 1.5]) }),
        gpuRes('gpu-b', { unavailable: 'no timestamp-query on this adapter' }),
      ],
    }).markdown;
    expect(md).toMatch(/\| 64³ \| gpu-a \| 6\.\d+ ms \| 1\.50 ms \| 2\.\d+ ms \| 1\.25 ms \|/);
    expect(md).toMatch(/\| 64³ \| gpu-b \| 6\.\d+ ms \| — \| 2\.\d+ ms \| — \|/);
    expect(md).toContain('- gpu-b: no timestamp-query on this adapter, so no GPU time.');
  });

  it('lists what CI must not let pass silently', () => {
    expect(ciProblems(results)).toEqual([]);
    const broken: BenchResults = {
      ...results,
      unavailable: { 'descent-webgpu-node': 'no WebGPU adapter' },
      browser: { impls: [], kernels: [], error: 'no Chromium at /usr/bin/chromium' },
    };
    expect(ciProblems(broken)).toEqual([
      'descent-webgpu-node could not start: no WebGPU adapter',
      'browser run: no Chromium at /usr/bin/chromium',
    ]);
  });

  it('leads with the wasm headline table', () => {
    const md = buildReport(results).markdown;
    expect(md).toContain('## Headline: the wasm table');
    expect(headlineTable(results)).toMatch(/\| 128³ \| 1\.0 GF\/s \| — \| 1\.0 GF\/s .*\*\*2\.00×\*\*/);
  });

  it('picks round ticks and escapes labels', () => {
    expect(ticks(64, 2048, true)).toEqual([100, 1000]);
    expect(ticks(0, 1, false)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const svg = barChart({ title: 'a < b', unit: 'ms', bars: [{ label: 'x&y', value: 1 }] });
    expect(svg).toContain('a &lt; b');
    expect(svg).toContain('x&amp;y');
    expect(
      lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[1, 1]] }] }),
    ).toContain('<path');
  });
});

describe('progress bar and ONNX writer', () => {
  it('renders the bar', () => {
    expect(Progress.bar(3, 12, 8, 65_000)).toBe('[##......] 3/12  25% 1m05s');
  });

  it('writes a protobuf whose fields can be found again', () => {
    const bytes = onnxModel(
      [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
      [{ name: 'a', elemType: 1, shape: [2, 3] }],
      [{ name: 'y', elemType: 1, shape: [2, 4] }],
    );
    const text = new TextDecoder('latin1').decode(bytes);
    expect(bytes[0]).toBe(0x08); // field 1 (ir_version), varint
    expect(bytes[1]).toBe(8);
    expect(text).toContain('MatMul');
    expect(text).toContain('descent-benchmarks');
  });
});
