import { engine } from '../engine.js';
import { DescentError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { type BackwardOptions, runBackward } from './backward.js';
import { addGrads, identityView, onesLikeGrad, zerosLikeGrad } from './hooks.js';

/**
 * PyTorch-style backward: fills `.grad` of every leaf that requires grad (accumulating into an
 * existing `.grad`). `loss` must be a scalar unless `grad` (dL/dloss) is given. Leaf gradients
 * survive enclosing `tidy` scopes; everything else the pass makes is disposed or left to the scope.
 */
export function backward(loss: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  loss.assertAlive('backward');
  if (!grad && loss.size !== 1) {
    throw new DescentError(
      'backward',
      `loss must be a scalar (one element) when no gradient is given, got shape ${fmtShape(loss.shape)}`,
    );
  }
  if (grad && grad.size !== loss.size) {
    throw new DescentError(
      'backward',
      `gradient of shape ${fmtShape(grad.shape)} does not match loss of shape ${fmtShape(loss.shape)}`,
    );
  }
  if (!loss.requiresGrad) {
    throw new DescentError(
      'backward',
      `loss ${fmtShape(loss.shape)} does not require grad: no input of the computation has requiresGrad set (or it ran inside noGrad)`,
    );
  }
  const seed = grad ?? engine.tidy(() => onesLikeGrad(loss));
  let grads: Map<Tensor, Tensor>;
  try {
    grads = runBackward([loss], [seed], new Set(), opts);
  } finally {
    // With createGraph the seed is an input of the recorded graph (a second backward needs it alive):
    // the enclosing scope frees it, as for every other tensor of that graph.
    if (!grad && !opts.createGraph) seed.dispose();
  }
  const prevEnabled = engine.gradEnabled;
  engine.gradEnabled = opts.createGraph ?? false;
  try {
    for (const [leaf, g] of grads) {
      if (leaf.grad) {
        const sum = addGrads(leaf.grad, g);
        leaf.grad.dispose();
        g.dispose();
        leaf.grad = engine.keep(sum);
      } else {
        leaf.grad = engine.keep(g);
      }
    }
  } finally {
    engine.gradEnabled = prevEnabled;
  }
}

/** Runs `fn` without recording anything for autograd. */
export function noGrad<T>(fn: () => T): T {
  const prev = engine.gradEnabled;
  engine.gradEnabled = false;
  try {
    return fn();
  } finally {
    engine.gradEnabled = prev;
  }
}

/** Whether ops are currently being recorded for autograd. */
export function isGradEnabled(): boolean {
  return engine.gradEnabled;
}

/** A new tensor sharing `t`'s storage, cut from the graph. */
export function detach(t: Tensor): Tensor {
  t.assertAlive('detach');
  return engine.makeView(t, t.shape);
}

type Fn = (...args: Tensor[]) => Tensor;

function gradImpl(f: Fn, argnums: readonly number[], args: Tensor[]): { value: Tensor; grads: Tensor[] } {
  for (const i of argnums) {
    if (!Number.isInteger(i) || i < 0 || i >= args.length) {
      throw new DescentError(
        'grad',
        `argnum ${i} is out of range for a call with ${args.length} argument(s)`,
      );
    }
    if (args[i].dtype !== 'f32') {
      throw new DescentError(
        'grad',
        `argument ${i} has dtype ${args[i].dtype}; gradients exist only for f32 arguments`,
      );
    }
  }
  // Inside an enclosing grad() the inner gradients must themselves be differentiable.
  const nested = engine.gradDepth > 0 && engine.gradEnabled;
  const prevEnabled = engine.gradEnabled;
  engine.gradDepth++;
  engine.gradEnabled = true;
  try {
    const watched = argnums.map((i) => {
      const a = args[i];
      if (nested && a.requiresGrad) return identityView(a);
      const w = engine.makeView(a, a.shape);
      w.requiresGrad = true;
      return w;
    });
    const callArgs = args.slice();
    argnums.forEach((i, k) => {
      callArgs[i] = watched[k];
    });
    const value = f(...callArgs);
    if (value?.size !== 1 || value.dtype !== 'f32') {
      throw new DescentError(
        'grad',
        `the function must return a scalar f32 tensor, got ${value ? `${fmtShape(value.shape)} ${value.dtype}` : String(value)}`,
      );
    }
    let gmap = new Map<Tensor, Tensor>();
    if (value.requiresGrad) {
      const seed = onesLikeGrad(value);
      gmap = runBackward([value], [seed], new Set(watched), { createGraph: nested });
      if (!nested) seed.dispose();
    }
    // A rule may hand one tensor to several inputs (add); give each caller its own handle.
    const seen = new Set<Tensor>();
    const grads = watched.map((w) => {
      const g = gmap.get(w) ?? zerosLikeGrad(w);
      if (seen.has(g)) return engine.makeView(g, g.shape);
      seen.add(g);
      return g;
    });
    if (!nested) for (const w of watched) w.dispose();
    return { value, grads };
  } finally {
    engine.gradDepth--;
    engine.gradEnabled = prevEnabled;
  }
}

/**
 * JAX-style gradient: `grad(f)(x)` is df/dx for a scalar-valued `f`. With `argnums` an array,
 * returns one gradient per listed argument. Nest it for higher derivatives: `grad(x => sum(mul(grad(f)(x), v)))`
 * is a Hessian-vector product.
 */
export function grad(f: Fn, argnums?: number): (...args: Tensor[]) => Tensor;
export function grad(f: Fn, argnums: readonly number[]): (...args: Tensor[]) => Tensor[];
export function grad(f: Fn, argnums: number | readonly number[] = 0) {
  return (...args: Tensor[]) => {
    const nums = typeof argnums === 'number' ? [argnums] : argnums;
    const { value, grads } = gradImpl(f, nums, args);
    if (engine.gradDepth === 0) value.dispose();
    return typeof argnums === 'number' ? grads[0] : grads;
  };
}

/** Like `grad`, also returning the value: `const [loss, g] = valueAndGrad(f)(x)`. */
export function valueAndGrad(f: Fn, argnums?: number): (...args: Tensor[]) => [Tensor, Tensor];
export function valueAndGrad(f: Fn, argnums: readonly number[]): (...args: Tensor[]) => [Tensor, Tensor[]];
export function valueAndGrad(f: Fn, argnums: number | readonly number[] = 0) {
  return (...args: Tensor[]) => {
    const nums = typeof argnums === 'number' ? [argnums] : argnums;
    const { value, grads } = gradImpl(f, nums, args);
    return [value, typeof argnums === 'number' ? grads[0] : grads];
  };
}
