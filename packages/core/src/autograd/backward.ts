import { engine } from '../engine.js';
import { DescentError, fmtShape } from '../errors.js';
import { shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { addGrads } from './hooks.js';
import type { GradNode } from './node.js';

export interface BackwardOptions {
  /** Record the backward pass itself so the gradients can be differentiated again (double backward). */
  createGraph?: boolean;
  /** Keep the graph usable for another backward pass (defaults to `createGraph`). */
  retainGraph?: boolean;
}

/** Nodes reachable from `roots`, in topological order (inputs before outputs), stopping at `stops`. */
function topoNodes(roots: readonly Tensor[], stops: ReadonlySet<Tensor>): GradNode[] {
  const order: GradNode[] = [];
  const visited = new Set<GradNode>();
  const stack: { node: GradNode; next: number }[] = [];
  const push = (t: Tensor) => {
    if (!t.node || stops.has(t) || visited.has(t.node)) return;
    visited.add(t.node);
    stack.push({ node: t.node, next: 0 });
  };
  for (const r of roots) push(r);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.next < top.node.inputs.length) push(top.node.inputs[top.next++]);
    else {
      order.push(top.node);
      stack.pop();
    }
  }
  return order;
}

/**
 * Reverse-mode sweep. Returns the gradient of sum(roots[i] * rootGrads[i]) for every tensor that
 * requires grad and is a leaf (or is in `stops`). Intermediate gradients are disposed as soon as
 * they are consumed, so peak memory stays close to the forward pass's.
 */
export function runBackward(
  roots: readonly Tensor[],
  rootGrads: readonly Tensor[],
  stops: ReadonlySet<Tensor>,
  opts: BackwardOptions,
): Map<Tensor, Tensor> {
  const createGraph = opts.createGraph ?? false;
  const retainGraph = opts.retainGraph ?? createGraph;
  const nodes = topoNodes(roots, stops);
  const grads = new Map<Tensor, Tensor>();
  // How many entries of `grads` hold each gradient tensor; a backward rule may hand its incoming
  // gradient straight through (add, reshape), so one tensor can be several tensors' gradient.
  const holds = new Map<Tensor, number>();
  const external = new Set<Tensor>(rootGrads);
  const hold = (g: Tensor) => holds.set(g, (holds.get(g) ?? 0) + 1);
  const drop = (g: Tensor) => {
    const n = (holds.get(g) ?? 0) - 1;
    if (n > 0) holds.set(g, n);
    else {
      holds.delete(g);
      // With createGraph the gradients are nodes of the new graph: the enclosing scope frees them.
      if (!external.has(g) && !createGraph) g.dispose();
    }
  };
  const accumulate = (t: Tensor, g: Tensor) => {
    const prev = grads.get(t);
    if (!prev) {
      grads.set(t, g);
      hold(g);
      return;
    }
    const sum = addGrads(prev, g);
    grads.set(t, sum);
    hold(sum);
    drop(prev);
  };

  const prevEnabled = engine.gradEnabled;
  engine.gradEnabled = createGraph;
  try {
    for (let i = 0; i < roots.length; i++) accumulate(roots[i], rootGrads[i]);
    for (let k = nodes.length - 1; k >= 0; k--) {
      const node = nodes[k];
      const outGrads = node.outputs.map((o) => grads.get(o) ?? null);
      if (outGrads.every((g) => g === null)) continue;
      if (node.released) {
        throw new DescentError(
          'backward',
          `the graph through op '${node.op.name}' was already used by a backward pass and freed; pass { retainGraph: true } to the first backward() to go through it twice`,
        );
      }
      for (const t of [...node.inputs, ...node.outputs]) t.assertAlive(`backward of ${node.op.name}`);
      const ctx = {
        inputs: node.inputs,
        outputs: node.outputs,
        attrs: node.attrs,
        grads: outGrads,
        needsGrad: node.inputs.map((t) => t.requiresGrad),
      };
      // Without a graph to build, a rule's temporaries are freed as soon as it returns.
      const inGrads = createGraph ? node.op.backward!(ctx) : engine.tidy(() => node.op.backward!(ctx));
      node.inputs.forEach((input, i) => {
        const g = inGrads[i];
        if (!g) return;
        if (!input.requiresGrad) {
          if (!holds.has(g) && !external.has(g) && !createGraph) g.dispose();
          return;
        }
        if (!shapesEqual(g.shape, input.shape)) {
          throw new DescentError(
            'backward',
            `the backward rule of '${node.op.name}' produced a gradient of shape ${fmtShape(g.shape)} for input ${i} of shape ${fmtShape(input.shape)}`,
          );
        }
        accumulate(input, g);
      });
      // This node's outputs are done: their gradients are no longer needed unless they are results.
      for (const o of node.outputs) {
        const g = grads.get(o);
        if (g && !stops.has(o)) {
          grads.delete(o);
          drop(g);
        }
      }
    }
    if (!retainGraph) for (const n of nodes) n.released = true;
  } catch (e) {
    // Free the gradients computed so far (with createGraph they belong to the enclosing scope).
    if (!createGraph) for (const g of holds.keys()) if (!external.has(g)) g.dispose();
    throw e;
  } finally {
    engine.gradEnabled = prevEnabled;
  }
  const result = new Map<Tensor, Tensor>();
  for (const [t, g] of grads) {
    if (stops.has(t) || (!t.node && t.requiresGrad)) result.set(t, g);
    else drop(g);
  }
  return result;
}
