import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { build } from 'vite';
import { expect, it } from 'vitest';

// @descent/core must bundle for a browser with a stock bundler (no plugins) and run where there is
// no Node: the bundle is evaluated in a bare V8 context with no process, require, Buffer or fs.
it('bundles for the browser with no plugin and runs without Node globals', async () => {
  // Inside the package (git-ignored .cache/) so the bundler resolves @descent/core like an app would.
  const cache = fileURLToPath(new URL('../.cache/', import.meta.url));
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'bundle-'));
  try {
    const entry = join(dir, 'entry.js');
    writeFileSync(
      entry,
      `import { tensor, matmul, grad, sum, square } from '@descent/core';
       const x = tensor([[1, 2], [3, 4]]);
       const g = grad((w) => sum(square(matmul(x, w))))(tensor([[1, 0], [0, 1]]));
       globalThis.result = Array.from(g.dataSync());`,
    );
    await build({
      root: dir,
      logLevel: 'silent',
      configFile: false,
      build: {
        outDir: join(dir, 'out'),
        lib: { entry, formats: ['iife'], name: 'bundle', fileName: () => 'bundle.js' },
        minify: false,
      },
      resolve: { conditions: ['browser', 'import', 'default'] },
    });
    const code = readFileSync(join(dir, 'out', 'bundle.js'), 'utf8');
    expect(code).not.toMatch(/require\(|from ['"]node:/);
    const context: { result?: number[] } = {};
    runInNewContext(code, context);
    // d/dW Σ (xW)² = 2·xᵀ(xW) = 2·xᵀx for W = I
    expect(context.result).toEqual([20, 28, 28, 40]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
