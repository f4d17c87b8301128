import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TensorInfo } from '../src/backend.js';
import type { Store } from '../src/backends/js/types.js';
import { caseInputs, cotangentFor, referenceGrads, upload } from '../src/conformance/check.js';
import {
  allCases,
  type Case,
  checkCaseBackward,
  checkCaseForward,
  findMismatches,
  U,
} from '../src/conformance/checks.js';
import { engine, grad, JsBackend, mul, removeBackend, sum, tensor } from '../src/index.js';
import type { Tensor } from '../src/tensor.js';

/**
 * The checker against deliberately wrong kernels: a gradient off by more than its bound must be
 * reported, and the chained-gradient bound (Case.gradChain) must be what lets a correct f32 kernel
 * chain pass where the single-kernel rule cannot.
 */
const BIAS = 2 ** -12;

/** The f32 reference, except that softmax's output is scaled by 1 + BIAS (a normalization bug). */
class BiasedSoftmax extends JsBackend {
  override runKernel(
    name: string,
    inputs: readonly TensorInfo[],
    outputs: readonly TensorInfo[],
    attrs: unknown,
  ) {
    super.runKernel(name, inputs, outputs, attrs);
    if (name !== 'softmax') return;
    const a = (outputs[0].data as Store).array;
    for (let i = 0; i < a.length; i++) a[i] = Math.fround(a[i] * (1 + BIAS));
  }
}

const cebCases = () => allCases().filter((c) => c.op === 'crossEntropyBackward');
const classesOf = (c: Case) => c.inputs[0].shape[c.inputs[0].shape.length - 1];

describe('conformance checker: chained gradients', () => {
  beforeAll(async () => {
    engine.registerBackend('biased-softmax', () => new BiasedSoftmax({ name: 'biased-softmax' }), {
      replace: true,
    });
    await engine.initBackend('biased-softmax');
    await engine.initBackend('js64');
  });
  afterAll(() => removeBackend('biased-softmax'));

  it('compares the logits gradient, and reports it when off by more than the chain bound', async () => {
    const cases = cebCases();
    expect(cases.every((c) => c.grad?.includes(0) && c.gradChain?.[0])).toBe(true);
    let asserted = 0;
    for (const c of cases) {
      // The forward runs the fused kernel only (correct here); the gradient runs the biased softmax.
      expect(await checkCaseForward(c, 'biased-softmax')).toEqual([]);
      const failures = (await checkCaseBackward(c, 'biased-softmax')).join('\n');
      // BIAS is above the chain's relative bound (20C + 56)·u for C ≤ 65 (8.1e-5 at C = 65); at
      // C = 1025 the bound, 1.2e-3, is wider than BIAS and nothing is asserted.
      if (classesOf(c) <= 65) {
        expect(c.gradChain![0].k * U).toBeLessThan(BIAS);
        expect(failures, c.name).toContain(`${c.name} d/dinput0:`);
        asserted++;
      }
    }
    expect(asserted).toBe(5);
    expect(engine.memory('biased-softmax').tensors).toBe(0);
  });

  it.each(['crossEntropyBackward', 'softmax'])(
    '%s needs the chain bound: the single-kernel rule rejects the correct f32 chain on confident rows',
    (op) => {
      const c = allCases().find((q) => q.op === op && q.name.includes('confident rows'))!;
      expect(classesOf(c)).toBe(2);
      const hosts = caseInputs(c);
      const outShape = c.inputs[0].shape;
      const cot = cotangentFor(c, outShape[0] * outShape[1]);
      const got = engine.tidy(() => {
        const xs = upload(c, hosts, 'js');
        const G = tensor(cot, outShape, { backend: 'js' });
        return (grad((...ts) => sum(mul(c.fn(...ts), G)), [0])(...xs) as Tensor[])[0].dataSync();
      });
      const chain = referenceGrads(c, hosts, cot, outShape);
      const single = referenceGrads({ ...c, gradChain: undefined }, hosts, cot, outShape);
      expect(findMismatches(got, chain.want[0], chain.tol[0])).toEqual([]);
      expect(findMismatches(got, single.want[0], single.tol[0]).length).toBeGreaterThan(0);
    },
  );
});
