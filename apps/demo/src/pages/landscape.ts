import { FieldPlot, LineChart } from '../lib/charts.js';
import { contourLevels, contourSegments, ramp } from '../lib/contours.js';
import { fmt, h, settingControl } from '../lib/dom.js';
import { trainer } from '../lib/trainer.js';
import { BACKENDS } from '../registry/backends.js';
import { MODELS } from '../registry/models.js';
import { optimizerById, settingValues } from '../registry/optimizers.js';
import type { LandscapeResult } from '../worker/protocol.js';

/**
 * Loss landscape of the model trained on the Train page (Li et al. 2018, "Visualizing the Loss
 * Landscape of Neural Nets"): the training loss along one filter-normalized random direction,
 * L(w₀ + α·d₁), and on the plane L(w₀ + α·d₁ + β·d₂). The worker computes it; this page draws.
 */
export function mountLandscape(root: HTMLElement): () => void {
  const t = trainer();
  const s = { span: 1, lineRes: 41, planeRes: 21, seed: 1 };
  const note = h('p', { class: 'note', id: 'landscape-status' });
  const errorEl = h('div', { class: 'error', id: 'landscape-error' });
  const lineBox = h('div', { class: 'chart', id: 'landscape-line' });
  const planeBox = h('div', { class: 'chart', id: 'landscape-plane' });
  const computeBtn = h(
    'button',
    { class: 'primary', id: 'compute-landscape', onclick: () => void compute() },
    'Compute',
  );
  const quickBtn = h(
    'button',
    { id: 'quick-train', onclick: () => void quickTrain() },
    'Quick-train spirals (300 steps)',
  );
  const controls = h(
    'div',
    { class: 'panel' },
    h('h2', {}, 'Loss landscape'),
    h(
      'p',
      { class: 'note' },
      'Directions are random Gaussian, filter-normalized: each output unit’s slice of a weight gets the norm of the same slice of the trained weights; biases stay fixed. α = ±1 is a step as large as the weights themselves.',
    ),
    settingControl(
      { key: 'span', label: 'range ±', value: s.span, min: 0.05, max: 3, log: true },
      s.span,
      (v) => (s.span = v),
    ),
    settingControl(
      { key: 'lineRes', label: 'line points', value: s.lineRes, min: 5, max: 201, int: true },
      s.lineRes,
      (v) => (s.lineRes = v),
    ),
    settingControl(
      { key: 'planeRes', label: 'plane grid', value: s.planeRes, min: 3, max: 61, int: true },
      s.planeRes,
      (v) => (s.planeRes = v),
    ),
    settingControl(
      { key: 'seed', label: 'direction seed', value: s.seed, min: 0, max: 1000, int: true },
      s.seed,
      (v) => (s.seed = v),
    ),
    h('div', { class: 'buttons' }, computeBtn, quickBtn),
    note,
    errorEl,
  );
  root.append(h('div', { class: 'layout' }, controls, h('div', { class: 'row' }, lineBox, planeBox)));

  let line: LineChart | null = null;
  let plane: FieldPlot | null = null;
  const unsub = t.on((e) => {
    if (e.type === 'progress') note.textContent = `computing… ${e.done} / ${e.total} loss evaluations`;
  });

  const describe = () => {
    const r = t.ready;
    note.textContent = r
      ? `model: ${r.config.model} on ${r.config.task}, step ${t.step}, backend ${r.backendName}${t.running ? ' (training: it will be paused)' : ''}`
      : 'No model yet: train one on the Train page, or quick-train one here.';
  };

  const draw = (res: LandscapeResult) => {
    line?.destroy();
    lineBox.replaceChildren();
    line = new LineChart(lineBox, {
      title: 'L(w₀ + α·d₁)',
      series: [{ label: 'training loss' }],
      xLabel: 'α',
      log: true,
      height: 320,
      width: 460,
    });
    line.set(res.alphas, [res.line]);
    plane?.destroy();
    planeBox.replaceChildren();
    plane = new FieldPlot(planeBox, {
      title: 'L(w₀ + α·d₁ + β·d₂)',
      x: [-res.span, res.span],
      y: [-res.span, res.span],
      xLabel: 'α',
      yLabel: 'β',
      size: 420,
    });
    // The worker's grid has row i = β from −span upward; the field wants row 0 at the top.
    const n = res.res;
    const top = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) top[i * n + j] = res.grid[(n - 1 - i) * n + j];
    const lo = Math.min(...res.grid.filter(Number.isFinite));
    const hi = Math.max(...res.grid.filter(Number.isFinite));
    plane.setField(top, n, n, (v) => ramp(Math.log(v / lo) / Math.log(hi / lo || 2)));
    plane.setSeries([
      {
        label: 'contours',
        color: 'rgba(255,255,255,0.6)',
        width: 1,
        ...contourSegments(
          top,
          n,
          n,
          [-res.span, res.span],
          [-res.span, res.span],
          contourLevels(top, 12, true),
        ),
      },
      { label: 'trained weights', color: '#f43f5e', dots: true, xs: [0], ys: [0] },
    ]);
    const mid = res.line[(res.alphas.length - 1) >> 1];
    lineBox.dataset.points = String(res.line.length);
    lineBox.dataset.center = String(mid);
    lineBox.dataset.min = String(Math.min(...res.line));
    planeBox.dataset.cells = String(res.grid.filter(Number.isFinite).length);
    note.textContent = `loss at the trained weights ${fmt(mid, 4)}; along the line from ${fmt(Math.min(...res.line), 4)} to ${fmt(Math.max(...res.line), 4)}`;
  };

  const guard = async (fn: () => Promise<void>) => {
    errorEl.textContent = '';
    computeBtn.disabled = quickBtn.disabled = true;
    try {
      await fn();
    } catch (e) {
      errorEl.textContent = (e as Error).message;
    } finally {
      computeBtn.disabled = quickBtn.disabled = false;
    }
  };
  const compute = () =>
    guard(async () => {
      if (!t.ready) throw new Error('no model yet: train one first (Train page or quick-train)');
      await t.pause();
      note.textContent = 'computing…';
      draw(await t.landscape(s));
    });
  const quickTrain = () =>
    guard(async () => {
      // a CPU backend: wasm where the browser has SIMD, else the js reference
      const wasm = BACKENDS.find((b) => b.id === 'wasm')!;
      const backend = (await wasm.probe()).available ? 'wasm' : 'js';
      await t.init({
        task: 'spirals',
        model: 'mlp',
        modelSettings: settingValues(MODELS[0].settings),
        optimizer: 'momentum',
        optimizerSettings: settingValues(optimizerById('momentum').settings),
        backend,
        schedule: 'constant',
        steps: 300,
        seed: 1,
        logEvery: 25,
        clip: 0,
      });
      await t.run(300);
      await new Promise<void>((resolve) => {
        const off = t.on((e) => {
          if (e.type === 'running' && !e.running) {
            off();
            resolve();
          }
        });
        if (!t.running && t.step >= 300) {
          off();
          resolve();
        }
      });
      describe();
    });

  describe();
  return () => {
    unsub();
    line?.destroy();
    plane?.destroy();
  };
}
