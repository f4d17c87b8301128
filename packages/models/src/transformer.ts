/**
 * A small GPT-style decoder: causal multi-head self-attention, pre-norm blocks with RMSNorm and a
 * gated FFN (SwiGLU by default), learned token and position embeddings, a bias-free LM head.
 */
import {
  add,
  checkpoint,
  DescentError,
  matmul,
  mul,
  reshape,
  softmax,
  type Tensor,
  tensor,
  transpose,
} from '@descent/core';
import { type GatedVariant, makeFFN } from './ffn.js';
import { Embedding, Linear, RMSNorm } from './layers.js';
import { Module } from './module.js';

/** Added to attention scores above the diagonal: exp(−1e9 − max) is exactly 0 in f32 and f64. */
const MASKED = -1e9;

function causalMask(t: number, backend: string): Tensor {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = MASKED;
  return tensor(m, [t, t], { backend });
}

/**
 * softmax(Q·Kᵀ/√d_head + causal mask)·V per head, heads concatenated and projected by `proj`.
 * Input and output [batch, time, dModel]; `q`, `k`, `v`, `proj` are bias-free Linears.
 */
export class CausalSelfAttention extends Module {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly proj: Linear;
  readonly headDim: number;
  constructor(
    readonly dModel: number,
    readonly heads: number,
    opts: { seed?: number } = {},
  ) {
    super();
    if (!Number.isInteger(dModel / heads))
      throw new DescentError('CausalSelfAttention', `dModel ${dModel} is not divisible by heads ${heads}`);
    this.headDim = dModel / heads;
    const seed = (k: number) => (opts.seed === undefined ? undefined : opts.seed + k);
    this.q = new Linear(dModel, dModel, { bias: false, seed: seed(0) });
    this.k = new Linear(dModel, dModel, { bias: false, seed: seed(1) });
    this.v = new Linear(dModel, dModel, { bias: false, seed: seed(2) });
    this.proj = new Linear(dModel, dModel, { bias: false, seed: seed(3) });
  }
  forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dModel)
      throw new DescentError(
        'CausalSelfAttention',
        `expected input [batch, time, ${this.dModel}], got [${x.shape.join(', ')}]`,
      );
    const [b, t] = x.shape;
    // [B, T, D] → [B, H, T, hd]
    const split = (y: Tensor) => transpose(reshape(y, [b, t, this.heads, this.headDim]), [0, 2, 1, 3]);
    const q = split(this.q.forward(x));
    const k = split(this.k.forward(x));
    const v = split(this.v.forward(x));
    const scores = add(
      mul(matmul(q, k, { transposeB: true }), 1 / Math.sqrt(this.headDim)),
      causalMask(t, x.backend),
    );
    const out = matmul(softmax(scores, -1), v); // [B, H, T, hd]
    return this.proj.forward(reshape(transpose(out, [0, 2, 1, 3]), [b, t, this.dModel]));
  }
}

export interface BlockOptions {
  /** FFN kind: a gated variant (default 'swiglu') or 'relu' for the classic FFN. */
  ffn?: 'relu' | GatedVariant;
  /** FFN hidden width (default 4·dModel, shrunk by 2/3 for gated variants). */
  dFF?: number;
  seed?: number;
}

/** Pre-norm block: x + attn(norm1(x)), then h + ffn(norm2(h)). */
export class TransformerBlock extends Module {
  readonly norm1: RMSNorm;
  readonly attn: CausalSelfAttention;
  readonly norm2: RMSNorm;
  readonly ffn: Module;
  constructor(dModel: number, heads: number, opts: BlockOptions = {}) {
    super();
    this.norm1 = new RMSNorm(dModel);
    this.attn = new CausalSelfAttention(dModel, heads, { seed: opts.seed });
    this.norm2 = new RMSNorm(dModel);
    this.ffn = makeFFN(opts.ffn ?? 'swiglu', dModel, opts.dFF ?? 4 * dModel, {
      matchParams: true,
      seed: opts.seed === undefined ? undefined : opts.seed + 10,
    });
  }
  forward(x: Tensor): Tensor {
    const h = add(x, this.attn.forward(this.norm1.forward(x)));
    return add(h, this.ffn.forward(this.norm2.forward(h)));
  }
}

/**
 * Runs a module under gradient checkpointing (core's `checkpoint`): its activations are not kept for
 * backward but recomputed then, trading one extra forward for memory. State-dict names are the inner
 * module's (no extra prefix). Avoid wrapping modules whose forward has side effects (BatchNorm's
 * running statistics would be updated again by the recomputation); dropout is fine (the random
 * stream is replayed).
 */
export class Checkpointed extends Module {
  constructor(readonly inner: Module) {
    super();
  }
  override namedTensors(prefix = '') {
    return this.inner.namedTensors(prefix);
  }
  forward(x: Tensor): Tensor {
    return checkpoint((h) => this.inner.forward(h), [x], this.inner.parameters())[0];
  }
}

export interface GPTOptions extends BlockOptions {
  vocab: number;
  /** Longest sequence (the position table's size). */
  context: number;
  dModel?: number;
  heads?: number;
  layers?: number;
  /** Recompute each block's activations in backward instead of keeping them. */
  checkpointBlocks?: boolean;
  /**
   * Standard deviation of the embedding tables' initial values. Default 0.02 (GPT-2, for Adam-type
   * optimizers); plain SGD trains much faster from 1 (PyTorch's nn.Embedding default), since the
   * RMSNorm after the embeddings removes the scale anyway.
   */
  embeddingStd?: number;
}

/** Token + position embeddings → pre-norm blocks → RMSNorm → LM head: logits [batch, time, vocab]. */
export class GPT extends Module {
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly blocks: Module[];
  readonly norm: RMSNorm;
  readonly head: Linear;
  readonly context: number;
  constructor(opts: GPTOptions) {
    super();
    const d = opts.dModel ?? 64;
    const seed = (k: number) => (opts.seed === undefined ? undefined : opts.seed + k);
    this.context = opts.context;
    const std = opts.embeddingStd ?? 0.02;
    this.wte = new Embedding(opts.vocab, d, { std, seed: seed(0) });
    this.wpe = new Embedding(opts.context, d, { std, seed: seed(1) });
    this.blocks = Array.from({ length: opts.layers ?? 2 }, (_, i) => {
      const block = new TransformerBlock(d, opts.heads ?? 4, { ...opts, seed: seed(100 * (i + 1)) });
      return opts.checkpointBlocks ? new Checkpointed(block) : block;
    });
    this.norm = new RMSNorm(d);
    this.head = new Linear(d, opts.vocab, { bias: false, seed: seed(2) });
  }
  /** tokens: i32 [batch, time] with time ≤ context. */
  forward(tokens: Tensor): Tensor {
    if (tokens.rank !== 2 || tokens.dtype !== 'i32' || tokens.shape[1] > this.context)
      throw new DescentError(
        'GPT',
        `expected i32 tokens [batch, time <= ${this.context}], got ${tokens.dtype} [${tokens.shape.join(', ')}]`,
      );
    const t = tokens.shape[1];
    const positions = tensor(
      Int32Array.from({ length: t }, (_, i) => i),
      [t],
      {
        backend: tokens.backend,
        dtype: 'i32',
      },
    );
    let h = add(this.wte.forward(tokens), this.wpe.forward(positions));
    for (const b of this.blocks) h = b.forward(h);
    return this.head.forward(this.norm.forward(h));
  }
}
