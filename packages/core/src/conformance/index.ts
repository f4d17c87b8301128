/**
 * The conformance suite: `runConformance(name, create)` registers a backend and checks every op,
 * forward and backward, on awkward shapes against the float64 reference, with the error bounds of
 * ./tolerance.ts. Call it from a vitest file in a backend package:
 *
 *   import { runConformance } from '@descent/core/conformance';
 *   runConformance('wasm', () => createWasmBackend());
 *
 * This entry point imports vitest (a peer dependency); the main `@descent/core` entry does not.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { grad } from '../autograd/api.js';
import type { Backend, BackendFactory } from '../backend.js';
import { engine } from '../engine.js';
import '../index.js';
import { tensor } from '../ops/creation.js';
import { mul } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { allCases, type Case } from './cases.js';
import {
  caseInputs,
  cotangentFor,
  describeMismatch,
  findMismatches,
  forwardTolerance,
  REFERENCE,
  referenceGrads,
  upload,
} from './check.js';
import { missingKernels } from './coverage.js';

export { allCases, type Case } from './cases.js';
export { coverageTable, type KernelUsage, kernelUsage, missingKernels } from './coverage.js';
export * from './tolerance.js';

export interface ConformanceOptions {
  /** Only cases whose op name is listed (for debugging a kernel; CI runs everything). */
  only?: readonly string[];
  /** Per-test timeout in ms (software WebGPU is slow). Default 120 s. */
  timeout?: number;
}

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
  const tol = forwardTolerance(c, hosts, ref.values, ref.shape);
  const ms = findMismatches(got.values, ref.values, tol);
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

function groupByOp(cases: Case[]): Map<string, Case[]> {
  const groups = new Map<string, Case[]>();
  for (const c of cases) {
    const list = groups.get(c.op) ?? [];
    list.push(c);
    groups.set(c.op, list);
  }
  return groups;
}

/** Registers `create` as backend `name` and runs the whole conformance suite on it (vitest). */
export function runConformance(name: string, create: BackendFactory, opts: ConformanceOptions = {}): void {
  const timeout = opts.timeout ?? 120_000;
  const cases = allCases().filter((c) => !opts.only || opts.only.includes(c.op));
  describe(`conformance: ${name}`, () => {
    let backend: Backend;
    beforeAll(async () => {
      engine.registerBackend(name, create, { replace: true });
      backend = await engine.initBackend(name);
      await engine.initBackend(REFERENCE);
    }, timeout);

    it(
      opts.only
        ? `has kernels for the ${opts.only.length} selected ops`
        : 'has a forward and a backward kernel for every op',
      () => {
        const missing = missingKernels(backend);
        expect(opts.only ? missing.filter((op) => opts.only!.includes(op)) : missing).toEqual([]);
      },
    );

    // One test per op and direction, each checking that the backend's live-tensor count is unchanged.
    const check = (label: string, group: Case[], run: (c: Case, backend: string) => Promise<string[]>) =>
      it(
        label,
        async () => {
          const before = engine.memory(name).tensors;
          const failures: string[] = [];
          for (const c of group) failures.push(...(await run(c, name)));
          expect(failures.join('\n')).toBe('');
          expect(engine.memory(name).tensors).toBe(before);
        },
        timeout,
      );
    for (const [op, group] of groupByOp(cases)) {
      check(`${op}: forward (${group.length} cases)`, group, checkCaseForward);
      const withGrad = group.filter((c) => c.grad?.length);
      if (withGrad.length) check(`${op}: backward (${withGrad.length} cases)`, withGrad, checkCaseBackward);
    }
  });
}
