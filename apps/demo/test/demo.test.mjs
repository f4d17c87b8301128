// Real-browser tests of the demo: the built app (dist/) served by `vite preview` with the
// cross-origin isolation headers, driven in headless Chromium by playwright-core.
// Run: npm test -w @descent/demo (turbo builds the app first; so does this file if dist/ is missing).
// Under CI=true a missing browser or WebGPU adapter fails the run; elsewhere those tests skip.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  isCI as CI,
  chromiumMissing,
  collectPageErrors,
  launchChromium,
  skipOrFail,
} from '@descent/browser-test';
import { preview } from 'vite';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SHOTS = join(ROOT, 'test-results', 'screenshots');

let server;
let browser;
let base;
const skipReason = chromiumMissing();

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  if (skipReason) return skipOrFail('the demo tests', skipReason);
  if (!existsSync(join(ROOT, 'dist', 'index.html'))) {
    execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
  }
  mkdirSync(SHOTS, { recursive: true });
  server = await preview({
    root: ROOT,
    logLevel: 'warn',
    preview: { port: await freePort(), host: '127.0.0.1', strictPort: true },
  });
  base = server.resolvedUrls.local[0];
  browser = await launchChromium({ webgpu: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Opens a page of the app, collecting console errors and uncaught exceptions. */
async function open(route, opts = {}) {
  const context = await browser.newContext({
    viewport: { width: 1400, height: 1000 },
    acceptDownloads: true,
    ...opts,
  });
  const page = await context.newPage();
  const errors = collectPageErrors(page, { console: true });
  await page.goto(`${base}#/${route}`);
  await page.waitForSelector('#page[data-ready="true"]');
  return { page, errors, context };
}

const num = async (page, sel) => Number(await page.getAttribute(sel, 'data-value'));

/** The backend ids the Train page offers as available in this browser. */
async function availableBackends(page) {
  await page.waitForSelector('#train-controls[data-ready="true"]');
  return page.$$eval('select[data-select="backend"] option', (os) =>
    os.filter((o) => !o.disabled).map((o) => o.value),
  );
}

/**
 * Presses Start on the Train page and waits until `steps` steps are done; returns the first and
 * final displayed losses and the step counts seen while it ran.
 */
async function trainFor(page, steps) {
  await page.click('#start');
  const seen = new Set();
  const liveBytes = new Set();
  const deadline = Date.now() + 300_000; // software WebGPU on a busy 2-core machine: ~3 s a step
  // Poll the page while the worker trains: each answer is a round trip through the main thread,
  // so distinct step counts prove the page kept rendering updates during training.
  for (;;) {
    const s = await page.evaluate(() => ({
      step: Number(document.querySelector('#stat-step')?.getAttribute('data-value')),
      running: document.querySelector('#train-status')?.getAttribute('data-running'),
      error: document.querySelector('#train-error')?.textContent,
      bytes: Number(document.querySelector('#stat-mem')?.getAttribute('data-value')),
    }));
    if (s.error) throw new Error(`training failed: ${s.error}`);
    seen.add(s.step);
    // live tensor bytes once the optimizer has made its state (after the first logged step)
    if (s.step >= 10) liveBytes.add(s.bytes);
    if (s.step >= steps && s.running === 'false') break;
    if (Date.now() > deadline) throw new Error(`training did not reach step ${steps} (at ${s.step})`);
    await page.waitForTimeout(25);
  }
  const first = Number(await page.getAttribute('#stats', 'data-first-loss'));
  const last = await num(page, '#stat-loss');
  return { first, last, seen, liveBytes };
}

describe('demo in headless Chromium', { skip: !CI && skipReason ? skipReason : false }, () => {
  test('every page loads without console errors (screenshots in test-results/)', async () => {
    for (const route of ['train', 'playground', 'landscape', 'bench']) {
      const { page, errors, context } = await open(route);
      if (route === 'train') await page.waitForSelector('#train-controls[data-ready="true"]');
      if (route === 'playground') await page.waitForSelector('#page[data-runs]');
      if (route === 'bench') await page.waitForSelector('#bench-env[data-ready="true"]');
      assert.deepEqual(errors, [], `console errors on ${route}`);
      await context.close();
    }
  });

  test('spirals: the loss falls on every available backend, the page stays responsive', async () => {
    const { page, errors, context } = await open('train');
    const backends = await availableBackends(page);
    await context.close();
    assert.ok(backends.includes('js'));
    if (CI)
      assert.ok(
        backends.includes('webgpu'),
        `CI needs a WebGPU adapter (SwiftShader); available: ${backends}`,
      );
    for (const backend of backends) {
      // Software WebGPU (SwiftShader) takes ~0.1–1 s per step here, so it trains 30 steps with Adam
      // (loss 0.74 → ~0.62); the CPU backends train 300 steps with momentum SGD (→ ~0.05).
      const plan =
        backend === 'webgpu'
          ? { steps: 30, optimizer: 'adam', lr: 0.05, fall: 0.9 }
          : { steps: 300, optimizer: 'momentum', lr: 0.5, fall: 0.5 };
      const { steps } = plan;
      const {
        page,
        errors: errs,
        context: ctx,
      } = await open(
        `train?backend=${backend}&steps=${steps}&optimizer=${plan.optimizer}&lr=${plan.lr}&logEvery=10`,
      );
      await page.waitForSelector('#train-controls[data-ready="true"]');
      const { first, last, seen, liveBytes } = await trainFor(page, steps);
      assert.ok(Number.isFinite(first) && Number.isFinite(last), `${backend}: losses ${first} → ${last}`);
      assert.ok(
        last < plan.fall * first,
        `${backend}: loss should fall below ${plan.fall}× in ${steps} steps: ${first} → ${last}`,
      );
      assert.equal(
        liveBytes.size,
        1,
        `${backend}: live tensor bytes changed during training: ${[...liveBytes]}`,
      );
      const between = [...seen].filter((k) => k > 0 && k < steps);
      assert.ok(
        between.length >= 1 && seen.size >= 3,
        `${backend}: the page saw only steps ${[...seen]} while training`,
      );
      const shown = await page.textContent('#train-status');
      assert.match(shown, new RegExp(`backend ${backend}`));
      if (backend === (backends.includes('wasm') ? 'wasm' : backends[0]))
        await page.screenshot({ path: join(SHOTS, 'train.png'), fullPage: true });
      assert.deepEqual(errs, [], `console errors while training on ${backend}`);
      await ctx.close();
    }
    assert.deepEqual(errors, []);
  });

  test('MNIST: the prediction grid fills in and accuracy rises (wasm)', async () => {
    const { page, errors, context } = await open(
      'train?task=mnist&backend=wasm&steps=50&optimizer=adam&lr=0.003',
    );
    await page.waitForSelector('#train-controls[data-ready="true"]');
    await trainFor(page, 50);
    const shown = await page.$$eval('#digits .digit', (ds) => ds.map((d) => d.textContent ?? ''));
    assert.equal(shown.length, 32);
    assert.ok(
      shown.every((t) => /^pred \d \(\d\)$/.test(t)),
      `grid: ${shown.slice(0, 4)}`,
    );
    const valAcc = await num(page, '#stat-val-acc');
    assert.ok(valAcc > 0.6, `validation accuracy after 50 steps: ${valAcc}`);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('playground draws the trajectories of three optimizers, each going downhill', async () => {
    const { page, errors, context } = await open(
      'playground?fn=quadratic&kappa=20&optimizers=sgd,momentum,nesterov',
    );
    await page.waitForSelector('#page[data-runs]');
    assert.equal(await page.getAttribute('#contour', 'data-trajectories'), '3');
    const rows = await page.$$eval('#optimizer-table tr[data-optimizer]', (rs) =>
      rs.map((r) => ({
        id: r.getAttribute('data-optimizer'),
        points: Number(r.getAttribute('data-points')),
        first: Number(r.getAttribute('data-first-loss')),
        final: Number(r.getAttribute('data-final-loss')),
      })),
    );
    assert.deepEqual(rows.map((r) => r.id).sort(), ['momentum', 'nesterov', 'sgd']);
    for (const r of rows) {
      assert.ok(r.points > 100, `${r.id}: ${r.points} points`);
      assert.ok(r.final < 1e-2 * r.first, `${r.id}: loss ${r.first} → ${r.final}`);
    }
    await page.screenshot({ path: join(SHOTS, 'playground.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a checkpoint round-trips through a safetensors file and IndexedDB', async () => {
    const { page, errors, context } = await open('train?backend=wasm&steps=120&lr=0.5&logEvery=10');
    await page.waitForSelector('#train-controls[data-ready="true"]');
    await trainFor(page, 120);
    const trained = await num(page, '#stat-loss');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save-file')]);
    const file = join(SHOTS, '..', await download.suggestedFilename());
    await download.saveAs(file);
    assert.match(readFileSync(file).subarray(8, 40).toString('latin1'), /^\{/);
    await page.click('#save-db');
    await page.waitForFunction(() =>
      /IndexedDB/.test(document.querySelector('#checkpoint-status')?.textContent ?? ''),
    );

    const resetLoss = async () => {
      await page.click('#reset');
      await page.waitForFunction(
        () => document.querySelector('#stat-step')?.getAttribute('data-value') === '0',
      );
      return num(page, '#stat-loss');
    };
    const fresh = await resetLoss();
    assert.notEqual(fresh, trained);

    await page.setInputFiles('#load-file', file);
    await page.waitForFunction(() =>
      /loaded/.test(document.querySelector('#checkpoint-status')?.textContent ?? ''),
    );
    await page.waitForFunction(
      () => document.querySelector('#stat-step')?.getAttribute('data-value') === '120',
    );
    assert.equal(await num(page, '#stat-loss'), trained, 'loss after uploading the file');

    await resetLoss();
    await page.click('#load-db');
    await page.waitForFunction(() =>
      /from this browser/.test(document.querySelector('#checkpoint-status')?.textContent ?? ''),
    );
    await page.waitForFunction(
      () => document.querySelector('#stat-step')?.getAttribute('data-value') === '120',
    );
    assert.equal(await num(page, '#stat-loss'), trained, 'loss after loading from IndexedDB');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('loss landscape: line and plane around the trained weights', async () => {
    const { page, errors, context } = await open('landscape');
    await page.click('#quick-train');
    await page.waitForFunction(
      () => /step 300/.test(document.querySelector('#landscape-status')?.textContent ?? ''),
      null,
      {
        timeout: 60_000,
      },
    );
    await page.click('#compute-landscape');
    await page.waitForSelector('#landscape-line[data-points]', { timeout: 60_000 });
    const points = Number(await page.getAttribute('#landscape-line', 'data-points'));
    const center = Number(await page.getAttribute('#landscape-line', 'data-center'));
    const min = Number(await page.getAttribute('#landscape-line', 'data-min'));
    assert.equal(points, 41);
    assert.equal(Number(await page.getAttribute('#landscape-plane', 'data-cells')), 21 * 21);
    assert.ok(Number.isFinite(center) && center > 0 && center < 0.6, `loss at the trained weights ${center}`);
    assert.ok(min <= center, `the line passes through the trained weights: min ${min}, center ${center}`);
    await page.screenshot({ path: join(SHOTS, 'landscape.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('benchmarks run in the page on every available backend', async () => {
    const { page, errors, context } = await open('bench?autorun=1&size=quick');
    await page.waitForSelector('#page[data-done="true"]', { timeout: 150_000 });
    const cells = await page.$$eval('#bench-table td[data-ms]', (tds) =>
      tds.map((td) => ({ backend: td.getAttribute('data-backend'), ms: Number(td.getAttribute('data-ms')) })),
    );
    const backends = new Set(cells.map((c) => c.backend));
    assert.ok(backends.has('js'), `measured on ${[...backends]}`);
    if (CI) assert.ok(backends.has('webgpu'), `CI measures WebGPU too; measured on ${[...backends]}`);
    for (const c of cells) assert.ok(c.ms > 0 && Number.isFinite(c.ms), `${c.backend}: ${c.ms} ms`);
    await page.screenshot({ path: join(SHOTS, 'bench.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  });
});
