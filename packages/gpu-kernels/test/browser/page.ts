/**
 * The browser side of the in-page conformance run (bundled by ../browser-conformance.test.ts with
 * vite, no plugins): creates the WebGPU backend from `navigator.gpu` and exposes `window.descent`,
 * which the test drives one op group at a time through Playwright. The checks are core's own
 * (`@descent/core/conformance/checks`, the ones `runConformance` wraps in vitest), so the browser
 * run holds every kernel to the same cases and error bounds as the Node run.
 */
import { engine } from '@descent/core';
import {
  allCases,
  type Case,
  checkCaseBackward,
  checkCaseForward,
  groupByOp,
  missingKernels,
  REFERENCE,
} from '@descent/core/conformance/checks';
import { createWebGPUBackend, type WebGPUBackend } from '../../src/index.js';

export interface PageApi {
  /** Creates the backend; resolves to its `info()`, or rejects with the reason there is no adapter. */
  init(): Promise<Record<string, unknown>>;
  /** Kernel ops the backend lacks (must be []). */
  missing(): string[];
  /**
   * Runs one op's cases in one direction; returns the failures and the live tensors the run left
   * behind on the backend (must be 0).
   */
  check(op: string, direction: 'forward' | 'backward'): Promise<{ failures: string[]; leaked: number }>;
}

const NAME = 'webgpu';
let backend: WebGPUBackend | null = null;
let groups: Map<string, Case[]> | null = null;

const api: PageApi = {
  async init() {
    engine.registerBackend(NAME, () => createWebGPUBackend({ name: NAME }), { replace: true });
    backend = (await engine.initBackend(NAME)) as WebGPUBackend;
    await engine.initBackend(REFERENCE);
    groups = groupByOp(allCases());
    return backend.info();
  },
  missing() {
    if (!backend) throw new Error('init() first');
    return missingKernels(backend);
  },
  async check(op, direction) {
    const group = groups?.get(op);
    if (!group) throw new Error(`no conformance cases for op '${op}'`);
    const before = engine.memory(NAME).tensors;
    const failures: string[] = [];
    const run = direction === 'forward' ? checkCaseForward : checkCaseBackward;
    for (const c of group) {
      if (direction === 'backward' && !c.grad?.length) continue;
      try {
        failures.push(...(await run(c, NAME)));
      } catch (e) {
        failures.push(`${c.name}: threw ${(e as Error).message}`);
      }
    }
    return { failures, leaked: engine.memory(NAME).tensors - before };
  },
};

(globalThis as unknown as { descent: PageApi }).descent = api;
