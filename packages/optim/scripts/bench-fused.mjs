// Optimizer step time: AdamW with the composite update (core ops), the fused in-place kernel per
// tensor, and the fused kernel over flat buffers (multi-tensor apply), on a model-shaped parameter
// set and on many small tensors. Prints medians (ms/step) and the effective bandwidth of the 28
// bytes AdamW must move per parameter (p, g, m, v read; p, m, v written); not a test.
//
//   npm run build (core, wasm-kernels, optim) && node packages/optim/scripts/bench-fused.mjs [--params 1] [--reps 15]
//
// Backends: 'js' (reference, always), 'wasm' and 'webgpu' (when their packages are built; WebGPU on
// lavapipe when the machine has no GPU, so its numbers measure a software rasterizer's CPU).
import { existsSync } from 'node:fs';
import { noGrad, randn, registerBackend, setBackend } from '@descent/core';
import { AdamW } from '../dist/index.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const millions = arg('params', 1);
const reps = arg('reps', 15);

/** Transformer-ish shapes: width d, 4 blocks of (4 d×d matrices + 6 vectors), ≈ millions·1e6 parameters. */
function modelShapes() {
  const d = Math.round(Math.sqrt((millions * 1e6) / 16) / 16) * 16;
  const out = [];
  for (let b = 0; b < 4; b++) {
    for (let m = 0; m < 4; m++) out.push([d, d]);
    for (let v = 0; v < 6; v++) out.push([d]);
  }
  return out;
}

/** 1,000 vectors of 64: launch overhead dominates. */
const smallShapes = () => Array.from({ length: 1000 }, () => [64]);

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median ms of `fn` followed by `sync` (a read that waits for queued GPU work). */
async function time(fn, sync) {
  const ts = [];
  fn(); // warm-up (state allocation, packing, pipeline creation)
  await sync();
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    await sync();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

async function bench(backend, label, shapes) {
  await setBackend(backend);
  const params = shapes.map((s, i) => randn(s, { seed: i }).requireGrad());
  const total = params.reduce((a, p) => a + p.size, 0);
  noGrad(() => {
    for (const p of params) p.grad = randn(p.shape, { seed: 7 }).keep();
  });
  console.log(
    `\n${backend}, ${label}: AdamW step, ${params.length} tensors, ${(total / 1e6).toFixed(2)}M parameters (median of ${reps})`,
  );
  for (const [name, o] of [
    ['composite (core ops)', { fused: false }],
    ['fused, per tensor', { fused: true }],
    ['fused, flat (multi-tensor)', { fused: true, flat: true }],
  ]) {
    const opt = new AdamW(params, { lr: 1e-3, ...o });
    const ms = await time(
      () => opt.step(),
      () => params[0].data(),
    );
    opt.dispose();
    console.log(
      `  ${name.padEnd(28)} ${ms.toFixed(2).padStart(9)} ms  ${((28 * total) / ms / 1e6).toFixed(2).padStart(7)} GB/s`,
    );
  }
  noGrad(() => {
    for (const t of params) t.dispose();
  });
}

async function all(backend) {
  await bench(backend, 'model-shaped', modelShapes());
  await bench(backend, 'many small', smallShapes());
}

await all('js');
try {
  const { createWasmBackend } = await import('@descent/wasm-kernels');
  registerBackend('wasm', () => createWasmBackend(), { replace: true });
  await all('wasm');
} catch (e) {
  console.log(`\nwasm: skipped (${e.message})`);
}
try {
  // Without a GPU: Mesa lavapipe, as packages/gpu-kernels/test/setup-env.ts sets up.
  const icd = new URL('../../../.cache/lavapipe/lvp_icd.json', import.meta.url).pathname;
  if (!process.env.VK_ICD_FILENAMES && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
  const { createWebGPUBackend } = await import('@descent/gpu-kernels');
  registerBackend('webgpu', () => createWebGPUBackend(), { replace: true });
  await all('webgpu');
} catch (e) {
  console.log(`\nwebgpu: skipped (${e.message})`);
}
