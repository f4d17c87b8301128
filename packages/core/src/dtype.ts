/**
 * Element types. Masks from comparisons are `f32` 0/1 values, so they can be multiplied and averaged.
 *
 * `f16` (IEEE binary16) is a storage type for the ops that list it (elementwise maps, matmul, cast —
 * see `f16Ops()` in op.ts), on backends that declare it (`Backend.dtypes`). Kernels compute in f32
 * (matmul accumulates in f32) and round each stored result to f16, to nearest even. On the host, f16
 * values are plain numbers: uploads are rounded to f16 (`roundToF16`) and reads return a
 * `Float32Array` holding f16 values (every f16 is exactly an f32). f16 tensors are outside autograd.
 */
export type DType = 'f32' | 'i32' | 'f16';

/** What a backend hands back from a read. The float64 reference backend returns `Float64Array` for floats. */
export type DataArray = Float32Array | Int32Array | Float64Array;

export const DTYPES: readonly DType[] = ['f32', 'i32', 'f16'];

/** The element types a backend stores when it does not say (`Backend.dtypes` absent). */
export const DEFAULT_BACKEND_DTYPES: readonly DType[] = ['f32', 'i32'];

/** Bytes of one element in device storage (an f16 is 2; host arrays hold f16 values as f32). */
export function bytesPerElement(dtype: DType): number {
  return dtype === 'f16' ? 2 : 4;
}

export function isDType(x: unknown): x is DType {
  return x === 'f32' || x === 'i32' || x === 'f16';
}

/** A fresh host array of the dtype's natural JS type (f16 values live in a Float32Array). */
export function allocHost(dtype: DType, size: number): Float32Array | Int32Array {
  return dtype === 'i32' ? new Int32Array(size) : new Float32Array(size);
}

// ------------------------------------------------------------------------------ binary16

/** The largest finite f16, 65504 = (2 − 2⁻¹⁰)·2¹⁵. */
export const F16_MAX = 65504;

/**
 * Rounds a double to the nearest f16 value, ties to even (what IEEE conversion does), directly from
 * the double — rounding through f32 first could round twice. Overflow gives ±∞ (|x| ≥ 65520, the
 * midpoint between F16_MAX and 2¹⁶); below 2⁻¹⁴ the grid is the subnormal one, spacing 2⁻²⁴.
 */
export function roundToF16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return x > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  // Exponent of a (fixed up where log2 rounds across a power of two), at least −14 (subnormals).
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, -14) - 10);
  const q = a / ulp; // exact: dividing by a power of two
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  const y = r * ulp;
  return x < 0 ? -y : y;
}

/** The binary16 bits of `x` (rounded to f16 first). NaN gives the quiet NaN 0x7e00. */
export function f16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const v = roundToF16(x);
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Number.POSITIVE_INFINITY) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | (a * 2 ** 24); // subnormal (or zero): a multiple of 2⁻²⁴
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return sign | ((e + 15) << 10) | ((a / 2 ** e - 1) * 1024);
}

/** The value of binary16 bits `h` (0 … 0xffff). */
export function f16FromBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}
