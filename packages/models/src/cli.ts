#!/usr/bin/env node
/**
 * `descent train`: the project's main job in Node. Trains a model on a task and prints progress
 * (steps/s, loss, accuracy, ETA) and a final metrics line. Run `descent train --help` for options.
 */
import { DescentError } from '@descent/core';
import { loadCheckpointFile, saveCheckpointFile } from './node.js';
import {
  MODELS,
  type ModelName,
  optimizerNames,
  PRESETS,
  type PresetName,
  TASKS,
  type TaskName,
  train,
} from './train.js';

const DEFAULTS = {
  preset: '',
  task: 'spirals' as string,
  model: 'mlp' as string,
  optimizer: 'sgd',
  backend: 'js',
  steps: 600,
  lr: Number.NaN, // NaN: the trainer's default for the optimizer and task
  momentum: 0.9,
  schedule: 'constant',
  batch: -1, // −1: the task's default (full batch for small tasks, 64 for images)
  hidden: 32,
  width: 8,
  samples: 400,
  seed: 1,
  logEvery: 50,
  save: '',
  resume: '',
};

const presetLines = Object.entries(PRESETS)
  .map(
    ([name, p]) =>
      `               ${name}: ${Object.entries(p)
        .map(([k, v]) => `--${k} ${v}`)
        .join(' ')}`,
  )
  .join('\n');

const HELP = `descent train [options]

  --preset     a named recipe; options given explicitly override it
${presetLines}
  --task       ${TASKS.join(' | ')}   (default spirals)
  --model      ${MODELS.join(' | ')}   (default mlp)
  --optimizer  any optimizer of @descent/optim by lower-case name (default sgd)
  --backend    js | js64 | wasm | webgpu   (default js; wasm/webgpu need their packages)
  --steps N    training steps (default 600)
  --lr X       learning rate (default: per optimizer and task)
  --momentum X SGD momentum (default 0.9)
  --schedule   constant | cosine (5% linear warm-up, then cosine decay to 0)
  --batch N    examples per step, 0 = full batch (default: per task)
  --hidden N   hidden width (default 32)
  --width N    ResNet: channels of the first stage, doubled by each later stage (default 8)
  --samples N  training examples (default 400)
  --seed N     seed of data, initialization and shuffling (default 1)
  --log-every N
  --save FILE  write a safetensors checkpoint (weights, optimizer state, step) at the end
  --resume FILE  continue from a checkpoint written by --save (same task/model/optimizer)`;

function parseArgs(argv: string[]): typeof DEFAULTS {
  const given: Partial<Record<keyof typeof DEFAULTS, unknown>> = {};
  const args = argv[0] === 'train' ? argv.slice(1) : argv;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--help' || args[i] === '-h') {
      console.log(HELP);
      process.exit(0);
    }
    const key = args[i]
      .replace(/^--/, '')
      .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof typeof DEFAULTS;
    if (!args[i].startsWith('--') || !(key in DEFAULTS) || args[i + 1] === undefined)
      throw new DescentError('descent train', `unknown or incomplete option '${args[i]}'\n\n${HELP}`);
    const raw = args[++i];
    const value = typeof DEFAULTS[key] === 'number' ? Number(raw) : raw;
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new DescentError('descent train', `option --${key} needs a number, got '${raw}'`);
    given[key] = value;
  }
  const preset = (given.preset as string | undefined) ?? '';
  if (preset && !(preset in PRESETS))
    throw new DescentError(
      'descent train',
      `unknown preset '${preset}' (available: ${Object.keys(PRESETS).join(', ')})`,
    );
  const opts = {
    ...DEFAULTS,
    ...(preset ? PRESETS[preset as PresetName] : {}),
    ...given,
  } as typeof DEFAULTS;
  if (!(TASKS as readonly string[]).includes(opts.task))
    throw new DescentError('descent train', `unknown task '${opts.task}' (available: ${TASKS.join(', ')})`);
  if (!(MODELS as readonly string[]).includes(opts.model))
    throw new DescentError(
      'descent train',
      `unknown model '${opts.model}' (available: ${MODELS.join(', ')})`,
    );
  return opts;
}

const fmtTime = (s: number) =>
  !Number.isFinite(s)
    ? '?'
    : s < 60
      ? `${s.toFixed(0)}s`
      : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;

/** One progress line: a bar on a terminal (rewritten in place), plain lines otherwise. */
function progress(s: {
  step: number;
  totalSteps: number;
  loss: number;
  accuracy: number;
  stepsPerSecond: number;
  etaSeconds: number;
  liveTensors: number;
}): void {
  const width = 24;
  const filled = Math.round((width * s.step) / s.totalSteps);
  const acc = Number.isNaN(s.accuracy) ? '' : `  acc ${(100 * s.accuracy).toFixed(1)}%`;
  const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] step ${String(s.step).padStart(5)}/${s.totalSteps}  loss ${s.loss.toFixed(4)}${acc}  ${s.stepsPerSecond.toFixed(1)} steps/s  ETA ${fmtTime(s.etaSeconds)}  live tensors ${s.liveTensors}`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}${s.step === s.totalSteps ? '\n' : ''}`);
  else console.log(line);
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  console.log(
    `descent train${o.preset ? ` --preset ${o.preset}` : ''}: task ${o.task}, model ${o.model}, optimizer ${o.optimizer}, backend '${o.backend}', ${o.steps} steps (optimizers available: ${optimizerNames().join(', ')})`,
  );
  const t0 = performance.now();
  const result = await train({
    task: o.task as TaskName,
    model: o.model as ModelName,
    optimizer: o.optimizer,
    backend: o.backend,
    steps: o.steps,
    lr: Number.isNaN(o.lr) ? undefined : o.lr,
    momentum: o.momentum,
    schedule: o.schedule as 'constant' | 'cosine',
    batch: o.batch < 0 ? undefined : o.batch,
    hidden: o.hidden,
    width: o.width,
    samples: o.samples,
    seed: o.seed,
    logEvery: o.logEvery,
    onLog: progress,
    resume: o.resume
      ? async (model, optimizer) => {
          const { step } = await loadCheckpointFile(o.resume, { model, optimizer });
          console.log(`resumed from ${o.resume} at step ${step}`);
          return step;
        }
      : undefined,
  });
  const { first, last, test } = result;
  const testPart = test
    ? `, test ${test.metric} ${test.metric === 'accuracy' ? `${(100 * test.value).toFixed(1)}%` : test.value.toFixed(5)} (${test.n} examples)`
    : '';
  const accPart = Number.isNaN(last.accuracy) ? '' : `, train accuracy ${(100 * last.accuracy).toFixed(1)}%`;
  console.log(
    `done: loss ${first.loss.toFixed(4)} → ${last.loss.toFixed(4)}${accPart}${testPart}; ${last.stepsPerSecond.toFixed(1)} steps/s, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  if (o.save) {
    await saveCheckpointFile(o.save, {
      model: result.model,
      optimizer: result.optimizer,
      step: last.step,
      metadata: { task: o.task, model: o.model, optimizer: o.optimizer },
    });
    console.log(`saved ${o.save} (step ${last.step})`);
  }
  result.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
