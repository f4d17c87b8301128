import type { Progress } from '../progress.js';
import type { OptimizerBenchmark } from '../results.js';
export async function runOptimizerBenchmark(_o: {
  quick: boolean;
  progress: Progress;
}): Promise<OptimizerBenchmark | undefined> {
  return undefined;
}
