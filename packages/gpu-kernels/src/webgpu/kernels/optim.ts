/**
 * Fused optimizer updates (docs/kernels.md, "Optimizer updates"): one generator for every update
 * op. Each op's rule (declared once in core, `fusedUpdates()`) is evaluated on WGSL expressions,
 * giving one `let` per operation; the shader reads every input element once and writes the param
 * and state once, in place. Updated buffers are bound read_write (they are both input and output of
 * the op: core passes the same storage), the rest read-only. Scalars are f32 uniforms, so one
 * pipeline per variant (its flags) serves every hyperparameter value and every size.
 */
import { fusedUpdates, type TensorInfo, type UpdateAlgebra, type UpdateInput } from '@descent/core';
import type { GPUKernel } from '../kernel.js';
import { alignedPieces, needsSplit } from '../split.js';
import { grid1d, header, linearMain, Params } from '../wgsl.js';

/** WGSL index of element i of the parameter in an input of the given layout (cols in word 1). */
const INDEX: Record<UpdateInput['layout'], string> = {
  elem: 'i',
  row: 'i / pu(1u)',
  col: 'i % pu(1u)',
  scalar: '0u',
};

/** The rule's statements: one `let` per operation, reads first, stores last. */
function shaderBody(name: string, attrs: any): string {
  const u = fusedUpdates().get(name)!;
  const lines: string[] = [];
  let n = 0;
  const let_ = (e: string) => {
    const v = `t${n++}`;
    lines.push(`  let ${v} = ${e};`);
    return v;
  };
  const M: UpdateAlgebra<string> = {
    add: (a, b) => let_(`${a} + ${b}`),
    sub: (a, b) => let_(`${a} - ${b}`),
    mul: (a, b) => let_(`${a} * ${b}`),
    div: (a, b) => let_(`${a} / ${b}`),
    neg: (a) => let_(`-${a}`),
    sqrt: (a) => let_(`sqrt(${a})`),
    abs: (a) => let_(`abs(${a})`),
    sign: (a) => let_(`sign(${a})`),
    max: (a, b) => let_(`max(${a}, ${b})`),
  };
  const x: Record<string, string> = {};
  for (const s of u.inputs(attrs)) x[s.name] = let_(`${s.name}[${INDEX[s.layout]}]`);
  const s: Record<string, string> = {};
  u.scalars.forEach((k, j) => {
    s[k] = `pf(${2 + j}u)`;
  });
  const y = u.rule(M, x, s, attrs);
  for (const out of u.updated(attrs)) lines.push(`  ${out}[i] = ${y[out]};`);
  return lines.join('\n');
}

/** Updates whose inputs are all per-element or one scalar: they split into element ranges. */
const splittable = (name: string) =>
  fusedUpdates()
    .get(name)!
    .inputs({})
    .every((s) => s.layout === 'elem' || s.layout === 'scalar');

function updateKernel(name: string): GPUKernel {
  const u = fusedUpdates().get(name)!;
  return (ctx, inputs, outputs, attrs) => {
    const spec = u.inputs(attrs);
    const updated = u.updated(attrs);
    const readOnly: { decl: { name: string; elem: 'f32' }; t: TensorInfo; layout: UpdateInput['layout'] }[] =
      [];
    spec.forEach((s, k) => {
      if (!updated.includes(s.name))
        readOnly.push({ decl: { name: s.name, elem: 'f32' }, t: inputs[k], layout: s.layout });
    });
    const body = shaderBody(name, attrs);
    const key = `update/${name}/${body}`;
    const n = outputs[0].size;
    // Larger than one storage binding (a whole model's flat buffer can be): one dispatch per
    // aligned element range, every per-element binding windowed to that range.
    const split = splittable(name) && needsSplit(ctx.split, ...inputs);
    for (const { s, e } of split ? alignedPieces(n, ctx.split) : [{ s: 0, e: n }]) {
      const params = new Params().u32(e - s, attrs.cols ?? 1);
      for (const k of u.scalars) params.f32(attrs[k]);
      const range = { offset: s, size: e - s };
      ctx.dispatch({
        key,
        wgsl: () =>
          [
            header(
              readOnly.map((r) => r.decl),
              updated.map((n) => ({ name: n, elem: 'f32' as const })),
              params.length,
            ),
            linearMain('pu(0u)', body),
          ].join('\n'),
        inputs: readOnly.map((r) => r.t),
        outputs,
        params,
        workgroups: grid1d(e - s),
        windows: split
          ? [...readOnly.map((r) => (r.layout === 'scalar' ? null : range)), ...outputs.map(() => range)]
          : undefined,
      });
    }
  };
}

export const optimKernels: Record<string, GPUKernel> = Object.fromEntries(
  [...fusedUpdates().keys()].map((name) => [name, updateKernel(name)]),
);

/** The update ops that run over tensors larger than one storage binding. */
export const optimSplitting: readonly string[] = [...fusedUpdates().keys()].filter(splittable);
