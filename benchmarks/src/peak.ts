/**
 * One core's arithmetic peak for the wasm kernels, measured on the machine that runs the benchmarks, so a
 * GFLOP/s figure can be read as a fraction of what the core can do at all (not of a nominal ceiling).
 */
import { KernelModule } from '@descent/wasm-kernels';

/** Flops per iteration of the kernel module's `fma_peak` loop: 12 f32x4 multiply-adds. */
const FLOPS_PER_ITERATION = 12 * 4 * 2;

export interface FmaPeak {
  /** Median GFLOP/s of 7 timed calls, one thread. */
  gflops: number;
  /** The kernel build that ran it: 'relaxed' (fused multiply-add) or 'simd' (mul + add). */
  variant: string;
}

/** Runs `fma_peak` (12 independent f32x4 multiply-add chains, no memory traffic) for ≥ 30 ms per sample. */
export async function measureFmaPeak(): Promise<FmaPeak> {
  const km = await KernelModule.create({ threads: 1 });
  try {
    const run = (n: number): number => {
      const t0 = performance.now();
      km.exports.fma_peak(n, 1);
      return (performance.now() - t0) / 1000;
    };
    let n = 1 << 16;
    run(n); // lets V8 tier the loop up
    while (run(n) < 0.03) n *= 2;
    const rates: number[] = [];
    for (let i = 0; i < 7; i++) rates.push((n * FLOPS_PER_ITERATION) / run(n) / 1e9);
    rates.sort((a, b) => a - b);
    return { gflops: rates[3]!, variant: km.variant };
  } finally {
    km.dispose();
  }
}
