/**
 * Runs every case on every implementation: same inputs, a cold call, the output check against
 * float64, then warm samples. Results are plain JSON (see results.ts for the types).
 */
import type { Agreement } from './agree.js';
import { type BenchCase, checkOutputs, makeInputs, type Tensors } from './cases.js';
import { referenceOutputs } from './graphs/descent.js';
import type { Impl } from './impls/types.js';
import type { Progress } from './progress.js';
import type { Summary } from './stats.js';
import { type GPUMeasurement, measure, timeCalls } from './timing.js';

export interface KernelResult {
  caseId: string;
  impl: string;
  status: 'ok' | 'wrong' | 'skipped' | 'error';
  reason?: string;
  coldMs?: number;
  samples?: number[];
  inner?: number;
  summary?: Summary;
  /** flops / median time, or bytes / median time (warm). */
  gflops?: number;
  gbps?: number;
  agreement?: Agreement;
  note?: string;
  /**
   * GPU time per call from timestamp queries (implementations with a GPU timer): the cold call's and
   * the warm samples' (the same calls as `coldMs` and `samples`), or why there is none on this adapter.
   */
  gpu?: GPUMeasurement;
}

export interface RunOptions {
  quick: boolean;
  /** Skip a case when the implementation's nominal speed says one call would exceed this (s). */
  maxCallSeconds: number;
  reps: number;
  warmup: number;
  progress?: Progress;
  /** Called with each result as soon as it exists (the browser streams them out of the page). */
  onResult?: (r: KernelResult) => void;
}

/** Whether a call is expected to exceed the budget, from the impl's nominal speed. */
export function estimatedSeconds(c: BenchCase, impl: Impl): number {
  if (c.flops !== undefined) return c.flops / (impl.nominal.gflops * 1e9);
  if (c.bytes !== undefined) return c.bytes / (impl.nominal.gbps * 1e9);
  return 0;
}

export async function runKernelCases(
  cases: BenchCase[],
  impls: Impl[],
  opts: RunOptions,
): Promise<KernelResult[]> {
  const results: KernelResult[] = [];
  for (const c of cases) {
    const inputs: Tensors = makeInputs(c);
    let reference: Record<string, Float64Array> | undefined;
    for (const impl of impls) {
      opts.progress?.status(`${c.id} · ${impl.id}`);
      const r = await runOne(c, impl, inputs, opts, async () => {
        reference ??= await referenceOutputs(c, inputs);
        return reference;
      });
      results.push(r);
      opts.onResult?.(r);
      opts.progress?.tick(`${c.id} · ${impl.id}: ${describe(r)}`);
      if (r.status === 'wrong' || r.status === 'error')
        opts.progress?.log(`  ${impl.id} on ${c.id}: ${r.status} — ${r.reason}`);
    }
  }
  return results;
}

function describe(r: KernelResult): string {
  if (r.status !== 'ok') return r.status;
  const t = r.summary!.median;
  return `${t < 1 ? t.toFixed(3) : t.toFixed(1)} ms`;
}

async function runOne(
  c: BenchCase,
  impl: Impl,
  inputs: Tensors,
  opts: RunOptions,
  reference: () => Promise<Record<string, Float64Array>>,
): Promise<KernelResult> {
  const base = { caseId: c.id, impl: impl.id };
  const ok = impl.supports(c);
  if (ok !== true) return { ...base, status: 'skipped', reason: ok };
  const est = estimatedSeconds(c, impl);
  if (est > opts.maxCallSeconds)
    return {
      ...base,
      status: 'skipped',
      reason: `too slow here (≈ ${est.toFixed(0)} s per call, budget ${opts.maxCallSeconds} s)`,
    };
  let prepared: Awaited<ReturnType<Impl['prepare']>> | undefined;
  try {
    prepared = await impl.prepare(c, inputs);
    const cold = await timeCalls(() => prepared!.run(), 1, impl.gpuTimer);
    const coldMs = cold.wallMs;
    // Check the first call's outputs before anything else runs (an optimizer step changes its state).
    let agreement: Agreement | undefined;
    if (!impl.roofline) {
      const outs = await prepared.outputs();
      const needsRef = c.spec.kind === 'ffn' || c.spec.kind === 'resblock';
      agreement = checkOutputs(
        c,
        inputs,
        outs,
        needsRef ? await reference() : undefined,
        prepared.variant ?? {},
      );
    }
    // Too slow for the budget: judged on the first call, or on a second one where the first compiles
    // shaders (GPU). The measured time is kept in the reason.
    let callMs = coldMs;
    if (impl.reportsCold && callMs > opts.maxCallSeconds * 1000) {
      const t0 = performance.now();
      await prepared.run();
      callMs = performance.now() - t0;
    }
    if (callMs > opts.maxCallSeconds * 1000)
      return {
        ...base,
        status: agreement && !agreement.ok ? 'wrong' : 'skipped',
        coldMs,
        agreement,
        reason: `${agreement && !agreement.ok ? `${agreement.reason}; ` : ''}too slow here: one call took ${(callMs / 1000).toFixed(1)} s (budget ${opts.maxCallSeconds} s)`,
      };
    const m = await measure(() => prepared!.run(), {
      warmup: opts.warmup,
      reps: opts.reps,
      minSampleMs: opts.quick ? 5 : 20,
      skipCold: true,
      gpu: impl.gpuTimer,
    });
    const med = m.summary.median;
    return {
      ...base,
      status: agreement && !agreement.ok ? 'wrong' : 'ok',
      ...(agreement && !agreement.ok ? { reason: agreement.reason } : {}),
      coldMs,
      samples: m.samples,
      inner: m.inner,
      summary: m.summary,
      ...(c.flops !== undefined ? { gflops: c.flops / (med * 1e6) } : {}),
      ...(c.bytes !== undefined ? { gbps: c.bytes / (med * 1e6) } : {}),
      agreement,
      ...(prepared.variant?.note ? { note: prepared.variant.note } : {}),
      ...(m.gpu ? { gpu: { ...m.gpu, ...(cold.gpuMs !== undefined ? { coldMs: cold.gpuMs } : {}) } } : {}),
    };
  } catch (e) {
    const msg = (e as Error).message?.split('\n')[0] ?? String(e);
    // A peer library without a kernel for this op (tfjs-wasm has no conv gradients) is "n/a", not a
    // failure; descent itself must have every kernel, so a missing one there stays an error.
    if (!impl.id.includes('descent') && /not registered for backend|no kernel|not implemented/i.test(msg))
      return { ...base, status: 'skipped', reason: `the library has no kernel for it: ${msg}` };
    return { ...base, status: 'error', reason: msg };
  } finally {
    try {
      await prepared?.dispose();
    } catch {
      // a failed dispose must not hide the result
    }
  }
}
