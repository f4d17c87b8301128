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
//
//   node scripts/compare-conv.mjs --threads 2
// instead runs the same cases through this package's KernelModule (dist/: `npm run build` first) with one
// thread and with 2, alternating, and reports wall time per call (threads only help in wall time) and the
// calls the module split.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const threadsAt = args.indexOf('--threads');
const files = threadsAt >= 0 ? [] : args;
if (files.length === 0 && threadsAt < 0) {
  console.error('usage: compare-conv.mjs A.wasm [B.wasm …] | --threads T');
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
if (threadsAt >= 0) {
  await compareThreads(Number(args[threadsAt + 1] ?? 2));
  process.exit(0);
}
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

async function compareThreads(T) {
  const { KernelModule } = await import('../dist/index.js');
  const kms = [await KernelModule.create({ threads: 1 }), await KernelModule.create({ threads: T })];
  console.log(
    `wall ms per call, median of 9 batches of 3: 1 thread | ${T} threads (variant ${kms[0].variant})`,
  );
  for (const c of CASES) {
    const [, pass, N, H, W, C, Cout, K, s, pad] = c;
    const OH = Math.floor((H + 2 * pad - K) / s) + 1;
    const OW = Math.floor((W + 2 * pad - K) / s) + 1;
    const g = {
      N,
      H,
      W,
      C,
      KH: K,
      KW: K,
      Cout,
      strideH: s,
      strideW: s,
      padTop: pad,
      padBottom: pad,
      padLeft: pad,
      padRight: pad,
      dilationH: 1,
      dilationW: 1,
      groups: 1,
    };
    const sizes = [N * H * W * C, K * K * C * Cout, N * OH * OW * Cout];
    const [ia, ib, io] = pass === 0 ? [0, 1, 2] : pass === 1 ? [2, 1, 0] : [0, 2, 1];
    const runs = kms.map((km) => {
      const a = km.allocF32(sizes[ia]);
      const b = km.allocF32(sizes[ib]);
      const o = km.allocF32(sizes[io]);
      km.f32.fill(0.25, a >> 2, (a >> 2) + sizes[ia]);
      km.f32.fill(-0.5, b >> 2, (b >> 2) + sizes[ib]);
      const m = ['conv2d', 'conv2dBackwardInput', 'conv2dBackwardFilter'][pass];
      return () => km[m](a, b, o, g);
    });
    for (const r of runs) for (let i = 0; i < 2; i++) r();
    const jobs = kms[1].parallelJobs;
    const wall = runs.map(() => []);
    for (let rep = 0; rep < 9; rep++) {
      runs.forEach((r, j) => {
        const t0 = performance.now();
        for (let k = 0; k < 3; k++) r();
        wall[j].push((performance.now() - t0) / 3);
      });
    }
    const split = kms[1].parallelJobs > jobs ? 'split' : 'not split';
    const [w1, wT] = wall.map(median);
    console.log(
      `${c[0].padEnd(18)} ${w1.toFixed(2)} | ${wT.toFixed(2)} ms  ×${(w1 / wT).toFixed(2)} (${split})`,
    );
  }
  for (const km of kms) km.dispose();
}
