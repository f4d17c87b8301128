// Bundles what the benchmark loads as single ESM files (run by `npm run build` after tsc):
//   dist/vendor/tfjs-node.mjs   TensorFlow.js with gradients, cpu and wasm backends, for Node
//   dist/browser/bench.js       the in-browser benchmark (descent + tfjs-webgpu/wasm + the harness)
import { copyFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Node ESM has no __dirname/require; the Emscripten loaders of tfjs-backend-wasm use them.
const nodeBanner =
  "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; " +
  "import { dirname as __dn } from 'node:path'; const require = __cr(import.meta.url); " +
  'const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);';

async function bundle(input, file, platform, banner) {
  const b = await rolldown({
    input,
    platform,
    logLevel: 'warn',
    resolve: { mainFields: ['module', 'main'] },
  });
  await b.write({ file, format: 'esm', codeSplitting: false, ...(banner ? { banner } : {}) });
  await b.close();
}

await bundle(join(root, 'bundles/tfjs-node.js'), join(root, 'dist/vendor/tfjs-node.mjs'), 'node', nodeBanner);
if (existsSync(join(root, 'dist/browser/page.js'))) {
  await bundle(join(root, 'dist/browser/page.js'), join(root, 'dist/browser/bench.js'), 'browser');
  copyFileSync(join(root, 'bundles/index.html'), join(root, 'dist/browser/index.html'));
}
