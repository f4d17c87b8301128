/**
 * Runs the in-browser benchmark: serves dist/browser (the bundle) with cross-origin isolation headers
 * (SharedArrayBuffer for wasm threads), launches headless Chromium with WebGPU (SwiftShader) through
 * playwright-core, and collects the page's results.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumMissing, launchChromium, serveStatic } from '@descent/browser-test';
import type { BenchCase } from '../cases.js';
import type { Progress } from '../progress.js';
import type { BenchResults, ImplInfo } from '../results.js';
import type { KernelResult } from '../run.js';
import type { BrowserConfig, BrowserOutput } from './page.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export async function runBrowser(o: {
  quick: boolean;
  cases: BenchCase[];
  progress: Progress;
  only?: string[];
}): Promise<BenchResults['browser']> {
  const bundle = join(here, 'bench.js');
  if (!existsSync(bundle))
    return { impls: [], kernels: [], error: `${bundle} is missing (npm run build bundles it)` };
  const missing = chromiumMissing();
  if (missing) return { impls: [], kernels: [], error: missing };
  const tfjsWasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  const workerDir = join(dirname(require.resolve('@descent/wasm-kernels')), 'threads');
  // cross-origin isolated (the default), so the page has SharedArrayBuffer for wasm threads
  const server = await serveStatic({
    '/tfjs-wasm/': tfjsWasmDir,
    '/descent-threads/': workerDir,
    '/': here,
  });
  const { url } = server;
  const browser = await launchChromium({ webgpu: true });
  let partial = (): { impls: ImplInfo[]; kernels: KernelResult[] } => ({ impls: [], kernels: [] });
  try {
    const page = await browser.newPage();
    let grown = false;
    // Results stream out one by one, so a crash of the page loses only the case that was running.
    const streamed: KernelResult[] = [];
    let streamedImpls: ImplInfo[] = [];
    page.on('console', (msg) => {
      const t = msg.text();
      if (!t.startsWith('BENCH-PROGRESS ')) return;
      const [kind, ...rest] = t.slice(15).split(' ');
      const text = rest.join(' ');
      if (kind === 'total' && !grown) {
        o.progress.grow(Number(text));
        grown = true;
      } else if (kind === 'tick') o.progress.tick(`chromium ${text}`);
      else if (kind === 'status') o.progress.status(`chromium ${text}`);
      else if (kind === 'log') o.progress.log(text);
      else if (kind === 'result') streamed.push(JSON.parse(text) as KernelResult);
      else if (kind === 'impls') streamedImpls = JSON.parse(text) as ImplInfo[];
    });
    partial = () => ({ impls: streamedImpls, kernels: streamed });
    await page.goto(`${url}/index.html`);
    const cfg: BrowserConfig = {
      quick: o.quick,
      caseIds: o.cases.map((c) => c.id),
      only: o.only,
      tfjsWasmPath: `${url}/tfjs-wasm/`,
      descentWorkerUrl: `${url}/descent-threads/worker.js`,
    };
    await page.waitForFunction(() => 'runBench' in globalThis, undefined, { timeout: 60_000 });
    const out = (await page.evaluate(
      (c) => (globalThis as unknown as { runBench(c: unknown): Promise<unknown> }).runBench(c),
      cfg,
    )) as BrowserOutput;
    return {
      impls: out.impls,
      kernels: out.kernels,
      ...(out.adapter ? { adapter: out.adapter } : {}),
      ...(Object.keys(out.unavailable).length ? { error: undefined } : {}),
      unavailable: out.unavailable,
    } as BenchResults['browser'];
  } catch (e) {
    return { ...partial(), error: `the page stopped: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    await browser.close();
    await server.close();
  }
}

export const browserDir = resolve(here);
