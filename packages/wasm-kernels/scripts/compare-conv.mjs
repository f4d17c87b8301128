#!/usr/bin/env node
// Compares conv kernel builds (.wasm files) in ONE process, one thread, on the conv shapes of a ResNet-8
// width-8 MNIST training step (batch 64) and the benchmark's 3×3 [8,32,32,64]→64 case. Calls alternate
// between the builds; each cell is the median over 9 batches of the process CPU time per call (on a shared
// machine that is what a call costs a core) and the GFLOP/s it implies.
//
//   node scripts/compare-conv.mjs /tmp/old/simd.wasm build/kernels-simd.wasm
//   node --experimental-wasm-relaxed-simd scripts/compare-conv.mjs OLD-relaxed.wasm build/kernels-relaxed.wasm
//
// An older build: see the header of compare-builds.mjs.
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: compare-conv.mjs A.wasm [B.wasm …]');
  process.exit(1);
}
// [name, pass (0 forward, 1 input gradient, 2 filter gradient), N, H, W, C, Cout, K, stride, pad]
const CASES = [
  ['dw 8→8 28²', 2, 64, 28, 28, 8, 8, 3, 1, 1],
  ['dx 8→8 28²', 1, 64, 28, 28, 8, 8, 3, 1, 1],
  ['fwd 8→8 28²', 0, 64, 28, 28, 8, 8, 3, 1, 1],
  ['fwd stem 1→8', 0, 64, 28, 28, 1, 8, 3, 1, 1],
  ['dw stem 1→8', 2, 64, 28, 28, 1, 8, 3, 1, 1],
  ['dx 32→32 7²', 1, 64, 7, 7, 32, 32, 3, 1, 1],
  ['fwd 64→64 32² b8', 0, 8, 32, 32, 64, 64, 3, 1, 1],
  ['dx 64→64 32² b8', 1, 8, 32, 32, 64, 64, 3, 1, 1],
  ['dw 64→64 32² b8', 2, 8, 32, 32, 64, 64, 3, 1, 1],
];
const FN = ['conv2d_f32', 'conv2d_backward_input_f32', 'conv2d_backward_filter_f32'];

const mods = files.map((f) => {
  const memory = new WebAssembly.Memory({ initial: 8192 });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(f)), {
    env: { memory, abort() {} },
  });
  return { file: f, e: instance.exports, memory };
});

function prepare(m, c) {
  const [, pass, N, H, W, C, Cout, K, s, pad] = c;
  const OH = Math.floor((H + 2 * pad - K) / s) + 1;
  const OW = Math.floor((W + 2 * pad - K) / s) + 1;
  const geomVals = [N, H, W, C, K, K, Cout, s, s, pad, pad, pad, pad, 1, 1, 1, OH, OW];
  let at = 1 << 16;
  const take = (floats) => {
    const p = at;
    at += Math.ceil((floats * 4) / 64) * 64 + 64;
    return p;
  };
  const geom = take(32);
  new Int32Array(m.memory.buffer, geom, 18).set(geomVals);
  const xs = N * H * W * C;
  const ws = K * K * C * Cout;
  const ys = N * OH * OW * Cout;
  const a = take(Math.max(xs, ys));
  const b = take(Math.max(ws, ys));
  const out = take(Math.max(xs, ws, ys));
  const f = new Float32Array(m.memory.buffer);
  let r = 7;
  for (let i = 0; i < (out - a) / 4; i++) {
    r = (r * 16807) % 2147483647;
    f[a / 4 + i] = r / 2147483647 - 0.5;
  }
  const wsBytes = m.e.conv2d_workspace_bytes(geom, pass);
  const wsp = take(wsBytes / 4);
  const fn = m.e[FN[pass]];
  return { run: () => fn(a, b, out, geom, wsp, wsBytes), flops: 2 * N * OH * OW * K * K * C * Cout };
}

const median = (v) => v.slice().sort((p, q) => p - q)[v.length >> 1];
console.log(`one thread, ms per call (CPU time) and GFLOP/s: ${mods.map((m) => m.file).join(' | ')}`);
for (const c of CASES) {
  const runs = mods.map((m) => prepare(m, c));
  for (const r of runs) for (let i = 0; i < 2; i++) r.run();
  const cpu = runs.map(() => []);
  for (let rep = 0; rep < 9; rep++) {
    runs.forEach((r, j) => {
      const c0 = process.cpuUsage();
      for (let k = 0; k < 3; k++) r.run();
      const u = process.cpuUsage(c0);
      cpu[j].push((u.user + u.system) / 3000);
    });
  }
  const cells = runs.map((r, j) => {
    const ms = median(cpu[j]);
    return `${ms.toFixed(2)} ms ${(r.flops / ms / 1e6).toFixed(1)} GF/s`;
  });
  const ratio = runs.length > 1 ? `  ×${(median(cpu[0]) / median(cpu[runs.length - 1])).toFixed(2)}` : '';
  console.log(`${c[0].padEnd(18)} ${cells.join(' | ')}${ratio}`);
}
