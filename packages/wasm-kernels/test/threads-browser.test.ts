/**
 * The worker pool in headless Chromium, with no bundler: src/ compiled by tsc, served as plain ES modules
 * from 127.0.0.1, the page importing module.js, which starts its workers with
 * `new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })`.
 *  - cross-origin isolated (COOP + COEP headers): 2 threads, results bit-identical to one thread, on the
 *    page's main thread (which polls at the join: Atomics.wait throws there) and inside a module worker
 *    (which blocks in Atomics.wait);
 *  - not isolated (no SharedArrayBuffer): the module runs single-threaded, same results, in both places.
 * Under CI=true a missing Chromium fails; elsewhere the test is skipped with the reason printed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Browser,
  chromiumUnavailable,
  compileTs,
  launchChromium,
  openPage,
  serveStatic,
} from '@descent/browser-test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

/** The check: one threaded and one single-threaded module, the same matmuls and exp on both. */
const CHECK = `import { KernelModule } from './module.js';
export async function check() {
  try {
    const kmT = await KernelModule.create({ threads: 2 });
    const km1 = await KernelModule.create({ threads: 1 });
    const n = 768; // big enough that the exp (590k elements, ≈ 0.35 ms estimated) is split too
    let s = 1;
    const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const a = Float32Array.from({ length: n * n }, rand);
    const b = Float32Array.from({ length: n * n }, rand);
    const out = [];
    for (const km of [km1, kmT]) {
      const pa = km.allocF32(n * n, a), pb = km.allocF32(n * n, b), pc = km.allocF32(n * n);
      km.matmul(pa, pb, pc, n, n, n, { transB: true });
      km.unary('exp', pa, pa, n * n);
      km.matmul(pa, pb, pc, n, n, n, { accumulate: true });
      out.push(new Uint32Array(km.readF32(pc, n * n).buffer));
    }
    let differ = 0;
    for (let i = 0; i < n * n; i++) if (out[0][i] !== out[1][i]) differ++;
    const result = {
      isolated: globalThis.crossOriginIsolated,
      threads: kmT.threads,
      jobs: kmT.parallelJobs,
      callerBlocks: kmT.pool ? kmT.pool.callerBlocks : null,
      differ,
      variant: kmT.variant,
    };
    kmT.dispose();
    return result;
  } catch (e) {
    return { error: String((e && e.stack) || e) };
  }
}`;

/** The same check inside a module worker (where the caller may block in Atomics.wait). */
const INNER = `import { check } from './check.js';
self.onmessage = async () => self.postMessage(await check());`;

/** The page runs the check on its main thread, then in a worker. */
const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
import { check } from './check.js';
const main = await check();
const inner = new Worker(new URL('./inner.js', import.meta.url), { type: 'module' });
const worker = await new Promise((resolve) => {
  inner.onmessage = (e) => resolve(e.data);
  inner.onerror = (e) => resolve({ error: e.message || 'inner worker failed' });
  inner.postMessage('go');
});
globalThis.result = { main, worker };
</script>`;

interface CheckResult {
  error?: string;
  isolated: boolean;
  threads: number;
  jobs: number;
  callerBlocks: boolean | null;
  differ: number;
  variant: string;
}

describe('threads in headless Chromium (no bundler)', () => {
  let dir = '';
  let browser: Browser | null = null;
  let unavailable: string | null = null;

  beforeAll(() => {
    unavailable = chromiumUnavailable('the wasm-kernels browser threads test');
    if (unavailable) return;
    dir = mkdtempSync(join(tmpdir(), 'wk-threads-browser-'));
    compileTs(join(pkgDir, 'tsconfig.build.json'), dir);
    writeFileSync(join(dir, 'index.html'), PAGE);
    writeFileSync(join(dir, 'check.js'), CHECK);
    writeFileSync(join(dir, 'inner.js'), INNER);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function run(isolate: boolean): Promise<{ main: CheckResult; worker: CheckResult }> {
    browser ??= await launchChromium();
    const server = await serveStatic(dir, { isolate });
    try {
      const { page, errors } = await openPage(browser, `${server.url}/`, {
        ready: 'result',
        timeout: 60_000,
      });
      const result = await page.evaluate(
        () => (globalThis as unknown as { result: { main: CheckResult; worker: CheckResult } }).result,
      );
      await page.close();
      expect(errors).toEqual([]);
      return result;
    } finally {
      await server.close();
    }
  }

  it('cross-origin isolated: 2 threads, bit-identical; the page polls at the join, a worker blocks', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const { main, worker } = await run(true);
    for (const [where, r] of [
      ['main thread', main],
      ['worker', worker],
    ] as const) {
      expect(r.error, where).toBeUndefined();
      expect(r.isolated, where).toBe(true);
      expect(r.threads, where).toBe(2);
      expect(r.jobs, where).toBe(3); // both matmuls and the exp were split
      expect(r.differ, where).toBe(0);
    }
    expect(main.callerBlocks).toBe(false); // Atomics.wait throws on a page's main thread
    expect(worker.callerBlocks).toBe(true);
  }, 120_000);

  it('not isolated: no shared memory, single-threaded, same results', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const { main, worker } = await run(false);
    for (const [where, r] of [
      ['main thread', main],
      ['worker', worker],
    ] as const) {
      expect(r.error, where).toBeUndefined();
      expect(r.isolated, where).toBe(false);
      expect(r.threads, where).toBe(1);
      expect(r.jobs, where).toBe(0);
      expect(r.differ, where).toBe(0);
    }
  }, 120_000);
});
