/**
 * Core's conformance suite on the WebGPU backend in headless Chromium (WebGPU on SwiftShader there):
 * test/browser/page.ts is bundled with vite (no plugins), served from 127.0.0.1 (a secure context,
 * cross-origin isolated), and driven through Playwright one op group at a time, so each op and
 * direction is its own vitest test with the failures the page reports. Under CI=true a missing
 * browser or WebGPU adapter fails; elsewhere those tests are skipped with the reason printed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Browser,
  chromiumUnavailable,
  launchChromium,
  openPage,
  type Page,
  type StaticServer,
  serveStatic,
  skipOrFail,
} from '@descent/browser-test';
import { allCases, groupByOp } from '@descent/core/conformance/checks';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PageApi } from './browser/page.js';

/** Bundles the page into `dir` (index.html + page.js). */
async function bundlePage(dir: string): Promise<void> {
  const entry = fileURLToPath(new URL('./browser/page.ts', import.meta.url));
  await build({
    root: dir,
    logLevel: 'silent',
    configFile: false,
    build: {
      outDir: dir,
      emptyOutDir: false,
      lib: { entry, formats: ['es'], fileName: () => 'page.js' },
      minify: false,
      target: 'es2022',
    },
    resolve: { conditions: ['browser', 'import', 'default'] },
  });
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><meta charset="utf-8"><title>descent webgpu conformance</title><link rel="icon" href="data:,"><script type="module" src="/page.js"></script>',
  );
}

const groups = groupByOp(allCases());

describe('conformance: webgpu in headless Chromium', () => {
  let dir = '';
  let server: StaticServer | null = null;
  let browser: Browser | null = null;
  let page: Page | null = null;
  /** Why the browser tests cannot run here (null when they can). */
  let unavailable: string | null = null;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    const what = 'the gpu-kernels browser conformance run';
    unavailable = chromiumUnavailable(what);
    if (unavailable) return;
    const cache = fileURLToPath(new URL('../.cache/', import.meta.url));
    mkdirSync(cache, { recursive: true });
    dir = mkdtempSync(join(cache, 'browser-conformance-'));
    await bundlePage(dir);
    server = await serveStatic(dir);
    browser = await launchChromium({ webgpu: true });
    ({ page, errors: pageErrors } = await openPage(browser, `${server.url}/`, {
      ready: 'descent',
      timeout: 30_000,
      console: true,
    }));
    try {
      const info = await page.evaluate(() => (globalThis as unknown as { descent: PageApi }).descent.init());
      console.log(
        `[gpu-kernels] Chromium WebGPU adapter: ${JSON.stringify(info.adapter)}, features ${JSON.stringify(info.features)}`,
      );
    } catch (e) {
      unavailable = `no WebGPU adapter in Chromium: ${(e as Error).message}`;
      skipOrFail(what, unavailable);
    }
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has a kernel for every op (in the page)', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    expect(
      await page!.evaluate(() => (globalThis as unknown as { descent: PageApi }).descent.missing()),
    ).toEqual([]);
  });

  for (const [op, group] of groups) {
    const directions: ('forward' | 'backward')[] = group.some((c) => c.grad?.length)
      ? ['forward', 'backward']
      : ['forward'];
    for (const direction of directions) {
      it(`${op}: ${direction}`, async (ctx) => {
        if (unavailable) return ctx.skip(unavailable);
        pageErrors.length = 0;
        const r = await page!.evaluate(
          ([o, d]) => (globalThis as unknown as { descent: PageApi }).descent.check(o, d),
          [op, direction] as const,
        );
        expect(r.failures.join('\n')).toBe('');
        expect(r.leaked).toBe(0);
        expect(pageErrors).toEqual([]);
      }, 300_000);
    }
  }
});
