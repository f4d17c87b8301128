/**
 * Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
 * 1, 2, 3", SC'11). The n-th number of a stream is a pure function of (key, stream, n), so any
 * backend or thread can compute any slice of a stream and a seeded run is reproducible everywhere.
 *
 * Counter layout: (n / 4, stream low 32 bits, stream high bits, 0); each block yields 4 u32 words.
 */

const TWO_POW_MINUS_24 = 2 ** -24;
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High and low 32 bits of the 64-bit product of two u32 (JS numbers are exact to 2^53, so split in 16-bit halves). */
function mulhilo(a: number, b: number, out: Uint32Array, hiIdx: number, loIdx: number): void {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const hh = ah * bh;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  out[hiIdx] = hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16);
  out[loIdx] = Math.imul(a, b);
}

const scratch = new Uint32Array(4);

/** One Philox4x32-10 block: 4 random u32 words for counter (c0..c3) under key (k0, k1). */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    mulhilo(M0, x0, scratch, 0, 1); // hi0, lo0
    mulhilo(M1, x2, scratch, 2, 3); // hi1, lo1
    const n0 = (scratch[2] ^ x1 ^ key0) >>> 0;
    const n2 = (scratch[0] ^ x3 ^ key1) >>> 0;
    x1 = scratch[3];
    x3 = scratch[1];
    x0 = n0;
    x2 = n2;
    key0 = (key0 + W0) >>> 0;
    key1 = (key1 + W1) >>> 0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

/** `count` random u32 words of stream `stream` under `seed`, starting at word 0. */
export function randomBits(seed: number, stream: number, count: number): Uint32Array {
  const out = new Uint32Array(count);
  const block = new Uint32Array(4);
  const k0 = seed >>> 0;
  const k1 = Math.floor(seed / 4294967296) >>> 0;
  const s0 = stream >>> 0;
  const s1 = Math.floor(stream / 4294967296) >>> 0;
  for (let i = 0; i < count; i += 4) {
    philox4x32(i / 4, s0, s1, 0, k0, k1, block);
    for (let j = 0; j < 4 && i + j < count; j++) out[i + j] = block[j];
  }
  return out;
}

/** u32 → uniform f32 in [0, 1): the top 24 bits scaled by 2^-24 (exactly representable). */
export function bitsToUniform(bits: number): number {
  return (bits >>> 8) * TWO_POW_MINUS_24;
}

/**
 * The seeded generator behind `rand`, `randn`, `randint` and dropout. Each draw without an explicit
 * seed takes the next stream of the global seed, so a program re-run with the same `setSeed` draws
 * the same numbers on every backend.
 */
class RandomState {
  seed = 0;
  stream = 0;
  setSeed(seed: number): void {
    if (!Number.isInteger(seed) || seed < 0 || seed > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(`setSeed: seed must be a non-negative safe integer, got ${seed}`);
    }
    this.seed = seed;
    this.stream = 0;
  }
  /** (seed, stream) for the next draw; an explicit seed uses stream 0 of that seed. */
  next(explicitSeed?: number): [number, number] {
    if (explicitSeed !== undefined) return [explicitSeed, 0];
    return [this.seed, this.stream++];
  }
}

export const randomState = new RandomState();

/** Sets the global seed and restarts its streams. */
export function setSeed(seed: number): void {
  randomState.setSeed(seed);
}

export function uniformValues(
  n: number,
  low: number,
  high: number,
  seed: number,
  stream: number,
): Float32Array {
  const bits = randomBits(seed, stream, n);
  const out = new Float32Array(n);
  const scale = high - low;
  for (let i = 0; i < n; i++) out[i] = low + scale * bitsToUniform(bits[i]);
  return out;
}

/** Standard normals by Box–Muller over pairs of uniforms (u1 in (0, 1] so log is finite). */
export function normalValues(
  n: number,
  mean: number,
  std: number,
  seed: number,
  stream: number,
): Float32Array {
  const pairs = Math.ceil(n / 2);
  const bits = randomBits(seed, stream, pairs * 2);
  const out = new Float32Array(n);
  for (let p = 0; p < pairs; p++) {
    const u1 = ((bits[2 * p] >>> 8) + 1) * TWO_POW_MINUS_24;
    const u2 = bitsToUniform(bits[2 * p + 1]);
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    out[2 * p] = mean + std * r * Math.cos(theta);
    if (2 * p + 1 < n) out[2 * p + 1] = mean + std * r * Math.sin(theta);
  }
  return out;
}

/** Integers uniform in [low, high) by multiply-shift on 32-bit words (bias < 2^-32 · range). */
export function intValues(n: number, low: number, high: number, seed: number, stream: number): Int32Array {
  const bits = randomBits(seed, stream, n);
  const out = new Int32Array(n);
  const range = high - low;
  for (let i = 0; i < n; i++) out[i] = low + Math.floor((bits[i] / 4294967296) * range);
  return out;
}
