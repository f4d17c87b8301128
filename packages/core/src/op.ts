import type { GradNode } from './autograd/node.js';
import type { DType } from './dtype.js';
import { engine } from './engine.js';
import { DescentError, fmtShape } from './errors.js';
import { missingKernelError } from './kernel-table.js';
import type { Tensor } from './tensor.js';

export interface OutputSpec {
  shape: readonly number[];
  dtype: DType;
}

/** What a backward rule is given. `grads[i]` is null when output i got no gradient. */
export interface GradContext<A> {
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly attrs: A;
  readonly grads: readonly (Tensor | null)[];
  /**
   * Per input: whether its gradient is used (it requires grad). A rule may return null for an input
   * that does not need one and skip computing it — e.g. the image fed to a first convolution.
   */
  readonly needsGrad: readonly boolean[];
}

/**
 * An op, defined once: its name (the kernel name every backend implements), shape/dtype inference
 * with validation, the canonical attrs handed to kernels, and the backward rule written with other
 * ops (so gradients run on every backend and can themselves be differentiated).
 */
export interface OpDef<A = any> {
  readonly name: string;
  /** Validates inputs/attrs (throwing errors that name the op, shapes and dtypes) and infers outputs. */
  infer(inputs: readonly Tensor[], attrs: A): OutputSpec[];
  /** The attrs the kernel receives; defaults to `attrs`. */
  kernelAttrs?(inputs: readonly Tensor[], attrs: A, outputs: readonly OutputSpec[]): unknown;
  /**
   * Gradients for each input (null = no gradient), computed with ops. Absent for ops that are not
   * differentiable (comparisons, argmax, casts to i32).
   */
  backward?(ctx: GradContext<A>): (Tensor | null)[];
  /** Indices of inputs that can receive gradients (default: every f32 input). */
  readonly differentiableInputs?: readonly number[];
  /**
   * In-place ops (optimizer updates): for each output, the index of the input whose storage it is
   * written into. Such an output is a view of that input (no allocation), and the kernel receives
   * the same storage handle as input and as output.
   */
  inPlace?(inputs: readonly Tensor[], attrs: A): readonly number[];
  /**
   * True when the op's kernels take f16 tensors (computing in f32, rounding stored results to f16).
   * Every other op given, or asked to make, an f16 tensor throws (see `f16Ops()`).
   */
  readonly f16?: boolean;
}

const registry = new Map<string, OpDef>();

/** Declares an op. Registering a name twice is an error (ops are defined once). */
export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  if (registry.has(def.name)) throw new DescentError('defineOp', `op '${def.name}' is defined twice`);
  registry.set(def.name, def as OpDef);
  return def;
}

/** The names of the ops that take f16 tensors (`OpDef.f16`): what a backend storing f16 implements for it. */
export function f16Ops(): string[] {
  return [...registry.values()].filter((d) => d.f16).map((d) => d.name);
}

/** Every op with a kernel, by name. */
export function opRegistry(): ReadonlyMap<string, OpDef> {
  return registry;
}

/** Throws unless every input is alive and all inputs live on one backend. */
export function checkInputs(op: string, inputs: readonly Tensor[]): void {
  for (const t of inputs) t.assertAlive(op);
  for (let i = 1; i < inputs.length; i++) {
    if (inputs[i].storage.backend !== inputs[0].storage.backend) {
      const list = inputs.map((t) => `${fmtShape(t.shape)} on '${t.backend}'`).join(', ');
      throw new DescentError(
        op,
        `inputs live on different backends (${list}); move them with tensor.to(name) first`,
      );
    }
  }
}

/** Applies an op: validate, allocate outputs, run the backend's kernel, record on the tape. */
export function runOp<A>(def: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor[] {
  checkInputs(def.name, inputs);
  const backend = inputs.length > 0 ? inputs[0].storage.backend : engine.backend();
  const specs = def.infer(inputs, attrs);
  checkF16(def, inputs, specs);
  if (!backend.hasKernel(def.name)) {
    throw missingKernelError(def.name, backend.name);
  }
  const kernelAttrs = def.kernelAttrs ? def.kernelAttrs(inputs, attrs, specs) : attrs;
  const outputs: Tensor[] = [];
  const aliases = def.inPlace?.(inputs, attrs);
  try {
    specs.forEach((s, i) => {
      const alias = aliases?.[i];
      outputs.push(
        alias !== undefined && alias >= 0
          ? engine.makeView(inputs[alias], s.shape)
          : engine.makeTensor(backend, s.shape, s.dtype, undefined, def.name),
      );
    });
    engine.runKernel(backend, def.name, inputs, outputs, kernelAttrs);
  } catch (e) {
    for (const o of outputs) o.dispose();
    throw e;
  }
  record(def, inputs, outputs, attrs);
  return outputs;
}

/**
 * f16 runs only through ops declaring it, and outside autograd: an f16 tensor never requires grad,
 * so an op turning a grad-requiring f32 tensor into f16 (a cast) would silently cut the graph — an
 * error instead, unless under `noGrad`.
 */
function checkF16<A>(def: OpDef<A>, inputs: readonly Tensor[], specs: readonly OutputSpec[]): void {
  const f16 = [...inputs, ...specs].some((t) => t.dtype === 'f16');
  if (!f16) return;
  if (!def.f16) {
    const desc = inputs.map((t) => `${fmtShape(t.shape)} ${t.dtype}`).join(', ');
    throw new DescentError(
      def.name,
      `op '${def.name}' does not take f16 tensors (inputs: ${desc || 'none'}); the f16 ops are ` +
        `${f16Ops().join(', ')} — cast to f32 first`,
    );
  }
  if (engine.gradEnabled && inputs.some((t) => t.requiresGrad)) {
    throw new DescentError(
      def.name,
      'f16 tensors are outside autograd: this would make an f16 result from a tensor that requires ' +
        'grad and cut the gradient; compute in f32, or run it under noGrad()',
    );
  }
}

/** Records a node when grad is enabled and some differentiable input requires grad. */
export function record<A>(
  def: OpDef<A>,
  inputs: readonly Tensor[],
  outputs: readonly Tensor[],
  attrs: A,
): void {
  if (!engine.gradEnabled || !def.backward) return;
  const diff = def.differentiableInputs ?? inputs.map((_, i) => i);
  if (!diff.some((i) => inputs[i]?.requiresGrad)) return;
  const node: GradNode = { op: def as OpDef, inputs, outputs, attrs, released: false };
  outputs.forEach((o, i) => {
    if (o.dtype !== 'f32') return;
    o.requiresGrad = true;
    o.node = node;
    o.outputIndex = i;
  });
}
