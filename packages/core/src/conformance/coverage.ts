import { grad } from '../autograd/api.js';
import type { Backend } from '../backend.js';
import { engine } from '../engine.js';
import { opRegistry } from '../op.js';
import { tensor } from '../ops/creation.js';
import { mul } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';
import { allCases } from './cases.js';
import { caseInputs, upload } from './check.js';

export interface KernelUsage {
  /** Kernel ops run by the forward of each conformance op group. */
  forward: Map<string, Set<string>>;
  /** Kernel ops run by the backward (gradient) of each conformance op group. */
  backward: Map<string, Set<string>>;
}

let usage: KernelUsage | null = null;

/**
 * Which kernels each op's forward and backward use, traced by running the conformance cases on the
 * reference backend once. A backend can run an op's backward iff it has every kernel in its set.
 */
export async function kernelUsage(): Promise<KernelUsage> {
  if (usage) return usage;
  const result: KernelUsage = { forward: new Map(), backward: new Map() };
  let current: Set<string> | null = null;
  const stop = engine.addKernelListener((op) => current?.add(op));
  const phase = (map: Map<string, Set<string>>, op: string, run: () => void) => {
    current = map.get(op) ?? new Set();
    map.set(op, current);
    engine.tidy(run);
    current = null;
  };
  try {
    for (const c of allCases()) {
      const xs = upload(c, caseInputs(c), 'js');
      let y: Tensor | undefined;
      phase(result.forward, c.op, () => {
        y = engine.keep(c.fn(...xs));
      });
      if (c.grad?.length && y) {
        const G = tensor(new Float32Array(y.size).fill(1), y.shape, { backend: 'js' });
        phase(result.backward, c.op, () => {
          grad((...ts: Tensor[]) => sum(mul(c.fn(...ts), G)), c.grad!)(...xs);
        });
        G.dispose();
      }
      y?.dispose();
      for (const x of xs) x.dispose();
    }
  } finally {
    stop();
  }
  for (const [op, set] of result.backward) if (set.size === 0) result.backward.delete(op);
  usage = result;
  return result;
}

/** Kernel ops (every op declared in core) that `backend` lacks, sorted. */
export function missingKernels(backend: Backend): string[] {
  return [...opRegistry().keys()].filter((op) => !backend.hasKernel(op)).sort();
}

/** A Markdown op × backend table: ✓ when the backend has the op's forward kernel / every kernel its backward needs. */
export async function coverageTable(backends: Backend[]): Promise<string> {
  const u = await kernelUsage();
  const ops = [...opRegistry().keys()].sort();
  const header = `| op | differentiable | ${backends.map((b) => `${b.name} fwd | ${b.name} bwd`).join(' | ')} |`;
  const rule = `|---|---|${backends.map(() => '---|---').join('|')}|`;
  const rows = ops.map((op) => {
    const def = opRegistry().get(op)!;
    const needs = u.backward.get(op);
    const cells = backends.map((b) => {
      const fwd = b.hasKernel(op) ? '✓' : '✗';
      const bwd = !def.backward
        ? '—'
        : needs && [...needs].every((k) => b.hasKernel(k))
          ? '✓'
          : needs
            ? '✗'
            : '?';
      return `${fwd} | ${bwd}`;
    });
    return `| \`${op}\` | ${def.backward ? 'yes' : 'no'} | ${cells.join(' | ')} |`;
  });
  return [header, rule, ...rows].join('\n');
}
