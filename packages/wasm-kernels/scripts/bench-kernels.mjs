#!/usr/bin/env node
// Micro benchmark of the kernel module, one thread against T threads in the same run. Prints medians.
//
//   npm run build                                                    (the script loads dist/)
//   node scripts/bench-kernels.mjs                                   plain SIMD build
//   node --experimental-wasm-relaxed-simd scripts/bench-kernels.mjs  relaxed build (FMA)
//   --threads T   the threaded column (default: os.availableParallelism(); 1 turns the column off)
//   --simd        force the plain build;  --json  print one JSON line instead of the table
//
// Both columns call the same KernelModule methods (KernelModule.create({ threads: 1 }) vs { threads: T }),
// and their timed batches alternate, so machine noise hits both alike; the ratio is T-thread speed over
// one-thread speed. `cores` is the CPU time the process got per second of each column's batches
// (process.cpuUsage, all threads): on a machine shared with other work, a column is only as fast as the
// cores its threads actually got (1 and T when the machine is idle).
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(pkgDir, 'dist', 'module.js');
if (!existsSync(dist)) {
  console.error('bench-kernels: dist/ is missing — run `npm run build` in packages/wasm-kernels first');
  process.exit(1);
}
const { KernelModule, convOutputSize } = await import(pathToFileURL(dist).href);
const { broadcastPlan } = await import(pathToFileURL(join(pkgDir, 'dist', 'broadcast.js')).href);
const { hasRelaxedSimd } = await import(pathToFileURL(join(pkgDir, 'dist', 'feature-probe.js')).href);

const argv = process.argv.slice(2);
const ti = argv.indexOf('--threads');
const T = ti >= 0 ? Number(argv[ti + 1]) : availableParallelism();
const variant = argv.includes('--simd') || !hasRelaxedSimd() ? 'simd' : 'relaxed';

const km1 = await KernelModule.create({ variant, threads: 1, initialBytes: 256 << 20 });
const kmT = T > 1 ? await KernelModule.create({ variant, threads: T, initialBytes: 256 << 20 }) : undefined;
const modules = kmT ? [km1, kmT] : [km1];

function randomFill(km, p, n, scale = 1) {
  const f = km.f32;
  for (let i = 0; i < n; i++) f[(p >> 2) + i] = (Math.random() * 2 - 1) * scale;
}

/**
 * Median seconds per call of fns[i] (one per module), after warm-up (V8 tiers wasm up to TurboFan on hot
 * functions). The timed batches of the modules alternate.
 */
function time(fns, minSeconds = 0.25) {
  for (const fn of fns) for (let i = 0; i < 3; i++) fn();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fns[0]();
    const dt = (performance.now() - t0) / 1000;
    if (dt > minSeconds / 5) break;
    reps *= 2;
  }
  const samples = fns.map(() => []);
  const cpu = fns.map(() => 0);
  const wall = fns.map(() => 0);
  for (let s = 0; s < 7; s++) {
    fns.forEach((fn, m) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) fn();
      const dt = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      cpu[m] += (c.user + c.system) / 1e6;
      wall[m] += dt;
      samples[m].push(dt / reps);
    });
  }
  const secs = samples.map((xs) => xs.sort((a, b) => a - b)[3]);
  secs.cores = cpu.map((c, m) => c / wall[m]);
  return secs;
}

const results = {
  variant,
  threads: T,
  cpu: cpus()[0]?.model,
  cores: availableParallelism(),
  node: process.version,
  matmul: {},
  conv2d: {},
  elementwise: {},
};
const round = (x) => +x.toFixed(2);
/** { '1': v1, T: vT, ratio } from seconds per call and the work of one call. */
function columns(secs, work) {
  const out = { 1: round(work / secs[0]) };
  if (secs.length > 1) {
    out[T] = round(work / secs[1]);
    out.ratio = round(secs[0] / secs[1]);
    out.cores = [round(secs.cores[0]), round(secs.cores[1])];
  }
  return out;
}

function benchMatmul(M, N, K, label, opts = {}) {
  const ptrs = modules.map((km) => {
    const a = km.allocF32(M * K);
    const b = km.allocF32(K * N);
    const c = km.allocF32(M * N);
    randomFill(km, a, M * K);
    randomFill(km, b, K * N);
    return { km, a, b, c };
  });
  const secs = time(
    ptrs.map(
      ({ km, a, b, c }) =>
        () =>
          km.matmul(a, b, c, M, N, K, opts),
    ),
  );
  results.matmul[label] = columns(secs, (2 * M * N * K) / 1e9);
  for (const { km, a, b, c } of ptrs) for (const p of [a, b, c]) km.free(p);
}

for (const n of [128, 256, 512, 1024]) benchMatmul(n, n, n, `${n}`);
benchMatmul(4096, 1376, 512, '4096x512·512x1376');
benchMatmul(512, 512, 512, '512 Aᵀ·B', { transA: true });
benchMatmul(512, 512, 512, '512 A·Bᵀ', { transB: true });

// conv2d 3×3, pad 1, NHWC: forward and both gradients (im2col + gemm)
for (const [n, hw, c, co] of [
  [8, 32, 64, 64],
  [32, 16, 32, 64],
]) {
  const g = {
    N: n,
    H: hw,
    W: hw,
    C: c,
    KH: 3,
    KW: 3,
    Cout: co,
    strideH: 1,
    strideW: 1,
    padTop: 1,
    padBottom: 1,
    padLeft: 1,
    padRight: 1,
    dilationH: 1,
    dilationW: 1,
    groups: 1,
  };
  const { OH, OW } = convOutputSize(g);
  const ptrs = modules.map((km) => {
    const x = km.allocF32(n * hw * hw * c);
    const w = km.allocF32(9 * c * co);
    const y = km.allocF32(n * OH * OW * co);
    randomFill(km, x, n * hw * hw * c);
    randomFill(km, w, 9 * c * co);
    randomFill(km, y, n * OH * OW * co);
    return { km, x, w, y };
  });
  const gflop = (2 * n * OH * OW * co * 9 * c) / 1e9;
  const label = `${n}x${hw}x${hw}x${c}→${co}`;
  results.conv2d[label] = {
    forward: columns(
      time(
        ptrs.map(
          ({ km, x, w, y }) =>
            () =>
              km.conv2d(x, w, y, g),
        ),
      ),
      gflop,
    ),
    dx: columns(
      time(
        ptrs.map(
          ({ km, x, w, y }) =>
            () =>
              km.conv2dBackwardInput(y, w, x, g),
        ),
      ),
      gflop,
    ),
    dw: columns(
      time(
        ptrs.map(
          ({ km, x, w, y }) =>
            () =>
              km.conv2dBackwardFilter(x, y, w, g),
        ),
      ),
      gflop,
    ),
  };
  for (const { km, x, w, y } of ptrs) for (const p of [x, w, y]) km.free(p);
}

// elementwise over 4M f32 (GB/s: 8 bytes per element for unary, 12 for binary)
const N = 4 << 20;
const ew = modules.map((km) => {
  const x = km.allocF32(N);
  const x2 = km.allocF32(N);
  const y = km.allocF32(N);
  randomFill(km, x, N, 10);
  randomFill(km, x2, N, 10);
  return { km, x, x2, y };
});
for (const op of ['exp', 'sigmoid', 'tanh', 'geluErf', 'log', 'relu']) {
  const secs = time(
    ew.map(
      ({ km, x, y }) =>
        () =>
          km.unary(op, x, y, N, 1, 0),
    ),
  );
  results.elementwise[op] = columns(secs, (8 * N) / 1e9);
}
{
  const plan = broadcastPlan([N], [[N], [N]]);
  const secs = time(
    ew.map(
      ({ km, x, x2, y }) =>
        () =>
          km.binary('mul', x, x2, y, plan),
    ),
  );
  results.elementwise['mul (binary)'] = columns(secs, (12 * N) / 1e9);
  // x·sigmoid(x) as the backend runs it: sigmoid, then a multiply
  const secs2 = time(
    ew.map(({ km, x, x2, y }) => () => {
      km.unary('sigmoid', x, x2, N);
      km.binary('mul', x, x2, y, plan);
    }),
  );
  results.elementwise['x·sigmoid(x)'] = columns(secs2, (8 * N) / 1e9);
}
{
  // softmax is not split across threads: both columns run one thread (a check of the noise)
  const rows = 4096;
  const n = 1024;
  const secs = time(
    ew.map(
      ({ km, x, y }) =>
        () =>
          km.exports.softmax_f32(x, y, rows, n),
    ),
  );
  results.elementwise['softmax 4096x1024'] = columns(secs, (8 * rows * n) / 1e9);
}
for (const km of modules) km.dispose();

if (argv.includes('--json')) {
  console.log(JSON.stringify(results));
} else {
  const head = T > 1 ? `1 thread | ${T} threads | ratio | cores got by 1 / ${T} threads` : '1 thread';
  const row = (v) => (T > 1 ? `${v[1]} | ${v[T]} | ${v.ratio}× | ${v.cores[0]} / ${v.cores[1]}` : `${v[1]}`);
  console.log(
    `wasm-kernels bench — build: ${variant}, ${results.cpu} (${results.cores} cores), Node ${results.node}, medians of 7`,
  );
  console.log(`matmul GFLOP/s (${head}):`);
  for (const [k, v] of Object.entries(results.matmul)) console.log(`  ${k.padEnd(22)} ${row(v)}`);
  console.log(`conv2d 3×3 pad 1 GFLOP/s (${head}):`);
  for (const [k, v] of Object.entries(results.conv2d)) {
    for (const pass of ['forward', 'dx', 'dw']) console.log(`  ${`${k} ${pass}`.padEnd(28)} ${row(v[pass])}`);
  }
  console.log(`elementwise over 4M f32, GB/s of reads + writes (${head}):`);
  for (const [k, v] of Object.entries(results.elementwise)) console.log(`  ${k.padEnd(22)} ${row(v)}`);
}
