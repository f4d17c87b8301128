import { FieldPlot, LineChart } from '../lib/charts.js';
import { entrySelect, fmt, fmtBytes, h, settingControl } from '../lib/dom.js';
import { describeAdapter } from '../lib/gpu.js';
import { getCheckpoint, putCheckpoint } from '../lib/idb.js';
import { hashParams } from '../lib/params.js';
import { trainer } from '../lib/trainer.js';
import { BACKENDS } from '../registry/backends.js';
import { MODELS } from '../registry/models.js';
import { OPTIMIZERS, optimizerById, settingValues } from '../registry/optimizers.js';
import { SCHEDULES } from '../registry/schedules.js';
import { TASKS } from '../registry/tasks.js';
import type { Availability, Setting } from '../registry/types.js';
import type { Event, Metrics, ReadyInfo, TrainConfig } from '../worker/protocol.js';

// ------------------------------------------------------------------ state kept across page visits

/** Metrics of the current run, kept while the user visits other pages (training goes on). */
const history: Metrics[] = [];
let boundary: Extract<Event, { type: 'boundary' }> | null = null;
let predictions: Int32Array | null = null;
let form: TrainConfig | null = null;
let subscribed = false;

function track(): void {
  if (subscribed) return;
  subscribed = true;
  trainer().on((e) => {
    if (e.type === 'ready') {
      history.length = 0;
      boundary = null;
      predictions = null;
    } else if (e.type === 'metrics') {
      // a checkpoint load can rewind the step count: drop the samples after it
      while (history.length && history[history.length - 1].step >= e.metrics.step) history.pop();
      history.push(e.metrics);
    } else if (e.type === 'boundary') boundary = e;
    else if (e.type === 'predictions') predictions = e.preds;
  });
}

/**
 * The default backend: a real GPU when the browser has one (a software adapter such as SwiftShader
 * is far slower than wasm), else wasm (threads pay off only for bigger models than the defaults,
 * so single-threaded first), and the js reference last.
 */
async function probeBackends(): Promise<{
  availability: Map<string, Availability>;
  preferred: string;
  labels: Map<string, string>;
}> {
  const availability = new Map<string, Availability>();
  for (const b of BACKENDS) availability.set(b.id, await b.probe());
  const gpu = await describeAdapter();
  const order =
    gpu.available && !gpu.software
      ? ['webgpu', 'wasm', 'wasm-threads', 'js']
      : ['wasm', 'wasm-threads', 'webgpu', 'js'];
  const preferred = order.find((id) => availability.get(id)?.available) ?? 'js';
  const labels = new Map(BACKENDS.map((b) => [b.id, b.label]));
  if (gpu.available) labels.set('webgpu', `WebGPU — ${gpu.text}`);
  return { availability, preferred, labels };
}

function defaultConfig(backend: string): TrainConfig {
  const q = hashParams();
  const optimizer = q.get('optimizer') ?? 'momentum';
  const entry = optimizerById(optimizer);
  const lr = q.get('lr');
  return {
    task: q.get('task') ?? 'spirals',
    model: q.get('model') ?? 'mlp',
    modelSettings: settingValues(MODELS.find((m) => m.id === (q.get('model') ?? 'mlp'))!.settings),
    optimizer,
    optimizerSettings: settingValues(entry.settings, lr ? { lr: Number(lr) } : {}),
    backend: q.get('backend') ?? backend,
    schedule: q.get('schedule') ?? 'constant',
    steps: Number(q.get('steps') ?? 1000),
    seed: Number(q.get('seed') ?? 1),
    logEvery: Number(q.get('logEvery') ?? 10),
    clip: Number(q.get('clip') ?? 0),
  };
}

// ------------------------------------------------------------------ the page

export function mountTrain(root: HTMLElement): () => void {
  track();
  const t = trainer();
  const unsubs: (() => void)[] = [];
  const charts: LineChart[] = [];
  let field: FieldPlot | null = null;
  let availability = new Map<string, Availability>();
  let labels = new Map<string, string>();

  const controls = h(
    'div',
    { class: 'panel', id: 'train-controls' },
    h('p', { class: 'note' }, 'probing backends…'),
  );
  const statsEl = h('div', { class: 'stats', id: 'stats' });
  const errorEl = h('div', { class: 'error', id: 'train-error', role: 'alert' });
  const statusEl = h('p', { class: 'note', id: 'train-status' });
  const chartsEl = h('div', { class: 'charts' });
  const viewEl = h('div', { class: 'panel', id: 'train-view' });
  root.append(
    h(
      'div',
      { class: 'layout' },
      controls,
      h('div', {}, statusEl, errorEl, statsEl, h('div', { class: 'row' }, viewEl), chartsEl),
    ),
  );

  // ---- charts
  const chartBox = () => {
    const el = h('div', { class: 'chart' });
    chartsEl.append(el);
    return el;
  };
  const logToggle = h('input', { type: 'checkbox', id: 'log-scale', checked: true });
  const lossBox = chartBox();
  lossBox.append(h('label', { class: 'note' }, logToggle, ' log scale'));
  const lossChart = new LineChart(lossBox, {
    title: 'loss',
    series: [{ label: 'train' }, { label: 'validation', dash: [6, 3] }],
    log: true,
  });
  logToggle.addEventListener('change', () => lossChart.setLog(logToggle.checked));
  const accChart = new LineChart(chartBox(), {
    title: 'accuracy',
    series: [{ label: 'train' }, { label: 'validation', dash: [6, 3] }],
  });
  const lrChart = new LineChart(chartBox(), { title: 'learning rate', series: [{ label: 'lr' }] });
  const spsChart = new LineChart(chartBox(), { title: 'steps / second', series: [{ label: 'steps/s' }] });
  const gradChart = new LineChart(chartBox(), {
    title: 'gradient norm (before clipping)',
    series: [{ label: '‖g‖₂' }],
    log: true,
  });

  const memChart = new LineChart(chartBox(), {
    title: 'memory in use (MiB)',
    series: [{ label: 'live tensors' }, { label: 'backend total' }],
  });
  charts.push(lossChart, accChart, lrChart, gradChart, spsChart, memChart);

  let lastPlotted = -1;
  const plotMetrics = (m: Metrics) => {
    lastPlotted = m.step;
    lossChart.push(m.step, [m.step > 0 ? m.loss : null, m.valLoss]);
    accChart.push(m.step, [m.accuracy, m.valAccuracy]);
    lrChart.push(m.step, [m.lr]);
    spsChart.push(m.step, [m.stepsPerSecond > 0 ? m.stepsPerSecond : null]);
    gradChart.push(m.step, [Number.isFinite(m.gradNorm) ? m.gradNorm : null]);
    memChart.push(m.step, [m.bytes / 2 ** 20, m.backendBytes / 2 ** 20]);
  };
  const replot = () => {
    for (const c of charts) c.clear();
    lastPlotted = -1;
    history.forEach(plotMetrics);
  };

  // ---- stats
  const stat = (id: string, label: string, value: string, raw?: number) =>
    h(
      'div',
      { class: 'stat', id: `stat-${id}`, 'data-value': raw === undefined ? undefined : String(raw) },
      h('b', {}, value),
      h('span', {}, label),
    );
  const showStats = () => {
    const m = history[history.length - 1];
    const info = t.ready;
    statsEl.replaceChildren(
      stat('step', 'step', String(m?.step ?? 0), m?.step ?? 0),
      stat('loss', 'train loss', m ? fmt(m.loss, 4) : '–', m?.loss),
      stat('val-loss', 'validation loss', m ? fmt(m.valLoss, 4) : '–', m?.valLoss),
      stat('acc', 'train accuracy', m ? `${(100 * m.accuracy).toFixed(1)}%` : '–', m?.accuracy),
      stat(
        'val-acc',
        'validation accuracy',
        m ? `${(100 * m.valAccuracy).toFixed(1)}%` : '–',
        m?.valAccuracy,
      ),
      stat('lr', 'learning rate', m ? fmt(m.lr) : '–', m?.lr),
      stat('sps', 'steps / s', m ? fmt(m.stepsPerSecond) : '–', m?.stepsPerSecond),
      stat('mem', `memory (${m?.tensors ?? 0} tensors)`, m ? fmtBytes(m.bytes) : '–', m?.bytes),
      stat('params', 'parameters', info ? info.parameterCount.toLocaleString() : '–', info?.parameterCount),
    );
    statsEl.dataset.firstLoss = history.length ? String(history[0].loss) : '';
    const i = t.ready;
    statusEl.textContent = i
      ? `${t.running ? 'training' : 'paused'} · ${TASKS.find((x) => x.id === i.config.task)?.label} · ${i.config.model} · ${i.config.optimizer} · backend ${i.backendName}${describeBackend(i.backendInfo)}`
      : 'not started: pick the settings and press Start';
    statusEl.dataset.running = String(t.running);
  };

  // ---- decision boundary / prediction grid
  const drawView = () => {
    const info = t.ready;
    if (!info || info.view === 'none') {
      viewEl.replaceChildren(
        h('p', { class: 'note' }, info ? 'This task has no picture; watch the curves.' : ''),
      );
      field?.destroy();
      field = null;
      return;
    }
    if (info.view === 'boundary') drawBoundary(info);
    else drawDigits(info);
  };
  const drawBoundary = (info: ReadyInfo) => {
    if (!field) {
      viewEl.replaceChildren();
      const box = h('div', { id: 'boundary' });
      viewEl.append(box);
      field = new FieldPlot(box, {
        title: 'decision boundary',
        x: [-1.3, 1.3],
        y: [-1.3, 1.3],
        size: 380,
        xLabel: 'x₁',
        yLabel: 'x₂',
      });
    }
    const pts = info.points!;
    const cls = (c: number) => {
      const xs: number[] = [];
      const ys: number[] = [];
      for (let i = 0; i < pts.y.length; i++)
        if (pts.y[i] === c) {
          xs.push(pts.x[2 * i]);
          ys.push(pts.x[2 * i + 1]);
        }
      return { xs, ys };
    };
    field.setSeries([
      { label: 'class 0', color: '#1d4ed8', dots: true, ...cls(0) },
      { label: 'class 1', color: '#b91c1c', dots: true, ...cls(1) },
    ]);
    if (boundary) {
      // p(class 1) from blue (0) through white (0.5) to red (1)
      field.setField(boundary.probs, boundary.res, boundary.res, (p) => {
        const a = Math.abs(p - 0.5) * 2;
        return p > 0.5
          ? [255, Math.round(255 - 110 * a), Math.round(255 - 110 * a)]
          : [Math.round(255 - 110 * a), Math.round(255 - 80 * a), 255];
      });
      viewEl.dataset.boundaryUpdates = String(Number(viewEl.dataset.boundaryUpdates ?? 0) + 1);
    }
  };
  const drawDigits = (info: ReadyInfo) => {
    field?.destroy();
    field = null;
    const d = info.digits!;
    const grid = h('div', { class: 'digits', id: 'digits' });
    for (let k = 0; k < d.count; k++) {
      const c = h('canvas', { width: d.size, height: d.size });
      const ctx = c.getContext('2d')!;
      const img = ctx.createImageData(d.size, d.size);
      for (let i = 0; i < d.size * d.size; i++) {
        const v = 255 - Math.round(255 * d.images[k * d.size * d.size + i]);
        img.data.set([v, v, v, 255], 4 * i);
      }
      ctx.putImageData(img, 0, 0);
      const pred = predictions?.[k];
      const label = d.labels[k];
      grid.append(
        h(
          'div',
          { class: `digit ${pred === undefined ? '' : pred === label ? 'right' : 'wrong'}` },
          c,
          h('div', {}, pred === undefined ? `label ${label}` : `pred ${pred} (${label})`),
        ),
      );
    }
    viewEl.replaceChildren(h('h2', {}, 'validation digits: prediction (label)'), grid);
  };

  unsubs.push(
    t.on((e) => {
      if (e.type === 'ready') {
        errorEl.textContent = '';
        for (const c of charts) c.clear();
        field?.destroy();
        field = null;
        drawView();
      } else if (e.type === 'metrics') {
        // a loaded checkpoint can move the step count back: redraw from the kept history then
        if (e.metrics.step <= lastPlotted) replot();
        else plotMetrics(e.metrics);
      } else if (e.type === 'boundary' || e.type === 'predictions') drawView();
      else if (e.type === 'error') errorEl.textContent = e.message;
      showStats();
    }),
  );

  // ---- controls
  const buildControls = () => {
    const f = form!;
    const dirty = h('p', { class: 'note', id: 'dirty' });
    const markDirty = () => {
      const applied = t.ready?.config;
      dirty.textContent =
        applied && JSON.stringify(applied) !== JSON.stringify(f)
          ? 'Settings changed: Reset applies them.'
          : '';
    };
    const field = (label: string, el: HTMLElement) =>
      h('label', { class: 'field' }, h('span', {}, label), el);
    const settingsBox = (settings: Setting[], values: Record<string, number>) =>
      h(
        'div',
        {},
        ...settings.map((s) =>
          settingControl(s, values[s.key], (v) => {
            values[s.key] = v;
            markDirty();
          }),
        ),
      );

    const taskSel = entrySelect(
      TASKS.map((x) => ({ id: x.id, label: x.label, ...x.availability() })),
      f.task,
      (id) => {
        f.task = id;
        // keep the model if it reads this task's inputs, else switch to the first one that does
        const t2 = TASKS.find((x) => x.id === id)!;
        const fits = (m: (typeof MODELS)[number]) => m.inputs.some((k) => t2.inputs.includes(k));
        if (!fits(MODELS.find((m) => m.id === f.model)!)) {
          const m = MODELS.find(fits)!;
          f.model = m.id;
          f.modelSettings = settingValues(m.settings);
        }
        buildControls();
      },
      'task',
    );
    const task = TASKS.find((x) => x.id === f.task)!;
    const modelSel = entrySelect(
      MODELS.map((x) => {
        const fits = x.inputs.some((k) => task.inputs.includes(k));
        return fits
          ? { id: x.id, label: x.label, ...x.availability() }
          : {
              id: x.id,
              label: x.label,
              available: false,
              reason: `reads ${x.inputs.join('/')}, this task has ${task.inputs.join('/')}`,
            };
      }),
      f.model,
      (id) => {
        f.model = id;
        f.modelSettings = settingValues(MODELS.find((m) => m.id === id)!.settings);
        buildControls();
      },
      'model',
    );
    const optSel = entrySelect(
      OPTIMIZERS.map((x) => ({ id: x.id, label: x.label, available: true })),
      f.optimizer,
      (id) => {
        f.optimizer = id;
        f.optimizerSettings = settingValues(optimizerById(id).settings);
        buildControls();
      },
      'optimizer',
    );
    const schedSel = entrySelect(
      SCHEDULES.map((x) => ({ id: x.id, label: x.label, available: true })),
      f.schedule,
      (id) => {
        f.schedule = id;
        markDirty();
      },
      'schedule',
    );
    const backendSel = entrySelect(
      BACKENDS.map((x) => ({
        id: x.id,
        label: labels.get(x.id) ?? x.label,
        ...(availability.get(x.id) ?? { available: false, reason: 'probing' }),
      })),
      f.backend,
      (id) => {
        f.backend = id;
        markDirty();
      },
      'backend',
    );
    const num = (key: 'steps' | 'seed' | 'clip', min: number, integer = true) =>
      h('input', {
        type: 'number',
        min: String(min),
        step: integer ? '1' : 'any',
        value: String(f[key]),
        'data-input': key,
        onchange: (ev: Event & { target: HTMLInputElement }) => {
          const v = Math.max(min, Number(ev.target.value) || 0);
          f[key] = integer ? Math.round(v) : v;
          markDirty();
        },
      });

    const startBtn = h('button', { class: 'primary', id: 'start', onclick: () => void start() }, 'Start');
    const pauseBtn = h('button', { id: 'pause', onclick: () => void t.pause() }, 'Pause');
    const resetBtn = h('button', { id: 'reset', onclick: () => void reset() }, 'Reset');
    const fileIn = h('input', {
      type: 'file',
      accept: '.safetensors',
      id: 'load-file',
      hidden: true,
      onchange: () => void loadFile(fileIn),
    });
    const ckptNote = h('p', { class: 'note', id: 'checkpoint-status' });
    const guard = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (e) {
        errorEl.textContent = `${what}: ${(e as Error).message}`;
      }
    };
    const start = () =>
      guard('start', async () => {
        if (!t.ready || JSON.stringify(t.ready.config) !== JSON.stringify(f)) await init();
        markDirty();
        const until = t.step >= f.steps ? t.step + f.steps : f.steps;
        await t.run(until);
      });
    /** Builds data, model and optimizer in the worker (MNIST loads its 10 MB of digits first). */
    const init = async () => {
      statusEl.textContent = `preparing ${TASKS.find((x) => x.id === f.task)?.label} on ${f.backend}…`;
      await t.init(structuredClone(f));
    };
    const reset = () =>
      guard('reset', async () => {
        await init();
        markDirty();
      });
    const saveFile = () =>
      guard('save', async () => {
        const buf = await t.save();
        const name = `descent-${t.ready?.config.task}-${t.ready?.config.model}-step${t.step}.safetensors`;
        const url = URL.createObjectURL(new Blob([buf], { type: 'application/octet-stream' }));
        const a = h('a', { href: url, download: name });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
        ckptNote.textContent = `downloaded ${name} (${fmtBytes(buf.byteLength)})`;
      });
    const loadFile = (input: HTMLInputElement) =>
      guard('load', async () => {
        const file = input.files?.[0];
        if (!file) return;
        await t.pause();
        const step = await t.load(await file.arrayBuffer());
        ckptNote.textContent = `loaded ${file.name} (step ${step})`;
        input.value = '';
      });
    const saveDb = () =>
      guard('save to browser', async () => {
        const buf = await t.save();
        await putCheckpoint('latest', buf);
        ckptNote.textContent = `saved step ${t.step} to this browser (IndexedDB, ${fmtBytes(buf.byteLength)})`;
      });
    const loadDb = () =>
      guard('load from browser', async () => {
        const buf = await getCheckpoint('latest');
        if (!buf) throw new Error('no checkpoint saved in this browser yet');
        await t.pause();
        const step = await t.load(buf);
        ckptNote.textContent = `loaded step ${step} from this browser (IndexedDB)`;
      });

    controls.replaceChildren(
      h('h2', {}, 'Train'),
      field('task', taskSel),
      h('p', { class: 'note' }, TASKS.find((x) => x.id === f.task)?.description ?? ''),
      field('model', modelSel),
      settingsBox(MODELS.find((m) => m.id === f.model)!.settings, f.modelSettings),
      field('optimizer', optSel),
      settingsBox(optimizerById(f.optimizer).settings, f.optimizerSettings),
      field('learning-rate schedule', schedSel),
      field('steps', num('steps', 1)),
      field('seed', num('seed', 0)),
      field('clip gradient norm at (0: off)', num('clip', 0, false)),
      field('backend', backendSel),
      h('div', { class: 'buttons' }, startBtn, pauseBtn, resetBtn),
      h('h3', {}, 'Checkpoint (safetensors)'),
      h(
        'div',
        { class: 'buttons' },
        h('button', { id: 'save-file', onclick: () => void saveFile() }, 'Download'),
        h('button', { id: 'load-file-btn', onclick: () => fileIn.click() }, 'Upload…'),
        h('button', { id: 'save-db', onclick: () => void saveDb() }, 'Save in browser'),
        h('button', { id: 'load-db', onclick: () => void loadDb() }, 'Load from browser'),
        fileIn,
      ),
      ckptNote,
      dirty,
    );
    markDirty();
  };

  let alive = true;
  void probeBackends().then(({ availability: a, preferred, labels: l }) => {
    if (!alive) return;
    availability = a;
    labels = l;
    form ??= defaultConfig(preferred);
    buildControls();
    controls.dataset.ready = 'true';
  });

  replot();
  showStats();
  drawView();
  return () => {
    alive = false;
    for (const u of unsubs) u();
    for (const c of charts) c.destroy();
    field?.destroy();
  };
}

function describeBackend(info: Record<string, unknown>): string {
  const parts = Object.entries(info)
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    .slice(0, 4)
    .map(([k, v]) => `${k}: ${v}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}
