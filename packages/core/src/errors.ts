/**
 * Errors thrown by descent. Every error names the op (or API) that failed, the shapes/dtypes
 * involved and what was expected, so a user can fix the call without reading the library.
 */
export class DescentError extends Error {
  /** The op or API that raised the error, e.g. `matmul` or `tensor.toArraySync`. */
  readonly op: string;
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'DescentError';
    this.op = op;
  }
}

/** Formats a shape the way every error message prints it: `[2, 3]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
