/** Small SVG chart writers (no dependencies): line charts (log or linear axes), step charts, bars. */

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

export function colorFor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-2) return v.toExponential(0).replace('e+', 'e');
  return Number(v.toPrecision(3)).toString();
}

/** Tick values: powers of 10 (and 2, 5 between when the range is short) on log axes; ~6 nice steps on linear. */
export function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    const e0 = Math.floor(Math.log10(lo));
    const e1 = Math.ceil(Math.log10(hi));
    const mult = e1 - e0 <= 2 ? [1, 2, 5] : [1];
    for (let e = e0; e <= e1; e++)
      for (const m of mult) {
        const v = m * 10 ** e;
        if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
      }
    return out;
  }
  const span = hi - lo || 1;
  const step0 = span / 6;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? mag * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  logY?: boolean;
  /** Draw as a step function (performance profiles). */
  step?: boolean;
  series: Series[];
  width?: number;
  height?: number;
  yMin?: number;
  yMax?: number;
  xMin?: number;
  xMax?: number;
}

export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 720;
  const H = o.height ?? 440;
  const L = 70;
  const R = 220;
  const T = 40;
  const B = 55;
  const pts = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const ok = (v: number, log?: boolean) => (log ? v > 0 : true);
  const xs = pts.map((p) => p[0]).filter((v) => ok(v, o.logX));
  const ys = pts.map((p) => p[1]).filter((v) => ok(v, o.logY));
  let x0 = o.xMin ?? Math.min(...xs);
  let x1 = o.xMax ?? Math.max(...xs);
  let y0 = o.yMin ?? Math.min(...ys);
  let y1 = o.yMax ?? Math.max(...ys);
  if (!Number.isFinite(x0)) [x0, x1] = [1, 10];
  if (!Number.isFinite(y0)) [y0, y1] = [1, 10];
  if (x0 === x1) [x0, x1] = o.logX ? [x0 / 2, x1 * 2] : [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = o.logY ? [y0 / 2, y1 * 2] : [y0 - 1, y1 + 1];
  if (o.logY && o.yMin === undefined) y0 = 10 ** Math.floor(Math.log10(y0));
  if (o.logY && o.yMax === undefined) y1 = 10 ** Math.ceil(Math.log10(y1));
  const tx = (v: number) => (o.logX ? Math.log10(v) : v);
  const ty = (v: number) => (o.logY ? Math.log10(v) : v);
  const sx = (v: number) => L + ((tx(v) - tx(x0)) / (tx(x1) - tx(x0))) * (W - L - R);
  const sy = (v: number) => H - B - ((ty(v) - ty(y0)) / (ty(y1) - ty(y0))) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - R / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
  ];
  for (const v of ticks(x0, x1, !!o.logX)) {
    const x = sx(v);
    parts.push(`<line x1="${x}" y1="${T}" x2="${x}" y2="${H - B}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${x}" y="${H - B + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  for (const v of ticks(y0, y1, !!o.logY)) {
    const y = sy(v);
    parts.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${L - 6}" y="${y + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  parts.push(
    `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#333"/>`,
  );
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 14}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  o.series.forEach((s, i) => {
    const c = colorFor(i);
    const p = s.points.filter(
      ([x, y]) => Number.isFinite(x) && Number.isFinite(y) && ok(x, o.logX) && ok(y, o.logY),
    );
    if (p.length) {
      let d = '';
      p.forEach(([x, y], j) => {
        if (j === 0) d += `M${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
        else if (o.step) d += `H${sx(x).toFixed(1)}V${sy(y).toFixed(1)}`;
        else d += `L${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
      });
      if (o.step) d += `H${sx(x1).toFixed(1)}`;
      parts.push(
        `<path d="${d}" fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      );
      if (!o.step)
        for (const [x, y] of p)
          parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${c}"/>`);
    }
    const ly = T + 10 + i * 18;
    parts.push(
      `<line x1="${W - R + 12}" y1="${ly}" x2="${W - R + 34}" y2="${ly}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    parts.push(`<text x="${W - R + 40}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface Bar {
  label: string;
  value: number;
  /** Spread whisker (e.g. quartiles). */
  lo?: number;
  hi?: number;
  /** Drawn hatched grey with this note (wrong results, roofline rows). */
  note?: string;
  color?: string;
}

/** Horizontal bars with optional whiskers; one chart per group of rows. */
export function barChart(o: { title: string; unit: string; bars: Bar[]; width?: number }): string {
  const W = o.width ?? 720;
  const rowH = 22;
  const L = 260;
  const R = 110;
  const T = 40;
  const H = T + o.bars.length * rowH + 40;
  const max = Math.max(...o.bars.map((b) => b.hi ?? b.value), 1e-12);
  const sx = (v: number) => L + (v / max) * (W - L - R);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
  ];
  o.bars.forEach((b, i) => {
    const y = T + i * rowH;
    const c = b.color ?? colorFor(i);
    parts.push(`<text x="${L - 8}" y="${y + 15}" text-anchor="end">${esc(b.label)}</text>`);
    if (Number.isFinite(b.value)) {
      parts.push(
        `<rect x="${L}" y="${y + 3}" width="${Math.max(1, sx(b.value) - L).toFixed(1)}" height="${rowH - 6}" fill="${b.note ? '#bbbbbb' : c}"/>`,
      );
      if (b.lo !== undefined && b.hi !== undefined)
        parts.push(
          `<line x1="${sx(b.lo).toFixed(1)}" y1="${y + rowH / 2}" x2="${sx(b.hi).toFixed(1)}" y2="${y + rowH / 2}" stroke="#222" stroke-width="1.5"/>`,
        );
      parts.push(
        `<text x="${(Math.max(sx(b.value), sx(b.hi ?? 0)) + 6).toFixed(1)}" y="${y + 15}">${fmt(b.value)} ${esc(o.unit)}${b.note ? ` (${esc(b.note)})` : ''}</text>`,
      );
    } else {
      parts.push(`<text x="${L + 4}" y="${y + 15}" fill="#888">${esc(b.note ?? 'n/a')}</text>`);
    }
  });
  parts.push(`<line x1="${L}" y1="${T}" x2="${L}" y2="${T + o.bars.length * rowH}" stroke="#333"/>`);
  parts.push('</svg>');
  return parts.join('\n');
}
