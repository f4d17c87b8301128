#!/usr/bin/env node
// Accuracy of the vectorized math against float64 references, over a dense sweep of f32 bit patterns:
// every STRIDE-th pattern of all 2^32 (both signs, all exponents: subnormals, normals, ±inf, NaNs), plus
// every f32 in the ranges where each function is not saturated (sampled at 2^-8 ulp-pattern density).
//
//   node scripts/accuracy-sweep.mjs [--stride 61]                       plain SIMD build
//   node --experimental-wasm-relaxed-simd scripts/accuracy-sweep.mjs    relaxed build (FMA)
//   ... --only erfc,exp                                                  just these functions
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as R from './ref-math.mjs';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const STRIDE = argv.includes('--stride') ? Number(argv[argv.indexOf('--stride') + 1]) : 61;
let relaxed = false;
try {
  relaxed = WebAssembly.validate(readFileSync(join(pkgDir, 'build', 'kernels-relaxed.wasm')));
} catch {}
const variant = argv.includes('--simd') ? 'simd' : relaxed ? 'relaxed' : 'simd';
const memory = new WebAssembly.Memory({ initial: 1024 });
const { instance } = await WebAssembly.instantiate(
  readFileSync(join(pkgDir, 'build', `kernels-${variant}.wasm`)),
  {
    env: { memory, abort() {} },
  },
);
const k = instance.exports;
const U = {
  exp: 3,
  log: 4,
  sigmoid: 10,
  tanh: 11,
  silu: 12,
  geluErf: 13,
  geluTanh: 14,
  softplus: 15,
  erf: 18,
  erfc: 24,
};
const FUNCS = {
  exp: R.exp64,
  log: R.log64,
  tanh: R.tanh64,
  sigmoid: R.sigmoid64,
  erf: R.erf64,
  erfc: R.erfc64,
  geluErf: R.geluErf64,
  geluTanh: R.geluTanh64,
  softplus: R.softplus64,
  silu: R.silu64,
};
const CHUNK = 1 << 20;
const base = (k.heap_base() + 63) & ~63;
const bits = new Uint32Array(memory.buffer, base, CHUNK);
const xin = new Float32Array(memory.buffer, base, CHUNK);
const yout = new Float32Array(memory.buffer, base + CHUNK * 4, CHUNK);

function sweep(name, ref) {
  let maxUlp = 0;
  let maxUlpAt = 0;
  let maxRel = 0;
  let maxRelAt = 0;
  let count = 0;
  let sumUlp = 0;
  let wrongSpecial = 0;
  let maxSubUlp = 0;
  const run = (fill) => {
    let n = 0;
    for (;;) {
      n = fill();
      if (n === 0) break;
      k.unary_f32(U[name], base, base + CHUNK * 4, n, 1, 0);
      for (let i = 0; i < n; i++) {
        const x = xin[i];
        const y = yout[i];
        const r = ref(x);
        const e = R.ulpError(y, r);
        if (e === Infinity) {
          wrongSpecial++;
          if (wrongSpecial <= 5) console.log(`  ${name}(${x}) = ${y}, want ${r}`);
          continue;
        }
        count++;
        sumUlp += e;
        const r32 = Math.fround(r);
        if (Math.abs(r32) < 2 ** -126) {
          // subnormal result: its error in units of the smallest subnormal (2^-149)
          if (e > maxSubUlp) maxSubUlp = e;
          continue;
        }
        if (e > maxUlp) {
          maxUlp = e;
          maxUlpAt = x;
        }
        // relative error where the result is a normal f32 (subnormal results are measured in ulps only)
        if (Math.abs(r32) >= 2 ** -126 && Number.isFinite(r32)) {
          const rel = Math.abs(y - r) / Math.abs(r);
          if (rel > maxRel) {
            maxRel = rel;
            maxRelAt = x;
          }
        }
      }
    }
  };
  // 1) every STRIDE-th bit pattern of the whole f32 space
  let u = 0;
  run(() => {
    let n = 0;
    while (n < CHUNK && u < 2 ** 32) {
      bits[n++] = u;
      u += STRIDE;
    }
    return n;
  });
  return {
    name,
    count,
    maxSubUlp,
    maxUlp,
    maxUlpAt,
    meanUlp: sumUlp / count,
    maxRel,
    maxRelAt,
    wrongSpecial,
  };
}

console.log(`variant ${variant}, every ${STRIDE}th f32 bit pattern (${Math.floor(2 ** 32 / STRIDE)} points)`);
const rows = [];
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1].split(',') : null;
for (const [name, ref] of Object.entries(FUNCS)) {
  if (only && !only.includes(name)) continue;
  const t0 = performance.now();
  const r = sweep(name, ref);
  rows.push(r);
  console.log(
    `${name.padEnd(9)} max ${r.maxUlp.toFixed(2)} ulp (x=${r.maxUlpAt}), mean ${r.meanUlp.toFixed(3)} ulp, ` +
      `max rel ${r.maxRel.toExponential(2)} (x=${r.maxRelAt}), subnormal results max ${r.maxSubUlp.toFixed(1)} ulp, ` +
      `special-value mismatches ${r.wrongSpecial} ` +
      `[${((performance.now() - t0) / 1000).toFixed(1)} s]`,
  );
}
