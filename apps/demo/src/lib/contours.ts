/**
 * Contour lines of a grid of values by marching squares. Each cell's corners are classified
 * against the level; the edges where the level is crossed are found by linear interpolation and
 * joined into segments. Output is one polyline list with null breaks (ready for a plot series).
 *
 * Grid layout: values[i * nx + j] at x = x0 + j·dx, y = y1 − i·dy (row 0 at the top).
 */
export function contourSegments(
  values: ArrayLike<number>,
  nx: number,
  ny: number,
  x: [number, number],
  y: [number, number],
  levels: number[],
): { xs: (number | null)[]; ys: (number | null)[] } {
  const xs: (number | null)[] = [];
  const ys: (number | null)[] = [];
  const dx = (x[1] - x[0]) / (nx - 1);
  const dy = (y[1] - y[0]) / (ny - 1);
  const px = (j: number) => x[0] + j * dx;
  const py = (i: number) => y[1] - i * dy;
  for (const level of levels) {
    for (let i = 0; i < ny - 1; i++) {
      for (let j = 0; j < nx - 1; j++) {
        // corners: a = top-left, b = top-right, c = bottom-right, d = bottom-left
        const a = values[i * nx + j];
        const b = values[i * nx + j + 1];
        const c = values[(i + 1) * nx + j + 1];
        const d = values[(i + 1) * nx + j];
        if (![a, b, c, d].every(Number.isFinite)) continue;
        const pts: [number, number][] = [];
        const cross = (v0: number, v1: number, x0: number, y0: number, x1: number, y1: number) => {
          if (v0 < level !== v1 < level) {
            const t = (level - v0) / (v1 - v0);
            pts.push([x0 + t * (x1 - x0), y0 + t * (y1 - y0)]);
          }
        };
        cross(a, b, px(j), py(i), px(j + 1), py(i));
        cross(b, c, px(j + 1), py(i), px(j + 1), py(i + 1));
        cross(c, d, px(j + 1), py(i + 1), px(j), py(i + 1));
        cross(d, a, px(j), py(i + 1), px(j), py(i));
        // 2 crossings: one segment; 4 (a saddle cell): pair them in order, which is one of the
        // two valid resolutions of the ambiguous case
        for (let k = 0; k + 1 < pts.length; k += 2) {
          xs.push(pts[k][0], pts[k + 1][0], null);
          ys.push(pts[k][1], pts[k + 1][1], null);
        }
      }
    }
  }
  return { xs, ys };
}

/** Contour levels: log-spaced above the minimum for ranges spanning decades, else evenly spaced. */
export function contourLevels(values: ArrayLike<number>, count: number, log: boolean): number[] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return [];
  if (log) {
    // levels at lo + ε·r^k, from ε = 1e-3 of the range up to the top
    const span = hi - lo;
    return Array.from({ length: count }, (_, k) => lo + span * 10 ** (-3 + (3 * (k + 1)) / count));
  }
  return Array.from({ length: count }, (_, k) => lo + ((hi - lo) * (k + 1)) / (count + 1));
}

/** A perceptually ordered color ramp (dark blue → teal → yellow) for t in [0, 1]. */
export function ramp(t: number): [number, number, number] {
  const stops: [number, number, number][] = [
    [30, 40, 110],
    [40, 110, 150],
    [60, 170, 130],
    [180, 210, 80],
    [250, 235, 150],
  ];
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 1)) * (stops.length - 1);
  const k = Math.min(stops.length - 2, Math.floor(u));
  const f = u - k;
  return [0, 1, 2].map((c) => Math.round(stops[k][c] + f * (stops[k + 1][c] - stops[k][c]))) as [
    number,
    number,
    number,
  ];
}
