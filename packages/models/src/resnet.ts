/**
 * ResNet (He et al. 2016), NHWC. Names follow torchvision (`conv1`, `bn1`, `layer2.0.downsample.0`,
 * `fc`), so a state dict maps onto PyTorch's module for module. Convolutions have no bias (batch norm
 * follows each) and start from He-normal fan-out weights, as torchvision's ResNet does; 3×3 convs
 * pad 1 on every side, as PyTorch does (not TensorFlow's 'same', which pads stride-2 convs only at
 * the bottom/right).
 */
import { add, DescentError, relu, type Tensor } from '@descent/core';
import { kaimingNormal } from './init.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool, Linear } from './layers.js';
import { Module, Sequential } from './module.js';

const heFanOut = (shape: readonly number[], opts?: { seed?: number }) =>
  kaimingNormal(shape, { ...opts, mode: 'fanOut', nonlinearity: 'relu' });

const conv = (inC: number, outC: number, k: 1 | 3, stride = 1) =>
  new Conv2d(inC, outC, k, { strides: stride, padding: k === 3 ? 1 : 0, bias: false, init: heFanOut });

/** The projection shortcut: a strided 1×1 conv + batch norm, used when the shape changes. */
const projection = (inC: number, outC: number, stride: number) =>
  new Sequential(conv(inC, outC, 1, stride), new BatchNorm2d(outC));

/** Two 3×3 convs: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). Output width = `width`. */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;
  constructor(inChannels: number, width: number, stride = 1) {
    super();
    this.conv1 = conv(inChannels, width, 3, stride);
    this.bn1 = new BatchNorm2d(width);
    this.conv2 = conv(width, width, 3);
    this.bn2 = new BatchNorm2d(width);
    this.downsample = stride !== 1 || inChannels !== width ? projection(inChannels, width, stride) : null;
  }
  forward(x: Tensor): Tensor {
    const h = relu(this.bn1.forward(this.conv1.forward(x)));
    const y = this.bn2.forward(this.conv2.forward(h));
    return relu(add(y, this.downsample ? this.downsample.forward(x) : x));
  }
}

/** 1×1 reduce → 3×3 (strided) → 1×1 expand to 4·width, plus the shortcut. */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;
  constructor(inChannels: number, width: number, stride = 1) {
    super();
    const out = width * Bottleneck.expansion;
    this.conv1 = conv(inChannels, width, 1);
    this.bn1 = new BatchNorm2d(width);
    this.conv2 = conv(width, width, 3, stride);
    this.bn2 = new BatchNorm2d(width);
    this.conv3 = conv(width, out, 1);
    this.bn3 = new BatchNorm2d(out);
    this.downsample = stride !== 1 || inChannels !== out ? projection(inChannels, out, stride) : null;
  }
  forward(x: Tensor): Tensor {
    const h1 = relu(this.bn1.forward(this.conv1.forward(x)));
    const h2 = relu(this.bn2.forward(this.conv2.forward(h1)));
    const y = this.bn3.forward(this.conv3.forward(h2));
    return relu(add(y, this.downsample ? this.downsample.forward(x) : x));
  }
}

export interface CifarResNetOptions {
  /** 6n+2 for basic blocks (8, 14, 20, 32, ...), 9n+2 for bottlenecks. Default 8. */
  depth?: number;
  block?: 'basic' | 'bottleneck';
  /** Channels of the first stage (later stages double it). Default 16. */
  width?: number;
  inChannels?: number;
  classes?: number;
}

/**
 * The CIFAR-style ResNet of He et al. §4.2 for small images (28×28 MNIST, 32×32 CIFAR): a 3×3 stem,
 * three stages of n blocks at widths w, 2w, 4w (the last two start with stride 2), global average
 * pooling and a linear classifier. ResNet-8 (n = 1) and ResNet-20 (n = 3) are the usual sizes.
 */
export class CifarResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layer1: Module[];
  readonly layer2: Module[];
  readonly layer3: Module[];
  readonly pool = new GlobalAvgPool();
  readonly fc: Linear;
  constructor(opts: CifarResNetOptions = {}) {
    super();
    const depth = opts.depth ?? 8;
    const kind = opts.block ?? 'basic';
    const per = kind === 'basic' ? 6 : 9;
    const n = (depth - 2) / per;
    if (!Number.isInteger(n) || n < 1)
      throw new DescentError(
        'CifarResNet',
        `depth ${depth} does not fit ${kind} blocks: it must be ${per}n+2 with n >= 1 (e.g. ${per + 2}, ${2 * per + 2})`,
      );
    const Block = kind === 'basic' ? BasicBlock : Bottleneck;
    const w = opts.width ?? 16;
    this.conv1 = conv(opts.inChannels ?? 3, w, 3);
    this.bn1 = new BatchNorm2d(w);
    let channels = w;
    const stage = (width: number, stride: number) =>
      Array.from({ length: n }, (_, i) => {
        const block = new Block(channels, width, i === 0 ? stride : 1);
        channels = width * Block.expansion;
        return block;
      });
    this.layer1 = stage(w, 1);
    this.layer2 = stage(2 * w, 2);
    this.layer3 = stage(4 * w, 2);
    this.fc = new Linear(channels, opts.classes ?? 10);
  }
  forward(x: Tensor): Tensor {
    let h = relu(this.bn1.forward(this.conv1.forward(x)));
    for (const b of [...this.layer1, ...this.layer2, ...this.layer3]) h = b.forward(h);
    return this.fc.forward(this.pool.forward(h));
  }
}
