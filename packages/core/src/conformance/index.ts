/**
 * The conformance suite: `runConformance(name, create)` registers a backend and checks every op,
 * forward and backward, on awkward shapes against the float64 reference, with the error bounds of
 * ./tolerance.ts. Call it from a vitest file in a backend package:
 *
 *   import { runConformance } from '@descent/core/conformance';
 *   runConformance('wasm', () => createWasmBackend());
 *
 * This entry point imports vitest (a peer dependency); the main `@descent/core` entry does not, and
 * neither does `@descent/core/conformance/checks` (the same checks, for a browser page).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Backend, BackendFactory } from '../backend.js';
import { DEFAULT_BACKEND_DTYPES } from '../dtype.js';
import { engine } from '../engine.js';
import { DescentError } from '../errors.js';
import { tensor } from '../ops/creation.js';
import type { Case } from './cases.js';
import {
  allCases,
  checkCaseBackward,
  checkCaseForward,
  f16Cases,
  groupByOp,
  missingKernels,
  REFERENCE,
} from './checks.js';

export * from './checks.js';

export interface ConformanceOptions {
  /** Only cases whose op name is listed (for debugging a kernel; CI runs everything). */
  only?: readonly string[];
  /** Per-test timeout in ms (software WebGPU is slow). Default 120 s. */
  timeout?: number;
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

    // f16 (forward only): run where the backend stores f16, reported as skipped where it does not —
    // and there, making an f16 tensor must fail with an error that names the backend.
    const storesF16 = () => (backend.dtypes ?? DEFAULT_BACKEND_DTYPES).includes('f16');
    it('f16: stored, or refused with a clear error', () => {
      if (storesF16()) return;
      let err: unknown;
      try {
        tensor([1, 2], [2], { dtype: 'f16', backend: name }).dispose();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DescentError);
      expect((err as Error).message).toContain(`backend '${name}' has no f16 tensors`);
    });
    const f16 = f16Cases().filter((c) => !opts.only || opts.only.includes(c.op));
    for (const [op, group] of groupByOp(f16)) {
      it(
        `${op}: f16 forward (${group.length} cases)`,
        async (ctx) => {
          if (!storesF16()) ctx.skip(`backend '${name}' does not store f16`);
          const before = engine.memory(name).tensors;
          const failures: string[] = [];
          for (const c of group) failures.push(...(await checkCaseForward(c, name)));
          expect(failures.join('\n')).toBe('');
          expect(engine.memory(name).tensors).toBe(before);
        },
        timeout,
      );
    }
  });
}
