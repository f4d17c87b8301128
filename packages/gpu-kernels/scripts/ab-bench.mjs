/**
 * A/B timing of two builds of this package's kernels in ONE process (two WebGPU backends on the same
 * adapter, calls alternating between them), for before/after numbers on a shared machine where
 * separate runs see different loads. Wall-clock to a read of the last output; not a test.
 *
 *   # build the "before" state, e.g. the kernels of commit 021d3c5 on today's backend:
 *   cp -r src .cache/src-old && git show 021d3c5:packages/gpu-kernels/src/webgpu/kernels/nn.ts > .cache/src-old/webgpu/kernels/nn.ts  # (and matmul.ts, reduce.ts)
 *   # compile it with a tsconfig like tsconfig.build.json but rootDir/include .cache/src-old, outDir .cache/old-dist
 *   npx tsc -p tsconfig.build.json --outDir .cache/mb-dist
 *   BEFORE=.cache/old-dist AFTER=.cache/mb-dist node scripts/ab-bench.mjs softmax:4096:1024 matmul:512:512:512
 *
 * Specs: matmul:M:K:N, or softmax|logSoftmax|layerNorm|rmsNorm|ce|cebwd|sum:ROWS:SIZE. REPS (7), INNER (3).
 */
import { mkdirSync } from 'node:fs';

process.env.VK_ICD_FILENAMES ??= resolve(import.meta.dirname, '../../../.cache/lavapipe/lvp_icd.json');
process.env.XDG_RUNTIME_DIR ??= '/tmp/descent-xdg-ab';
mkdirSync(process.env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
const d = await import('@descent/core');

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const load = (dir) => import(pathToFileURL(resolve(dir, 'index.js')).href);
const oldB = await load(process.env.BEFORE ?? '.cache/old-dist');
const newB = await load(process.env.AFTER ?? '.cache/mb-dist');
d.registerBackend('old', () => oldB.createWebGPUBackend({ name: 'old' }));
d.registerBackend('new', () => newB.createWebGPUBackend({ name: 'new' }));
await d.initBackend('old');
await d.initBackend('new');
const rnd = (n) => Float32Array.from({ length: n }, () => Math.random() * 4 - 2);
const reps = Number(process.env.REPS ?? 7),
  inner = Number(process.env.INNER ?? 3);
async function ab(name, make) {
  const fs = { old: make('old'), new: make('new') };
  const ts = { old: [], new: [] };
  for (const k of ['old', 'new']) {
    const o = fs[k]();
    for (const x of [o].flat()) {
      await x.data();
      x.dispose();
    }
  }
  for (let r = 0; r < reps; r++)
    for (const k of r % 2 ? ['new', 'old'] : ['old', 'new']) {
      const t0 = performance.now();
      for (let q = 1; q < inner; q++) for (const x of [fs[k]()].flat()) x.dispose();
      const o = fs[k]();
      for (const x of [o].flat()) await x.data();
      ts[k].push((performance.now() - t0) / inner);
      for (const x of [o].flat()) x.dispose();
    }
  const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
  console.log(
    `${name}: before ${med(ts.old).toFixed(1)} ms, after ${med(ts.new).toFixed(1)} ms, speedup ${(med(ts.old) / med(ts.new)).toFixed(2)}x  (min ${Math.min(...ts.old).toFixed(1)} / ${Math.min(...ts.new).toFixed(1)})`,
  );
}
for (const spec of process.argv.slice(2)) {
  const [what, ...dims] = spec.split(':');
  const n = dims.map(Number);
  if (what === 'matmul') {
    const [m, k, nn] = n;
    const A = rnd(m * k),
      B = rnd(k * nn);
    await ab(`matmul ${m}x${k}x${nn}`, (be) => {
      const a = d.tensor(A, [m, k], { backend: be }),
        b = d.tensor(B, [k, nn], { backend: be });
      return () => d.matmul(a, b);
    });
  } else {
    const [rows, size] = n;
    const X = rnd(rows * size);
    const L = Int32Array.from({ length: rows }, (_, i) => (i * 7) % size);
    await ab(`${what} [${rows}x${size}]`, (be) => {
      const x = d.tensor(X, [rows, size], { backend: be });
      const l = d.tensor(L, [rows], { dtype: 'i32', backend: be });
      const g = d.tensor(rnd(size), [size], { backend: be }),
        b = d.tensor(rnd(size), [size], { backend: be });
      if (what === 'softmax') return () => d.softmax(x);
      if (what === 'logSoftmax') return () => d.logSoftmax(x);
      if (what === 'layerNorm') return () => d.layerNorm(x, g, b);
      if (what === 'rmsNorm') return () => d.rmsNorm(x, g);
      if (what === 'ce') return () => d.crossEntropy(x, l, { reduction: 'none' });
      if (what === 'cebwd')
        return () =>
          d.tidy(() => {
            const [v, dx] = d.valueAndGrad((t) => d.crossEntropy(t, l))(x);
            return [d.keep(v), d.keep(dx)];
          });
      if (what === 'sum') return () => d.sum(x, -1);
    });
  }
}
process.exit(0);
