#!/usr/bin/env node
// Micro benchmark of the kernel module (single thread). Prints medians.
//
//   node scripts/bench-kernels.mjs                                   plain SIMD build
//   node --experimental-wasm-relaxed-simd scripts/bench-kernels.mjs  relaxed build (FMA)
//   add --json to print one JSON line instead of the table
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const relaxedBytes = readFileSync(join(pkgDir, 'build', 'kernels-relaxed.wasm'));
const variant = process.argv.includes('--simd') || !WebAssembly.validate(relaxedBytes) ? 'simd' : 'relaxed';
const bytes = variant === 'relaxed' ? relaxedBytes : readFileSync(join(pkgDir, 'build', 'kernels-simd.wasm'));
const memory = new WebAssembly.Memory({ initial: 4096, maximum: 32768 });
const { instance } = await WebAssembly.instantiate(bytes, { env: { memory, abort() {} } });
const k = instance.exports;

let top = (k.heap_base() + 63) & ~63;
function alloc(nBytes) {
  const p = top;
  top = (top + nBytes + 63) & ~63;
  if (top > memory.buffer.byteLength) memory.grow(Math.ceil((top - memory.buffer.byteLength) / 65536));
  return p;
}
function randomFill(p, n) {
  const f = new Float32Array(memory.buffer, p, n);
  for (let i = 0; i < n; i++) f[i] = Math.random() * 2 - 1;
}

/** Median seconds per call of fn, after warm-up (V8 tiers wasm up to TurboFan on hot functions). */
function time(fn, minSeconds = 0.25) {
  for (let i = 0; i < 3; i++) fn();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const dt = (performance.now() - t0) / 1000;
    if (dt > minSeconds / 5) break;
    reps *= 2;
  }
  const samples = [];
  for (let s = 0; s < 7; s++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    samples.push((performance.now() - t0) / 1000 / reps);
  }
  samples.sort((a, b) => a - b);
  return samples[3];
}

const ws = alloc(k.matmul_workspace_bytes());
const results = { variant, cpu: cpus()[0]?.model, node: process.version, matmul: {}, elementwise: {} };

function benchMatmul(M, N, K, label) {
  const a = alloc(M * K * 4);
  const b = alloc(K * N * 4);
  const c = alloc(M * N * 4);
  randomFill(a, M * K);
  randomFill(b, K * N);
  const s = time(() => k.matmul(a, b, c, M, N, K, 0, 0, 0, 1, 0, 0, 0, ws));
  const gflops = (2 * M * N * K) / s / 1e9;
  results.matmul[label] = +gflops.toFixed(1);
  return gflops;
}

for (const n of [128, 256, 512, 1024]) benchMatmul(n, n, n, `${n}`);
benchMatmul(4096, 1376, 512, '4096x512·512x1376');
// transposed variants used by backward passes, 512
{
  const n = 512;
  const a = alloc(n * n * 4);
  const b = alloc(n * n * 4);
  const c = alloc(n * n * 4);
  randomFill(a, n * n);
  randomFill(b, n * n);
  for (const [tA, tB] of [
    [1, 0],
    [0, 1],
  ]) {
    const s = time(() => k.matmul(a, b, c, n, n, n, tA, tB, 0, 1, 0, 0, 0, ws));
    results.matmul[`512 ${tA ? 'Aᵀ·B' : 'A·Bᵀ'}`] = +((2 * n ** 3) / s / 1e9).toFixed(1);
  }
}

// conv2d 3×3, pad 1, NHWC: forward and both gradients (im2col + gemm)
results.conv2d = {};
for (const [n, hw, c, co] of [
  [8, 32, 64, 64],
  [32, 16, 32, 64],
]) {
  const geom = alloc(18 * 4);
  new Int32Array(memory.buffer, geom, 18).set([n, hw, hw, c, 3, 3, co, 1, 1, 1, 1, 1, 1, 1, 1, 1, hw, hw]);
  const cws = k.conv2d_workspace_bytes(geom, 0);
  const cw = alloc(cws);
  const cx = alloc(n * hw * hw * c * 4);
  const cwt = alloc(9 * c * co * 4);
  const cy = alloc(n * hw * hw * co * 4);
  randomFill(cx, n * hw * hw * c);
  randomFill(cwt, 9 * c * co);
  randomFill(cy, n * hw * hw * co);
  const flops = 2 * n * hw * hw * co * 9 * c;
  const label = `${n}x${hw}x${hw}x${c}→${co}`;
  const f = time(() => k.conv2d_f32(cx, cwt, cy, geom, cw, cws));
  const bi = time(() => k.conv2d_backward_input_f32(cy, cwt, cx, geom, cw, cws));
  const bf = time(() => k.conv2d_backward_filter_f32(cx, cy, cwt, geom, cw, cws));
  results.conv2d[label] = {
    forward: +(flops / f / 1e9).toFixed(1),
    dx: +(flops / bi / 1e9).toFixed(1),
    dw: +(flops / bf / 1e9).toFixed(1),
  };
}

const N = 4 << 20;
const x = alloc(N * 4);
const y = alloc(N * 4);
randomFill(x, N);
{
  const f = new Float32Array(memory.buffer, x, N);
  for (let i = 0; i < N; i++) f[i] *= 10;
}
for (const [name, op] of [
  ['exp', 3],
  ['sigmoid', 10],
  ['tanh', 11],
  ['geluErf', 13],
  ['log', 4],
  ['relu', 9],
]) {
  const s = time(() => k.unary_f32(op, x, y, N, 1, 0));
  results.elementwise[name] = {
    'GB/s': +((8 * N) / s / 1e9).toFixed(2),
    'Gelem/s': +(N / s / 1e9).toFixed(2),
  };
}
{
  const rows = 4096;
  const n = 1024;
  const s = time(() => k.softmax_f32(x, y, rows, n));
  results.elementwise['softmax 4096x1024'] = {
    'GB/s': +((8 * rows * n) / s / 1e9).toFixed(2),
    'Gelem/s': +((rows * n) / s / 1e9).toFixed(2),
  };
}

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(results));
} else {
  console.log(
    `wasm-kernels bench — build: ${variant}, ${results.cpu}, Node ${results.node}, 1 thread (medians of 7)`,
  );
  console.log('matmul GFLOP/s:');
  for (const [k2, v] of Object.entries(results.matmul)) console.log(`  ${k2.padEnd(22)} ${v}`);
  console.log('conv2d 3×3 pad 1 GFLOP/s (forward / input grad / filter grad):');
  for (const [k2, v] of Object.entries(results.conv2d))
    console.log(`  ${k2.padEnd(22)} ${v.forward} / ${v.dx} / ${v.dw}`);
  console.log('elementwise over 4M f32 (bytes = read + write):');
  for (const [k2, v] of Object.entries(results.elementwise))
    console.log(`  ${k2.padEnd(22)} ${v['GB/s']} GB/s  (${v['Gelem/s']} Gelem/s)`);
}
