import { describe, expect, it } from 'vitest';
import { allCases, coverageTable, kernelUsage, missingKernels } from '../src/conformance/index.js';
import { JsBackend, opRegistry } from '../src/index.js';

describe('op coverage', () => {
  it('the reference backend has a kernel for every op', () => {
    expect(missingKernels(new JsBackend())).toEqual([]);
  });

  it('every op has forward conformance cases, and every differentiable op backward ones', async () => {
    const usage = await kernelUsage();
    const tested = new Set(allCases().map((c) => c.op));
    for (const [op, def] of opRegistry()) {
      // An op is covered when some case runs its kernel (directly or as the case's op).
      const ranForward = tested.has(op) || [...usage.forward.values()].some((s) => s.has(op));
      expect(ranForward, `op '${op}' has no conformance case`).toBe(true);
      if (def.backward && op !== 'maxPool2dBackward') {
        const ranBackward = [...usage.backward.entries()].some(
          ([caseOp, s]) => caseOp === op || (s.has(op) && tested.has(op)),
        );
        expect(ranBackward, `op '${op}' has no backward conformance case`).toBe(true);
      }
    }
  });

  it('a backend missing a kernel shows up in the table and in missingKernels', async () => {
    const partial = new JsBackend({ name: 'partial' });
    partial.hasKernel = (name: string) =>
      name !== 'conv2dBackpropFilter' && JsBackend.prototype.hasKernel.call(partial, name);
    expect(missingKernels(partial)).toEqual(['conv2dBackpropFilter']);
    const table = await coverageTable([new JsBackend(), partial]);
    const convRow = table.split('\n').find((r) => r.startsWith('| `conv2d` |'))!;
    // conv2d's forward exists on both; its backward needs conv2dBackpropFilter, which `partial` lacks.
    expect(convRow).toBe('| `conv2d` | yes | ✓ | ✓ | ✓ | ✗ |');
  });
});
