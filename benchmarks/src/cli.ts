#!/usr/bin/env node
/**
 * `npm run bench [-- --quick] [--suites kernels,train,optim,browser] [--only id,id] [--no-webgpu]`
 *
 * Runs the benchmarks with a progress bar and writes benchmarks/results/<date>-<machine>.json plus
 * benchmarks/results/<date>-<machine>/report.md and its SVG charts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, hostname, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOptimizerBenchmark } from './algoperf/run.js';
import { runBrowser } from './browser/run-browser.js';
import { type BenchCase, kernelCases } from './cases.js';
import type { Impl } from './impls/types.js';
import { nodeImpls, unavailable } from './node-impls.js';
import { optimStepSummary, runOptimStep } from './optim-step.js';
import { measureFmaPeak } from './peak.js';
import { Progress } from './progress.js';
import { buildReport, fmtMs } from './report.js';
import type { BenchResults, ImplInfo, MachineInfo } from './results.js';
import { runKernelCases } from './run.js';
import { runTraining } from './train.js';
import { runTrainTargets } from './train-target.js';

export interface CliOptions {
  quick: boolean;
  suites: Set<string>;
  only?: string[];
  cases?: string[];
  webgpu: boolean;
  machine: string;
  outDir: string;
  note: string;
}

const here = dirname(fileURLToPath(import.meta.url));

export function parseArgs(argv: string[]): CliOptions {
  const get = (name: string) => {
    const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (i < 0) return undefined;
    return argv[i].includes('=') ? argv[i].split('=').slice(1).join('=') : argv[i + 1];
  };
  const known = [
    'quick',
    'suites',
    'only',
    'cases',
    'no-webgpu',
    'machine',
    'out',
    'note',
    'help',
    'report-from',
  ];
  for (const a of argv) {
    if (a.startsWith('--') && !known.includes(a.slice(2).split('=')[0]))
      throw new Error(`unknown option ${a} (known: ${known.map((k) => `--${k}`).join(' ')})`);
  }
  const list = (s?: string) =>
    s
      ?.split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  return {
    quick: argv.includes('--quick'),
    suites: new Set(list(get('suites')) ?? ['kernels', 'browser', 'train', 'optim-step', 'optim']),
    only: list(get('only')),
    cases: list(get('cases')),
    webgpu: !argv.includes('--no-webgpu'),
    machine: get('machine') ?? process.env.BENCH_MACHINE ?? hostname().split('.')[0],
    outDir: resolve(get('out') ?? join(here, '../results')),
    note:
      get('note') ??
      process.env.BENCH_NOTE ??
      'A shared VM: other jobs ran on the same cores during the measurement, so absolute times are noisy; ratios between implementations measured in the same run are the meaningful numbers.',
  };
}

function machineInfo(o: CliOptions): MachineInfo {
  return {
    hostname: o.machine,
    cpuModel: cpus()[0]?.model ?? 'unknown CPU',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
    platform: `${process.platform}-${process.arch}`,
    note: o.note,
    loadAverage: loadavg(),
  };
}

function implInfo(i: Impl, env: string): ImplInfo {
  let info: Record<string, unknown> = {};
  try {
    info = i.info();
  } catch {
    // info is best-effort
  }
  return {
    id: i.id,
    library: i.library,
    backend: i.backend,
    threads: i.threads,
    roofline: i.roofline,
    reportsCold: i.reportsCold,
    info,
    env,
  };
}

/** Writes report.md and the charts next to a results JSON (and returns the report directory). */
export function writeReport(jsonPath: string, results: BenchResults): string {
  const dir = jsonPath.replace(/\.json$/, '');
  mkdirSync(dir, { recursive: true });
  const report = buildReport(results);
  writeFileSync(join(dir, 'report.md'), report.markdown);
  for (const [name, svg] of Object.entries(report.charts)) writeFileSync(join(dir, name), svg);
  return dir;
}

export async function main(argv: string[]): Promise<BenchResults | undefined> {
  const from = argv.find((a) => a.startsWith('--report-from='))?.split('=')[1];
  if (from) {
    // Re-draws the report of an earlier run (after a change to the report code), measuring nothing.
    const results = JSON.parse(readFileSync(from, 'utf8')) as BenchResults;
    process.stderr.write(`wrote ${writeReport(resolve(from), results)}/report.md\n`);
    return results;
  }
  const o = parseArgs(argv);
  const started = Date.now();
  const date = new Date().toISOString().slice(0, 10);
  let cases: BenchCase[] = kernelCases(o.quick);
  if (o.cases) cases = cases.filter((c) => o.cases!.some((x) => c.id.startsWith(x) || c.group === x));
  const progress = new Progress(0);
  const results: BenchResults = {
    version: 1,
    date: new Date().toISOString(),
    mode: o.quick ? 'quick' : 'full',
    command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    machine: { ...machineInfo(o), fmaPeak: await measureFmaPeak() },
    impls: [],
    cases,
    kernels: [],
    durationSeconds: 0,
  };

  if (o.suites.has('kernels')) {
    const impls = await nodeImpls({ only: o.only, webgpu: o.webgpu });
    const live: Impl[] = [];
    for (const i of impls) {
      try {
        await i.init();
        live.push(i);
      } catch (e) {
        unavailable[i.id] = (e as Error).message.split('\n')[0];
        progress.log(`${i.id}: could not start — ${unavailable[i.id]}`);
      }
    }
    progress.grow(cases.length * live.length);
    results.kernels = await runKernelCases(cases, live, {
      quick: o.quick,
      maxCallSeconds: o.quick ? 0.25 : 10,
      reps: o.quick ? 5 : 7,
      warmup: o.quick ? 1 : 2,
      progress,
    });
    results.impls = live.map((i) => implInfo(i, 'node'));
    for (const i of live) await i.dispose();
  }
  if (o.suites.has('browser')) {
    progress.status('starting headless Chromium');
    results.browser = await runBrowser({ quick: o.quick, cases, progress, only: o.only });
  }
  if (o.suites.has('train')) {
    results.training = await runTraining({ quick: o.quick, progress, webgpu: o.webgpu, only: o.only });
    results.trainTargets = await runTrainTargets({ quick: o.quick, progress, only: o.only });
  }
  if (o.suites.has('optim-step'))
    results.optimSteps = await runOptimStep({ quick: o.quick, progress, webgpu: o.webgpu, only: o.only });
  if (o.suites.has('optim')) results.optimizers = await runOptimizerBenchmark({ quick: o.quick, progress });
  progress.finish();
  results.unavailable = { ...unavailable };
  results.durationSeconds = (Date.now() - started) / 1000;

  const stem = `${date}-${o.machine}${o.quick ? '-quick' : ''}`;
  mkdirSync(join(o.outDir, stem), { recursive: true });
  const jsonPath = join(o.outDir, `${stem}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 1)}\n`);
  const report = buildReport(results);
  writeFileSync(join(o.outDir, stem, 'report.md'), report.markdown);
  for (const [name, svg] of Object.entries(report.charts)) writeFileSync(join(o.outDir, stem, name), svg);
  printSummary(results);
  process.stderr.write(
    `\nwrote ${jsonPath}\nwrote ${join(o.outDir, stem, 'report.md')} and ${Object.keys(report.charts).length} charts\n`,
  );
  return results;
}

/**
 * What must not pass silently in CI: an implementation that could not start (a missing WebGPU adapter,
 * wasm threads), a browser run that failed, a harness error. Timings and peers' wrong results are
 * reported, never asserted.
 */
export function ciProblems(r: BenchResults): string[] {
  const out: string[] = [];
  for (const [id, why] of Object.entries(r.unavailable ?? {})) out.push(`${id} could not start: ${why}`);
  for (const [id, why] of Object.entries(r.browser?.unavailable ?? {}))
    out.push(`${id} could not start: ${why}`);
  if (r.browser?.error) out.push(`browser run: ${r.browser.error}`);
  for (const k of [...r.kernels, ...(r.browser?.kernels ?? [])])
    if (k.status === 'error') out.push(`${k.impl} on ${k.caseId}: ${k.reason}`);
  for (const t of r.training ?? [])
    if (t.status === 'error') out.push(`training ${t.workload} on ${t.impl}: ${t.reason}`);
  for (const t of r.trainTargets ?? [])
    if (t.status === 'error') out.push(`training to target ${t.id} on ${t.impl}: ${t.reason}`);
  for (const s of r.optimSteps?.results ?? [])
    if (s.status === 'error') out.push(`optimizer step ${s.step} on ${s.impl}: ${s.reason}`);
  return out;
}

function printSummary(r: BenchResults): void {
  const rows = r.kernels.filter((k) => k.status === 'ok' || k.status === 'wrong');
  const byCase = new Map<string, string[]>();
  for (const k of rows) {
    const c = r.cases.find((x) => x.id === k.caseId)!;
    const rate =
      k.gflops !== undefined
        ? `${k.gflops.toFixed(1)} GF/s`
        : k.gbps !== undefined
          ? `${k.gbps.toFixed(1)} GB/s`
          : '';
    const line = `  ${k.impl.padEnd(26)} ${fmtMs(k.summary!.median).padStart(10)}  ${rate}${k.status === 'wrong' ? '  ✗ WRONG' : ''}`;
    if (!byCase.has(c.label)) byCase.set(c.label, []);
    byCase.get(c.label)!.push(line);
  }
  for (const [label, lines] of byCase) process.stdout.write(`${label}\n${lines.join('\n')}\n`);
  if (r.optimSteps) process.stdout.write(optimStepSummary(r.optimSteps));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (results) => {
      // Under CI=true what must not pass silently (see ciProblems) fails the run.
      const problems = results && process.env.CI === 'true' ? ciProblems(results) : [];
      for (const p of problems) process.stderr.write(`CI: ${p}\n`);
      process.exit(problems.length ? 1 : 0);
    },
    (e) => {
      process.stderr.write(`\nbenchmark failed: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
