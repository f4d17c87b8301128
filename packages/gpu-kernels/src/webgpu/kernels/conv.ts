/**
 * Convolution and pooling, direct: one invocation per output element, each summing its own terms in
 * a fixed order (deterministic, no atomics). All share the NHWC `Conv2dGeometry` in one parameter
 * block and the same WGSL prelude (index helpers), so each kernel is a short loop nest.
 *
 * - conv2d: y[b,oh,ow,oc] = Σ_{kh,kw,c} x[b, ih, iw, g·cinG + c] · w[kh, kw, c, oc]
 * - conv2dBackpropInput: per dx element, the output positions whose window covers it
 *   (oh = (ih + padTop − kh·dH) / sH when that divides) and the channels of its group;
 * - conv2dBackpropFilter: per dw element, Σ over batch and output positions;
 * - pools: max (first maximum, −∞ for an all-padding window), avg (÷ in-bounds count) and their
 *   backward kernels, written per input element in the same way as conv2dBackpropInput.
 */
import type { Conv2dGeometry, TensorInfo } from '@descent/core';
import type { GPUKernel, KernelContext } from '../kernel.js';
import { grid1d, header, linearMain, Params } from '../wgsl.js';
import { mathLib } from '../wgsl-math.js';

const FIELDS = [
  'batch',
  'inH',
  'inW',
  'inC',
  'outH',
  'outW',
  'outC',
  'kH',
  'kW',
  'strideH',
  'strideW',
  'padTop',
  'padLeft',
  'dilationH',
  'dilationW',
  'groups',
] as const satisfies readonly (keyof Conv2dGeometry)[];

/** WGSL `let`s for every field of core's Conv2dGeometry (as i32: coordinates go negative in padding). */
const GEOMETRY = FIELDS.map((f, k) => `  let ${f} = pi(${k + 1}u);`).join('\n');

const PRELUDE = `
fn xi(b: i32, h: i32, w: i32, c: i32, H: i32, W: i32, C: i32) -> u32 { return u32(((b * H + h) * W + w) * C + c); }`;

/**
 * A conv/pool kernel: one invocation per element `i` of the output, which `body` computes (WGSL, with every
 * geometry field, `cinG` and `coutG` in scope); `names` are the input bindings in order and `helpers` the
 * WGSL functions the body calls (after `main`: they read the geometry parameters and the bindings).
 */
function convKernel(key: string, names: string[], body: string, helpers = ''): GPUKernel {
  return (
    ctx: KernelContext,
    inputs: readonly TensorInfo[],
    [out]: readonly TensorInfo[],
    g: Conv2dGeometry,
  ) => {
    const params = new Params().u32(out!.size);
    for (const f of FIELDS) params.i32(g[f]);
    ctx.dispatch({
      key,
      wgsl: () =>
        [
          header(
            names.map((name) => ({ name, elem: 'f32' as const })),
            [{ name: 'y', elem: 'f32' }],
            params.length,
          ),
          mathLib(['consts']),
          PRELUDE,
          linearMain(
            'pu(0u)',
            `${GEOMETRY}\n  let cinG = inC / groups;\n  let coutG = outC / groups;\n${body}`,
          ),
          ...(helpers ? [helpers] : []),
        ].join('\n'),
      inputs,
      outputs: [out!],
      params,
      workgroups: grid1d(out!.size),
    });
  };
}

/** Decomposes `i` as an NHWC index of [B, H, W, C] into b, h, w, c (i32). */
const nhwc = (H: string, W: string, C: string, names = ['b', 'h', 'w', 'c']) => `
  let q = i32(i);
  let ${names[3]} = q % ${C};
  let ${names[2]} = (q / ${C}) % ${W};
  let ${names[1]} = (q / (${C} * ${W})) % ${H};
  let ${names[0]} = q / (${C} * ${W} * ${H});`;

/**
 * The in-bounds pairs of input row ih = oh·strideH − padTop + kh·dilationH (and likewise iw): `inner` runs
 * for each, with ih and iw in scope. The forward kernels loop over the window taps (kh, kw) of a fixed output
 * position; the filter gradient loops over the output positions (oh, ow) of a fixed tap.
 */
const IN_BOUNDS = (over: 'taps' | 'outputs', inner: string) => {
  const [h, hEnd, w, wEnd] = over === 'taps' ? ['kh', 'kH', 'kw', 'kW'] : ['oh', 'outH', 'ow', 'outW'];
  return `
  for (var ${h} = 0; ${h} < ${hEnd}; ${h}++) {
    let ih = oh * strideH - padTop + kh * dilationH;
    if (ih < 0 || ih >= inH) { continue; }
    for (var ${w} = 0; ${w} < ${wEnd}; ${w}++) {
      let iw = ow * strideW - padLeft + kw * dilationW;
      if (iw < 0 || iw >= inW) { continue; }
${inner}
    }
  }`;
};

const conv2d = convKernel(
  'conv2d',
  ['x', 'w'],
  `${nhwc('outH', 'outW', 'outC', ['b', 'oh', 'ow', 'oc'])}
  let c0 = (oc / coutG) * cinG;
  var acc = 0.0f;
${IN_BOUNDS(
  'taps',
  `      let xb = xi(b, ih, iw, c0, inH, inW, inC);
      let wb = u32(((kh * kW + kw) * cinG) * outC + oc);
      for (var c = 0; c < cinG; c++) { acc = fma(x[xb + u32(c)], w[wb + u32(c * outC)], acc); }`,
)}
  y[i] = acc;`,
);

/** Loops over the output positions (oh, ow) whose window tap (kh, kw) lands on input (ih, iw). */
const COVERING = (inner: string) => `
  for (var kh = 0; kh < kH; kh++) {
    let th = ih + padTop - kh * dilationH;
    if (th < 0 || th % strideH != 0) { continue; }
    let oh = th / strideH;
    if (oh >= outH) { continue; }
    for (var kw = 0; kw < kW; kw++) {
      let tw = iw + padLeft - kw * dilationW;
      if (tw < 0 || tw % strideW != 0) { continue; }
      let ow = tw / strideW;
      if (ow >= outW) { continue; }
${inner}
    }
  }`;

const conv2dBackpropInput = convKernel(
  'conv2dBackpropInput',
  ['dy', 'w'],
  `${nhwc('inH', 'inW', 'inC', ['b', 'ih', 'iw', 'ic'])}
  let grp = ic / cinG;
  let c = ic % cinG;
  let oc0 = grp * coutG;
  var acc = 0.0f;
${COVERING(`      let db = xi(b, oh, ow, oc0, outH, outW, outC);
      let wb = u32(((kh * kW + kw) * cinG + c) * outC + oc0);
      for (var o = 0; o < coutG; o++) { acc = fma(dy[db + u32(o)], w[wb + u32(o)], acc); }`)}
  y[i] = acc;`,
);

const conv2dBackpropFilter = convKernel(
  'conv2dBackpropFilter',
  ['x', 'dy'],
  `
  // dw is [kH, kW, cinG, outC]
  let q = i32(i);
  let oc = q % outC;
  let c = (q / outC) % cinG;
  let kw = (q / (outC * cinG)) % kW;
  let kh = q / (outC * cinG * kW);
  let ic = (oc / coutG) * cinG + c;
  var acc = 0.0f;
  for (var b = 0; b < batch; b++) {${IN_BOUNDS(
    'outputs',
    '        acc = fma(x[xi(b, ih, iw, ic, inH, inW, inC)], dy[xi(b, oh, ow, oc, outH, outW, outC)], acc);',
  )}
  }
  y[i] = acc;`,
);

/** WGSL: index (in x) of the first maximum of window (b, oh, ow, c), or −1 when all padding. */
const WINDOW_ARGMAX = `
fn window_argmax(b: i32, oh: i32, ow: i32, c: i32) -> i32 {
  ${GEOMETRY.replace(/\n/g, '\n  ')}
  var at = -1;
  var best = 0.0f;${IN_BOUNDS(
    'taps',
    `      let k = i32(xi(b, ih, iw, c, inH, inW, inC));
      let v = x[k];
      if (at < 0 || v > best) { best = v; at = k; }`,
  )}
  return at;
}`;

const maxPool2d = convKernel(
  'maxPool2d',
  ['x'],
  `${nhwc('outH', 'outW', 'outC', ['b', 'oh', 'ow', 'c'])}
  let at = window_argmax(b, oh, ow, c);
  if (at < 0) { y[i] = -f32_inf(); } else { y[i] = x[at]; }`,
  WINDOW_ARGMAX,
);

const maxPool2dBackward = convKernel(
  'maxPool2dBackward',
  ['x', 'dy'],
  `${nhwc('inH', 'inW', 'inC', ['b', 'ih', 'iw', 'c'])}
  let me = i32(i);
  var acc = 0.0f;
${COVERING(`      if (window_argmax(b, oh, ow, c) == me) { acc = acc + dy[xi(b, oh, ow, c, outH, outW, outC)]; }`)}
  y[i] = acc;`,
  WINDOW_ARGMAX,
);

/** WGSL: number of in-bounds taps of window (oh, ow). */
const WINDOW_COUNT = `
fn window_count(oh: i32, ow: i32) -> f32 {
  ${GEOMETRY.replace(/\n/g, '\n  ')}
  var nh = 0;
  for (var kh = 0; kh < kH; kh++) {
    let ih = oh * strideH - padTop + kh * dilationH;
    if (ih >= 0 && ih < inH) { nh++; }
  }
  var nw = 0;
  for (var kw = 0; kw < kW; kw++) {
    let iw = ow * strideW - padLeft + kw * dilationW;
    if (iw >= 0 && iw < inW) { nw++; }
  }
  return f32(nh * nw);
}`;

const avgPool2d = convKernel(
  'avgPool2d',
  ['x'],
  `${nhwc('outH', 'outW', 'outC', ['b', 'oh', 'ow', 'c'])}
  var acc = 0.0f;
${IN_BOUNDS('taps', '      acc = acc + x[xi(b, ih, iw, c, inH, inW, inC)];')}
  let n = window_count(oh, ow);
  y[i] = select(0.0f, acc / n, n > 0.0f);`,
  WINDOW_COUNT,
);

const avgPool2dBackward = convKernel(
  'avgPool2dBackward',
  ['dy'],
  `${nhwc('inH', 'inW', 'inC', ['b', 'ih', 'iw', 'c'])}
  var acc = 0.0f;
${COVERING('      acc = acc + dy[xi(b, oh, ow, c, outH, outW, outC)] / window_count(oh, ow);')}
  y[i] = acc;`,
  WINDOW_COUNT,
);

export const convKernels: Record<string, GPUKernel> = {
  conv2d,
  conv2dBackpropInput,
  conv2dBackpropFilter,
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
};
