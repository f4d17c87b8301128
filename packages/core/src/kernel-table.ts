import { DescentError } from './errors.js';

/**
 * A backend's kernels by op name (the names of docs/kernels.md). Every backend — the reference one
 * here, WasmBackend, WebGPUBackend — keeps its kernels in one such table, merged from one table per
 * area (elementwise, reduce, matmul, …), and looks ops up in it with the helpers below, so "which
 * kernels exist" and "a missing kernel is an error naming the op and backend" mean the same everywhere.
 */
export type KernelTable<K> = Readonly<Record<string, K>>;

/**
 * Merges a backend's per-area tables into its kernel table. An op defined by two areas is an error:
 * an object spread would let the later area silently replace the first one's kernel.
 */
export function mergeKernelTables<K>(areas: readonly KernelTable<K>[]): KernelTable<K> {
  const table: Record<string, K> = {};
  for (const area of areas) {
    for (const [op, kernel] of Object.entries(area)) {
      if (Object.hasOwn(table, op))
        throw new Error(`mergeKernelTables: op '${op}' has a kernel in two area tables`);
      table[op] = kernel;
    }
  }
  return table;
}

/** True when `table` has a kernel for `op` (its own entries only: 'toString' or '__proto__' is no op). */
export function hasKernelIn<K>(table: KernelTable<K>, op: string): boolean {
  return Object.hasOwn(table, op);
}

/** The error for an op that `backend` has no kernel for (also thrown by core before a kernel runs). */
export function missingKernelError(op: string, backend: string): DescentError {
  return new DescentError(op, `backend '${backend}' has no kernel for op '${op}'`);
}

/** The kernel for `op` in `backend`'s table; a missing one throws `missingKernelError`, never falls back. */
export function kernelFor<K>(table: KernelTable<K>, op: string, backend: string): K {
  if (!hasKernelIn(table, op)) throw missingKernelError(op, backend);
  return table[op];
}
