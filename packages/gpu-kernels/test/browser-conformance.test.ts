/**
 * Core's conformance suite on the WebGPU backend in headless Chromium (WebGPU on SwiftShader there):
 * test/browser/page.ts is bundled with vite (no plugins), served from 127.0.0.1 (a secure context,
 * cross-origin isolated), and driven through Playwright one op group at a time, so each op and
 * direction is its own vitest test with the failures the page reports. Under CI=true a missing
 * browser or WebGPU adapter fails; elsewhere those tests are skipped with the reason printed.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allCases, groupByOp } from '@descent/core/conformance/checks';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PageApi } from './browser/page.js';

const CI = process.env.CI === 'true';
const CHROMIUM = process.env.DESCENT_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

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

/** Serves `dir` on 127.0.0.1 with the headers that make the page cross-origin isolated. */
function serve(dir: string): Promise<Server> {
  const types: Record<string, string> = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.map': 'application/json',
  };
  const server = createServer((req, res) => {
    const name =
      (req.url ?? '/').split('?')[0] === '/' ? 'index.html' : (req.url ?? '').slice(1).split('?')[0];
    const file = join(dir, name);
    if (name.includes('..') || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': types[extname(file)] ?? 'application/octet-stream',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const groups = groupByOp(allCases());

describe('conformance: webgpu in headless Chromium', () => {
  let dir = '';
  let server: Server | null = null;
  let browser: Browser | null = null;
  let page: Page | null = null;
  /** Why the browser tests cannot run here (null when they can). */
  let unavailable: string | null = null;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      unavailable = `no Chromium at ${CHROMIUM}`;
    } else {
      const cache = fileURLToPath(new URL('../.cache/', import.meta.url));
      mkdirSync(cache, { recursive: true });
      dir = mkdtempSync(join(cache, 'browser-conformance-'));
      await bundlePage(dir);
      server = await serve(dir);
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
      page = await browser.newPage();
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') pageErrors.push(m.text());
      });
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await page.waitForFunction(() => 'descent' in globalThis, undefined, { timeout: 30_000 });
      try {
        const info = await page.evaluate(() =>
          (globalThis as unknown as { descent: PageApi }).descent.init(),
        );
        console.log(
          `[gpu-kernels] Chromium WebGPU adapter: ${JSON.stringify(info.adapter)}, features ${JSON.stringify(info.features)}`,
        );
      } catch (e) {
        unavailable = `no WebGPU adapter in Chromium: ${(e as Error).message}`;
      }
    }
    if (unavailable) {
      if (CI) throw new Error(`CI=true but ${unavailable}`);
      console.warn(`[gpu-kernels] skipping the browser conformance run: ${unavailable}`);
    }
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
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
