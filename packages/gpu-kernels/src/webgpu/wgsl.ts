/**
 * Shared pieces of every generated WGSL shader: the binding header, the parameter block, and the
 * linear invocation index of 1-D kernels dispatched over a 2-D grid (so more than 65535 workgroups
 * fit).
 *
 * Binding layout (the same for every kernel, so pipeline layouts are shared by signature):
 *   @binding(0)            uniform  P: the kernel's parameters, a flat array of u32 words
 *   @binding(1 … nIn)      storage, read        the inputs
 *   @binding(nIn+1 … )     storage, read_write  the outputs
 */

/** Storage element types; `f16` needs the device feature `shader-f16` (the header enables it). */
export type WgslElem = 'f32' | 'i32' | 'u32' | 'f16';

export interface BufferDecl {
  name: string;
  elem: WgslElem;
}

/** Threads per workgroup of the 1-D (elementwise / index-map) kernels. */
export const WG = 256;

/**
 * Every shader declares the same parameter block: PARAM_WORDS u32 words (512 bytes). A fixed size
 * (rather than one per pipeline) lets kernels whose parameter count depends on the rank (broadcast,
 * index maps) serve every rank with one pipeline.
 */
export const PARAM_WORDS = 128;

/**
 * `to_f16(v)`: an f32 rounded to f16 to nearest even, from its bits — IEEE conversion, where WGSL's
 * `f16(v)` may round either way and leaves out-of-range values indeterminate. NaN stays NaN; |v| ≥
 * 65520 (the midpoint between f16's largest finite 65504 and 2¹⁶) gives ±∞; below 2⁻¹⁴ the result
 * is an f16 subnormal (multiple of 2⁻²⁴), rounded to nearest even too. The bits come back through
 * `bitcast<vec2<f16>>` of a u32 (its low half is component x).
 */
const TO_F16 = `
fn to_f16(v: f32) -> f16 {
  let b = bitcast<u32>(v);
  let sign = (b >> 16u) & 0x8000u;
  let a = b & 0x7fffffffu;
  var h: u32;
  if (a > 0x7f800000u) {
    h = 0x7e00u; // NaN
  } else if (a >= 0x477ff000u) {
    h = 0x7c00u; // overflow (and ∞) → ∞
  } else if (a >= 0x38800000u) {
    // Normal: rebias the exponent (127 → 15) and drop 13 mantissa bits, ties to even.
    let r = a - 0x38000000u;
    h = (r + 0xfffu + ((r >> 13u) & 1u)) >> 13u;
  } else if (a <= 0x33000000u) {
    h = 0u; // ≤ 2⁻²⁵: rounds to zero (2⁻²⁵ itself is a tie, to the even 0)
  } else {
    // Subnormal: the significand (with its implicit bit) times 2^(e − 126) in units of 2⁻²⁴.
    let e = a >> 23u;
    let m = (a & 0x7fffffu) | 0x800000u;
    let s = 126u - e;
    let q = m >> s;
    let rem = m & ((1u << s) - 1u);
    let half = 1u << (s - 1u);
    h = q + select(0u, 1u, rem > half || (rem == half && (q & 1u) == 1u));
  }
  return bitcast<vec2<f16>>(sign | h).x;
}`;

/**
 * The header of a shader: parameter block, buffers, accessors `pu(i)`, `pi(i)`, `pf(i)` (parameter
 * word i as u32 / i32 / f32). With an f16 buffer it starts with `enable f16;`, and with an f16
 * output it defines `to_f16` (see above): kernels compute in f32 and store through it.
 */
export function header(
  inputs: readonly BufferDecl[],
  outputs: readonly BufferDecl[],
  paramWords: number,
): string {
  if (paramWords > PARAM_WORDS)
    throw new Error(`a kernel needs ${paramWords} parameter words (max ${PARAM_WORDS})`);
  const f16 = [...inputs, ...outputs].some((x) => x.elem === 'f16');
  const lines = [
    ...(f16 ? ['enable f16;'] : []),
    `struct Params { p: array<vec4<u32>, ${PARAM_WORDS / 4}> }`,
    '@group(0) @binding(0) var<uniform> P: Params;',
  ];
  let b = 1;
  for (const x of inputs)
    lines.push(`@group(0) @binding(${b++}) var<storage, read> ${x.name}: array<${x.elem}>;`);
  for (const y of outputs)
    lines.push(`@group(0) @binding(${b++}) var<storage, read_write> ${y.name}: array<${y.elem}>;`);
  lines.push(
    'fn pu(i: u32) -> u32 { return P.p[i >> 2u][i & 3u]; }',
    'fn pi(i: u32) -> i32 { return bitcast<i32>(pu(i)); }',
    'fn pf(i: u32) -> f32 { return bitcast<f32>(pu(i)); }',
  );
  if (outputs.some((y) => y.elem === 'f16')) lines.push(TO_F16);
  return lines.join('\n');
}

/** Entry point of a 1-D kernel: `i` is the linear thread index; threads past `count` return. */
export function linearMain(count: string, body: string, wg = WG): string {
  return `
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * ${wg}u + lid;
  if (i >= ${count}) { return; }
${body}
}`;
}

/** Workgroup counts of a 1-D launch of `threads` threads: [x, y, 1] with x ≤ maxPerDim. */
export function grid1d(threads: number, wg = WG, maxPerDim = 65535): [number, number, number] {
  const groups = Math.max(1, Math.ceil(threads / wg));
  if (groups <= maxPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y, 1];
}

/** An f32 literal WGSL accepts for any finite double (rounded to f32 first). */
export function f32Lit(v: number): string {
  const f = Math.fround(v);
  if (!Number.isFinite(f)) throw new Error(`not a finite f32 literal: ${v}`);
  const s = f.toPrecision(9);
  return s.includes('.') || s.includes('e') ? `${s}f` : `${s}.0f`;
}

/** Packs kernel parameters into u32 words (f32 and i32 as their bits). */
export class Params {
  private words: number[] = [];
  private readonly f = new Float32Array(1);
  private readonly u = new Uint32Array(this.f.buffer);
  private readonly i = new Int32Array(this.f.buffer);

  u32(...vs: number[]): this {
    for (const v of vs) {
      if (!(v >= 0 && v <= 0xffffffff) || !Number.isInteger(v))
        throw new RangeError(`u32 parameter out of range: ${v}`);
      this.words.push(v >>> 0);
    }
    return this;
  }

  i32(...vs: number[]): this {
    for (const v of vs) {
      this.i[0] = v;
      this.words.push(this.u[0]);
    }
    return this;
  }

  f32(...vs: number[]): this {
    for (const v of vs) {
      this.f[0] = v;
      this.words.push(this.u[0]);
    }
    return this;
  }

  /** A value as the bits of the given element type (pad values, clamp bounds). */
  as(elem: 'f32' | 'i32' | 'f16', v: number): this {
    return elem === 'f32' ? this.f32(v) : this.i32(v);
  }

  get length(): number {
    return this.words.length;
  }

  /** The words, zero-padded to PARAM_WORDS. */
  toArray(): Uint32Array {
    if (this.words.length > PARAM_WORDS)
      throw new RangeError(
        `${this.words.length} kernel parameter words (max ${PARAM_WORDS}): is the rank too high?`,
      );
    const out = new Uint32Array(PARAM_WORDS);
    out.set(this.words);
    return out;
  }
}
