/**
 * 2-D test functions for the optimizer playground, each with its analytic gradient (the
 * optimizers get the gradient through the tensor's `grad`, exactly as after `backward()`).
 */
export interface Function2D {
  id: string;
  label: string;
  formula: string;
  f(x: number, y: number): number;
  grad(x: number, y: number): [number, number];
  x: [number, number];
  y: [number, number];
  start: [number, number];
  /** Default step size for gradient-scaled methods (GD, momentum, coordinate descent). */
  lrGrad: number;
  /** Default step size for methods whose step length is ~lr (normalized GD, Adam family, Lion). */
  lrStep: number;
  /** Default number of steps shown. */
  steps: number;
  /** The function is ≥ 0 everywhere (log-scale loss curves make sense). */
  nonNegative: boolean;
  minimum?: [number, number];
}

/**
 * f = ½(u² + κ v²) in coordinates (u, v) rotated 30° from (x, y): curvatures 1 and κ, so GD's
 * stable step is < 2/κ and it zig-zags across the narrow valley; the rotation keeps coordinate
 * descent honest (an axis-aligned valley would be solved one coordinate at a time).
 */
export function quadratic(kappa: number): Function2D {
  const c = Math.cos(Math.PI / 6);
  const s = Math.sin(Math.PI / 6);
  return {
    id: 'quadratic',
    label: 'ill-conditioned quadratic',
    formula: `½(u² + κv²), κ = ${kappa}, (u, v) = (x, y) rotated 30°`,
    f(x, y) {
      const u = c * x + s * y;
      const v = -s * x + c * y;
      return 0.5 * (u * u + kappa * v * v);
    },
    grad(x, y) {
      const u = c * x + s * y;
      const v = -s * x + c * y;
      return [c * u - s * kappa * v, s * u + c * kappa * v];
    },
    x: [-3, 3],
    y: [-3, 3],
    start: [-2.6, 1.2],
    lrGrad: 1.8 / kappa,
    lrStep: 0.1,
    steps: 150,
    nonNegative: true,
    minimum: [0, 0],
  };
}

export const FUNCTIONS: Record<string, (kappa: number) => Function2D> = {
  quadratic,
  rosenbrock: () => ({
    id: 'rosenbrock',
    label: 'Rosenbrock',
    formula: '(1 − x)² + 100(y − x²)²',
    f: (x, y) => (1 - x) ** 2 + 100 * (y - x * x) ** 2,
    grad: (x, y) => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)],
    x: [-2, 2],
    y: [-1, 3],
    start: [-1.5, 2.5],
    lrGrad: 5e-4,
    lrStep: 0.05,
    steps: 1000,
    nonNegative: true,
    minimum: [1, 1],
  }),
  beale: () => {
    const terms = (x: number, y: number) => [1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y ** 3];
    return {
      id: 'beale',
      label: 'Beale',
      formula: '(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²',
      f: (x, y) => terms(x, y).reduce((s, t) => s + t * t, 0),
      grad(x, y) {
        const [a, b, c] = terms(x, y);
        return [
          2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y ** 3 - 1),
          2 * a * x + 4 * b * x * y + 6 * c * x * y * y,
        ];
      },
      x: [-2, 4.5],
      y: [-2.5, 3],
      start: [1, 1.4],
      lrGrad: 2e-3,
      lrStep: 0.05,
      steps: 400,
      nonNegative: true,
      minimum: [3, 0.5],
    };
  },
  wavy: () => ({
    id: 'wavy',
    label: 'sin(3w) + 0.1w² (non-convex)',
    formula: 'Σᵢ sin(3wᵢ) + 0.1wᵢ² over w = (x, y): many local minima',
    f: (x, y) => Math.sin(3 * x) + 0.1 * x * x + Math.sin(3 * y) + 0.1 * y * y,
    grad: (x, y) => [3 * Math.cos(3 * x) + 0.2 * x, 3 * Math.cos(3 * y) + 0.2 * y],
    x: [-4, 4],
    y: [-4, 4],
    start: [2.9, 2.3],
    lrGrad: 0.03,
    lrStep: 0.05,
    steps: 150,
    nonNegative: false,
  }),
};
