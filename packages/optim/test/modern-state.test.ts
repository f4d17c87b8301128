import { noGrad, type Tensor, tensor, tidy } from '@descent/core';
import { describe, expect, it } from 'vitest';
import { Adafactor, Lion, Muon, type Optimizer, Shampoo, Sophia } from '../src/index.js';
import { free, Quadratic, Rng } from './numeric.js';

/*
 * State dicts of the modern optimizers: stop mid-run, save, load into a fresh optimizer over a copy
 * of the parameters, and both runs continue bit-identically (f32 backend, same kernels, same order).
 */

const SHAPES = [[4, 6], [6], [2, 3, 4]];
type Make = (params: Tensor[]) => Optimizer<{ lr: number }>;
const MAKERS: [string, Make, number[][]?][] = [
  ['Lion', (ps) => new Lion(ps, { lr: 0.01, weightDecay: 0.1 })],
  ['Adafactor', (ps) => new Adafactor(ps, { beta1: 0.9, weightDecay: 0.01 })],
  ['Shampoo', (ps) => new Shampoo(ps, { lr: 0.01, graft: 'adam', momentum: 0.5, preconditionInterval: 3 })],
  ['Muon', (ps) => new Muon(ps, { lr: 0.02, adamw: { lr: 0.01 } })],
  ['Sophia', (ps) => new Sophia(ps, { lr: 0.01, estimator: 'hutchinson', hessianInterval: 3 })],
];

describe('stateDict round trip mid-run', () => {
  for (const [name, make] of MAKERS) {
    it(`${name}: a resumed run matches the uninterrupted one exactly`, () => {
      const rng = new Rng(name.length);
      const qs = SHAPES.map((s) => new Quadratic(s, rng));
      const init = SHAPES.map((s) => Float32Array.from(rng.normals(s.reduce((a, b) => a * b, 1))));
      const params = () => SHAPES.map((s, i) => tensor(init[i], s).requireGrad());
      const loss = (ps: Tensor[]) => ps.map((p, i) => qs[i].loss(p)).reduce((a, b) => a.add(b));
      const run = (opt: Optimizer<{ lr: number }>, ps: Tensor[], steps: number) => {
        for (let t = 0; t < steps; t++) {
          if (opt instanceof Sophia) opt.maybeUpdateHessian(() => loss(ps));
          tidy(() => {
            opt.zeroGrad();
            loss(ps).backward();
            opt.step();
          });
          opt.zeroGrad();
        }
      };
      const a = params();
      const optA = make(a);
      run(optA, a, 4);
      const dict = optA.stateDict();
      const b = noGrad(() => a.map((p) => tensor(p.dataSync(), p.shape).requireGrad()));
      const optB = make(b);
      optB.loadStateDict(dict);
      for (const s of Object.values(dict.state)) for (const t of Object.values(s.buffers)) t.dispose();
      run(optA, a, 5);
      run(optB, b, 5);
      for (const [i, p] of a.entries())
        expect(Array.from(b[i].dataSync()), `parameter ${i}`).toEqual(Array.from(p.dataSync()));
      optA.dispose();
      optB.dispose();
      free(...a, ...b);
    });
  }
});
