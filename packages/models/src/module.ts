import { assign, DescentError, noGrad, type Tensor } from '@descent/core';

/**
 * How a weight is laid out, for PyTorch interop: descent stores a Linear weight [in, out] (so the
 * forward is x·W) and a Conv2d filter [kh, kw, in, out] (NHWC); PyTorch stores [out, in] and
 * [out, in, kh, kw]. 'plain' tensors have the same layout in both.
 */
export type Layout = 'plain' | 'linear' | 'conv2d';

interface Entry {
  /** Property of the module that holds the tensor (read on every access, so `to()` can swap it). */
  key: string;
  /** Name in state dicts (PyTorch's: `weight`, `bias`, `running_mean`, ...). */
  name: string;
  layout: Layout;
}

/** A tensor of a state dict with its layout (needed to convert to and from PyTorch's layouts). */
export interface NamedTensor {
  name: string;
  tensor: Tensor;
  layout: Layout;
  /** False for buffers (running statistics): saved and loaded, but not trained. */
  trainable: boolean;
}

/**
 * Base of every layer and model. Subclasses register their parameters (trainable) and buffers
 * (running statistics) and assign child modules to fields; the base walks fields in declaration
 * order to name everything the way PyTorch's `state_dict` does (`blocks.0.attn.q.weight`).
 */
export abstract class Module {
  /** Training mode (dropout active, batch norm uses batch statistics). */
  training = true;
  private readonly _params: Entry[] = [];
  private readonly _buffers: Entry[] = [];

  abstract forward(...inputs: Tensor[]): Tensor;

  /** Registers a trainable tensor held in field `key` (marks it requiresGrad) and returns it. */
  protected param(key: string, t: Tensor, opts: { name?: string; layout?: Layout } = {}): Tensor {
    this._params.push({ key, name: opts.name ?? key, layout: opts.layout ?? 'plain' });
    return t.requireGrad();
  }

  /** Registers a non-trainable tensor (running statistics) that is part of the state dict. */
  protected buffer(key: string, t: Tensor, opts: { name?: string } = {}): Tensor {
    this._buffers.push({ key, name: opts.name ?? key, layout: 'plain' });
    return t;
  }

  /** Child modules by field name (arrays of modules are named by index, like nn.ModuleList). */
  children(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([k, v]);
      else if (Array.isArray(v) && v.length > 0 && v.every((m) => m instanceof Module))
        v.forEach((m: Module, i) => {
          out.push([`${k}.${i}`, m]);
        });
    }
    return out;
  }

  /** Every parameter and buffer, named, depth first in declaration order. */
  namedTensors(prefix = ''): NamedTensor[] {
    const self = this as unknown as Record<string, Tensor>;
    const own = (entries: Entry[], trainable: boolean) =>
      entries.map((e) => ({ name: prefix + e.name, tensor: self[e.key], layout: e.layout, trainable }));
    return [
      ...own(this._params, true),
      ...own(this._buffers, false),
      ...this.children().flatMap(([k, m]) => m.namedTensors(`${prefix}${k}.`)),
    ];
  }

  namedParameters(): [string, Tensor][] {
    return this.namedTensors()
      .filter((e) => e.trainable)
      .map((e) => [e.name, e.tensor]);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  /** Sets training mode on this module and every child. */
  train(on = true): this {
    this.training = on;
    for (const [, m] of this.children()) m.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Moves every parameter and buffer to another backend (synchronously: the source backend must
   * read synchronously). The module's fields point at the new tensors; the old ones are disposed,
   * so build optimizers after `to()`.
   */
  to(backend: string): this {
    const self = this as unknown as Record<string, Tensor>;
    for (const e of [...this._params, ...this._buffers]) {
      const old = self[e.key];
      if (old.backend === backend) continue;
      const moved = old.to(backend).keep();
      if (old.requiresGrad) moved.requireGrad();
      self[e.key] = moved;
      old.dispose();
    }
    for (const [, m] of this.children()) m.to(backend);
    return this;
  }

  /** Parameters and buffers by state-dict name (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedTensors().map((e) => [e.name, e.tensor]));
  }

  /**
   * Copies values into the module's tensors in place (optimizers holding them stay valid). Every
   * name, shape and dtype is checked first: a mismatch throws before anything is written. With
   * `strict` (default) missing and unexpected names are errors too.
   */
  loadStateDict(values: ReadonlyMap<string, Tensor>, opts: { strict?: boolean } = {}): void {
    const strict = opts.strict ?? true;
    const own = this.namedTensors();
    const problems: string[] = [];
    for (const e of own) {
      const v = values.get(e.name);
      if (!v) {
        if (strict) problems.push(`missing '${e.name}'`);
        continue;
      }
      if (v.dtype !== e.tensor.dtype || v.shape.join() !== e.tensor.shape.join())
        problems.push(
          `'${e.name}' is ${v.dtype} [${v.shape.join(', ')}] but the model expects ${e.tensor.dtype} [${e.tensor.shape.join(', ')}]`,
        );
    }
    if (strict) {
      const known = new Set(own.map((e) => e.name));
      for (const k of values.keys()) if (!known.has(k)) problems.push(`unexpected '${k}'`);
    }
    if (problems.length > 0)
      throw new DescentError('loadStateDict', `state dict does not fit the model: ${problems.join('; ')}`);
    noGrad(() => {
      for (const e of own) {
        const v = values.get(e.name);
        if (!v) continue;
        if (v.backend === e.tensor.backend) assign(e.tensor, v);
        else {
          const moved = v.to(e.tensor.backend);
          assign(e.tensor, moved);
          moved.dispose();
        }
      }
    });
  }

  /** Frees every parameter and buffer (and their gradients). */
  dispose(): void {
    for (const e of this.namedTensors()) e.tensor.dispose();
  }
}

/** Runs modules one after another (state-dict names are `0.weight`, `1.weight`, ...). */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
  }
  override children(): [string, Module][] {
    return this.layers.map((m, i) => [String(i), m]);
  }
  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, m) => m.forward(h), x);
  }
}

/** y = x + f(x): a residual connection around any module with matching input and output shapes. */
export class Residual extends Module {
  constructor(readonly inner: Module) {
    super();
  }
  override children(): [string, Module][] {
    return [['inner', this.inner]];
  }
  forward(x: Tensor): Tensor {
    const y = this.inner.forward(x);
    if (y.shape.join() !== x.shape.join())
      throw new DescentError(
        'Residual',
        `the inner module maps [${x.shape.join(', ')}] to [${y.shape.join(', ')}]; a residual add needs equal shapes`,
      );
    return y.add(x);
  }
}

/** Wraps a tensor function with no parameters as a module (activations, reshapes). */
export class Lambda extends Module {
  constructor(
    readonly name: string,
    private readonly fn: (x: Tensor) => Tensor,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}
