import type { BenchCase } from '../cases.js';
import type { Progress } from '../progress.js';
import type { BenchResults } from '../results.js';
export async function runBrowser(_o: {
  quick: boolean;
  cases: BenchCase[];
  progress: Progress;
  only?: string[];
}): Promise<BenchResults['browser']> {
  return undefined;
}
