import {
  assign,
  engine,
  memory,
  noGrad,
  normalValues,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from '@descent/core';
import { describe, expect, it } from 'vitest';
import {
  Adadelta,
  Adagrad,
  Adam,
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
 * State dicts (a mid-run round trip resumes bit-exactly), validation (hyperparameters, loaded
 * states), and multi-tensor apply (flat buffers: the same results as per-tensor updates, two kernel
 * launches per step).
 */

const SHAPES = [[3, 7], [5], [], [70]];
type Opt = Optimizer<{ lr: number }>;
type Make = (params: Tensor[], extra?: Record<string, unknown>) => Opt;

const MAKERS: [string, Make][] = [
  ['SGD', (ps, x) => new SGD(ps, { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, ...x })],
  ['SignSGD', (ps, x) => new SignSGD(ps, { lr: 0.01, momentum: 0.9, ...x })],
  ['Adagrad', (ps, x) => new Adagrad(ps, { lr: 0.1, lrDecay: 0.01, initialAccumulatorValue: 0.1, ...x })],
  [
    'RMSprop',
    (ps, x) => new RMSprop(ps, { lr: 0.01, momentum: 0.5, centered: true, weightDecay: 0.01, ...x }),
  ],
  ['Adadelta', (ps, x) => new Adadelta(ps, { lr: 0.5, weightDecay: 0.01, ...x })],
  ['Adam', (ps, x) => new Adam(ps, { lr: 0.01, amsgrad: true, weightDecay: 0.01, ...x })],
  ['AdamW', (ps, x) => new AdamW(ps, { lr: 0.01, ...x })],
  ['NAdam', (ps, x) => new NAdam(ps, { lr: 0.01, ...x })],
  ['RAdam', (ps, x) => new RAdam(ps, { lr: 0.01, betas: [0.9, 0.9], ...x })],
];

function makeParams(backend: string): Tensor[] {
  return SHAPES.map((s, k) => {
    const n = s.reduce((a, b) => a * b, 1);
    return tensor(normalValues(n, 0, 1, 40 + k, 0), s, { backend }).requireGrad();
  });
}

/** Sets each parameter's gradient for step t (deterministic, depends on the parameter's values). */
function setGrads(params: Tensor[], t: number): void {
  noGrad(() =>
    params.forEach((p, k) => {
      const noise = normalValues(p.size, 0, 1, 50 + k, t);
      const x = p.dataSync();
      p.grad?.dispose();
      p.grad = tensor(
        Float32Array.from(x, (v, i) => 1.3 * v + noise[i]),
        p.shape,
        { backend: p.backend },
      );
    }),
  );
}

function run(opt: Opt, params: Tensor[], from: number, to: number): void {
  for (let t = from; t <= to; t++) {
    setGrads(params, t);
    opt.step();
  }
  opt.zeroGrad();
}

const values = (ps: Tensor[]) => ps.map((p) => Array.from(p.dataSync()));
function disposeAll(ts: Iterable<Tensor>): void {
  noGrad(() => {
    for (const t of ts) t.dispose();
  });
}
const free = disposeAll;
const dictTensors = (d: { state: Record<number, { buffers: Record<string, Tensor> }> }) =>
  Object.values(d.state).flatMap((s) => Object.values(s.buffers));
/** Same values bit for bit (Object.is: −0 ≠ 0, NaN = NaN). */
function expectBitExact(got: number[][], want: number[][], what: string): void {
  for (let k = 0; k < got.length; k++)
    for (let i = 0; i < got[k].length; i++)
      if (!Object.is(got[k][i], want[k][i]))
        throw new Error(`${what}: param ${k}[${i}] = ${got[k][i]}, want ${want[k][i]}`);
}

describe('stateDict / loadStateDict', () => {
  for (const backend of ['js', 'js64']) {
    for (const [name, make] of MAKERS) {
      it(`${name} on ${backend}: a mid-run round trip resumes bit-exactly`, () => {
        const before = memory(backend).tensors;
        // Uninterrupted: 12 steps.
        const a = makeParams(backend);
        const optA = make(a);
        run(optA, a, 1, 12);
        const want = values(a);
        // Interrupted after 5: snapshot parameters and optimizer, continue in a fresh optimizer.
        const b = makeParams(backend);
        const optB = make(b);
        run(optB, b, 1, 5);
        const dict = optB.stateDict();
        const saved = values(b);
        optB.dispose();
        free(b);
        const c = SHAPES.map((s, k) => tensor(saved[k], s, { backend }).requireGrad());
        const optC = make(c, { lr: 123 }); // hyperparameters come from the dict
        optC.loadStateDict(dict);
        expect(optC.groups[0].options.lr).not.toBe(123);
        disposeAll(dictTensors(dict));
        run(optC, c, 6, 12);
        expectBitExact(values(c), want, `${name} resumed`);
        optA.dispose();
        optC.dispose();
        free(a);
        free(c);
        expect(memory(backend).tensors).toBe(before);
      });
    }
  }

  it('records step counts and hyperparameters per group, and restores them', () => {
    const [p, q] = makeParams('js');
    const opt = new Adam([{ params: [p], lr: 0.1 }, { params: [q] }], { lr: 0.01, betas: [0.8, 0.9] });
    setGrads([p, q], 1);
    opt.step();
    const dict = opt.stateDict();
    expect(dict.optimizer).toBe('Adam');
    expect(dict.paramGroups.map((g) => [g.lr, g.params])).toEqual([
      [0.1, [0]],
      [0.01, [1]],
    ]);
    expect(dict.state[0].step).toBe(1);
    expect(Object.keys(dict.state[0].buffers).sort()).toEqual(['expAvg', 'expAvgSq']);
    // The dict's tensors are copies: later steps do not change them.
    const m = Array.from(dict.state[0].buffers.expAvg.dataSync());
    setGrads([p, q], 2);
    opt.step();
    expect(Array.from(dict.state[0].buffers.expAvg.dataSync())).toEqual(m);
    opt.groups[0].options.lr = 5;
    opt.loadStateDict(dict);
    expect(opt.groups[0].options.lr).toBe(0.1);
    expect(opt.stepOf(p)).toBe(1);
    opt.zeroGrad();
    opt.dispose();
    disposeAll([p, q, ...dictTensors(dict)]);
  });

  it('rejects a bad state with a clear error and leaves the optimizer as it was', () => {
    const ps = makeParams('js');
    const opt = new Adam(ps, { lr: 0.01 });
    run(opt, ps, 1, 2);
    const good = opt.stateDict();
    const other = new SGD(ps, { lr: 0.1, momentum: 0.9 });
    run(other, ps, 3, 3);
    const sgdDict = other.stateDict();
    const before = opt.stateDict();
    const bad = (mutate: (d: typeof good) => void) => {
      const d = {
        ...good,
        paramGroups: good.paramGroups.map((g) => ({ ...g, params: [...g.params] })),
        state: { ...good.state },
      };
      mutate(d);
      return d;
    };
    const wrongShape = zeros([2, 2]);
    const cases: [typeof good, RegExp][] = [
      [sgdDict, /Adam\.loadStateDict: the state is of a SGD optimizer, this is Adam/],
      [bad((d) => d.paramGroups.push({ params: [] })), /has 2 parameter groups, the optimizer has 1/],
      [
        bad((d) => d.paramGroups[0].params.pop()),
        /group 0 has 3 parameters in the state, 4 in the optimizer/,
      ],
      [bad((d) => (d.state[9] = d.state[0])), /state for parameter index 9, but there are 4 parameters/],
      [
        bad((d) => (d.state[0] = { step: 1, buffers: { expAvg: d.state[0].buffers.expAvg } })),
        /state 0 \(parameter \[3, 7\]\) has buffers \[expAvg\], expected \[expAvg, expAvgSq\]/,
      ],
      [
        bad((d) => (d.state[1] = { step: 1, buffers: { ...d.state[1].buffers, expAvg: wrongShape } })),
        /state 1 buffer 'expAvg' is \[2, 2\] f32, expected \[5\] f32 for parameter \[5\]/,
      ],
      [
        bad((d) => (d.state[0] = { ...d.state[0], step: -1 })),
        /state 0: expected \{ step: integer >= 0, buffers \}/,
      ],
      [
        bad((d) => (d.paramGroups[0] = { ...d.paramGroups[0], betas: [0.9, 1] })),
        /Adam: betas must be two numbers in \[0, 1\), got \[0.9,1\]/,
      ],
    ];
    for (const [dict, message] of cases) expect(() => opt.loadStateDict(dict)).toThrow(message);
    // Nothing changed: the optimizer still has its state and options.
    const after = opt.stateDict();
    expect(after.paramGroups).toEqual(before.paramGroups);
    for (const [i, s] of Object.entries(before.state)) {
      expect(after.state[Number(i)].step).toBe(s.step);
      for (const [k, t] of Object.entries(s.buffers))
        expect(Array.from(after.state[Number(i)].buffers[k].dataSync())).toEqual(Array.from(t.dataSync()));
    }
    opt.dispose();
    other.dispose();
    disposeAll([...ps, wrongShape]);
    for (const d of [good, sgdDict, before, after])
      for (const s of Object.values(d.state)) for (const t of Object.values(s.buffers)) t.dispose();
  });
});

describe('hyperparameter validation', () => {
  const p = tensor([1, 2]).requireGrad();
  const cases: [() => unknown, RegExp][] = [
    [() => new SGD([p], { lr: -1 }), /SGD: learning rate must be >= 0, got -1/],
    [() => new SGD([p], { lr: Number.NaN }), /SGD: learning rate must be >= 0, got NaN/],
    [() => new SGD([p], { momentum: -0.5 }), /SGD: momentum must be a finite number >= 0, got -0.5/],
    [() => new SGD([p], { nesterov: true }), /SGD: Nesterov momentum needs momentum > 0 and dampening = 0/],
    [() => new SGD([p], { dampening: 2 }), /SGD: dampening must be in \[0, 1\], got 2/],
    [() => new SGD([p], { weightDecay: -1 }), /SGD: weightDecay must be a finite number >= 0, got -1/],
    [() => new SignSGD([p], { momentum: 1 }), /SignSGD: momentum must be in \[0, 1\), got 1/],
    [() => new NormalizedSGD([p], { normalize: 'rows' as 'group' }), /normalize must be 'group' or 'tensor'/],
    [() => new Adam([p], { betas: [0.9, 1] }), /Adam: betas must be two numbers in \[0, 1\), got \[0.9,1\]/],
    [() => new Adam([p], { betas: [-0.1, 0.9] }), /Adam: betas must be two numbers in \[0, 1\)/],
    [() => new Adam([p], { betas: [0.9] as unknown as [number, number] }), /Adam: betas must be two numbers/],
    [() => new AdamW([p], { eps: -1e-8 }), /AdamW: eps must be a finite number >= 0, got -1e-8/],
    [() => new Adam([p], { amsgrad: 1 as unknown as boolean }), /Adam: amsgrad must be a boolean, got 1/],
    [() => new NAdam([p], { momentumDecay: -1 }), /NAdam: momentumDecay must be a finite number >= 0/],
    [() => new RMSprop([p], { alpha: 1.5 }), /RMSprop: alpha must be in \[0, 1\], got 1.5/],
    [() => new Adagrad([p], { lrDecay: -1 }), /Adagrad: lrDecay must be a finite number >= 0, got -1/],
    [() => new Adadelta([p], { rho: -0.1 }), /Adadelta: rho must be in \[0, 1\], got -0.1/],
    [() => new Adam([{ params: [p] }, { params: [p] }]), /appears in more than one group/],
    [() => new Adam([tensor([1])]), /does not require grad \(call requireGrad\(\)\)/],
    [() => new Adam([{ params: [p], lr: -2 }], { lr: 0.1 }), /Adam: learning rate must be >= 0, got -2/],
    [
      () => new NormalizedSGD([p], { flat: true }),
      /flat \(multi-tensor\) mode is only for optimizers with one elementwise update/,
    ],
  ];
  for (const [make, message] of cases) {
    it(`throws ${message.source.slice(0, 60)}`, () => {
      expect(make).toThrow(message);
    });
  }
});

describe('multi-tensor apply (flat: true)', () => {
  for (const [name, make] of MAKERS) {
    it(`${name}: flat buffers give bit-identical results with 2 kernel launches per step`, () => {
      const before = memory('js').tensors;
      const a = makeParams('js');
      const optA = make(a);
      run(optA, a, 1, 6);
      const b = makeParams('js');
      const optB = make(b, { flat: true });
      run(optB, b, 1, 1); // first step packs the buffers
      // Count kernel launches of a steady-state step.
      setGrads(b, 2);
      const launched: string[] = [];
      const stop = engine.addKernelListener((op) => launched.push(op));
      optB.step();
      stop();
      expect(launched).toEqual(['concat', launched[1]]);
      expect(launched[1]).toMatch(/Update$/);
      run(optB, b, 3, 6);
      expectBitExact(values(b), values(a), `${name} flat`);
      // The parameters are windows of one buffer, yet each keeps its own Tensor and shape.
      expect(b.map((p) => p.shape)).toEqual(SHAPES);
      // Flat state round-trips into a per-tensor optimizer (and continues identically).
      const dict = optB.stateDict();
      const c = b.map((p) => tensor(p.dataSync(), p.shape, { backend: 'js' }).requireGrad());
      const optC = make(c);
      optC.loadStateDict(dict);
      run(optA, a, 7, 9);
      run(optB, b, 7, 9);
      run(optC, c, 7, 9);
      expectBitExact(values(b), values(a), `${name} flat continued`);
      expectBitExact(values(c), values(a), `${name} per-tensor from a flat state`);
      for (const s of Object.values(dict.state)) for (const t of Object.values(s.buffers)) t.dispose();
      for (const o of [optA, optB, optC]) o.dispose();
      for (const ps of [a, b, c]) free(ps);
      expect(memory('js').tensors).toBe(before);
    });
  }

  it('re-packs when a parameter is re-pointed (assign) or a state is loaded, and stays exact', () => {
    const a = makeParams('js');
    const b = makeParams('js');
    const optA = new Adam(a, { lr: 0.01 });
    const optB = new Adam(b, { lr: 0.01, flat: true });
    run(optA, a, 1, 3);
    run(optB, b, 1, 3);
    // Replace a parameter's values from outside (as a checkpoint load would).
    for (const ps of [a, b]) noGrad(() => tidy(() => assign(ps[1], tensor([1, 2, 3, 4, 5], [5]))));
    run(optA, a, 4, 6);
    run(optB, b, 4, 6);
    expectBitExact(values(b), values(a), 'after assign');
    optB.loadStateDict(optA.stateDict());
    run(optA, a, 7, 8);
    run(optB, b, 7, 8);
    expectBitExact(values(b), values(a), 'after loadStateDict');
    optA.dispose();
    optB.dispose();
    free(a);
    free(b);
  });

  it('needs a gradient for every parameter of a flat group', () => {
    const ps = makeParams('js');
    const opt = new SGD(ps, { lr: 0.1, flat: true });
    setGrads(ps, 1);
    ps[2].grad!.dispose();
    ps[2].grad = null;
    expect(() => opt.step()).toThrow(
      /SGD: flat \(multi-tensor\) mode needs a gradient for every parameter of the group/,
    );
    opt.zeroGrad();
    opt.dispose();
    free(ps);
  });
});
