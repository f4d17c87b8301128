import { memory, noGrad, normalValues, type Tensor, tensor } from '@descent/core';
import { describe, expect, it } from 'vitest';
import {
  Adadelta,
  Adagrad,
  Adam,
  Adamax,
  AdamW,
  NAdam,
  NormalizedSGD,
  type Optimizer,
  RAdam,
  RMSprop,
  SGD,
  SignSGD,
} from '../src/index.js';

/*
 * Every classic optimizer against a plain float64 implementation of torch.optim's documented
 * algorithm, written here independently of the library (no shared code with the kernels), over 25
 * steps on random tensors with weight decay and non-default options.
 */

type Vec = Float64Array;
type Grads = (step: number, x: Vec) => Vec;
/** A float64 reference optimizer: returns a function doing one step in place on x. */
type Reference = (n: number) => (x: Vec, g: Vec, t: number) => void;

const map = (n: number, f: (i: number) => number): Vec => Float64Array.from({ length: n }, (_, i) => f(i));

/** d = ±g + λ·x (torch's order: maximize, then L2 weight decay). */
const decayed = (x: Vec, g: Vec, wd: number, maximize = false) =>
  map(x.length, (i) => (maximize ? -g[i] : g[i]) + wd * x[i]);

function refSgd(o: {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  maximize: boolean;
}): Reference {
  return (n) => {
    let buf: Vec | null = null;
    return (x, g) => {
      let d = decayed(x, g, o.weightDecay, o.maximize);
      if (o.momentum !== 0) {
        const b: Vec = buf ? map(n, (i) => o.momentum * buf![i] + (1 - o.dampening) * d[i]) : d.slice();
        buf = b;
        d = o.nesterov ? map(n, (i) => d[i] + o.momentum * b[i]) : b;
      }
      for (let i = 0; i < n; i++) x[i] -= o.lr * d[i];
    };
  };
}

function refSignSgd(o: { lr: number; momentum: number; weightDecay: number }): Reference {
  return (n) => {
    const m = new Float64Array(n);
    return (x, g) => {
      const d = decayed(x, g, o.weightDecay);
      for (let i = 0; i < n; i++) {
        m[i] = o.momentum * m[i] + (1 - o.momentum) * d[i];
        x[i] -= o.lr * Math.sign(o.momentum ? m[i] : d[i]);
      }
    };
  };
}

function refAdagrad(o: {
  lr: number;
  lrDecay: number;
  weightDecay: number;
  initialAccumulatorValue: number;
  eps: number;
}): Reference {
  return (n) => {
    const s = new Float64Array(n).fill(o.initialAccumulatorValue);
    return (x, g, t) => {
      const d = decayed(x, g, o.weightDecay);
      const clr = o.lr / (1 + (t - 1) * o.lrDecay);
      for (let i = 0; i < n; i++) {
        s[i] += d[i] * d[i];
        x[i] -= (clr * d[i]) / (Math.sqrt(s[i]) + o.eps);
      }
    };
  };
}

function refRmsprop(o: {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
}): Reference {
  return (n) => {
    const v = new Float64Array(n);
    const ga = new Float64Array(n);
    const b = new Float64Array(n);
    return (x, g) => {
      const d = decayed(x, g, o.weightDecay);
      for (let i = 0; i < n; i++) {
        v[i] = o.alpha * v[i] + (1 - o.alpha) * d[i] * d[i];
        let avg: number;
        if (o.centered) {
          ga[i] = ga[i] + (1 - o.alpha) * (d[i] - ga[i]);
          avg = Math.sqrt(v[i] - ga[i] * ga[i]) + o.eps;
        } else avg = Math.sqrt(v[i]) + o.eps;
        if (o.momentum > 0) {
          b[i] = o.momentum * b[i] + d[i] / avg;
          x[i] -= o.lr * b[i];
        } else x[i] -= (o.lr * d[i]) / avg;
      }
    };
  };
}

function refAdadelta(o: { lr: number; rho: number; eps: number; weightDecay: number }): Reference {
  return (n) => {
    const v = new Float64Array(n);
    const u = new Float64Array(n);
    return (x, g) => {
      const d = decayed(x, g, o.weightDecay);
      for (let i = 0; i < n; i++) {
        v[i] = o.rho * v[i] + (1 - o.rho) * d[i] * d[i];
        const delta = (Math.sqrt(u[i] + o.eps) / Math.sqrt(v[i] + o.eps)) * d[i];
        u[i] = o.rho * u[i] + (1 - o.rho) * delta * delta;
        x[i] -= o.lr * delta;
      }
    };
  };
}

interface AdamRef {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  decoupled: boolean;
  amsgrad?: boolean;
  maximize?: boolean;
}

/** torch.optim.Adam / AdamW as documented (bias-corrected, AMSGrad on the raw v). */
function refAdam(o: AdamRef): Reference {
  return (n) => {
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    const vmax = new Float64Array(n);
    const [b1, b2] = o.betas;
    return (x, g, t) => {
      if (o.decoupled) for (let i = 0; i < n; i++) x[i] *= 1 - o.lr * o.weightDecay;
      const d = decayed(x, g, o.decoupled ? 0 : o.weightDecay, o.maximize);
      const bc1 = 1 - b1 ** t;
      const bc2 = 1 - b2 ** t;
      for (let i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * d[i];
        v[i] = b2 * v[i] + (1 - b2) * d[i] * d[i];
        vmax[i] = Math.max(vmax[i], v[i]);
        const vv = o.amsgrad ? vmax[i] : v[i];
        x[i] -= ((o.lr / bc1) * m[i]) / (Math.sqrt(vv) / Math.sqrt(bc2) + o.eps);
      }
    };
  };
}

function refAdamax(o: AdamRef): Reference {
  return (n) => {
    const m = new Float64Array(n);
    const u = new Float64Array(n);
    const [b1, b2] = o.betas;
    return (x, g, t) => {
      const d = decayed(x, g, o.weightDecay);
      for (let i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * d[i];
        u[i] = Math.max(b2 * u[i], Math.abs(d[i]) + o.eps);
        x[i] -= ((o.lr / (1 - b1 ** t)) * m[i]) / u[i];
      }
    };
  };
}

function refNadam(o: AdamRef & { momentumDecay: number }): Reference {
  return (n) => {
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    const [b1, b2] = o.betas;
    let muProduct = 1;
    return (x, g, t) => {
      if (o.decoupled) for (let i = 0; i < n; i++) x[i] *= 1 - o.lr * o.weightDecay;
      const d = decayed(x, g, o.decoupled ? 0 : o.weightDecay);
      const mu = b1 * (1 - 0.5 * 0.96 ** (t * o.momentumDecay));
      const muNext = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * o.momentumDecay));
      muProduct *= mu;
      const bc2 = 1 - b2 ** t;
      for (let i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * d[i];
        v[i] = b2 * v[i] + (1 - b2) * d[i] * d[i];
        const denom = Math.sqrt(v[i] / bc2) + o.eps;
        x[i] -= (((o.lr * (1 - mu)) / (1 - muProduct)) * d[i]) / denom;
        x[i] -= (((o.lr * muNext) / (1 - muProduct * muNext)) * m[i]) / denom;
      }
    };
  };
}

function refRadam(o: AdamRef): Reference {
  return (n) => {
    const m = new Float64Array(n);
    const v = new Float64Array(n);
    const [b1, b2] = o.betas;
    const rhoInf = 2 / (1 - b2) - 1;
    return (x, g, t) => {
      if (o.decoupled) for (let i = 0; i < n; i++) x[i] *= 1 - o.lr * o.weightDecay;
      const d = decayed(x, g, o.decoupled ? 0 : o.weightDecay);
      const bc1 = 1 - b1 ** t;
      const bc2 = 1 - b2 ** t;
      const rho = rhoInf - (2 * t * b2 ** t) / bc2;
      for (let i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * d[i];
        v[i] = b2 * v[i] + (1 - b2) * d[i] * d[i];
        const mHat = m[i] / bc1;
        if (rho > 5) {
          const rect = Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho));
          x[i] -= mHat * o.lr * (Math.sqrt(bc2) / (Math.sqrt(v[i]) + o.eps)) * rect;
        } else x[i] -= mHat * o.lr;
      }
    };
  };
}

/** Normalized GD over the whole group: x ← x − lr·d/(‖d‖ + eps). */
function refNormalized(o: { lr: number; eps: number; weightDecay: number }): Reference {
  return () => (x, g) => {
    const d = decayed(x, g, o.weightDecay);
    const norm = Math.sqrt(d.reduce((a, v) => a + v * v, 0)) + o.eps;
    for (let i = 0; i < x.length; i++) x[i] -= (o.lr * d[i]) / norm;
  };
}

// ---------------------------------------------------------------------------------------- harness

const SHAPES = [[3, 7], [5], []] as const;
const STEPS = 25;

/** Seeded gradients: a pull towards a random target plus noise, so the trajectory is not trivial. */
function gradientsFor(k: number): Grads {
  const n = SHAPES[k].reduce((a: number, b: number) => a * b, 1);
  const target = Float64Array.from(normalValues(n, 0, 1, 1000 + k, 0));
  return (t, x) => {
    const noise = normalValues(n, 0, 0.5, 2000 + k, t);
    return map(n, (i) => 1.5 * (x[i] - target[i]) + noise[i]);
  };
}

const initial = (k: number) => {
  const n = SHAPES[k].reduce((a: number, b: number) => a * b, 1);
  return Float64Array.from(normalValues(n, 0, 1, 3000 + k, 0));
};

type Make = (params: Tensor[]) => Optimizer<{ lr: number }>;

/** Runs the library optimizer `steps` steps; gradients come from the host function of each param's values. */
function runLibrary(make: Make, backend: string, steps: number): Vec[] {
  const params = SHAPES.map((s, k) =>
    tensor(Float32Array.from(initial(k)), [...s], { backend }).requireGrad(),
  );
  const opt = make(params);
  const before = memory(backend).tensors;
  for (let t = 1; t <= steps; t++) {
    params.forEach((p, k) => {
      p.grad?.dispose();
      p.grad = noGrad(() =>
        tensor(Float64Array.from(gradientsFor(k)(t, Float64Array.from(p.dataSync()))), [...p.shape], {
          backend,
        }),
      );
    });
    opt.step();
  }
  opt.zeroGrad();
  const out = params.map((p) => Float64Array.from(p.dataSync()));
  // Only state buffers stay alive between steps (nothing leaks); dispose() frees them all.
  opt.dispose();
  expect(memory(backend).tensors).toBe(before);
  for (const p of params) noGrad(() => p.dispose());
  return out;
}

function runReference(ref: Reference, steps: number): Vec[] {
  return SHAPES.map((_, k) => {
    const x = initial(k);
    const step = ref(x.length);
    for (let t = 1; t <= steps; t++) step(x, gradientsFor(k)(t, x), t);
    return x;
  });
}

/** Float64 reference on the whole group (for normalized GD, whose step couples the tensors). */
function runGroupReference(ref: Reference, steps: number): Vec[] {
  const xs = SHAPES.map((_, k) => initial(k));
  const sizes = xs.map((x) => x.length);
  const step = ref(sizes.reduce((a, b) => a + b, 0));
  for (let t = 1; t <= steps; t++) {
    const flatX = Float64Array.from(xs.flatMap((x) => [...x]));
    const flatG = Float64Array.from(xs.flatMap((x, k) => [...gradientsFor(k)(t, x)]));
    step(flatX, flatG, t);
    let off = 0;
    xs.forEach((x, k) => {
      x.set(flatX.subarray(off, off + sizes[k]));
      off += sizes[k];
    });
  }
  return xs;
}

function expectClose(got: Vec[], want: Vec[], rel: number, what: string): void {
  got.forEach((g, k) => {
    for (let i = 0; i < g.length; i++) {
      const tol = rel * (1 + Math.abs(want[k][i]));
      if (!(Math.abs(g[i] - want[k][i]) <= tol))
        throw new Error(
          `${what}: param ${k}[${i}] = ${g[i]}, want ${want[k][i]} (tol ${tol.toExponential(2)})`,
        );
    }
  });
}

interface Entry {
  name: string;
  make: (fused?: boolean) => Make;
  ref: Reference;
  group?: boolean;
}

const ENTRIES: Entry[] = [
  {
    name: 'SGD momentum dampening wd maximize',
    make: (fused) => (ps) =>
      new SGD(ps, { lr: 0.02, momentum: 0.8, dampening: 0.1, weightDecay: 0.05, maximize: false, fused }),
    ref: refSgd({
      lr: 0.02,
      momentum: 0.8,
      dampening: 0.1,
      nesterov: false,
      weightDecay: 0.05,
      maximize: false,
    }),
  },
  {
    name: 'SGD nesterov wd',
    make: (fused) => (ps) =>
      new SGD(ps, { lr: 0.03, momentum: 0.9, nesterov: true, weightDecay: 0.01, fused }),
    ref: refSgd({
      lr: 0.03,
      momentum: 0.9,
      dampening: 0,
      nesterov: true,
      weightDecay: 0.01,
      maximize: false,
    }),
  },
  {
    name: 'SGD maximize (ascent on −f)',
    make: (fused) => (ps) => new SGD(ps, { lr: 0.05, maximize: true, fused }),
    ref: refSgd({ lr: 0.05, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: true }),
  },
  {
    name: 'SignSGD (Signum) wd',
    make: (fused) => (ps) => new SignSGD(ps, { lr: 0.01, momentum: 0.9, weightDecay: 0.1, fused }),
    ref: refSignSgd({ lr: 0.01, momentum: 0.9, weightDecay: 0.1 }),
  },
  {
    name: 'NormalizedSGD (group norm) wd',
    make: (fused) => (ps) => new NormalizedSGD(ps, { lr: 0.1, eps: 1e-8, weightDecay: 0.01, fused }),
    ref: refNormalized({ lr: 0.1, eps: 1e-8, weightDecay: 0.01 }),
    group: true,
  },
  {
    name: 'Adagrad lrDecay wd initial accumulator',
    make: (fused) => (ps) =>
      new Adagrad(ps, {
        lr: 0.1,
        lrDecay: 0.01,
        weightDecay: 0.02,
        initialAccumulatorValue: 0.1,
        eps: 1e-8,
        fused,
      }),
    ref: refAdagrad({ lr: 0.1, lrDecay: 0.01, weightDecay: 0.02, initialAccumulatorValue: 0.1, eps: 1e-8 }),
  },
  {
    name: 'RMSprop plain',
    make: (fused) => (ps) => new RMSprop(ps, { lr: 0.01, fused }),
    ref: refRmsprop({ lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false }),
  },
  {
    name: 'RMSprop centered momentum wd',
    make: (fused) => (ps) =>
      new RMSprop(ps, {
        lr: 0.005,
        alpha: 0.9,
        eps: 1e-6,
        momentum: 0.5,
        centered: true,
        weightDecay: 0.01,
        fused,
      }),
    ref: refRmsprop({ lr: 0.005, alpha: 0.9, eps: 1e-6, weightDecay: 0.01, momentum: 0.5, centered: true }),
  },
  {
    name: 'Adadelta wd',
    make: (fused) => (ps) => new Adadelta(ps, { lr: 0.5, rho: 0.8, eps: 1e-5, weightDecay: 0.01, fused }),
    ref: refAdadelta({ lr: 0.5, rho: 0.8, eps: 1e-5, weightDecay: 0.01 }),
  },
  {
    name: 'Adam L2 amsgrad',
    make: (fused) => (ps) =>
      new Adam(ps, { lr: 0.01, betas: [0.8, 0.99], weightDecay: 0.01, amsgrad: true, fused }),
    ref: refAdam({
      lr: 0.01,
      betas: [0.8, 0.99],
      eps: 1e-8,
      weightDecay: 0.01,
      decoupled: false,
      amsgrad: true,
    }),
  },
  {
    name: 'Adam maximize',
    make: (fused) => (ps) => new Adam(ps, { lr: 0.01, maximize: true, fused }),
    ref: refAdam({
      lr: 0.01,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      decoupled: false,
      maximize: true,
    }),
  },
  {
    name: 'AdamW',
    make: (fused) => (ps) =>
      new AdamW(ps, { lr: 0.01, betas: [0.9, 0.95], weightDecay: 0.1, eps: 1e-6, fused }),
    ref: refAdam({ lr: 0.01, betas: [0.9, 0.95], eps: 1e-6, weightDecay: 0.1, decoupled: true }),
  },
  {
    name: 'Adamax wd',
    make: (fused) => (ps) => new Adamax(ps, { lr: 0.02, weightDecay: 0.01, fused }),
    ref: refAdamax({ lr: 0.02, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, decoupled: false }),
  },
  {
    name: 'NAdam L2',
    make: (fused) => (ps) => new NAdam(ps, { lr: 0.01, weightDecay: 0.01, momentumDecay: 0.01, fused }),
    ref: refNadam({
      lr: 0.01,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0.01,
      decoupled: false,
      momentumDecay: 0.01,
    }),
  },
  {
    name: 'NAdam decoupled',
    make: (fused) => (ps) =>
      new NAdam(ps, { lr: 0.01, weightDecay: 0.05, decoupledWeightDecay: true, fused }),
    ref: refNadam({
      lr: 0.01,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0.05,
      decoupled: true,
      momentumDecay: 4e-3,
    }),
  },
  {
    name: 'RAdam (both regimes) L2',
    make: (fused) => (ps) => new RAdam(ps, { lr: 0.01, betas: [0.9, 0.9], weightDecay: 0.01, fused }),
    ref: refRadam({ lr: 0.01, betas: [0.9, 0.9], eps: 1e-8, weightDecay: 0.01, decoupled: false }),
  },
  {
    name: 'RAdam decoupled',
    make: (fused) => (ps) =>
      new RAdam(ps, { lr: 0.01, weightDecay: 0.05, decoupledWeightDecay: true, fused }),
    ref: refRadam({ lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.05, decoupled: true }),
  },
];

/*
 * Tolerances. js64 computes in float64 like the reference, differing only in operation order:
 * 1e-12 relative over 25 steps. The f32 backend rounds every stored value (≤ ~8 roundings per
 * element per step, u = 2⁻²⁴ each) and the rounding errors of the parameter add up over the steps:
 * 25 steps · 8 · u ≈ 1.2e-5 relative to 1 + |x| (state errors decay geometrically in every method).
 * A flipped sign in signSGD/Signum would be off by 2·lr, far outside this.
 */
const F32_REL = STEPS * 8 * 2 ** -24;

describe('classic optimizers match float64 references of their documented algorithms', () => {
  for (const e of ENTRIES) {
    it(`${e.name}: js64 (fused and composite) ≈ reference to 1e-12, js (f32) within ${F32_REL.toExponential(1)}`, () => {
      const want = (e.group ? runGroupReference : runReference)(e.ref, STEPS);
      expectClose(runLibrary(e.make(true), 'js64', STEPS), want, 1e-12, `${e.name} js64 fused`);
      expectClose(runLibrary(e.make(false), 'js64', STEPS), want, 1e-12, `${e.name} js64 composite`);
      expectClose(runLibrary(e.make(true), 'js', STEPS), want, F32_REL, `${e.name} js fused`);
    });
  }

  it('the fused kernel and the composite agree on f32 (js) for every optimizer', () => {
    for (const e of ENTRIES) {
      const fused = runLibrary(e.make(true), 'js', STEPS);
      const composite = runLibrary(e.make(false), 'js', STEPS);
      expectClose(fused, composite, 2 * F32_REL, `${e.name} fused vs composite`);
    }
  });
});
