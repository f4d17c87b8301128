/**
 * Op codes of the kernel module's multi-op entry points. They mirror the `export const` globals in
 * assembly/*.ts (a test checks every one against the module's exported globals).
 */

/**
 * Codes for `unary_f32(op, x, y, n, p0, p1)`, and for `unary_i32` (i32 lanes, integer p0/p1): neg, abs,
 * sign, square, relu, clamp and toF32 only.
 */
export const UnaryOp = {
  neg: 0,
  abs: 1,
  sign: 2,
  exp: 3,
  log: 4,
  sqrt: 5,
  rsqrt: 6,
  square: 7,
  reciprocal: 8,
  relu: 9,
  sigmoid: 10,
  tanh: 11,
  /** x·σ(p0·x) (p0 = β; 1 for SiLU/swish) */
  silu: 12,
  geluErf: 13,
  geluTanh: 14,
  softplus: 15,
  /** x < 0 ? p0·x : x */
  leakyRelu: 16,
  /** min(max(x, p0), p1) */
  clamp: 17,
  erf: 18,
  /** p0·x + p1 */
  affine: 19,
  /** x > 0 ? 1 : 0 */
  step: 20,
  floor: 21,
  ceil: 22,
  round: 23,
  erfc: 24,
  /** f32 → i32 toward zero, saturating (NaN → 0) */
  toI32: 25,
  /** i32 → f32 (unary_i32 only), round to nearest */
  toF32: 26,
} as const;
export type UnaryOpName = keyof typeof UnaryOp;

/** Codes for `binary_f32` / `binary_i32` (i32: add, sub, mul, max, min and the comparisons). */
export const BinaryOp = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  pow: 4,
  max: 5,
  min: 6,
  eq: 7,
  ne: 8,
  lt: 9,
  le: 10,
  gt: 11,
  ge: 12,
  /** a > b ? a : 0 (JumpReLU with threshold b) */
  jumpRelu: 13,
} as const;
export type BinaryOpName = keyof typeof BinaryOp;

/** Codes for `reduce_f32(op, x, y, outer, r, inner)` (`reduce_i32`: sum, max, min) and `argreduce_f32/_i32`. */
export const ReduceOp = {
  sum: 0,
  max: 1,
  min: 2,
  /** sum / r */
  mean: 3,
  /** sum of squares */
  sumSquares: 4,
} as const;
export type ReduceOpName = keyof typeof ReduceOp;

export const ArgReduceOp = { argmax: 0, argmin: 1 } as const;
export type ArgReduceOpName = keyof typeof ArgReduceOp;

/** The names of the exported wasm globals each table mirrors (prefix + upper-snake name). */
export const OP_GLOBAL_PREFIX = { unary: 'U_', binary: 'B_', reduce: 'R_', argReduce: 'A_' } as const;
