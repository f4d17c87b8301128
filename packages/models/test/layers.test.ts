/**
 * Every layer's forward pass against a hand-written float64 computation (test/reference.ts), on the
 * float64 reference backend `js64`, plus the Module API (names, modes, moving, state dicts).
 */
import { DescentError, dispose, memory, setBackend, type Tensor, tensor, tidy } from '@descent/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AvgPool2d,
  BatchNorm2d,
  CausalSelfAttention,
  Conv2d,
  Dropout,
  Embedding,
  FFN,
  GATES,
  GatedFFN,
  type GatedVariant,
  GELU,
  GlobalAvgPool,
  gatedHidden,
  JumpReLU,
  LayerNorm,
  Linear,
  MaxPool2d,
  MLP,
  makeFFN,
  Residual,
  RMSNorm,
  Sequential,
  Swish,
} from '../src/index.js';
import * as ref from './reference.js';
import { expectClose, host, Rng, t64 } from './reference.js';

const rng = new Rng(11);

beforeAll(async () => {
  await setBackend('js64');
});
afterAll(async () => {
  await setBackend('js');
});

describe('layers: forward against float64 references', () => {
  it('Linear: x·W + b with W [in, out]', () => {
    const l = new Linear(3, 4, { seed: 1 });
    const x = rng.normals(6);
    const y = tidy(() => host(l.forward(t64(x, [2, 3]))));
    const expected = ref.matmul(x, host(l.weight), 2, 3, 4).map((v, i) => v + host(l.bias!)[i % 4]);
    expectClose(y, expected);
    expect(() => tidy(() => l.forward(t64(x, [3, 2])))).toThrow(
      /Linear: expected input with last axis 3, got \[3, 2\]/,
    );
    l.dispose();
  });

  it('Embedding gathers rows for i32 indices of any shape', () => {
    const e = new Embedding(5, 3, { seed: 2 });
    const w = host(e.weight);
    const ids = [4, 0, 2, 2];
    const y = tidy(() => e.forward(tensor(Int32Array.from(ids), [2, 2], { dtype: 'i32' })));
    expect(y.shape).toEqual([2, 2, 3]);
    expectClose(
      host(y),
      ids.flatMap((i) => w.slice(3 * i, 3 * i + 3)),
    );
    expect(() => e.forward(t64([1], [1]))).toThrow(/indices must be i32/);
    dispose(y);
    e.dispose();
  });

  it('LayerNorm and RMSNorm normalize the last axis and apply their affine parameters', () => {
    const x = rng.normals(12, 3);
    const ln = new LayerNorm(4);
    const rms = new RMSNorm(4);
    tidy(() => {
      const gamma = rng.normals(4);
      const beta = rng.normals(4);
      ln.loadStateDict(
        new Map([
          ['weight', t64(gamma, [4])],
          ['bias', t64(beta, [4])],
        ]),
      );
      rms.loadStateDict(new Map([['weight', t64(gamma, [4])]]));
      const lnRef = ref.normRows(x, 4, 1e-5, true).map((v, i) => v * gamma[i % 4] + beta[i % 4]);
      const rmsRef = ref.normRows(x, 4, 1e-6, false).map((v, i) => v * gamma[i % 4]);
      expectClose(host(ln.forward(t64(x, [3, 4]))), lnRef);
      expectClose(host(rms.forward(t64(x, [3, 4]))), rmsRef);
    });
    dispose(ln, rms);
  });

  it('Conv2d (NHWC, [kh, kw, in, out]) with stride, padding and bias', () => {
    for (const [stride, pad] of [
      [1, 0],
      [2, 1],
      [1, 1],
    ]) {
      const c = new Conv2d(2, 3, 3, { strides: stride, padding: pad, seed: 3 });
      const x = rng.normals(2 * 5 * 5 * 2);
      tidy(() => {
        c.loadStateDict(
          new Map([
            ['weight', c.weight],
            ['bias', t64(rng.normals(3), [3])],
          ]),
        );
        const y = c.forward(t64(x, [2, 5, 5, 2]));
        const r = ref.conv2d(x, [2, 5, 5, 2], host(c.weight), [3, 3, 2, 3], stride, pad);
        expect(y.shape).toEqual(r.shape);
        expectClose(
          host(y),
          r.y.map((v, i) => v + host(c.bias!)[i % 3]),
        );
      });
      c.dispose();
    }
    const c = new Conv2d(2, 4, 1);
    expect(() => tidy(() => c.forward(t64(rng.normals(8), [1, 2, 2, 2]).reshape([2, 2, 2])))).toThrow(
      /Conv2d: expected NHWC input with 2 channels/,
    );
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow(/groups=2 must divide/);
    c.dispose();
  });

  it('BatchNorm2d: batch statistics and running updates in training, running statistics in eval', () => {
    const bn = new BatchNorm2d(3, { momentum: 0.25 });
    const x = rng.normals(2 * 2 * 2 * 3, 2).map((v, i) => v + (i % 3));
    const n = 8;
    const mean = [0, 1, 2].map((c) => x.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / n);
    const varB = [0, 1, 2].map(
      (c) => x.filter((_, i) => i % 3 === c).reduce((a, v) => a + (v - mean[c]) ** 2, 0) / n,
    );
    tidy(() => {
      const y = bn.forward(t64(x, [2, 2, 2, 3]));
      expectClose(
        host(y),
        Array.from(x, (v, i) => (v - mean[i % 3]) / Math.sqrt(varB[i % 3] + 1e-5)),
      );
    });
    // running ← 0.75·running + 0.25·batch, with the unbiased variance n/(n−1)·σ²
    expectClose(
      host(bn.runningMean),
      mean.map((m) => 0.25 * m),
    );
    expectClose(
      host(bn.runningVar),
      varB.map((v) => 0.75 + (0.25 * (v * n)) / (n - 1)),
    );
    expect(host(bn.numBatchesTracked)).toEqual([1]);
    bn.eval();
    tidy(() => {
      const rm = host(bn.runningMean);
      const rv = host(bn.runningVar);
      expectClose(
        host(bn.forward(t64(x, [2, 2, 2, 3]))),
        Array.from(x, (v, i) => (v - rm[i % 3]) / Math.sqrt(rv[i % 3] + 1e-5)),
      );
    });
    expect(host(bn.numBatchesTracked)).toEqual([1]);
    bn.train();
    expect(() => tidy(() => bn.forward(t64([1, 2, 3], [1, 3])))).toThrow(/more than one value per channel/);
    bn.dispose();
  });

  it('pools: max, average and global average over NHWC windows', () => {
    const x = rng.normals(1 * 4 * 4 * 2);
    const at = (r: number, c: number, ch: number) => x[(r * 4 + c) * 2 + ch];
    const win = (f: (v: number[]) => number) =>
      [0, 1].flatMap((i) =>
        [0, 1].flatMap((j) =>
          [0, 1].map((ch) =>
            f([
              at(2 * i, 2 * j, ch),
              at(2 * i + 1, 2 * j, ch),
              at(2 * i, 2 * j + 1, ch),
              at(2 * i + 1, 2 * j + 1, ch),
            ]),
          ),
        ),
      );
    tidy(() => {
      const xt = t64(x, [1, 4, 4, 2]);
      expectClose(
        host(new MaxPool2d(2).forward(xt)),
        win((v) => Math.max(...v)),
      );
      expectClose(
        host(new AvgPool2d(2).forward(xt)),
        win((v) => v.reduce((a, b) => a + b) / 4),
      );
      const gap = [0, 1].map((ch) => x.filter((_, i) => i % 2 === ch).reduce((a, b) => a + b) / 16);
      expectClose(host(new GlobalAvgPool().forward(xt)), gap);
    });
  });

  it('Dropout: identity in eval mode; in training zeroes about p and scales the rest by 1/(1−p)', () => {
    const d = new Dropout(0.25);
    const x = Array.from({ length: 4000 }, () => 1);
    tidy(() => {
      const y = host(d.forward(t64(x, [4000])));
      const zeros = y.filter((v) => v === 0).length;
      // Binomial(4000, 0.25): σ ≈ 27; 5σ bounds
      expect(Math.abs(zeros - 1000)).toBeLessThan(140);
      expect(y.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-15)).toBe(true);
      d.eval();
      expect(host(d.forward(t64(x, [4000])))).toEqual(x);
    });
    expect(() => new Dropout(1)).toThrow(/p must be in \[0, 1\)/);
  });

  it('activation modules: Swish_β, GELU, JumpReLU (fixed and learnable threshold)', () => {
    const x = rng.normals(8, 1.5);
    tidy(() => {
      const xt = t64(x, [8]);
      expectClose(
        host(new Swish(1.7).forward(xt)),
        Array.from(x, (v) => v * ref.sigmoid(1.7 * v)),
      );
      expectClose(
        host(new GELU().forward(xt)),
        Array.from(x, (v) => 0.5 * v * (1 + ref.erf(v / Math.SQRT2))),
        1e-11,
      );
      expectClose(
        host(new JumpReLU(0.3).forward(xt)),
        Array.from(x, (v) => (v > 0.3 ? v : 0)),
      );
      const j = new JumpReLU(0.3, { learnable: true, features: 8 });
      expect(j.namedParameters().map(([n]) => n)).toEqual(['threshold']);
      expectClose(
        host(j.forward(xt)),
        Array.from(x, (v) => (v > 0.3 ? v : 0)),
      );
    });
    expect(() => new JumpReLU(0.1, { learnable: true })).toThrow(/needs the number of features/);
  });
});

describe('the FFN family', () => {
  const gate: Record<GatedVariant, (v: number) => number> = {
    glu: ref.sigmoid,
    bilinear: (v) => v,
    reglu: (v) => Math.max(0, v),
    geglu: (v) => 0.5 * v * (1 + ref.erf(v / Math.SQRT2)),
    swiglu: (v) => v * ref.sigmoid(v),
  };

  for (const variant of Object.keys(GATES) as GatedVariant[]) {
    it(`${variant}: (act(x·W) ⊗ x·V)·W2, bias-free`, () => {
      const f = new GatedFFN(3, 5, { gate: variant, seed: 4 });
      expect(f.namedParameters().map(([n, t]) => `${n} [${t.shape}]`)).toEqual([
        'gate.weight [3,5]',
        'up.weight [3,5]',
        'down.weight [5,3]',
      ]);
      const x = rng.normals(6, 0.8);
      const a = ref.matmul(x, host(f.gate.weight), 2, 3, 5).map(gate[variant]);
      const b = ref.matmul(x, host(f.up.weight), 2, 3, 5);
      const expected = ref.matmul(
        a.map((v, i) => v * b[i]),
        host(f.down.weight),
        2,
        5,
        3,
      );
      tidy(() => expectClose(host(f.forward(t64(x, [2, 3]))), expected, 1e-11));
      f.dispose();
    });
  }

  it('classic FFN: max(0, x·W1 + b1)·W2 + b2; the 2/3 convention matches parameter counts', () => {
    const f = new FFN(3, 6, { seed: 5 });
    tidy(() => {
      f.loadStateDict(
        new Map([
          ...f.stateDict(),
          ['fc1.bias', t64(rng.normals(6), [6])],
          ['fc2.bias', t64(rng.normals(3), [3])],
        ]),
      );
      const x = rng.normals(6);
      const h = ref
        .matmul(x, host(f.fc1.weight), 2, 3, 6)
        .map((v, i) => Math.max(0, v + host(f.fc1.bias!)[i % 6]));
      const y = ref.matmul(h, host(f.fc2.weight), 2, 6, 3).map((v, i) => v + host(f.fc2.bias!)[i % 3]);
      expectClose(host(f.forward(t64(x, [2, 3]))), y);
    });
    expect(gatedHidden(3072)).toBe(2048);
    expect(gatedHidden(1000, { multipleOf: 64 })).toBe(704);
    const classic = makeFFN('relu', 48, 192);
    const gated = makeFFN('swiglu', 48, 192, { matchParams: true });
    // 2·d·d_ff weights (+ biases) vs 3·d·(2/3·d_ff)
    expect(gated.parameterCount()).toBe(3 * 48 * 128);
    expect(classic.parameterCount() - 192 - 48).toBe(gated.parameterCount());
    dispose(f, classic, gated);
    expect(() => new GatedFFN(2, 2, { gate: 'nope' as GatedVariant })).toThrow(/unknown gate 'nope'/);
  });
});

describe('attention', () => {
  it('causal multi-head self-attention matches a hand computation', () => {
    const [B, T, D, H] = [2, 3, 4, 2];
    const hd = D / H;
    const att = new CausalSelfAttention(D, H, { seed: 6 });
    const x = rng.normals(B * T * D);
    const proj = (w: Tensor) => ref.matmul(x, host(w), B * T, D, D);
    const [q, k, v] = [proj(att.q.weight), proj(att.k.weight), proj(att.v.weight)];
    const concat = new Array<number>(B * T * D).fill(0);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let i = 0; i < T; i++) {
          const at = (m: number[], t: number, c: number) => m[(b * T + t) * D + h * hd + c];
          const scores = Array.from({ length: i + 1 }, (_, j) => {
            let s = 0;
            for (let c = 0; c < hd; c++) s += at(q, i, c) * at(k, j, c);
            return s / Math.sqrt(hd);
          });
          const mx = Math.max(...scores);
          const e = scores.map((s) => Math.exp(s - mx));
          const z = e.reduce((a, b2) => a + b2, 0);
          for (let c = 0; c < hd; c++)
            concat[(b * T + i) * D + h * hd + c] = e.reduce((a, w, j) => a + (w / z) * at(v, j, c), 0);
        }
    const expected = ref.matmul(concat, host(att.proj.weight), B * T, D, D);
    tidy(() => expectClose(host(att.forward(t64(x, [B, T, D]))), expected));
    expect(() => new CausalSelfAttention(6, 4)).toThrow(/not divisible by heads/);
    att.dispose();
  });
});

describe('Module API', () => {
  it('names parameters and buffers like PyTorch, counts them, and propagates train/eval', () => {
    const m = new Sequential(
      new Linear(2, 3),
      new BatchNorm2d(3),
      new Residual(new Linear(3, 3)),
      new Dropout(0.1),
    );
    expect(m.namedTensors().map((e) => e.name)).toEqual([
      '0.weight',
      '0.bias',
      '1.weight',
      '1.bias',
      '1.running_mean',
      '1.running_var',
      '1.num_batches_tracked',
      '2.inner.weight',
      '2.inner.bias',
    ]);
    expect(m.parameters().length).toBe(6);
    expect(m.parameterCount()).toBe(2 * 3 + 3 + 3 + 3 + 9 + 3);
    m.eval();
    expect(m.layers.every((l) => !l.training)).toBe(true);
    m.train();
    expect((m.layers[2] as Residual).inner.training).toBe(true);
    m.dispose();
    const mlp = new MLP([2, 4, 3]);
    expect(mlp.namedParameters().map(([n, t]) => `${n} [${t.shape}]`)).toEqual([
      'layers.0.weight [2,4]',
      'layers.0.bias [4]',
      'layers.1.weight [4,3]',
      'layers.1.bias [3]',
    ]);
    mlp.dispose();
  });

  it('Residual adds its input and rejects shape-changing inner modules', () => {
    const r = new Residual(new Linear(2, 2));
    tidy(() => {
      const x = t64([1, 2], [1, 2]);
      expectClose(
        host(r.forward(x)),
        host(r.inner.forward(x)).map((v, i) => v + [1, 2][i]),
      );
    });
    expect(() => tidy(() => new Residual(new Linear(2, 3)).forward(t64([1, 2], [1, 2])))).toThrow(
      /a residual add needs equal shapes/,
    );
    r.dispose();
  });

  it('to(backend) moves parameters and buffers; stateDict/loadStateDict copy values in place', () => {
    const before = memory('js').tensors;
    const m = new Sequential(new Linear(2, 3, { seed: 7 }), new BatchNorm2d(3));
    const w = host(m.parameters()[0]);
    m.to('js');
    expect(m.namedTensors().every((e) => e.tensor.backend === 'js')).toBe(true);
    expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
    expect(Array.from(m.parameters()[0].dataSync())).toEqual(Array.from(Float32Array.from(w)));
    // load values from another model: same objects afterwards (optimizers keep working)
    const other = new Sequential(new Linear(2, 3, { seed: 8 }), new BatchNorm2d(3)).to('js');
    const weightObject = m.parameters()[0];
    m.loadStateDict(other.stateDict());
    expect(m.parameters()[0]).toBe(weightObject);
    expect(host(m.parameters()[0])).toEqual(host(other.parameters()[0]));
    dispose(m, other);
    expect(memory('js').tensors).toBe(before);
  });

  it('loadStateDict checks everything before writing anything', () => {
    const m = new Sequential(new Linear(2, 3, { seed: 9 }), new Linear(3, 1, { seed: 10 }));
    const original = m.parameters().map(host);
    const sd = new Map(m.stateDict());
    tidy(() => {
      sd.set('0.weight', t64(rng.normals(6), [2, 3])); // fine
      sd.set('1.weight', t64(rng.normals(3), [1, 3])); // wrong shape
      expect(() => m.loadStateDict(sd)).toThrow(DescentError);
      expect(() => m.loadStateDict(sd)).toThrow(
        /'1.weight' is f32 \[1, 3\] but the model expects f32 \[3, 1\]/,
      );
      expect(m.parameters().map(host)).toEqual(original);
      const missing = new Map(m.stateDict());
      missing.delete('1.bias');
      missing.set('extra', t64([1], [1]));
      expect(() => m.loadStateDict(missing)).toThrow(/missing '1.bias'; unexpected 'extra'/);
      m.loadStateDict(new Map([['0.bias', t64([1, 2, 3], [3])]]), { strict: false });
      expect(host(m.parameters()[1])).toEqual([1, 2, 3]);
    });
    m.dispose();
  });
});
