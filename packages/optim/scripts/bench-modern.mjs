// The modern optimizers (Lion, Adafactor, Shampoo, Muon, Sophia, SAM; AdamW as the peer) on the
// js, wasm and js64 backends: median ms/step on an N×N matrix + an N bias (loss Σ c⊙W² + Σ b²), and
// after the run the largest relative difference of each f32 backend from the float64 (js64) run.
// Prints a table; not a test.
//
//   npm run build (core, wasm-kernels, optim) && N=128 node packages/optim/scripts/bench-modern.mjs
import { initBackend, mul, noGrad, randn, registerBackend, square, sum, tensor, tidy } from '@descent/core';
import { createWasmBackend } from '@descent/wasm-kernels';
import { Adafactor, AdamW, Lion, Muon, SAM, SGD, Shampoo, Sophia } from '../dist/index.js';

registerBackend('wasm', () => createWasmBackend());
await initBackend('wasm');
const N = Number(process.env.N ?? 128);
const init = [randn([N, N], { seed: 1 }), randn([N], { seed: 2 })].map((t) => t.dataSync());
const C = randn([N, N], { seed: 3 }).abs().dataSync();
const makers = {
  AdamW: (p) => new AdamW(p, { lr: 1e-2 }),
  Lion: (p) => new Lion(p, { lr: 1e-2, weightDecay: 0.1 }),
  Adafactor: (p) => new Adafactor(p, { beta1: 0.9, weightDecay: 0.01 }),
  'Shampoo (interval 1)': (p) => new Shampoo(p, { lr: 1e-2, graft: 'adam' }),
  'Shampoo (interval 20)': (p) => new Shampoo(p, { lr: 1e-2, graft: 'adam', preconditionInterval: 20 }),
  Muon: (p) => new Muon(p, { lr: 0.02 }),
  Sophia: (p) => new Sophia(p, { lr: 1e-2, estimator: 'hutchinson', hessianInterval: 5 }),
  'SAM(SGD)': (p) => new SAM(new SGD(p, { lr: 1e-2, momentum: 0.9 })),
};
const STEPS = 8;
for (const [name, mk] of Object.entries(makers)) {
  const res = {};
  for (const backend of ['js', 'wasm', 'js64']) {
    const ps = [
      tensor(init[0], [N, N], { backend }).requireGrad(),
      tensor(init[1], [N], { backend }).requireGrad(),
    ];
    const c = tensor(C, [N, N], { backend });
    const loss = () => sum(mul(square(ps[0]), c)).add(sum(square(ps[1])));
    const opt = mk(ps);
    const times = [];
    for (let t = 0; t < STEPS; t++) {
      if (opt instanceof Sophia) opt.maybeUpdateHessian(loss);
      tidy(() => {
        opt.zeroGrad();
        loss().backward();
      });
      const t0 = performance.now();
      if (opt instanceof SAM) tidy(() => opt.step(() => loss().backward()));
      else opt.step();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    res[backend] = { ms: times[STEPS >> 1], values: ps.map((p) => Array.from(p.dataSync())) };
    opt.zeroGrad();
    opt.dispose();
    noGrad(() => {
      for (const p of ps) p.dispose();
      c.dispose();
    });
  }
  const diff = (a, b) => {
    let w = 0;
    res[a].values.forEach((v, k) => {
      v.forEach((x, i) => {
        w = Math.max(w, Math.abs(x - res[b].values[k][i]) / (1 + Math.abs(res[b].values[k][i])));
      });
    });
    return w;
  };
  console.log(
    `${name.padEnd(22)} js ${res.js.ms.toFixed(1).padStart(8)} ms/step  wasm ${res.wasm.ms.toFixed(1).padStart(8)} ms/step` +
      `  |f32 − f64|/(1 + |f64|) after ${STEPS} steps: js ${diff('js', 'js64').toExponential(1)}, wasm ${diff('wasm', 'js64').toExponential(1)}`,
  );
}
