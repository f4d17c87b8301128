import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const PALETTE = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#9333ea',
  '#ea580c',
  '#0891b2',
  '#ca8a04',
  '#db2777',
  '#4b5563',
  '#65a30d',
  '#78350f',
  '#0d9488',
];

export interface LineSeries {
  label: string;
  color?: string;
  dash?: number[];
}

/** Smallest value a log-scale chart shows. */
const LOG_FLOOR = 1e-20;

/** Axis tick text: short, exponent form for very small or large values (log axes reach 1e-6). */
function tickLabel(v: number | null): string {
  if (v === null) return '';
  const a = Math.abs(v);
  if (v === 0) return '0';
  if (a < 1e-3 || a >= 1e5) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

/** Keeps the powers of ten of a log axis's splits, every k-th one when there are more than 6. */
function thinDecades(splits: number[]): (number | null)[] {
  const decades = splits.filter((v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9);
  const k = Math.ceil(decades.length / 6);
  return splits.map((v) => {
    const i = decades.indexOf(v);
    return i >= 0 && i % k === 0 ? v : null;
  });
}

const chartWidth = (el: HTMLElement) => Math.max(260, Math.floor(el.clientWidth || 420));

/**
 * A streaming line chart: `push(x, ys)` appends a sample and redraws at most once per frame.
 * The y axis can switch between linear and log scale (uPlot's log distribution; the chart is
 * rebuilt because a scale's distribution is fixed at creation).
 */
export class LineChart {
  private plot: uPlot | null = null;
  private readonly xs: number[] = [];
  private readonly ys: (number | null)[][];
  private log: boolean;
  private frame = 0;

  constructor(
    private readonly el: HTMLElement,
    private readonly opts: {
      title: string;
      series: LineSeries[];
      xLabel?: string;
      log?: boolean;
      height?: number;
      width?: number;
    },
  ) {
    this.ys = opts.series.map(() => []);
    this.log = opts.log ?? false;
    this.build();
  }

  private build(): void {
    this.plot?.destroy();
    const o = this.opts;
    this.plot = new uPlot(
      {
        title: o.title,
        width: o.width ?? chartWidth(this.el),
        height: o.height ?? 200,
        scales: { x: { time: false }, y: this.log ? { distr: 3 } : {} },
        axes: [
          { label: o.xLabel ?? 'step' },
          {
            size: 60,
            values: (_u, ticks) => ticks.map((v) => tickLabel(v)),
            // a log axis spanning many decades: label at most ~6 of them
            filter: this.log ? (_u, splits) => thinDecades(splits) : undefined,
          },
        ],
        series: [
          { label: o.xLabel ?? 'step' },
          ...o.series.map((s, i) => ({
            label: s.label,
            stroke: s.color ?? PALETTE[i % PALETTE.length],
            width: 1.5,
            dash: s.dash,
            points: { show: false },
            spanGaps: true,
          })),
        ],
        legend: { live: true },
      },
      this.data(),
      this.el,
    );
  }

  private data(): uPlot.AlignedData {
    // A log scale cannot show values ≤ 0, and uPlot's log axis fails on ranges reaching far below
    // 1e-20 (its tick generator runs out of decimal places): those values become gaps.
    const ys = this.log
      ? this.ys.map((s) => s.map((v) => (v !== null && v >= LOG_FLOOR ? v : null)))
      : this.ys;
    return [this.xs, ...ys] as uPlot.AlignedData;
  }

  push(x: number, values: (number | null)[]): void {
    this.xs.push(x);
    values.forEach((v, i) => {
      this.ys[i].push(v !== null && Number.isFinite(v) ? v : null);
    });
    this.schedule();
  }

  /** Replaces all data (x values and one array per series). */
  set(xs: number[], series: (number | null)[][]): void {
    this.xs.length = 0;
    this.xs.push(...xs);
    series.forEach((s, i) => {
      this.ys[i].length = 0;
      this.ys[i].push(...s.map((v) => (v !== null && Number.isFinite(v) ? v : null)));
    });
    this.schedule();
  }

  clear(): void {
    this.set(
      [],
      this.ys.map(() => []),
    );
  }

  setLog(log: boolean): void {
    if (log === this.log) return;
    this.log = log;
    this.build();
  }

  get length(): number {
    return this.xs.length;
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.plot?.setData(this.data());
    });
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    this.plot?.destroy();
    this.plot = null;
  }
}

export interface FieldSeries {
  label: string;
  color: string;
  xs: (number | null)[];
  ys: (number | null)[];
  /** Draw dots instead of a polyline (data points). */
  dots?: boolean;
  width?: number;
}

/** Polyline through a mode-2 series' points; a null breaks the line (contour segments, trajectories). */
const polylinePaths: uPlot.Series.PathBuilder = (u, si) => {
  const [xs, ys] = u.data[si] as unknown as [(number | null)[], (number | null)[]];
  const s = u.series[si];
  const [fx, fy] = s.facets!;
  const stroke = new Path2D();
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const y = ys[i];
    if (x === null || y === null || !Number.isFinite(x) || !Number.isFinite(y)) {
      pen = false;
      continue;
    }
    const cx = u.valToPos(x, fx.scale, true);
    const cy = u.valToPos(y, fy.scale, true);
    if (pen) stroke.lineTo(cx, cy);
    else stroke.moveTo(cx, cy);
    pen = true;
  }
  const clip = new Path2D();
  clip.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
  return { stroke, fill: null, clip, flags: 0 };
};

/** Dots at a mode-2 series' points (the spirals' training data). */
const dotPaths: uPlot.Series.PathBuilder = (u, si) => {
  const [xs, ys] = u.data[si] as unknown as [number[], number[]];
  const [fx, fy] = u.series[si].facets!;
  const fill = new Path2D();
  const r = 2.2 * devicePixelRatio;
  for (let i = 0; i < xs.length; i++) {
    const cx = u.valToPos(xs[i], fx.scale, true);
    const cy = u.valToPos(ys[i], fy.scale, true);
    fill.moveTo(cx + r, cy);
    fill.arc(cx, cy, r, 0, 2 * Math.PI);
  }
  const clip = new Path2D();
  clip.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
  return { stroke: fill, fill, clip, flags: 0 };
};

/**
 * A 2-D field: a scalar function of (x, y) shown as a colored image under the plot area, with
 * curves (contours, trajectories) and points on top. uPlot's facet mode (mode 2) gives the axes,
 * scales and legend; the image is painted in its drawClear hook, scaled to the plot box.
 */
export class FieldPlot {
  private plot: uPlot | null = null;
  private image: HTMLCanvasElement | null = null;
  private series: FieldSeries[] = [];

  constructor(
    private readonly el: HTMLElement,
    private readonly opts: {
      title: string;
      x: [number, number];
      y: [number, number];
      xLabel?: string;
      yLabel?: string;
      size?: number;
      legend?: boolean;
    },
  ) {
    // uPlot's facet mode needs at least one series: the plot is built on the first setSeries().
  }

  /** The axis ranges (change by building a new plot). */
  get ranges(): { x: [number, number]; y: [number, number] } {
    return { x: this.opts.x, y: this.opts.y };
  }

  private build(): void {
    this.plot?.destroy();
    const o = this.opts;
    const size = o.size ?? Math.min(520, chartWidth(this.el));
    this.plot = new uPlot(
      {
        title: o.title,
        mode: 2,
        width: size,
        height: size,
        legend: { show: o.legend ?? true, live: false },
        cursor: { drag: { x: false, y: false, setScale: false }, points: { show: false } },
        scales: {
          x: { time: false, auto: false, range: o.x },
          y: { auto: false, range: o.y },
        },
        axes: [{ label: o.xLabel ?? 'x' }, { label: o.yLabel ?? 'y' }],
        series: [
          {},
          ...this.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            fill: s.dots ? s.color : undefined,
            width: s.dots ? 0 : (s.width ?? 2),
            paths: s.dots ? dotPaths : polylinePaths,
            points: { show: false },
            facets: [
              { scale: 'x', auto: false },
              { scale: 'y', auto: false },
            ],
          })),
        ],
        hooks: {
          drawClear: [
            (u) => {
              if (!this.image) return;
              u.ctx.save();
              u.ctx.imageSmoothingEnabled = true;
              u.ctx.drawImage(this.image, u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
              u.ctx.restore();
            },
          ],
        },
      } as uPlot.Options,
      [null, ...this.series.map((s) => [s.xs, s.ys])] as unknown as uPlot.AlignedData,
      this.el,
    );
    const u = this.plot;
    u.over.addEventListener('click', (ev) => {
      const rect = u.over.getBoundingClientRect();
      this.clickHandler?.(u.posToVal(ev.clientX - rect.left, 'x'), u.posToVal(ev.clientY - rect.top, 'y'));
    });
  }

  /**
   * Sets the background image from values on a grid: row 0 is the top (largest y), column 0 the
   * left; `color(v)` maps a value to RGB.
   */
  setField(
    values: ArrayLike<number>,
    nx: number,
    ny: number,
    color: (v: number) => [number, number, number],
  ): void {
    const c = document.createElement('canvas');
    c.width = nx;
    c.height = ny;
    const ctx = c.getContext('2d')!;
    const img = ctx.createImageData(nx, ny);
    for (let i = 0; i < nx * ny; i++) {
      const [r, g, b] = color(values[i]);
      img.data[4 * i] = r;
      img.data[4 * i + 1] = g;
      img.data[4 * i + 2] = b;
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    this.image = c;
    this.plot?.redraw(false, false);
  }

  /** Calls `cb` with the data coordinates of each click on the plot area. */
  onClick(cb: (x: number, y: number) => void): void {
    this.clickHandler = cb;
  }
  private clickHandler: ((x: number, y: number) => void) | null = null;

  /** Replaces the curves; rebuilds the plot when the set of series changes, else only redraws. */
  setSeries(series: FieldSeries[]): void {
    const same =
      series.length === this.series.length &&
      series.every((s, i) => s.label === this.series[i].label && s.color === this.series[i].color);
    this.series = series;
    if (!same) this.build();
    else this.plot?.setData([null, ...series.map((s) => [s.xs, s.ys])] as unknown as uPlot.AlignedData);
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
  }
}

/**
 * A grouped bar chart with uPlot's bars path builder: each category gets one slot per group, laid
 * out on one x axis (slot = category·(groups + 1) + group, a blank slot between categories).
 */
export class BarChart {
  private plot: uPlot | null = null;

  constructor(
    private readonly el: HTMLElement,
    private readonly opts: { title: string; yLabel: string; height?: number; log?: boolean },
  ) {}

  set(categories: string[], groups: { label: string; values: (number | null)[] }[]): void {
    this.plot?.destroy();
    const n = Math.max(1, groups.length);
    const slots = categories.length * (n + 1);
    const xs = Array.from({ length: slots }, (_, k) => k);
    const data = groups.map((g, gi) =>
      xs.map((k) => (k % (n + 1) === gi ? (g.values[Math.floor(k / (n + 1))] ?? null) : null)),
    );
    const center = (c: number) => c * (n + 1) + (n - 1) / 2;
    this.plot = new uPlot(
      {
        title: this.opts.title,
        width: chartWidth(this.el),
        height: this.opts.height ?? 280,
        scales: { x: { time: false, range: [-1, slots - 1] }, y: this.opts.log ? { distr: 3 } : {} },
        axes: [
          {
            splits: () => categories.map((_, c) => center(c)),
            values: (_u, ticks) =>
              ticks.map((t) => categories[Math.round((t - (n - 1) / 2) / (n + 1))] ?? ''),
            size: 40,
          },
          { label: this.opts.yLabel, size: 60 },
        ],
        series: [
          { label: 'slot' },
          ...groups.map((g, i) => ({
            label: g.label,
            stroke: PALETTE[i % PALETTE.length],
            fill: `${PALETTE[i % PALETTE.length]}cc`,
            paths: uPlot.paths.bars!({ size: [0.9, 60] }),
            points: { show: false },
          })),
        ],
        legend: { live: false },
      },
      [xs, ...data] as uPlot.AlignedData,
      this.el,
    );
  }

  destroy(): void {
    this.plot?.destroy();
  }
}
