import type { DType } from '../../dtype.js';

/** Reference-backend storage: a typed array (Float64Array for f32 in the float64 variant). */
export interface Store {
  array: Float32Array | Float64Array | Int32Array;
}

/** A kernel view of one tensor. */
export interface JsTensor {
  array: Float32Array | Float64Array | Int32Array;
  shape: readonly number[];
  dtype: DType;
}

export type JsKernel = (inputs: JsTensor[], outputs: JsTensor[], attrs: any) => void;
