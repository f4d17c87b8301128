/**
 * User-defined autograd functions: a forward computed however the caller likes (recorded as ONE node
 * on the tape) with a backward rule the caller supplies. Gradient checkpointing is built on it: the
 * forward keeps only its outputs, and the backward recomputes the block's activations.
 */
import { engine } from '../engine.js';
import { DescentError, fmtShape } from '../errors.js';
import { type GradContext, type OpDef, record } from '../op.js';
import { randomState } from '../random.js';
import type { Tensor } from '../tensor.js';
import { runBackward } from './backward.js';
import { identityView, zerosLikeGrad } from './hooks.js';

export interface CustomFunction {
  /** Shown in error messages and on the tape. */
  name: string;
  /** Computes the outputs from the inputs; runs without recording (its intermediates are freed). */
  forward(inputs: readonly Tensor[]): Tensor[];
  /**
   * Gradients for each input from the outputs' gradients (null where an output got none). Runs with
   * recording on only when the surrounding backward builds a graph (`createGraph`).
   */
  backward(ctx: GradContext<undefined>): (Tensor | null)[];
}

/**
 * Applies a custom function: runs `forward` without recording, then records one tape node whose
 * backward is `fn.backward`. Gradients reach every input that requires grad — pass parameters a
 * forward closes over as inputs too, so their gradients are accumulated like any other's.
 */
export function customFunction(fn: CustomFunction, inputs: readonly Tensor[]): Tensor[] {
  for (const t of inputs) t.assertAlive(fn.name);
  const prev = engine.gradEnabled;
  engine.gradEnabled = false;
  let outputs: Tensor[];
  try {
    outputs = engine.tidy(() => {
      const out = fn.forward(inputs);
      if (!Array.isArray(out) || out.length === 0 || out.some((o) => !o || !('storage' in o))) {
        throw new DescentError(fn.name, 'forward must return a non-empty array of tensors');
      }
      return out;
    });
  } finally {
    engine.gradEnabled = prev;
  }
  // Each application gets its own (unregistered) op definition: only its backward rule is used.
  const def: OpDef<undefined> = {
    name: fn.name,
    infer: () => {
      throw new DescentError(fn.name, 'a custom function is applied with customFunction, not runOp');
    },
    backward: (ctx) => fn.backward(ctx),
  };
  // An output that is an input (or a view of one made by forward) must not become a non-leaf alias.
  for (const o of outputs) {
    if (inputs.includes(o))
      throw new DescentError(fn.name, `forward returned its input ${fmtShape(o.shape)} unchanged`);
  }
  record(def, inputs, outputs, undefined);
  return outputs;
}

/**
 * Gradient checkpointing: `checkpoint(f, inputs, params)` returns f(...inputs) but keeps none of f's
 * intermediate activations; the backward pass runs f again (with the random generator rewound, so
 * dropout draws the same masks) and back-propagates through that recomputation. Peak memory falls
 * from "every activation of f" to "f's inputs and outputs", for one extra forward of f.
 *
 * `params` lists the trainable tensors f closes over; they receive gradients through this node.
 */
export function checkpoint(
  f: (...inputs: Tensor[]) => Tensor | Tensor[],
  inputs: readonly Tensor[],
  params: readonly Tensor[] = [],
): Tensor[] {
  const n = inputs.length;
  const rng = { seed: randomState.seed, stream: randomState.stream };
  const asList = (r: Tensor | Tensor[]) => (Array.isArray(r) ? r : [r]);
  return customFunction(
    {
      name: 'checkpoint',
      forward: (all) => asList(f(...all.slice(0, n))).map((o) => (all.includes(o) ? identityView(o) : o)),
      backward: ({ inputs: all, grads }) => {
        // With createGraph the surrounding sweep has recording on: the recomputation must then be
        // connected to the real inputs (identity views), so the gradients can be differentiated again.
        const createGraph = engine.gradEnabled;
        const watched = all.slice(0, n).map((x) => {
          if (!x.requiresGrad) return x;
          if (createGraph) return identityView(x);
          const v = engine.makeView(x, x.shape);
          v.requiresGrad = true;
          return v;
        });
        const saved = { seed: randomState.seed, stream: randomState.stream };
        randomState.seed = rng.seed;
        randomState.stream = rng.stream;
        const prev = engine.gradEnabled;
        engine.gradEnabled = true;
        let outs: Tensor[];
        try {
          outs = asList(f(...watched));
        } finally {
          engine.gradEnabled = prev;
          randomState.seed = saved.seed;
          randomState.stream = saved.stream;
        }
        const roots: Tensor[] = [];
        const rootGrads: Tensor[] = [];
        outs.forEach((o, i) => {
          if (o.requiresGrad) {
            roots.push(o);
            rootGrads.push(grads[i] ?? zerosLikeGrad(o));
          }
        });
        const stops = new Set<Tensor>([...watched.filter((w) => w.requiresGrad), ...params]);
        const found = roots.length > 0 ? runBackward(roots, rootGrads, stops, { createGraph }) : new Map();
        for (const t of found.keys()) {
          if (!stops.has(t)) {
            throw new DescentError(
              'checkpoint',
              `the checkpointed function uses a tensor ${fmtShape(t.shape)} that requires grad but is not among its inputs or params; list it in params so it receives its gradient`,
            );
          }
        }
        return [
          ...watched.map((w) => (w.requiresGrad ? (found.get(w) ?? null) : null)),
          ...params.map((p) => found.get(p) ?? null),
        ];
      },
    },
    [...inputs, ...params],
  );
}
