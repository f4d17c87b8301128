import { assign, mul, noGrad, sub, type Tensor, tensor, tidy } from '@descent/core';
import { FieldPlot, LineChart, PALETTE } from '../lib/charts.js';
import { contourLevels, contourSegments, ramp } from '../lib/contours.js';
import { fmt, h, settingControl } from '../lib/dom.js';
import { FUNCTIONS, type Function2D } from '../lib/functions2d.js';
import { hashParams } from '../lib/params.js';
import { makeOptimizer } from '../registry/optimizers.js';

/** What the playground needs of an optimizer. */
interface Stepper {
  step(): unknown;
  zeroGrad(): void;
  dispose(): void;
}

/**
 * The optimizers of the playground, stepping a 2-element parameter tensor. All but coordinate
 * descent are @descent/optim's; coordinate descent is not a library optimizer and is written here
 * with the same interface and tensor ops.
 */
interface PlaygroundOptimizer {
  id: string;
  label: string;
  /** 'grad': the step is lr·gradient; 'step': the step length is ~lr whatever the gradient's scale. */
  scale: 'grad' | 'step';
  /**
   * Default step size relative to the function's: momentum methods take half of GD's (heavy-ball
   * with β = 0.9 is stable for lr < 2(1 + β)/L, Nesterov only for lr < 2(1 + β)/((1 + 2β)L)).
   */
  lrFactor: number;
  make(w: Tensor, lr: number): Stepper;
  enabled: boolean;
}

/** Gradient step on one coordinate at a time, cycling x, y, x, … */
class CoordinateDescent implements Stepper {
  private k = 0;
  constructor(
    private readonly w: Tensor,
    private readonly lr: number,
  ) {}
  step(): void {
    const mask = new Float32Array(this.w.size);
    mask[this.k++ % this.w.size] = 1;
    noGrad(() => tidy(() => assign(this.w, sub(this.w, mul(mul(this.w.grad!, tensor(mask)), this.lr)))));
  }
  zeroGrad(): void {
    this.w.grad?.dispose();
    this.w.grad = null;
  }
  dispose(): void {}
}

/** An optimizer of @descent/optim through the app's registry (its other settings keep their defaults). */
const fromLibrary = (
  id: string,
  label: string,
  scale: 'grad' | 'step',
  enabled: boolean,
  lrFactor = 1,
): PlaygroundOptimizer => ({
  id,
  label,
  scale,
  enabled,
  lrFactor,
  make: (w, lr) => makeOptimizer(id, [w], { lr, weightDecay: id === 'adamw' ? 0.1 : 0 }),
});

const PLAYGROUND_OPTIMIZERS: PlaygroundOptimizer[] = [
  fromLibrary('sgd', 'GD', 'grad', true),
  fromLibrary('momentum', 'heavy-ball (β = 0.9)', 'grad', true, 0.5),
  fromLibrary('nesterov', 'Nesterov (β = 0.9)', 'grad', true, 0.5),
  {
    id: 'coordinate',
    label: 'coordinate descent',
    scale: 'grad',
    enabled: false,
    lrFactor: 1,
    make: (w, lr) => new CoordinateDescent(w, lr),
  },
  fromLibrary('normalized', 'normalized GD', 'step', false),
  fromLibrary('signsgd', 'signSGD (momentum 0.9)', 'step', false, 0.2),
  fromLibrary('adagrad', 'Adagrad', 'step', false, 5),
  fromLibrary('rmsprop', 'RMSprop', 'step', false, 0.2),
  fromLibrary('adam', 'Adam', 'step', true),
  fromLibrary('adamw', 'AdamW (wd 0.1)', 'step', false),
  fromLibrary('lion', 'Lion', 'step', false, 0.2),
];

export interface Trajectory {
  xs: number[];
  ys: number[];
  losses: number[];
  diverged: boolean;
}

/**
 * Runs one optimizer from `start` for `steps` steps on a 2-element f32 parameter. The gradient is
 * the function's analytic one, handed over through `w.grad` just as `backward()` would fill it.
 */
export function trajectory(
  fn: Function2D,
  opt: PlaygroundOptimizer,
  lr: number,
  start: [number, number],
  steps: number,
): Trajectory {
  const w = tensor(new Float32Array(start), [2]).requireGrad();
  const o = opt.make(w, lr);
  const out: Trajectory = { xs: [], ys: [], losses: [], diverged: false };
  try {
    for (let k = 0; k <= steps; k++) {
      const [x, y] = w.dataSync();
      const loss = fn.f(x, y);
      if (!Number.isFinite(loss) || Math.abs(x) > 1e4 || Math.abs(y) > 1e4) {
        out.diverged = true;
        break;
      }
      out.xs.push(x);
      out.ys.push(y);
      out.losses.push(loss);
      if (k === steps) break;
      o.zeroGrad();
      w.grad = tensor(new Float32Array(fn.grad(x, y)), [2]);
      o.step();
    }
  } finally {
    o.zeroGrad();
    o.dispose();
    w.dispose();
  }
  return out;
}

export function mountPlayground(root: HTMLElement): () => void {
  const q = hashParams();
  const state = {
    fn: q.get('fn') ?? 'quadratic',
    kappa: Number(q.get('kappa') ?? 20),
    steps: Number(q.get('steps') ?? FUNCTIONS[q.get('fn') ?? 'quadratic'](20).steps),
    start: null as [number, number] | null,
    lrs: new Map<string, number>(),
  };
  const enabledIds = q.get('optimizers')?.split(',');
  const opts = PLAYGROUND_OPTIMIZERS.map((o) => ({
    ...o,
    enabled: enabledIds ? enabledIds.includes(o.id) : o.enabled,
  }));

  const controls = h('div', { class: 'panel', id: 'playground-controls' });
  const plotBox = h('div', { class: 'chart', id: 'contour' });
  const lossBox = h('div', { class: 'chart', id: 'playground-loss' });
  const table = h('table', { class: 'opt-table', id: 'optimizer-table' });
  root.append(
    h(
      'div',
      { class: 'layout' },
      controls,
      h(
        'div',
        {},
        h(
          'p',
          { class: 'note' },
          'Click the contour plot to move the starting point. Each optimizer steps a 2-element @descent/core tensor.',
        ),
        h('div', { class: 'row' }, plotBox, h('div', { style: 'width: 460px' }, lossBox, table)),
      ),
    ),
  );

  let fn: Function2D = FUNCTIONS[state.fn](state.kappa);
  let field: FieldPlot | null = null;
  let lossChart: LineChart | null = null;
  const logToggle = h('input', { type: 'checkbox', checked: true, id: 'playground-log' });
  const lrOf = (o: PlaygroundOptimizer) =>
    state.lrs.get(`${fn.id}:${o.id}`) ?? o.lrFactor * (o.scale === 'grad' ? fn.lrGrad : fn.lrStep);

  /** Builds the contour plot for the current function (background field + contour lines). */
  const buildField = () => {
    field?.destroy();
    plotBox.replaceChildren();
    field = new FieldPlot(plotBox, {
      title: `${fn.label}: ${fn.formula}`,
      x: fn.x,
      y: fn.y,
      size: 520,
      legend: true,
    });
    const n = 140;
    const values = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        values[i * n + j] = fn.f(
          fn.x[0] + ((fn.x[1] - fn.x[0]) * j) / (n - 1),
          fn.y[1] - ((fn.y[1] - fn.y[0]) * i) / (n - 1),
        );
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const v of values) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    // color by log(f − min) for functions spanning decades, linearly otherwise
    const shade = fn.nonNegative
      ? (v: number) => Math.log1p((v - lo) / ((hi - lo) * 1e-3)) / Math.log1p(1e3)
      : (v: number) => (v - lo) / (hi - lo);
    field.setField(values, n, n, (v) => ramp(shade(v)));
    contours = contourSegments(values, n, n, fn.x, fn.y, contourLevels(values, 14, fn.nonNegative));
    field.onClick((x, y) => {
      state.start = [x, y];
      schedule();
    });
  };
  let contours: { xs: (number | null)[]; ys: (number | null)[] } = { xs: [], ys: [] };

  const run = () => {
    const start = state.start ?? fn.start;
    const active = opts.filter((o) => o.enabled);
    const results = active.map((o) => ({
      o,
      lr: lrOf(o),
      t: trajectory(fn, o, lrOf(o), start, state.steps),
    }));
    const color = (o: PlaygroundOptimizer) => PALETTE[opts.findIndex((x) => x.id === o.id) % PALETTE.length];
    field!.setSeries([
      { label: 'contours', color: 'rgba(255,255,255,0.55)', width: 1, ...contours },
      ...(fn.minimum
        ? [{ label: 'minimum', color: '#ffffff', dots: true, xs: [fn.minimum[0]], ys: [fn.minimum[1]] }]
        : []),
      { label: 'start', color: '#f43f5e', dots: true, xs: [start[0]], ys: [start[1]] },
      ...results.map(({ o, t }) => ({ label: o.label, color: color(o), width: 2, xs: t.xs, ys: t.ys })),
    ]);
    plotBox.dataset.trajectories = String(results.filter((r) => r.t.xs.length > 1).length);

    lossChart?.destroy();
    lossBox.replaceChildren(h('label', { class: 'note' }, logToggle, ' log scale'));
    lossChart = new LineChart(lossBox, {
      title: 'loss per step',
      series: results.map(({ o }) => ({ label: o.label, color: color(o) })),
      log: fn.nonNegative && logToggle.checked,
      width: 440,
      height: 260,
    });
    const steps = Array.from({ length: state.steps + 1 }, (_, k) => k);
    lossChart.set(
      steps,
      results.map(({ t }) => steps.map((k) => t.losses[k] ?? null)),
    );

    table.replaceChildren(
      h(
        'tr',
        {},
        h('th', {}, 'optimizer'),
        h('th', {}, 'step size'),
        h('th', {}, 'final loss'),
        h('th', {}, 'final point'),
      ),
      ...results.map(({ o, t }) =>
        h(
          'tr',
          {
            'data-optimizer': o.id,
            'data-points': String(t.xs.length),
            'data-first-loss': String(t.losses[0]),
            'data-final-loss': String(t.losses[t.losses.length - 1]),
          },
          h('td', {}, h('span', { class: 'swatch', style: `background:${color(o)}` }), o.label),
          h('td', {}, fmt(lrOf(o))),
          h('td', {}, t.diverged ? `diverged at step ${t.xs.length}` : fmt(t.losses[t.losses.length - 1], 4)),
          h('td', {}, t.xs.length ? `(${fmt(t.xs[t.xs.length - 1])}, ${fmt(t.ys[t.ys.length - 1])})` : '–'),
        ),
      ),
    );
    root.dataset.runs = String(Number(root.dataset.runs ?? 0) + 1);
  };

  let timer = 0;
  const schedule = () => {
    clearTimeout(timer);
    timer = window.setTimeout(run, 60);
  };
  logToggle.addEventListener('change', schedule);

  const buildControls = () => {
    const fnSel = h(
      'select',
      {
        'data-select': 'function',
        onchange: () => {
          state.fn = fnSel.value;
          state.start = null;
          fn = FUNCTIONS[state.fn](state.kappa);
          state.steps = fn.steps;
          buildField();
          buildControls();
          schedule();
        },
      },
      ...Object.entries(FUNCTIONS).map(([id, make]) =>
        h('option', { value: id, selected: id === state.fn }, make(state.kappa).label),
      ),
    );
    const optRows = opts.map((o) => {
      const box = h('input', {
        type: 'checkbox',
        checked: o.enabled,
        'data-optimizer-toggle': o.id,
        onchange: () => {
          o.enabled = box.checked;
          schedule();
        },
      });
      const lr = settingControl(
        { key: `lr-${o.id}`, label: 'step size', value: lrOf(o), min: 1e-5, max: 2, log: true },
        lrOf(o),
        (v) => {
          state.lrs.set(`${fn.id}:${o.id}`, v);
          schedule();
        },
      );
      return h(
        'div',
        { class: 'opt-row' },
        h(
          'label',
          {},
          box,
          ' ',
          h('span', { class: 'swatch', style: `background:${PALETTE[opts.indexOf(o) % PALETTE.length]}` }),
          o.label,
        ),
        lr,
      );
    });
    controls.replaceChildren(
      h('h2', {}, 'Optimizer playground'),
      h('label', { class: 'field' }, h('span', {}, 'function'), fnSel),
      h(
        'div',
        {},
        state.fn === 'quadratic'
          ? settingControl(
              { key: 'kappa', label: 'condition number κ', value: state.kappa, min: 1, max: 200, log: true },
              state.kappa,
              (v) => {
                state.kappa = v;
                fn = FUNCTIONS.quadratic(v);
                buildField();
                schedule();
              },
            )
          : null,
      ),
      settingControl(
        { key: 'steps', label: 'steps', value: state.steps, min: 10, max: 1000, int: true },
        state.steps,
        (v) => {
          state.steps = v;
          schedule();
        },
      ),
      h('h3', {}, 'optimizers'),
      ...optRows,
    );
  };

  buildField();
  buildControls();
  run();
  return () => {
    clearTimeout(timer);
    field?.destroy();
    lossChart?.destroy();
  };
}
