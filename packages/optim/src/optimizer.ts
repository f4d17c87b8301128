import {
  applyUpdate,
  assign,
  compositeUpdate,
  concat,
  DescentError,
  engine,
  full,
  getBackend,
  noGrad,
  type OpDef,
  reshape,
  slice,
  type Tensor,
  tidy,
} from '@descent/core';

/*
 * How to write an optimizer
 * -------------------------
 * 1. Declare its options as an interface with `lr: number` (plus hyperparameters), and a constructor
 *    `constructor(params: ParamsInput<O>, options: Partial<O> = {})` that calls
 *    `super(params, { ...defaults, ...options })` (torch.optim's defaults where torch has the algorithm).
 * 2. Override `validate(o)` (call `super.validate(o)` first) and throw a DescentError for every invalid
 *    hyperparameter; the helpers `checkNonNegative`, `checkUnitInterval`, `checkBetas` below give
 *    uniform messages. `validate` runs for every parameter group and on `loadStateDict`.
 * 3. Implement `update(param, grad, options, state, step)`: it runs inside `noGrad` + `tidy` (so
 *    temporaries are freed), once per parameter with a gradient, with `step` already counting this
 *    step (1 on the first). For an elementwise update declared in core (`sgdUpdate`, `adamUpdate`,
 *    `lionUpdate`, …), call `this.runUpdate(Op, param, grad, state, attrs, options.fused)`: the fused
 *    in-place kernel where the backend has it, the same rule with core ops elsewhere. Otherwise write
 *    the parameter with `assign(param, newValue)` and state with `this.setState(state, key, value)`.
 * 4. Implement `stateSpec(param, options)` when the state's buffers and shapes are known up front:
 *    the base then creates them (filled with `init`, default 0) on the parameter's backend before the
 *    first update, and `loadStateDict` checks a loaded state's buffer names and shapes exactly.
 *    Without it, state is created by `setState` on demand and a loaded state is checked less strictly.
 * 5. To compute something across a whole group first (a global norm, a matrix preconditioner),
 *    override `stepGroup(group)` and call `super.stepGroup(group)` or `this.updateParam(...)` yourself.
 * 6. If `update` is exactly one `runUpdate` of an elementwise op (shapes of all state = the param's),
 *    override `flatCapable()` to return true: the `flat: true` option (multi-tensor apply) then works,
 *    calling `update` once per step on flat buffers of the whole group (see `stepFlat`).
 * Keep the math of each algorithm in one place: one generic path per family, options select variants.
 */

/** A group of parameters sharing hyperparameters (PyTorch's param_groups). */
export interface ParamGroup<O> {
  params: Tensor[];
  options: O;
}

/** One group as passed to a constructor: PyTorch's `{ params, lr: 0.01, ... }` (overrides of the defaults). */
export type ParamGroupInput<O> = { params: readonly Tensor[] } & Partial<O>;

/** Parameters: a flat list (one group), or a list of groups with per-group option overrides. */
export type ParamsInput<O> = readonly Tensor[] | readonly ParamGroupInput<O>[];

/** One state buffer an optimizer keeps per parameter: its shape and initial value. */
export interface StateSpec {
  shape: readonly number[];
  /** Initial value of every element (default 0). */
  init?: number;
}

/**
 * A snapshot of an optimizer: hyperparameters per group (with each group's parameters as indices in
 * the order of the groups) and, per parameter index, the step count and copies of its state buffers.
 * The tensors live on the parameters' backend and belong to the caller (dispose them, or let a
 * `tidy` scope do it); `loadStateDict` copies them, so one dict can be loaded many times.
 */
export interface OptimizerStateDict {
  optimizer: string;
  paramGroups: ({ params: number[] } & Record<string, unknown>)[];
  state: Record<number, { step: number; buffers: Record<string, Tensor> }>;
}

/** Throws unless `value` is a finite number >= 0. */
export function checkNonNegative(optimizer: string, name: string, value: number): void {
  if (!(typeof value === 'number' && value >= 0 && Number.isFinite(value)))
    throw new DescentError(optimizer, `${name} must be a finite number >= 0, got ${value}`);
}

/** Throws unless `value` is in [0, 1) (or [0, 1] with `closed`). */
export function checkUnitInterval(optimizer: string, name: string, value: number, closed = false): void {
  const ok = typeof value === 'number' && value >= 0 && (closed ? value <= 1 : value < 1);
  if (!ok) throw new DescentError(optimizer, `${name} must be in [0, 1${closed ? ']' : ')'}, got ${value}`);
}

/** Throws unless `betas` is a pair of numbers in [0, 1). */
export function checkBetas(optimizer: string, betas: readonly number[]): void {
  if (
    !Array.isArray(betas) ||
    betas.length !== 2 ||
    !betas.every((b) => typeof b === 'number' && b >= 0 && b < 1)
  )
    throw new DescentError(optimizer, `betas must be two numbers in [0, 1), got ${JSON.stringify(betas)}`);
}

/** Throws unless `value` is a finite number > 0. */
export function checkPositive(optimizer: string, name: string, value: number): void {
  if (!(typeof value === 'number' && value > 0 && Number.isFinite(value)))
    throw new DescentError(optimizer, `${name} must be a finite number > 0, got ${value}`);
}

/** An exact copy on the same backend (a data-movement kernel: bit-exact on every backend). */
export function copyTensor(t: Tensor): Tensor {
  return slice(t, []);
}

/** Per-parameter state: the step count and the state buffers. */
export interface ParamState {
  step: number;
  buffers: Record<string, Tensor>;
}

/**
 * Base of every optimizer: parameter groups with per-group options, `step()` (without recording
 * gradients, inside a tidy scope), `zeroGrad()`, per-parameter state on the parameter's backend,
 * `stateDict()` / `loadStateDict()` and `dispose()`. See "How to write an optimizer" above.
 */
export abstract class Optimizer<O extends { lr: number }> {
  readonly groups: ParamGroup<O>[] = [];
  readonly defaults: O;
  /** Per-parameter state (kept alive across steps; replaced buffers are disposed). */
  private readonly paramState = new Map<Tensor, ParamState>();
  /** Number of completed `step()` calls (schedules and logs read it). */
  stepCount = 0;

  constructor(params: ParamsInput<O>, defaults: O) {
    this.defaults = defaults;
    const list = params as readonly (Tensor | ParamGroupInput<O>)[];
    if (!Array.isArray(list))
      throw new DescentError(this.name, 'params must be an array of tensors or of groups');
    const isGroups = list.length > 0 && !isTensorLike(list[0]);
    const groups = isGroups
      ? (list as ParamGroupInput<O>[])
      : [{ params: list as Tensor[] } as unknown as ParamGroupInput<O>];
    for (const g of groups) this.addParamGroup(g);
  }

  /** The optimizer's name, used in errors and state dicts. */
  get name(): string {
    return this.constructor.name;
  }

  /** Adds a parameter group (options not given fall back to the defaults). */
  addParamGroup(group: ParamGroupInput<O>): void {
    const { params, ...overrides } = group;
    if (!Array.isArray(params)) throw new DescentError(this.name, 'a parameter group needs a params array');
    const options = { ...this.defaults, ...overrides } as O;
    this.validateOptions(options);
    const seen = new Set(this.groups.flatMap((g) => g.params));
    for (const p of params) {
      if (!isTensorLike(p)) throw new DescentError(this.name, `parameter ${String(p)} is not a tensor`);
      p.assertAlive(this.name);
      if (!p.requiresGrad)
        throw new DescentError(
          this.name,
          `parameter ${p.toString()} does not require grad (call requireGrad())`,
        );
      if (seen.has(p))
        throw new DescentError(this.name, `parameter ${p.toString()} appears in more than one group`);
      seen.add(p);
    }
    this.groups.push({ params: params.slice(), options });
  }

  /** Throws a clear error for invalid hyperparameters (subclasses add theirs after `super.validate`). */
  protected validate(options: O): void {
    const lr = options.lr;
    if (!(typeof lr === 'number' && lr >= 0 && Number.isFinite(lr)))
      throw new DescentError(this.name, `learning rate must be >= 0, got ${lr}`);
  }

  /** `validate` plus the checks every optimizer shares (the `flat` option). */
  private validateOptions(options: O): void {
    this.validate(options);
    if ((options as FlatOption).flat && !this.flatCapable())
      throw new DescentError(
        this.name,
        'flat (multi-tensor) mode is only for optimizers with one elementwise update',
      );
  }

  /** The state buffers of one parameter, when known up front (see "How to write an optimizer"). */
  protected stateSpec?(param: Tensor, options: O): Record<string, StateSpec>;

  /** Updates one parameter from its gradient (called without grad recording, inside tidy). */
  protected abstract update(
    param: Tensor,
    grad: Tensor,
    options: O,
    state: Record<string, Tensor>,
    step: number,
  ): void;

  /**
   * One optimization step over every parameter with a gradient. With a `closure` (which should zero
   * the gradients, compute the loss, call `backward()` and return the loss), it is run first, with
   * gradients recorded, and its loss is returned (PyTorch's `step(closure)`).
   */
  step(closure?: () => Tensor): Tensor | undefined {
    const loss = closure?.();
    noGrad(() =>
      tidy(() => {
        for (const group of this.groups) this.stepGroup(group);
      }),
    );
    this.stepCount++;
    return loss;
  }

  /** Updates every parameter of a group that has a gradient (override for group-wide computations). */
  protected stepGroup(group: ParamGroup<O>): void {
    if ((group.options as FlatOption).flat) {
      this.stepFlat(group);
      return;
    }
    for (const p of group.params) if (p.grad) this.updateParam(p, p.grad, group.options);
  }

  // ------------------------------------------------------------------ multi-tensor apply (flat)

  /**
   * True for optimizers whose update is one elementwise fused op (`update` works unchanged on a
   * flat buffer): they accept the `flat` option. A method, not a field, so the base constructor
   * can ask it.
   */
  protected flatCapable(): boolean {
    return false;
  }

  /** Flat layouts per group (multi-tensor apply). */
  private readonly flatGroups = new Map<ParamGroup<O>, FlatGroup>();
  /** The flat parameter buffers: `runUpdate` refuses the composite path on them. */
  private readonly flatBuffers = new WeakSet<Tensor>();

  /**
   * One step of a `flat` group: the gradients are gathered into one buffer (one concat), and one
   * fused update runs over the flat parameter and state buffers, of which every parameter and its
   * state are sub-views. (Re)packs first when needed (first step, or something re-pointed a
   * parameter or a state buffer, e.g. `assign` or `loadStateDict`).
   */
  private stepFlat(group: ParamGroup<O>): void {
    const params = group.params;
    if (params.length === 0) return;
    const missing = params.find((p) => !p.grad);
    if (missing)
      throw new DescentError(
        this.name,
        `flat (multi-tensor) mode needs a gradient for every parameter of the group; ${missing.toString()} has none (use flat: false for groups with unused parameters)`,
      );
    let flat = this.flatGroups.get(group);
    if (!flat || !this.flatIntact(flat, group)) flat = this.pack(group, flat);
    const step = this.stateOf(params[0], group.options).step + 1;
    for (const p of params) this.stateOf(p, group.options).step = step;
    const parts: Tensor[] = [];
    params.forEach((p, i) => {
      parts.push(reshape(p.grad!, [p.size]));
      const pad = flat.pads[i];
      if (pad) parts.push(pad);
    });
    const grad = parts.length === 1 ? parts[0] : concat(parts);
    this.update(flat.param, grad, group.options, flat.buffers, step);
  }

  /** True while every parameter and state buffer of the group is still a view of the flat buffers. */
  private flatIntact(flat: FlatGroup, group: ParamGroup<O>): boolean {
    return group.params.every((p, i) => {
      if (p.storage !== flat.storages[i]) return false;
      const buffers = this.stateOf(p, group.options).buffers;
      return Object.entries(flat.stateStorages[i]).every(([k, st]) => buffers[k]?.storage === st);
    });
  }

  /**
   * Lays the group out in flat buffers (each parameter at a multiple of FLAT_ALIGN elements, zero
   * gaps), copies the current parameter and state values in, and makes every parameter and state
   * buffer a sub-view of them. Parameters keep their Tensor objects (models holding them see no change).
   */
  private pack(group: ParamGroup<O>, old: FlatGroup | undefined): FlatGroup {
    const params = group.params;
    const o = group.options;
    const backend = params[0].backend;
    const where = `${this.name} (flat)`;
    for (const p of params)
      if (p.backend !== backend)
        throw new DescentError(
          where,
          `every parameter of a flat group must live on one backend: ${p.toString()} is not on '${backend}'`,
        );
    if (!getBackend(backend).view)
      throw new DescentError(
        where,
        `backend '${backend}' cannot make sub-views (Backend.view), which flat (multi-tensor) mode needs`,
      );
    const offsets: number[] = [];
    let total = 0;
    for (const p of params) {
      offsets.push(total);
      total += Math.ceil(Math.max(p.size, 1) / FLAT_ALIGN) * FLAT_ALIGN;
    }
    const gaps = params.map((p, i) => (i + 1 < params.length ? offsets[i + 1] : total) - offsets[i] - p.size);
    const specs = params.map((p) => this.stateSpec?.(p, o) ?? {});
    const names = Object.keys(specs[0]);
    const flat = noGrad(() => {
      /** One new buffer: each parameter's piece followed by its gap filled with `fill`. */
      const join = (piece: (p: Tensor, i: number) => Tensor, fill: (i: number) => number) => {
        const parts: Tensor[] = [];
        params.forEach((p, i) => {
          parts.push(reshape(piece(p, i), [p.size]));
          if (gaps[i] > 0) parts.push(full([gaps[i]], fill(i), { backend }));
        });
        return engine.keep(parts.length === 1 ? copyTensor(parts[0]) : concat(parts));
      };
      const pads = gaps.map((k) => (k > 0 ? engine.keep(full([k], 0, { backend })) : null));
      const param = join(
        (p) => p,
        () => 0,
      );
      const buffers: Record<string, Tensor> = {};
      for (const name of names)
        buffers[name] = join(
          (p, i) =>
            this.stateOf(p, o).buffers[name] ??
            full(specs[i][name].shape, specs[i][name].init ?? 0, { backend }),
          (i) => specs[i][name].init ?? 0,
        );
      // Re-point parameters and state at windows of the new buffers.
      const stateStorages: Record<string, unknown>[] = [];
      params.forEach((p, i) => {
        const view = engine.makeSubView(param, offsets[i], p.shape);
        assign(p, view);
        view.dispose();
        const st = this.stateOf(p, o).buffers;
        const storages: Record<string, unknown> = {};
        for (const name of names) {
          const prev = st[name];
          st[name] = engine.keep(engine.makeSubView(buffers[name], offsets[i], p.shape));
          prev?.dispose();
          storages[name] = st[name].storage;
        }
        stateStorages.push(storages);
      });
      return { param, buffers, pads, storages: params.map((p) => p.storage as unknown), stateStorages };
    });
    if (old) disposeFlat(old);
    this.flatBuffers.add(flat.param);
    this.flatGroups.set(group, flat);
    return flat;
  }

  /** Advances `p`'s step count, creates its state if needed, and calls `update`. */
  protected updateParam(p: Tensor, grad: Tensor, options: O): void {
    const s = this.stateOf(p, options);
    s.step++;
    this.update(p, grad, options, s.buffers, s.step);
  }

  /** The state of `p` (created from `stateSpec` on first use). */
  protected stateOf(p: Tensor, options: O): ParamState {
    let s = this.paramState.get(p);
    if (!s) {
      const buffers: Record<string, Tensor> = {};
      const spec = this.stateSpec?.(p, options) ?? {};
      for (const [key, b] of Object.entries(spec))
        buffers[key] = engine.keep(full(b.shape, b.init ?? 0, { backend: p.backend }));
      s = { step: 0, buffers };
      this.paramState.set(p, s);
    }
    return s;
  }

  /** How many updates `p` has had (0 before its first). */
  stepOf(p: Tensor): number {
    return this.paramState.get(p)?.step ?? 0;
  }

  /** Replaces a state tensor, keeping the new one alive and freeing the old one. */
  protected setState(state: Record<string, Tensor>, key: string, value: Tensor): Tensor {
    const old = state[key];
    state[key] = engine.keep(value);
    if (old && old !== value) old.dispose();
    return value;
  }

  /**
   * True when an update should use the fused kernel `op`: `fused: true` forces it (a backend without
   * the kernel then fails with an error naming the op), `false` uses the composite written with core
   * ops, and undefined picks the kernel wherever the parameter's backend has it.
   */
  protected useFused(p: Tensor, op: string, fused: boolean | undefined): boolean {
    return fused ?? getBackend(p.backend).hasKernel(op);
  }

  /**
   * Runs the fused update `op` (from @descent/core) on `param` with `grad` and the state `buffers`
   * (named as the op's inputs), in place — or, where `useFused` says no, the same update written
   * with core ops, whose results are assigned to the parameter and the state.
   */
  protected runUpdate<A extends object>(
    op: OpDef<A>,
    param: Tensor,
    grad: Tensor,
    buffers: Record<string, Tensor>,
    attrs: A,
    fused: boolean | undefined,
  ): void {
    const tensors = { ...buffers, param, grad };
    if (this.flatBuffers.has(param) && !this.useFused(param, op.name, fused))
      throw new DescentError(
        this.name,
        `flat (multi-tensor) mode updates in place and needs the fused '${op.name}' kernel, which backend '${param.backend}' lacks (or fused: false was given)`,
      );
    if (this.useFused(param, op.name, fused)) {
      applyUpdate(op, tensors, attrs);
      return;
    }
    for (const [name, value] of Object.entries(compositeUpdate(op, tensors, attrs)))
      assign(name === 'param' ? param : buffers[name], value);
  }

  /** Clears (disposes) every parameter's gradient. */
  zeroGrad(): void {
    for (const g of this.groups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** Every parameter in group order (the indices of a state dict). */
  private allParams(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  /** A snapshot of the hyperparameters and state (copies; see `OptimizerStateDict`). */
  stateDict(): OptimizerStateDict {
    const index = new Map(this.allParams().map((p, i) => [p, i]));
    let next = 0;
    const paramGroups = this.groups.map((g) => ({
      ...structuredClone(g.options as Record<string, unknown>),
      params: g.params.map(() => next++),
    }));
    const state: OptimizerStateDict['state'] = {};
    noGrad(() => {
      for (const [p, s] of this.paramState) {
        const i = index.get(p);
        if (i === undefined) continue;
        const buffers: Record<string, Tensor> = {};
        for (const [k, t] of Object.entries(s.buffers)) buffers[k] = copyTensor(t);
        state[i] = { step: s.step, buffers };
      }
    });
    return { optimizer: this.name, paramGroups, state };
  }

  /**
   * Restores hyperparameters and state from `stateDict()` output (of an optimizer of the same kind
   * over parameters of the same shapes, in the same group layout). Everything is checked before
   * anything changes: a bad dict throws and leaves the optimizer as it was. The dict's tensors are
   * copied onto each parameter's backend (bit-exact on the same backend).
   */
  loadStateDict(dict: OptimizerStateDict): void {
    const where = `${this.name}.loadStateDict`;
    if (
      !dict ||
      typeof dict !== 'object' ||
      !Array.isArray(dict.paramGroups) ||
      typeof dict.state !== 'object'
    )
      throw new DescentError(where, 'expected { optimizer, paramGroups, state } as returned by stateDict()');
    if (dict.optimizer !== this.name)
      throw new DescentError(where, `the state is of a ${dict.optimizer} optimizer, this is ${this.name}`);
    if (dict.paramGroups.length !== this.groups.length)
      throw new DescentError(
        where,
        `the state has ${dict.paramGroups.length} parameter groups, the optimizer has ${this.groups.length}`,
      );
    const params = this.allParams();
    const newOptions: O[] = [];
    const groupOf: number[] = [];
    let offset = 0;
    dict.paramGroups.forEach((dg, gi) => {
      const group = this.groups[gi];
      if (!Array.isArray(dg.params) || dg.params.length !== group.params.length)
        throw new DescentError(
          where,
          `group ${gi} has ${dg.params?.length} parameters in the state, ${group.params.length} in the optimizer`,
        );
      const { params: _ignored, ...opts } = dg;
      const options = { ...group.options, ...structuredClone(opts) } as O;
      this.validateOptions(options);
      newOptions.push(options);
      for (let k = 0; k < group.params.length; k++) groupOf[offset + k] = gi;
      offset += group.params.length;
    });
    const entries = Object.entries(dict.state).map(([key, s]) => {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i >= params.length)
        throw new DescentError(
          where,
          `state for parameter index ${key}, but there are ${params.length} parameters`,
        );
      const p = params[i];
      if (!s || !Number.isInteger(s.step) || s.step < 0 || typeof s.buffers !== 'object')
        throw new DescentError(where, `state ${i}: expected { step: integer >= 0, buffers }`);
      const spec = this.stateSpec?.(p, newOptions[groupOf[i]]);
      const names = Object.keys(s.buffers).sort();
      if (spec) {
        const want = Object.keys(spec).sort();
        if (names.join() !== want.join())
          throw new DescentError(
            where,
            `state ${i} (parameter ${shapeStr(p.shape)}) has buffers [${names.join(', ')}], expected [${want.join(', ')}]`,
          );
      }
      for (const name of names) {
        const t = s.buffers[name];
        if (!isTensorLike(t)) throw new DescentError(where, `state ${i} buffer '${name}' is not a tensor`);
        t.assertAlive(where);
        const shape = spec?.[name].shape;
        if (t.dtype !== 'f32' || (shape && shapeStr(shape) !== shapeStr(t.shape)))
          throw new DescentError(
            where,
            `state ${i} buffer '${name}' is ${shapeStr(t.shape)} ${t.dtype}, expected ${shapeStr(shape ?? t.shape)} f32 for parameter ${shapeStr(p.shape)}`,
          );
      }
      return { p, step: s.step, buffers: s.buffers };
    });
    // Validated: copy (onto each parameter's backend), then swap in.
    const loaded: { p: Tensor; state: ParamState }[] = [];
    try {
      noGrad(() => {
        for (const { p, step, buffers } of entries) {
          const state: ParamState = { step, buffers: {} };
          loaded.push({ p, state });
          for (const [k, t] of Object.entries(buffers))
            state.buffers[k] = engine.keep(t.backend === p.backend ? copyTensor(t) : t.to(p.backend));
        }
      });
    } catch (e) {
      for (const { state } of loaded) for (const t of Object.values(state.buffers)) t.dispose();
      throw e;
    }
    this.dispose();
    for (const { p, state } of loaded) this.paramState.set(p, state);
    this.groups.forEach((g, i) => {
      g.options = newOptions[i];
    });
  }

  /** Frees all optimizer state (the optimizer starts afresh on its next step). */
  dispose(): void {
    for (const s of this.paramState.values()) for (const t of Object.values(s.buffers)) t.dispose();
    this.paramState.clear();
    // Parameters stay views of their flat buffer (which lives on as long as they do).
    for (const f of this.flatGroups.values()) disposeFlat(f);
    this.flatGroups.clear();
  }
}

/** Elements between parameter starts in a flat buffer: 64 f32 = 256 bytes, WebGPU's binding-offset alignment. */
const FLAT_ALIGN = 64;

/** The `flat` option of optimizers that support multi-tensor apply. */
interface FlatOption {
  flat?: boolean;
}

/** A group laid out in flat buffers (see `Optimizer.pack`). */
interface FlatGroup {
  param: Tensor;
  buffers: Record<string, Tensor>;
  /** Zero tensors filling each parameter's gap in the gathered gradient (null: no gap). */
  pads: (Tensor | null)[];
  /** The storage each parameter and each of its state buffers must still have. */
  storages: unknown[];
  stateStorages: Record<string, unknown>[];
}

function disposeFlat(f: FlatGroup): void {
  f.param.dispose();
  for (const t of Object.values(f.buffers)) t.dispose();
  for (const t of f.pads) t?.dispose();
}

function isTensorLike(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && 'storage' in x && 'shape' in x && 'dtype' in x;
}

function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
