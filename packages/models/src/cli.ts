#!/usr/bin/env node
/**
 * `descent train`: the project's main job in Node — trains an MLP on two spirals and prints the loss
 * falling. Options: --steps N --lr X --momentum X --hidden N --samples N --seed N --backend NAME.
 */
import { trainSpirals } from './train.js';

const DEFAULTS = {
  backend: 'js',
  steps: 600,
  lr: 0.3,
  momentum: 0.9,
  hidden: 32,
  samples: 400,
  seed: 1,
  logEvery: 50,
};

function parseArgs(argv: string[]): typeof DEFAULTS {
  const opts = { ...DEFAULTS };
  const args = argv[0] === 'train' ? argv.slice(1) : argv;
  for (let i = 0; i < args.length; i++) {
    const key = args[i]
      .replace(/^--/, '')
      .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof typeof DEFAULTS;
    if (!(key in DEFAULTS) || args[i + 1] === undefined) {
      throw new Error(
        `unknown or incomplete option '${args[i]}' (options: ${Object.keys(DEFAULTS)
          .map((k) => `--${k}`)
          .join(' ')})`,
      );
    }
    const raw = args[++i];
    const value = typeof DEFAULTS[key] === 'number' ? Number(raw) : raw;
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new Error(`option --${key} needs a number, got '${raw}'`);
    (opts as Record<string, unknown>)[key] = value;
  }
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  console.log(
    `descent train: MLP 2→${opts.hidden}→${opts.hidden}→2 on ${opts.samples} two-spirals points, SGD(lr=${opts.lr}, momentum=${opts.momentum}), backend '${opts.backend}', ${opts.steps} steps`,
  );
  const { first, last } = await trainSpirals({
    ...opts,
    onLog: (s) =>
      console.log(
        `step ${String(s.step).padStart(5)}  loss ${s.loss.toFixed(4)}  accuracy ${(100 * s.accuracy).toFixed(1)}%  ${s.stepsPerSecond.toFixed(0)} steps/s  live tensors ${s.liveTensors}`,
      ),
  });
  console.log(
    `done: loss ${first.loss.toFixed(4)} → ${last.loss.toFixed(4)}, train accuracy ${(100 * last.accuracy).toFixed(1)}%`,
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
