#!/usr/bin/env node
// Compares kernel builds (.wasm files) in ONE process on the same inputs: unary maps over 4M f32 (uniform in
// [−8, 8]), softmax and log-softmax [4096×1024] and a 16 MB memory copy, calls alternating between the builds, medians of 15
// batches of 3 calls. Prints process CPU time and wall time per call: on a machine shared with other work
// the CPU time is what the call costs a core, the wall time includes waiting for one.
//
//   node --experimental-wasm-relaxed-simd scripts/compare-builds.mjs OLD.wasm build/kernels-relaxed.wasm
//   node scripts/compare-builds.mjs OLD-simd.wasm build/kernels-simd.wasm
//
// An older build (e.g. REV = 45b3860, before the exp fast path):
//   mkdir -p /tmp/old && git archive REV assembly | tar -x -C /tmp/old
//   npx asc /tmp/old/assembly/index.ts -O3 --noAssert --runtime stub --importMemory --initialMemory 1 \
//     --enable simd,relaxed-simd -o /tmp/old/relaxed.wasm        (--enable simd for the plain build)
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: compare-builds.mjs A.wasm [B.wasm …]');
  process.exit(1);
}
const n = 1 << 22;
const mods = [];
for (const file of files) {
  const memory = new WebAssembly.Memory({ initial: 2048 });
  const { instance } = await WebAssembly.instantiate(readFileSync(file), { env: { memory, abort() {} } });
  const e = instance.exports;
  const x = 1 << 20;
  const y = x + n * 4;
  const f = new Float32Array(memory.buffer);
  let s = 1;
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    f[(x >> 2) + i] = ((s / 2147483647) * 2 - 1) * 8;
  }
  mods.push({ file: file.split('/').pop(), e, x, y, u8: new Uint8Array(memory.buffer) });
}
const UNARY = {
  exp: 'U_EXP',
  sigmoid: 'U_SIGMOID',
  silu: 'U_SILU',
  tanh: 'U_TANH',
  gelu: 'U_GELU_ERF',
  log: 'U_LOG',
};
const ops = [...Object.keys(UNARY), 'softmax', 'logSoftmax', 'copy'];
function run(m, op) {
  if (op === 'copy') m.u8.copyWithin(m.y, m.x, m.x + n * 4);
  else if (op === 'softmax') m.e.softmax_f32(m.x, m.y, 4096, 1024);
  else if (op === 'logSoftmax') m.e.log_softmax_f32(m.x, m.y, 4096, 1024);
  else m.e.unary_f32(m.e[UNARY[op]].value, m.x, m.y, n, 1, 0); // silu: β = 1
}
const median = (a) => a.slice().sort((p, q) => p - q)[a.length >> 1];
console.log(`ms per call, median (CPU time / wall): ${mods.map((m) => m.file).join(' | ')}`);
for (const op of ops) {
  for (const m of mods) for (let i = 0; i < 2; i++) run(m, op);
  const wall = mods.map(() => []);
  const cpu = mods.map(() => []);
  for (let r = 0; r < 15; r++) {
    mods.forEach((m, j) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let k = 0; k < 3; k++) run(m, op);
      wall[j].push((performance.now() - t0) / 3);
      const c = process.cpuUsage(c0);
      cpu[j].push((c.user + c.system) / 3000);
    });
  }
  const cells = mods.map((_, j) => `${median(cpu[j]).toFixed(2)} / ${median(wall[j]).toFixed(2)}`);
  console.log(`${op.padEnd(8)} ${cells.join(' | ')}`);
}
