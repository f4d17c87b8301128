/**
 * The WasmBackend in headless Chromium with no bundler at all: @descent/core's dist and this package's
 * src (compiled by tsc) served as plain ES modules, an import map resolving '@descent/core'. The page
 * registers the backend as an app would, picks the build by probing (Chromium has relaxed SIMD), and
 * trains a small MLP for 30 SGD steps on 'wasm' and on the reference 'js' backend from the same
 * weights; a conv → maxPool → softmax chain runs on both too. Cross-origin isolated, so the backend
 * gets its default of 2 worker threads (the page's main thread is the caller).
 * Under CI=true a missing Chromium fails; elsewhere the test is skipped with the reason printed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumUnavailable, compileTs, launchChromium, openPage, serveStatic } from '@descent/browser-test';
import { afterAll, beforeAll, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const coreDist = join(dirname(createRequire(import.meta.url).resolve('@descent/core')));

const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="importmap">{ "imports": { "@descent/core": "/core/index.js" } }</script>
<script type="module">
import * as d from '@descent/core';
import { createWasmBackend } from '/wk/index.js';
try {
  d.registerBackend('wasm', () => createWasmBackend({ threads: 2 }));
  const wasm = await d.initBackend('wasm');
  let s = 7;
  const rand = (n, scale) => Array.from({ length: n }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * scale);
  const X = rand(64 * 2, 4), Y = Array.from({ length: 64 }, (_, i) => i % 2);
  const W = [rand(2 * 16, 1.4), rand(16, 0.1), rand(16 * 2, 0.5), rand(2, 0.1)];
  const img = rand(2 * 8 * 8 * 3, 2), filt = rand(3 * 3 * 3 * 4, 0.6);
  const train = (backend) => {
    const x = d.tensor(X, [64, 2], { backend });
    const y = d.tensor(Y, [64], { backend, dtype: 'i32' });
    const ps = [d.tensor(W[0], [2, 16], { backend }), d.tensor(W[1], [16], { backend }),
                d.tensor(W[2], [16, 2], { backend }), d.tensor(W[3], [2], { backend })];
    const f = (w1, b1, w2, b2) =>
      d.crossEntropy(d.add(d.matmul(d.gelu(d.add(d.matmul(x, w1), b1)), w2), b2), y, { reduction: 'mean' });
    const step = d.valueAndGrad(f, [0, 1, 2, 3]);
    const losses = [];
    for (let i = 0; i < 30; i++) {
      losses.push(d.tidy(() => {
        const [l, g] = step(...ps);
        ps.forEach((p, k) => d.assign(p, d.sub(p, d.mul(g[k], 0.3))));
        return l.dataSync()[0];
      }));
    }
    const conv = d.tidy(() => {
      const t = d.tensor(img, [2, 8, 8, 3], { backend });
      const k = d.tensor(filt, [3, 3, 3, 4], { backend });
      return Array.from(d.softmax(d.reshape(d.maxPool2d(d.relu(d.conv2d(t, k, { padding: 'same' })), 2), [2, 64])).dataSync());
    });
    d.dispose([x, y, ps]);
    return { losses, conv, live: d.memory(backend).tensors };
  };
  globalThis.result = {
    wasm: train('wasm'), js: train('js'), info: wasm.info(), isolated: globalThis.crossOriginIsolated,
  };
} catch (e) {
  globalThis.result = { error: String((e && e.stack) || e) };
}
</script>`;

let dir = '';
let unavailable: string | null = null;

beforeAll(() => {
  unavailable = chromiumUnavailable('the wasm-kernels browser backend test');
  if (unavailable) return;
  dir = mkdtempSync(join(tmpdir(), 'wk-backend-browser-'));
  compileTs(join(pkgDir, 'tsconfig.build.json'), join(dir, 'wk'));
  writeFileSync(join(dir, 'index.html'), PAGE);
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  losses: number[];
  conv: number[];
  live: number;
}

it('trains in Chromium with no bundler: relaxed SIMD, 2 threads, same losses as the reference', async (ctx) => {
  if (unavailable) return ctx.skip(unavailable);
  const browser = await launchChromium();
  const server = await serveStatic({ '/core/': coreDist, '/wk/': join(dir, 'wk'), '/': dir });
  try {
    const { page, errors } = await openPage(browser, `${server.url}/`, { ready: 'result', timeout: 90_000 });
    const r = (await page.evaluate(() => (globalThis as unknown as { result: unknown }).result)) as {
      error?: string;
      wasm: Run;
      js: Run;
      info: { variant: string; threads: number };
      isolated: boolean;
    };
    expect(errors).toEqual([]);
    expect(r.error).toBeUndefined();
    expect(r.isolated).toBe(true);
    expect(r.info.variant).toBe('relaxed');
    expect(r.info.threads).toBe(2);
    // f32 kernels vs the reference (float64 math, f32 storage). One step's loss is computed through
    // ≲ 40 roundings of O(1) terms (≤ 40·2⁻²⁴ ≈ 2.4e-6); the weights then differ by lr·that relative
    // amount per step, which moves the loss linearly to first order: ≤ 30 × 2.4e-6 ≈ 7e-5 after 30 steps.
    for (let i = 0; i < 30; i++) expect(Math.abs(r.wasm.losses[i] - r.js.losses[i])).toBeLessThan(1e-4);
    expect(r.wasm.losses[29]).toBeLessThan(r.wasm.losses[0]);
    // conv: dots of 27 terms with Σ|x·w| ≤ 8 → logit error ≤ 29·2⁻²⁴·8 ≈ 1.4e-5; softmax's slope ≤ ½
    // (plus its own few ulps of probabilities ≤ 1) keeps the output error below 1e-5
    for (let i = 0; i < r.js.conv.length; i++)
      expect(Math.abs(r.wasm.conv[i] - r.js.conv[i])).toBeLessThan(1e-5);
    expect(r.wasm.live).toBe(0);
    await page.close();
  } finally {
    await server.close();
    await browser.close();
  }
}, 180_000);
