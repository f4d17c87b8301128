/**
 * The conformance checks without a test runner: `checkCaseForward` / `checkCaseBackward` run one case
 * on a registered backend against the float64 reference and return failure descriptions (empty when
 * it passes). `runConformance` (./index.ts) wraps them in vitest; this module imports no test runner,
 * so a browser page can run the same checks (`@descent/core/conformance/checks`).
 */
import { grad } from '../autograd/api.js';
import { engine } from '../engine.js';
import '../index.js';
import { roundToF16 } from '../dtype.js';
import { tensor } from '../ops/creation.js';
import { mul } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import type { Case } from './cases.js';
import {
  caseInputs,
  cotangentFor,
  describeMismatch,
  f32Twin,
  findMismatches,
  forwardTolerance,
  REFERENCE,
  referenceGrads,
  upload,
} from './check.js';
import { f16StoreTolerance } from './tolerance.js';

export { allCases, type Case, f16Cases } from './cases.js';
export { REFERENCE } from './check.js';
export { coverageTable, type KernelUsage, kernelUsage, missingKernels } from './coverage.js';
export * from './tolerance.js';

/** Checks one case forward; returns failure descriptions (empty when it passes). */
export async function checkCaseForward(c: Case, backend: string): Promise<string[]> {
  const hosts = caseInputs(c);
  const ref = engine.tidy(() => {
    const y = c.fn(...upload(c, hosts, REFERENCE));
    return { values: y.dataSync(), shape: y.shape.slice(), dtype: y.dtype };
  });
  const xs = upload(c, hosts, backend);
  let got: { values: ArrayLike<number>; shape: number[]; dtype: string };
  try {
    const y = engine.tidy(() => c.fn(...xs));
    got = { values: await y.data(), shape: y.shape.slice(), dtype: y.dtype };
    y.dispose();
  } finally {
    for (const x of xs) x.dispose();
  }
  if (got.dtype !== ref.dtype) return [`${c.name}: dtype ${got.dtype}, want ${ref.dtype}`];
  if (got.shape.join() !== ref.shape.join()) return [`${c.name}: shape [${got.shape}], want [${ref.shape}]`];
  let want: ArrayLike<number> = ref.values;
  let tol: ArrayLike<number> | number = forwardTolerance(f32Twin(c), hosts, ref.values, ref.shape);
  if (ref.dtype === 'f16') {
    // The f32 bound plus one rounding to f16; exact ops must give the correctly rounded reference.
    if (c.bound.kind === 'exact') want = Float64Array.from(ref.values, roundToF16);
    else tol = f16StoreTolerance(ref.values, tol);
  }
  const ms = findMismatches(got.values, want, tol, 5, ref.dtype);
  return ms.length ? [describeMismatch(c.name, ms)] : [];
}

/** Checks one case's gradients (sum(f(xs)·G) w.r.t. the case's `grad` inputs). */
export async function checkCaseBackward(c: Case, backend: string): Promise<string[]> {
  const argnums = c.grad ?? [];
  if (argnums.length === 0) return [];
  const hosts = caseInputs(c);
  const outShape = engine.tidy(() => c.fn(...upload(c, hosts, REFERENCE)).shape.slice());
  const outSize = outShape.reduce((a, b) => a * b, 1);
  const cot = cotangentFor(c, outSize);
  const { want, tol } = referenceGrads(c, hosts, cot, outShape);
  const xs = upload(c, hosts, backend);
  const G = tensor(cot, outShape, { backend });
  const got: ArrayLike<number>[] = [];
  try {
    const gs = engine.tidy(() => grad((...ts) => sum(mul(c.fn(...ts), G)), argnums)(...xs));
    for (const g of gs) {
      got.push(await g.data());
      g.dispose();
    }
  } finally {
    for (const x of [...xs, G]) x.dispose();
  }
  const failures: string[] = [];
  argnums.forEach((k, i) => {
    const ms = findMismatches(got[i], want[i], tol[i]);
    if (ms.length) failures.push(describeMismatch(`${c.name} d/dinput${k}`, ms));
  });
  return failures;
}

/** Cases grouped by op name, in suite order. */
export function groupByOp(cases: Case[]): Map<string, Case[]> {
  const groups = new Map<string, Case[]>();
  for (const c of cases) {
    const list = groups.get(c.op) ?? [];
    list.push(c);
    groups.set(c.op, list);
  }
  return groups;
}
