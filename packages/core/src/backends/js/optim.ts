import { fusedUpdates, type UpdateAlgebra } from '../../ops/optim.js';
import type { JsKernel } from './types.js';

/** Plain float64 arithmetic (the f32 backend rounds once, when storing each result). */
const NUMBERS: UpdateAlgebra<number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  neg: (a) => -a,
  sqrt: Math.sqrt,
  abs: Math.abs,
  sign: Math.sign,
  max: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.max(a, b)),
};

/**
 * The reference kernel of every fused optimizer update: the op's rule evaluated on numbers, element
 * by element. Outputs alias the updated inputs (in place); each element is read before it is written.
 */
function updateKernel(name: string): JsKernel {
  const u = fusedUpdates().get(name)!;
  return (inputs, outputs, attrs) => {
    const spec = u.inputs(attrs);
    const updated = u.updated(attrs);
    const cols: number = attrs.cols ?? 1;
    const s: Record<string, number> = {};
    for (const k of u.scalars) s[k] = attrs[k];
    const n = outputs[0].array.length;
    const x: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      spec.forEach((inp, k) => {
        const j =
          inp.layout === 'elem'
            ? i
            : inp.layout === 'row'
              ? Math.floor(i / cols)
              : inp.layout === 'col'
                ? i % cols
                : 0;
        x[inp.name] = inputs[k].array[j];
      });
      const y = u.rule(NUMBERS, x, s, attrs);
      updated.forEach((name, k) => {
        outputs[k].array[i] = y[name];
      });
    }
  };
}

export const optimKernels: Record<string, JsKernel> = Object.fromEntries(
  [...fusedUpdates().keys()].map((name) => [name, updateKernel(name)]),
);
