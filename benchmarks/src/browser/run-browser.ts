/**
 * Runs the in-browser benchmark: serves dist/browser (the bundle) with cross-origin isolation headers
 * (SharedArrayBuffer for wasm threads), launches headless Chromium with WebGPU (SwiftShader) through
 * playwright-core, and collects the page's results.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchCase } from '../cases.js';
import type { Progress } from '../progress.js';
import type { BenchResults, ImplInfo } from '../results.js';
import type { KernelResult } from '../run.js';
import type { BrowserConfig, BrowserOutput } from './page.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
};

/** Serves `mounts` (URL prefix → directory) on 127.0.0.1 with COOP/COEP so the page is cross-origin isolated. */
function serve(mounts: Record<string, string>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const prefix = Object.keys(mounts)
      .sort((a, b) => b.length - a.length)
      .find((p) => path.startsWith(p));
    const file = prefix ? normalize(join(mounts[prefix], path.slice(prefix.length) || 'index.html')) : '';
    if (!prefix || !file.startsWith(mounts[prefix]) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    });
    res.end(readFileSync(file));
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      ok({ server, url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` });
    }),
  );
}

export async function runBrowser(o: {
  quick: boolean;
  cases: BenchCase[];
  progress: Progress;
  only?: string[];
}): Promise<BenchResults['browser']> {
  const bundle = join(here, 'bench.js');
  if (!existsSync(bundle))
    return { impls: [], kernels: [], error: `${bundle} is missing (npm run build bundles it)` };
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath))
    return { impls: [], kernels: [], error: `no Chromium at ${executablePath}` };
  const tfjsWasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  const workerDir = join(dirname(require.resolve('@descent/wasm-kernels')), 'threads');
  const { server, url } = await serve({
    '/tfjs-wasm/': tfjsWasmDir,
    '/descent-threads/': workerDir,
    '/': here,
  });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      '--enable-unsafe-webgpu',
    ],
  });
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
    server.close();
  }
}

export const browserDir = resolve(here);
