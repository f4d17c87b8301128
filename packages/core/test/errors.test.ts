/**
 * Bad inputs: each is a thrown DescentError naming the op, the shapes/dtypes involved and what was
 * expected; afterwards the library still works and no tensor (or byte) has leaked on any backend.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  add,
  backward,
  batchNorm,
  CrossEntropyBackward,
  concat,
  conv2d,
  DescentError,
  dispose,
  gather,
  getBackend,
  grad,
  isGradEnabled,
  JsBackend,
  layerNorm,
  matmul,
  memory,
  mul,
  randn,
  registerBackend,
  relu,
  removeBackend,
  reshape,
  rmsNorm,
  runOp,
  softmax,
  sum,
  type Tensor,
  tensor,
  tidy,
} from '../src/index.js';

const BACKENDS = ['js', 'js64'];

/** Live tensors and bytes on every backend in `names`. */
const snapshot = (names: string[]) => names.map((n) => ({ name: n, ...memory(n) }));

/**
 * Runs `fn`, expecting a DescentError raised for `op` whose message contains every fragment; then
 * checks that no backend gained tensors or bytes, that grad recording is back on, and that a small
 * op still computes the right thing.
 */
function expectError(fn: () => unknown, op: string, fragments: string[], backends = BACKENDS): DescentError {
  const before = snapshot(backends);
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a thrown error').toBeInstanceOf(DescentError);
  const e = err as DescentError;
  expect(e.name).toBe('DescentError');
  expect(e.op).toBe(op);
  expect(e.message.startsWith(`${op}: `), e.message).toBe(true);
  for (const f of fragments) expect(e.message, `message should mention ${f}`).toContain(f);
  const after = snapshot(backends);
  for (let i = 0; i < backends.length; i++) {
    expect(after[i].tensors, `tensors leaked on '${backends[i]}' by: ${e.message}`).toBe(before[i].tensors);
    expect(after[i].bytes, `bytes leaked on '${backends[i]}' by: ${e.message}`).toBe(before[i].bytes);
    expect(after[i].backend.bytes, `backend bytes on '${backends[i]}'`).toBe(before[i].backend.bytes);
  }
  expect(isGradEnabled()).toBe(true);
  stillWorks();
  return e;
}

/** A small computation with a known result, forward and backward, leaving nothing behind. */
function stillWorks(): void {
  const before = memory('js').tensors;
  const [y, g] = tidy(() => {
    const a = tensor([1, 2, 3]);
    const b = tensor([10, 20, 30]);
    const out = add(a, b).dataSync();
    const ga = grad((x: Tensor) => sum(mul(x, x)))(a).dataSync();
    return [Array.from(out), Array.from(ga)];
  });
  expect(y).toEqual([11, 22, 33]);
  expect(g).toEqual([2, 4, 6]);
  expect(memory('js').tensors).toBe(before);
}

describe('shape mismatches', () => {
  it('add of [2, 3] and [4, 3]', () => {
    const a = tensor(new Float32Array(6), [2, 3]);
    const b = tensor(new Float32Array(12), [4, 3]);
    expectError(() => add(a, b), 'add', [
      '[2, 3]',
      '[4, 3]',
      'cannot be broadcast',
      'axis -2',
      'sizes 2 and 4',
      'expected equal sizes or 1',
    ]);
    // The same on the autograd path and inside tidy.
    a.requireGrad();
    expectError(() => tidy(() => add(relu(a), b)), 'add', ['[2, 3]', '[4, 3]']);
    dispose([a, b]);
  });

  it('matmul [2, 3]·[4, 5]', () => {
    const a = randn([2, 3]);
    const b = randn([4, 5]);
    expectError(() => matmul(a, b), 'matmul', [
      '[2, 3]',
      '[4, 5]',
      'contracts 3 with 4',
      'expected equal sizes',
    ]);
    expectError(() => matmul(a, b, { transposeA: true }), 'matmul', ['[2, 3]ᵀ', 'contracts 2 with 4']);
    // Rank-1 and batched operands, with and without gradients recorded.
    const v = randn([3]);
    const c = randn([2, 3, 4]);
    const d = randn([3, 4, 5]);
    expectError(() => matmul(v, b), 'matmul', ['contracts 3 with 4']);
    expectError(() => matmul(c, d), 'matmul', ['[2]', '[3]', 'cannot be broadcast']);
    a.requireGrad();
    v.requireGrad();
    expectError(() => matmul(a, b), 'matmul', ['[2, 3]', '[4, 5]']);
    expectError(() => matmul(v, b), 'matmul', ['contracts 3 with 4']);
    dispose([a, b, v, c, d]);
  });

  it('concat of incompatible shapes', () => {
    const a = randn([2, 3]);
    const b = randn([2, 4]);
    expectError(() => concat([a, b], 0), 'concat', [
      'input 1',
      '[2, 4]',
      '[2, 3]',
      'axis 0',
      'all other axes must match',
    ]);
    const c = randn([2, 3, 1]);
    expectError(() => concat([a, c], 1), 'concat', ['[2, 3, 1]', '[2, 3]']);
    dispose([a, b, c]);
  });

  it('conv2d with a channel mismatch', () => {
    const x = randn([1, 5, 5, 3]);
    const w = randn([3, 3, 2, 4]);
    expectError(() => conv2d(x, w), 'conv2d', [
      '[3, 3, 2, 4]',
      '[1, 5, 5, 3]',
      '2 input channels',
      'expected Cin/groups = 3/1 = 3',
    ]);
    expectError(() => conv2d(x, w, { groups: 2 }), 'conv2d', ['groups=2', 'input channels 3']);
    const img = randn([5, 5, 3]);
    const w3 = randn([3, 3, 3, 4]);
    expectError(() => conv2d(img, w3), 'conv2d', ['NHWC', '[5, 5, 3]']);
    dispose([x, w, img, w3]);
  });
});

describe('normalization with default parameters', () => {
  it('layerNorm / rmsNorm / batchNorm of bad inputs free the parameters they filled in', () => {
    const xi = tensor(new Int32Array(6), [2, 3]);
    expectError(() => layerNorm(xi), 'layerNorm', ['expected f32', 'i32', '[2, 3]']);
    expectError(() => rmsNorm(xi), 'rmsNorm', ['expected f32', 'i32', '[2, 3]']);
    const x = randn([2, 3]).requireGrad();
    const m = randn([4]);
    const v = randn([3]);
    expectError(() => batchNorm(x, m, v), 'batchNorm', ['mean must have shape [3]', '[2, 3]', 'got [4]']);
    const gamma = randn([2]);
    expectError(() => layerNorm(x, gamma), 'layerNorm', ['gamma must have shape [3]', 'got [2]']);
    dispose([xi, x, m, v, gamma]);
  });
});

describe('dtype mismatches', () => {
  it('add of f32 and i32', () => {
    const a = tensor([1, 2]);
    const b = tensor(new Int32Array([1, 2]));
    expectError(() => add(a, b), 'add', ['dtype mismatch', '[2] f32', '[2] i32', 'expected equal dtypes']);
    dispose([a, b]);
  });

  it('matmul on i32', () => {
    const a = tensor(new Int32Array([1, 2, 3, 4]), [2, 2]);
    expectError(() => matmul(a, a), 'matmul', ['expected f32 operands', '[2, 2] i32']);
    dispose(a);
  });

  it('crossEntropyBackward with a bad upstream gradient, labels or smoothing', () => {
    const x = randn([4, 3]);
    const labels = tensor(new Int32Array([0, 2, 1, 1]));
    const g = randn([4]);
    const bad = randn([4, 1]);
    const run = (a: Tensor, l: Tensor, u: Tensor, labelSmoothing = 0) =>
      runOp(CrossEntropyBackward, [a, l, u], { labelSmoothing });
    expectError(() => run(x, labels, bad), 'crossEntropyBackward', [
      'upstream gradient',
      '[4]',
      '[4, 3]',
      '[4, 1]',
    ]);
    expectError(() => run(x, g, g), 'crossEntropyBackward', ['labels must be i32', 'f32']);
    expectError(() => run(x, labels, g, 1.5), 'crossEntropyBackward', ['labelSmoothing', '1.5']);
    dispose([x, labels, g, bad]);
  });

  it('gather with f32 indices', () => {
    const x = randn([3, 2]);
    const idx = tensor([0, 2]);
    expectError(() => gather(x, idx), 'gather', ['indices must be i32', 'f32', '[2]']);
    dispose([x, idx]);
  });
});

describe('tensor lifetime and placement', () => {
  it('use of a disposed tensor', () => {
    const a = tensor([1, 2]);
    const b = tensor([3, 4]);
    a.dispose();
    expectError(() => add(a, b), 'add', [`#${a.id}`, '[2]', 'was disposed']);
    expectError(() => a.dataSync(), 'tensor.dataSync', ['was disposed']);
    expectError(() => reshape(a, [2, 1]), 'reshape', ['was disposed']);
    expectError(() => matmul(b, a), 'matmul', ['was disposed']); // rank-1: reshaped inside
    const m = randn([2, 2]);
    expectError(() => matmul(m, a), 'matmul', ['was disposed']);
    b.requireGrad();
    expectError(() => matmul(b, a), 'matmul', ['was disposed']);
    dispose([b, m]);
  });

  it('tensors on two different backends (js and js64)', () => {
    const a = tensor([1, 2], [2], { backend: 'js' });
    const b = tensor([3, 4], [2], { backend: 'js64' });
    expectError(() => add(a, b), 'add', ["[2] on 'js'", "[2] on 'js64'", 'different backends', 'tensor.to']);
    // Moving it over fixes it.
    const c = tidy(() => add(a, b.to('js')).dataSync());
    expect(Array.from(c)).toEqual([4, 6]);
    dispose([a, b]);
  });
});

describe('an op the backend lacks', () => {
  afterAll(() => removeBackend('noconv'));
  it('names the op and the backend, and other ops still run there', () => {
    registerBackend(
      'noconv',
      () => {
        const b = new JsBackend({ name: 'noconv' });
        b.hasKernel = (name: string) => name !== 'conv2d' && JsBackend.prototype.hasKernel.call(b, name);
        return b;
      },
      { replace: true },
    );
    const x = randn([1, 4, 4, 1], { backend: 'noconv' });
    const w = randn([2, 2, 1, 1], { backend: 'noconv' });
    expect(getBackend('noconv').hasKernel('conv2d')).toBe(false);
    expectError(
      () => conv2d(x, w),
      'conv2d',
      ["backend 'noconv'", "op 'conv2d'", 'no kernel'],
      [...BACKENDS, 'noconv'],
    );
    expect(tidy(() => sum(mul(x, 2)).item())).toBeCloseTo(2 * tidy(() => sum(x).item()), 5);
    dispose([x, w]);
    expect(memory('noconv').tensors).toBe(0);
  });
});

describe('bad arguments', () => {
  it('bad axis', () => {
    const x = randn([2, 3]);
    expectError(() => sum(x, 2), 'sum', [
      'axis 2',
      'out of range',
      '[2, 3]',
      'expected an integer in [-2, 1]',
    ]);
    expectError(() => softmax(x, -3), 'softmax', ['axis -3', '[2, 3]']);
    expectError(() => concat([x, x], 2), 'concat', ['axis 2', '[2, 3]']);
    expectError(() => sum(x, [1, -1]), 'sum', ['axis 1 appears twice']);
    const idx = tensor(new Int32Array([0]));
    expectError(() => gather(x, idx, 5), 'gather', ['axis 5', '[2, 3]']);
    dispose([x, idx]);
  });

  it('bad reshape', () => {
    const x = randn([2, 3]);
    expectError(() => reshape(x, [4, 2]), 'reshape', [
      'cannot reshape [2, 3]',
      '6 elements',
      '[4, 2]',
      '8 elements',
    ]);
    expectError(() => reshape(x, [4, -1]), 'reshape', ['cannot reshape [2, 3]', '[4, -1]']);
    expectError(() => reshape(x, [-1, -1]), 'reshape', ['only one dimension can be -1']);
    expectError(() => reshape(x, [2, 1.5, 2]), 'reshape', ['[2, 1.5, 2]', 'non-negative integers']);
    dispose(x);
  });

  it('out-of-range gather index (the js kernel throws; outputs are freed)', () => {
    const x = randn([3, 2]);
    const idx = tensor(new Int32Array([0, 5]));
    expectError(() => gather(x, idx), 'gather', [
      "kernel failed on backend 'js'",
      '[3, 2] f32',
      '[2] i32',
      'index 5 is out of range [0, 3)',
    ]);
    const neg = tensor(new Int32Array([-1]));
    expectError(() => gather(x, neg), 'gather', ['index -1 is out of range']);
    // Recording for autograd and inside tidy: nothing is left on the tape or in memory either.
    x.requireGrad();
    expectError(() => tidy(() => sum(gather(relu(x), idx))), 'gather', ['index 5']);
    expectError(() => gather(x, idx), 'gather', ['index 5']);
    dispose([x, idx, neg]);
  });
});

describe('backward misuse', () => {
  it('backward on a non-scalar', () => {
    const x = randn([2, 3]).requireGrad();
    const y = mul(x, 2);
    expectError(() => y.backward(), 'backward', ['loss must be a scalar', '[2, 3]']);
    const g = tensor([1, 2]);
    expectError(() => backward(y, g), 'backward', ['[2]', 'does not match', '[2, 3]']);
    expect(x.grad).toBeNull();
    dispose([x, y, g]);
  });

  it('backward twice without retainGraph', () => {
    const x = tensor([1, 2, 3]).requireGrad();
    const loss = sum(mul(x, x));
    loss.backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([2, 4, 6]);
    expectError(() => loss.backward(), 'backward', [
      "op 'sum'",
      'already used by a backward pass',
      'retainGraph: true',
    ]);
    // The failed pass did not touch the gradient.
    expect(Array.from(x.grad!.dataSync())).toEqual([2, 4, 6]);
    dispose([loss, x]);
  });

  it('a second backward through a graph released by an earlier one (failing mid-sweep)', () => {
    const x = tensor([1, 2, 3]).requireGrad();
    const shared = mul(x, x);
    const l1 = sum(shared);
    const l2 = sum(mul(shared, 3));
    l1.backward();
    // l2's own nodes run first, then the sweep reaches the freed node of `shared`.
    expectError(() => l2.backward(), 'backward', ["op 'mul'", 'already used by a backward pass']);
    expect(Array.from(x.grad!.dataSync())).toEqual([2, 4, 6]);
    dispose([x, shared, l1, l2]);
  });

  it('with retainGraph the second backward works and accumulates', () => {
    const x = tensor([1, 2, 3]).requireGrad();
    const loss = sum(mul(x, x));
    loss.backward(undefined, { retainGraph: true });
    loss.backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([4, 8, 12]);
    dispose([loss, x]);
  });
});
