import { describe, expect, it } from 'vitest';
import {
  cast,
  DescentError,
  engine,
  exp,
  f16Bits,
  f16FromBits,
  grad,
  JsBackend,
  matmul,
  noGrad,
  roundToF16,
  sum,
  tensor,
} from '../src/index.js';

describe('f16 conversion', () => {
  it('round-trips every f16 bit pattern and rounds every midpoint to even', () => {
    let bad = 0;
    for (let h = 0; h < 0x10000; h++) {
      const v = f16FromBits(h);
      if (Number.isNaN(v)) {
        if (((h >> 10) & 0x1f) !== 0x1f) bad++;
        continue;
      }
      if (f16Bits(v) !== h || !Object.is(roundToF16(v), v)) bad++;
      // Positive finite values below F16_MAX: the midpoint to the next value rounds to the even one.
      if (h < 0x7bff) {
        const next = f16FromBits(h + 1);
        const mid = (v + next) / 2;
        if (roundToF16(mid) !== ((h & 1) === 0 ? v : next)) bad++;
        if (roundToF16(mid + (next - v) * 1e-6) !== next || roundToF16(mid - (next - v) * 1e-6) !== v) bad++;
      }
    }
    expect(bad).toBe(0);
  });

  it('overflows to ±∞ from 65520 on, keeps NaN and signed zero, rounds tiny values to subnormals', () => {
    expect(roundToF16(65519.99)).toBe(65504);
    expect(roundToF16(65520)).toBe(Number.POSITIVE_INFINITY);
    expect(roundToF16(-1e6)).toBe(Number.NEGATIVE_INFINITY);
    expect(roundToF16(Number.NaN)).toBeNaN();
    expect(Object.is(roundToF16(-1e-9), -0)).toBe(true);
    expect(roundToF16(2 ** -25)).toBe(0); // a tie between 0 and 2⁻²⁴: to even (0)
    expect(roundToF16(2 ** -25 * 1.5)).toBe(2 ** -24);
    expect(roundToF16(0.1)).toBe(0.0999755859375);
    expect(f16Bits(Number.NaN)).toBe(0x7e00);
    expect(f16Bits(-2)).toBe(0xc000);
  });
});

describe('f16 on the reference backend', () => {
  it('stores uploads rounded to f16 and rounds each result once from float64', () => {
    const x = tensor([0.1, 1 + 2 ** -12, 7e4], [3], { dtype: 'f16', backend: 'js' });
    expect(x.dtype).toBe('f16');
    expect(Array.from(x.dataSync())).toEqual([0.0999755859375, 1, Number.POSITIVE_INFINITY]);
    const a = tensor([1, 2 ** -11], [1, 2], { dtype: 'f16', backend: 'js' });
    const b = tensor([1, 1], [2, 1], { dtype: 'f16', backend: 'js' });
    // 1 + 2⁻¹¹ is a tie between 1 and 1 + 2⁻¹⁰: to even (1).
    const c = matmul(a, b);
    expect(c.dtype).toBe('f16');
    expect(Array.from(c.dataSync())).toEqual([1]);
    const e = exp(tensor([1], [1], { dtype: 'f16', backend: 'js' }));
    expect(e.dataSync()[0]).toBe(roundToF16(Math.E));
    expect(cast(e, 'f32').dtype).toBe('f32');
    for (const t of [x, a, b, c, e]) t.dispose();
  });

  it('refuses an f16 matmul whose batches need broadcasting, naming matmul', () => {
    const a = tensor(new Float32Array(12), [2, 1, 2, 3], { dtype: 'f16', backend: 'js' });
    const b = tensor(new Float32Array(18), [3, 3, 2], { dtype: 'f16', backend: 'js' });
    const before = engine.memory('js').tensors;
    expect(() => matmul(a, b)).toThrow(
      /^matmul: f16 operands \[2, 1, 2, 3\] and \[3, 3, 2\] need their batches/,
    );
    expect(engine.memory('js').tensors).toBe(before);
    a.dispose();
    b.dispose();
  });

  it('refuses ops that do not take f16, naming the op and listing the f16 ops', () => {
    const x = tensor([1, 2, 3], [3], { dtype: 'f16', backend: 'js' });
    const before = engine.memory('js').tensors;
    expect(() => sum(x)).toThrow(DescentError);
    expect(() => sum(x)).toThrow(/op 'sum' does not take f16 tensors.*matmul/);
    expect(engine.memory('js').tensors).toBe(before);
    x.dispose();
  });

  it('keeps f16 outside autograd with clear errors', () => {
    const w = tensor([1, 2], [2], { backend: 'js' });
    const h16 = tensor([1], [1], { dtype: 'f16', backend: 'js' });
    expect(() => {
      h16.requiresGrad = true;
    }).toThrow(/only f32/);
    h16.dispose();
    expect(() => grad((t) => sum(cast(cast(t, 'f16'), 'f32')))(w)).toThrow(
      /f16 tensors are outside autograd/,
    );
    w.requiresGrad = true;
    expect(() => cast(w, 'f16')).toThrow(/outside autograd/);
    const h = noGrad(() => cast(w, 'f16'));
    expect(h.dtype).toBe('f16');
    h.dispose();
    w.dispose();
  });

  it('refuses f16 tensors on a backend that does not declare them', async () => {
    engine.registerBackend('f32only', () =>
      Object.assign(new JsBackend({ name: 'f32only' }), { dtypes: undefined }),
    );
    try {
      expect(() => tensor([1], [1], { dtype: 'f16', backend: 'f32only' })).toThrow(
        /backend 'f32only' has no f16 tensors \(it stores f32, i32\)/,
      );
      const h = tensor([1], [1], { dtype: 'f16', backend: 'js' });
      expect(() => h.to('f32only')).toThrow(/^tensor\.to: backend 'f32only' has no f16 tensors/);
      await expect(h.toAsync('f32only')).rejects.toThrow(/^tensor\.toAsync: backend 'f32only' has no f16/);
      h.dispose();
      const x = tensor([1], [1], { backend: 'f32only' });
      expect(() => cast(x, 'f16')).toThrow(/^.*cast.*backend 'f32only' has no f16 tensors/);
      x.dispose();
    } finally {
      engine.removeBackend('f32only');
    }
  });
});
