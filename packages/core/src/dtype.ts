/** Element types. Masks from comparisons are `f32` 0/1 values, so they can be multiplied and averaged. */
export type DType = 'f32' | 'i32';

/** What a backend hands back from a read. The float64 reference backend returns `Float64Array` for `f32`. */
export type DataArray = Float32Array | Int32Array | Float64Array;

export const DTYPES: readonly DType[] = ['f32', 'i32'];

export function bytesPerElement(_dtype: DType): number {
  return 4;
}

export function isDType(x: unknown): x is DType {
  return x === 'f32' || x === 'i32';
}

/** A fresh host array of the dtype's natural JS type. */
export function allocHost(dtype: DType, size: number): Float32Array | Int32Array {
  return dtype === 'i32' ? new Int32Array(size) : new Float32Array(size);
}
