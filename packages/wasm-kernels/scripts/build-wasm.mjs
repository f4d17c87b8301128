#!/usr/bin/env node
// Compiles assembly/index.ts (AssemblyScript) into the kernel module variants and embeds them, base64,
// into src/generated/wasm-binaries.ts so the package loads in Node and in any bundler with no plugin.
//
//   node scripts/build-wasm.mjs            build what is out of date (both variants in parallel)
//   node scripts/build-wasm.mjs --force    rebuild
//   node scripts/build-wasm.mjs --shared   also build asc's shared-memory variants: a check that the sources
//                                          compile for threads. Not embedded: the threaded module is the plain
//                                          build with its memory import rewritten (src/threads/shared-binary.ts)
//
// Variants (ONE source: assembly/common.ts branches on the compile-time ASC_FEATURE_RELAXED_SIMD):
//   simd     --enable simd                 (every engine with wasm SIMD: Node ≥ 16.4, Chromium, Firefox, Safari 16.4)
//   relaxed  --enable simd,relaxed-simd    (f32x4.relaxed_madd → FMA; Chromium; Node 20 needs
//                                           --experimental-wasm-relaxed-simd)
// All: -O3 --noAssert --runtime stub, memory imported from env.memory (the TypeScript side owns it).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const asmDir = join(pkgDir, 'assembly');
const buildDir = join(pkgDir, 'build');
const genDir = join(pkgDir, 'src', 'generated');
const genFile = join(genDir, 'wasm-binaries.ts');

const COMMON = [
  '-O3',
  '--noAssert',
  '--runtime',
  'stub',
  '--importMemory',
  '--initialMemory',
  '1',
  '--noColors',
];
const VARIANTS = {
  simd: ['--enable', 'simd'],
  relaxed: ['--enable', 'simd,relaxed-simd'],
  // Compile check only (see --shared above): shared memory needs a maximum; the host passes a shared Memory.
  'simd-shared': ['--enable', 'simd,threads', '--sharedMemory', '--maximumMemory', '65536'],
  'relaxed-shared': ['--enable', 'simd,relaxed-simd,threads', '--sharedMemory', '--maximumMemory', '65536'],
};
const EMBEDDED = ['simd', 'relaxed'];

async function compileOne(variant) {
  const { default: asc } = await import('assemblyscript/asc');
  const out = join(buildDir, `kernels-${variant}.wasm`);
  const args = [
    join(asmDir, 'index.ts'),
    ...COMMON,
    ...VARIANTS[variant],
    '-o',
    out,
    '-t',
    out.replace(/\.wasm$/, '.wat'),
  ];
  let errText = '';
  const { error } = await asc.main(args, {
    stdout: { write: (s) => process.stdout.write(s) },
    stderr: {
      write: (s) => {
        // AS112 ("exchange of v128 values is not supported by all embeddings") is expected: no export
        // takes or returns v128.
        errText += s;
      },
    },
  });
  const shown = errText
    .split(/\n(?=\S)/)
    .filter((b) => !b.includes('AS112'))
    .join('\n')
    .trim();
  if (shown) process.stderr.write(`${shown}\n`);
  if (error) {
    process.stderr.write(`asc failed for ${variant}: ${error.message}\n`);
    process.exit(1);
  }
}

function sourceHash(variants) {
  const h = createHash('sha256');
  for (const f of readdirSync(asmDir).sort()) {
    if (f.endsWith('.ts')) h.update(f).update(readFileSync(join(asmDir, f)));
  }
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  const ascPkg = join(
    dirname(fileURLToPath(import.meta.resolve('assemblyscript/asc'))),
    '..',
    'package.json',
  );
  h.update(JSON.parse(readFileSync(ascPkg, 'utf8')).version);
  h.update(variants.join(','));
  return h.digest('hex').slice(0, 16);
}

function run(variant) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--variant', variant], {
      stdio: 'inherit',
    });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${variant} build failed (${code})`)),
    );
  });
}

async function main() {
  const argv = process.argv.slice(2);
  const vi = argv.indexOf('--variant');
  if (vi >= 0) {
    await compileOne(argv[vi + 1]);
    return;
  }
  const variants = argv.includes('--shared') ? Object.keys(VARIANTS) : EMBEDDED;
  const hash = sourceHash(variants);
  const stamp = join(buildDir, '.stamp');
  const upToDate =
    !argv.includes('--force') &&
    existsSync(stamp) &&
    readFileSync(stamp, 'utf8') === hash &&
    existsSync(genFile) &&
    readFileSync(genFile, 'utf8').includes(`'${hash}'`) &&
    variants.every((v) => existsSync(join(buildDir, `kernels-${v}.wasm`)));
  if (upToDate) {
    if (!argv.includes('--quiet')) console.log(`build-wasm: up to date (${hash})`);
    return;
  }
  mkdirSync(buildDir, { recursive: true });
  mkdirSync(genDir, { recursive: true });
  const t0 = performance.now();
  // two cores: compile the variants in parallel child processes
  const queue = [...variants];
  const workers = Array.from({ length: 2 }, async () => {
    while (queue.length) await run(queue.shift());
  });
  await Promise.all(workers);
  const lines = [
    '// Generated by scripts/build-wasm.mjs from assembly/*.ts — do not edit, not committed.',
    `export const WASM_SOURCE_HASH = '${hash}';`,
  ];
  for (const v of EMBEDDED) {
    const bytes = readFileSync(join(buildDir, `kernels-${v}.wasm`));
    const name = v === 'simd' ? 'SIMD_WASM_BASE64' : 'RELAXED_WASM_BASE64';
    lines.push(`/** kernels-${v}.wasm (${bytes.length} bytes). */`);
    lines.push(`export const ${name} =\n  '${bytes.toString('base64')}';`);
  }
  writeFileSync(genFile, `${lines.join('\n')}\n`);
  writeFileSync(stamp, hash);
  const sizes = variants
    .map((v) => `${v} ${(statSync(join(buildDir, `kernels-${v}.wasm`)).size / 1024).toFixed(1)} KiB`)
    .join(', ');
  console.log(
    `build-wasm: ${sizes} → ${relative(pkgDir, genFile)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

await main();
