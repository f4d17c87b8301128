/**
 * Turns a BenchResults into a Markdown report and SVG charts: tables of medians with spread, ratios of
 * descent against each peer measured in the same run, matmul cost-growth fits, training throughput and
 * the optimizer benchmark's performance profiles.
 */
import type { BenchCase } from './cases.js';
import { optimStepSection } from './optim-step.js';
import type { BenchResults, ImplInfo } from './results.js';
import type { KernelResult } from './run.js';
import { fitPowerLaw, performanceRatios, profileAt } from './stats.js';
import { barChart, lineChart, type Series } from './svg.js';
import { trainTargetSection } from './train-target.js';

export interface Report {
  markdown: string;
  /** file name → SVG text (written next to the Markdown). */
  charts: Record<string, string>;
}

/** Which descent implementation is compared with which peer (first available descent id wins). */
export const RATIO_PAIRS: { descent: string[]; peer: string; label: string }[] = [
  {
    descent: ['descent-wasm-1t', 'descent-wasm-kernels-1t'],
    peer: 'tfjs-wasm-1t',
    label: 'descent wasm 1t vs tfjs-wasm 1t',
  },
  {
    descent: ['descent-wasm-1t', 'descent-wasm-kernels-1t'],
    peer: 'ort-wasm-1t',
    label: 'descent wasm 1t vs onnxruntime-web 1t',
  },
  { descent: ['descent-wasm-2t'], peer: 'ort-wasm-2t', label: 'descent wasm 2t vs onnxruntime-web 2t' },
  {
    descent: ['descent-wasm-1t', 'descent-wasm-kernels-1t'],
    peer: 'tfjs-cpu',
    label: 'descent wasm 1t vs tfjs-cpu',
  },
  { descent: ['descent-js'], peer: 'tfjs-cpu', label: 'descent js vs tfjs-cpu' },
  {
    descent: ['chromium-descent-webgpu'],
    peer: 'chromium-tfjs-webgpu',
    label: 'Chromium: descent webgpu vs tfjs-webgpu',
  },
  {
    descent: ['chromium-descent-wasm-kernels-1t', 'chromium-descent-wasm-1t'],
    peer: 'chromium-tfjs-wasm',
    label: 'Chromium: descent wasm vs tfjs-wasm',
  },
];

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}

function cell(r: KernelResult | undefined, c: BenchCase): string {
  if (!r) return '';
  if (r.status === 'skipped') {
    // Over the per-call budget after one measured call: show that call (not a median of ≥ 5).
    const took = r.reason?.match(/one call took ([\d.]+) s/);
    return took ? `1 call: ${took[1]} s (over budget)` : 'n/a';
  }
  if (r.status === 'error') return 'error';
  const s = r.summary!;
  const rate =
    r.gflops !== undefined
      ? `${r.gflops.toFixed(1)} GF/s`
      : r.gbps !== undefined
        ? `${r.gbps.toFixed(1)} GB/s`
        : '';
  const wrong = r.status === 'wrong' ? '✗ wrong: ' : '';
  void c;
  return `${wrong}${fmtMs(s.median)} ±${(s.relIqr * 50).toFixed(0)}%${rate ? ` (${rate})` : ''}`;
}

function find(results: KernelResult[], caseId: string, impl: string) {
  return results.find((r) => r.caseId === caseId && r.impl === impl);
}

/** Peer time / descent time (> 1: descent is faster), only when both ran and agreed with float64. */
export function ratio(
  results: KernelResult[],
  caseId: string,
  descent: string[],
  peer: string,
): { value: number; descent: string } | undefined {
  const p = find(results, caseId, peer);
  if (p?.status !== 'ok') return undefined;
  for (const id of descent) {
    const dres = find(results, caseId, id);
    if (dres?.status === 'ok') return { value: p.summary!.median / dres.summary!.median, descent: id };
  }
  return undefined;
}

function kernelTables(title: string, cases: BenchCase[], results: KernelResult[], impls: ImplInfo[]): string {
  const used = impls.filter((i) => results.some((r) => r.impl === i.id && r.status !== 'skipped'));
  if (used.length === 0) return '';
  const groups = [...new Set(cases.map((c) => c.group))];
  let md = `### ${title}\n\nMedian wall time per call ± half the interquartile range (as % of the median), and the rate. "n/a": the implementation has no such op (or it would take too long here, see the JSON); "✗ wrong": its output broke the error bound (no ratio is computed).\n\n`;
  for (const g of groups) {
    const gc = cases.filter((c) => c.group === g && results.some((r) => r.caseId === c.id));
    if (!gc.length) continue;
    const cols = used.filter((i) =>
      gc.some((c) => find(results, c.id, i.id)?.status !== 'skipped' && find(results, c.id, i.id)),
    );
    if (!cols.length) continue;
    md += `**${g}**\n\n| case | ${cols.map((i) => i.id).join(' | ')} |\n|---|${cols.map(() => '---').join('|')}|\n`;
    for (const c of gc)
      md += `| ${c.label} | ${cols.map((i) => cell(find(results, c.id, i.id), c)).join(' | ')} |\n`;
    md += '\n';
  }
  return md;
}

function ratioTable(cases: BenchCase[], results: KernelResult[]): string {
  const pairs = RATIO_PAIRS.filter((p) => cases.some((c) => ratio(results, c.id, p.descent, p.peer)));
  if (!pairs.length) return '';
  let md = `| case | ${pairs.map((p) => p.label).join(' | ')} |\n|---|${pairs.map(() => '---').join('|')}|\n`;
  for (const c of cases) {
    const cells = pairs.map((p) => {
      const r = ratio(results, c.id, p.descent, p.peer);
      return r ? `**${r.value.toFixed(2)}×**` : '';
    });
    if (cells.some(Boolean)) md += `| ${c.label} | ${cells.join(' | ')} |\n`;
  }
  return `${md}\n`;
}

function rooflineTable(cases: BenchCase[], results: KernelResult[], impls: ImplInfo[]): string {
  const mb = cases.filter((c) => find(results, c.id, 'memcopy')?.status === 'ok');
  if (!mb.length) return '';
  const ids = impls
    .filter((i) => !i.roofline && mb.some((c) => find(results, c.id, i.id)?.status === 'ok'))
    .map((i) => i.id);
  let md = `Memory-bound cases against a memory copy of the same number of bytes (time / copy time; the wasm issue's targets: ≤ 2× for x·sigmoid(x) and softmax, ≤ 1.3× for AdamW):\n\n| case | copy | ${ids.join(' | ')} |\n|---|---|${ids.map(() => '---').join('|')}|\n`;
  for (const c of mb) {
    const copy = find(results, c.id, 'memcopy')!.summary!.median;
    md += `| ${c.label} | ${fmtMs(copy)} (${(c.bytes! / copy / 1e6).toFixed(1)} GB/s) | ${ids
      .map((id) => {
        const r = find(results, c.id, id);
        return r?.status === 'ok' ? `${(r.summary!.median / copy).toFixed(2)}×` : '';
      })
      .join(' | ')} |\n`;
  }
  return `${md}\n`;
}

/**
 * Cold (first call) and warm times of the GPU implementations: wall clock, and GPU time from
 * timestamp queries where the implementation measured it (a note says where the adapter had none).
 */
function coldTable(cases: BenchCase[], results: KernelResult[], impls: ImplInfo[]): string {
  const gpu = impls.filter((i) => i.reportsCold);
  const rows = cases.flatMap((c) =>
    gpu
      .map((i) => ({ c, i, r: find(results, c.id, i.id) }))
      .filter((x) => x.r?.coldMs !== undefined && x.r.status !== 'skipped'),
  );
  if (!rows.length) return '';
  const gpuMs = (ms: number | undefined) => (ms === undefined ? '—' : fmtMs(ms));
  let md =
    '| case | implementation | cold (first call: pipeline/shader compile, first allocation) | cold, GPU time | warm median | warm median, GPU time |\n|---|---|---|---|---|---|\n';
  const noTimer = new Map<string, string>();
  for (const { c, i, r } of rows) {
    const g = r!.gpu;
    if (g?.unavailable) noTimer.set(i.id, g.unavailable);
    md += `| ${c.label} | ${i.id} | ${fmtMs(r!.coldMs!)} | ${gpuMs(g?.coldMs)} | ${r!.summary ? fmtMs(r!.summary.median) : r!.status} | ${gpuMs(g?.summary?.median)} |\n`;
  }
  md +=
    '\nGPU time: the sum over the compute passes a call submitted of (end − begin) timestamp (`timestamp-query`), per call, on the same calls as the wall clock; "—": not measured (peers, or no timer).\n';
  for (const [id, why] of noTimer) md += `- ${id}: ${why}, so no GPU time.\n`;
  return `${md}\n`;
}

/** Cost growth of a group of cases with a size (matmul n, AdamW parameter count): log-log chart + fit. */
function growthCharts(
  prefix: string,
  group: 'matmul' | 'optimizer',
  cases: BenchCase[],
  results: KernelResult[],
  impls: ImplInfo[],
  charts: Record<string, string>,
): string {
  const mm = cases.filter((c) => c.group === group && c.size !== undefined);
  const isMatmul = group === 'matmul';
  const series: Series[] = [];
  const gf: Series[] = [];
  let fitRows = '';
  for (const i of impls) {
    if (i.roofline) continue;
    const pts = mm
      .map((c) => ({ c, r: find(results, c.id, i.id) }))
      .filter((x) => x.r?.status === 'ok')
      .map((x) => [x.c.size!, x.r!.summary!.median, (isMatmul ? x.r!.gflops : x.r!.gbps)!] as const);
    if (pts.length < 2) continue;
    series.push({ name: i.id, points: pts.map((p) => [p[0], p[1]]) });
    gf.push({ name: i.id, points: pts.map((p) => [p[0], p[2]]) });
    // Matmul: fit over n ≥ 256 where available (small sizes are dominated by call overhead).
    const big = isMatmul ? pts.filter((p) => p[0] >= 256) : pts;
    const fitPts = big.length >= 2 ? big : pts;
    const f = fitPowerLaw(
      fitPts.map((p) => p[0]),
      fitPts.map((p) => p[1]),
    );
    const peak = Math.max(...pts.map((p) => p[2]));
    const last = pts[pts.length - 1];
    fitRows += `| ${i.id} | ${f.exponent.toFixed(2)} (${isMatmul ? 'n' : 'sizes'} = ${fitPts.map((p) => p[0]).join(', ')}; R² ${f.r2.toFixed(3)}) | ${peak.toFixed(1)} | ${last[2].toFixed(1)} at ${isMatmul ? 'n = ' : ''}${last[0]} |\n`;
  }
  if (!series.length) return '';
  const unit = isMatmul ? 'GFLOP/s' : 'GB/s';
  charts[`${prefix}${group}-time.svg`] = lineChart({
    title: isMatmul ? 'Square matmul: time vs size (log-log)' : 'AdamW step: time vs parameters (log-log)',
    xLabel: isMatmul ? 'n (n×n · n×n)' : 'parameters',
    yLabel: 'median time per call (ms)',
    logX: true,
    logY: true,
    series,
  });
  charts[`${prefix}${group}-rate.svg`] = lineChart({
    title: isMatmul ? 'Square matmul: GFLOP/s vs size' : 'AdamW step: GB/s vs parameters',
    xLabel: isMatmul ? 'n' : 'parameters',
    yLabel: isMatmul ? 'GFLOP/s (2n³ / median time)' : 'GB/s (28 bytes per parameter / median time)',
    logX: true,
    series: gf,
    yMin: 0,
  });
  const ideal = isMatmul ? 3 : 1;
  return `![${group} time vs size](${prefix}${group}-time.svg)\n![${group} ${unit}](${prefix}${group}-rate.svg)\n\nCost growth: fitted exponent e of time ∝ size^e (${ideal} is ideal; a larger value shows where a backend stops scaling — caches, memory, binding limits):\n\n| implementation | exponent e | peak ${unit} | at the largest size |\n|---|---|---|---|\n${fitRows}\n`;
}

function groupBarCharts(
  prefix: string,
  cases: BenchCase[],
  results: KernelResult[],
  impls: ImplInfo[],
  charts: Record<string, string>,
): string {
  let md = '';
  for (const c of cases.filter(
    (x) =>
      x.group !== 'matmul' &&
      (x.group !== 'optimizer' || x === cases.filter((y) => y.group === 'optimizer').at(-1)),
  )) {
    const bars = impls
      .map((i, k) => ({ i, k, r: find(results, c.id, i.id) }))
      .filter((x) => x.r && x.r.status !== 'skipped' && x.r.status !== 'error' && x.r.summary)
      .map((x) => ({
        label: x.i.id,
        value: x.r!.summary!.median,
        lo: x.r!.summary!.q1,
        hi: x.r!.summary!.q3,
        color: undefined as string | undefined,
        note: x.r!.status === 'wrong' ? 'wrong result' : x.i.roofline ? 'roofline' : undefined,
      }));
    if (bars.length < 2) continue;
    const name = `${prefix}${c.id}.svg`;
    charts[name] = barChart({ title: `${c.label}: median time (whiskers: quartiles)`, unit: 'ms', bars });
    md += `![${c.label}](${name})\n`;
  }
  return md ? `${md}\n` : '';
}

/**
 * The wasm issue's table: descent's wasm backend with 1 and all threads against tfjs-wasm (XNNPACK),
 * onnxruntime-web and tfjs-cpu, as GFLOP/s or GB/s with the ratio descent/peer (same run).
 */
export function headlineTable(res: BenchResults): string {
  const k = res.kernels;
  const pick = (caseId: string, ids: string[]) =>
    ids.map((id) => find(k, caseId, id)).find((r) => r?.status === 'ok');
  const rate = (r?: KernelResult) =>
    !r
      ? '—'
      : r.gflops !== undefined
        ? `${r.gflops.toFixed(1)} GF/s`
        : `${r.gbps!.toFixed(1)} GB/s (${fmtMs(r.summary!.median)})`;
  const ids1 = ['descent-wasm-1t', 'descent-wasm-kernels-1t'];
  const cols: [string, string[]][] = [
    ['descent wasm 1t', ids1],
    ['descent wasm 2t', ['descent-wasm-2t']],
    ['tfjs-wasm 1t', ['tfjs-wasm-1t']],
    ['ort-wasm 1t', ['ort-wasm-1t']],
    ['ort-wasm 2t', ['ort-wasm-2t']],
    ['tfjs-cpu', ['tfjs-cpu']],
  ];
  const want = res.cases.filter(
    (c) =>
      (c.group === 'matmul' && [128, 256, 512, 1024, 2048].includes(c.size ?? 0)) ||
      ['ffn-matmul', 'conv2d', 'elementwise', 'softmax'].includes(c.group) ||
      c.id === res.cases.filter((x) => x.group === 'optimizer').at(-1)?.id,
  );
  let md = `| case | ${cols.map(([n]) => n).join(' | ')} | 1t ÷ tfjs-wasm | 2t ÷ 1t | copy of the same bytes |\n|---|${cols.map(() => '---').join('|')}|---|---|---|\n`;
  for (const c of want) {
    const rs = cols.map(([, ids]) => pick(c.id, ids));
    const d1 = rs[0];
    const tw = rs[2];
    const copy = find(k, c.id, 'memcopy');
    const r1 = d1 && tw ? `**${(tw.summary!.median / d1.summary!.median).toFixed(2)}×**` : '';
    const r2 = d1 && rs[1] ? `${(d1.summary!.median / rs[1].summary!.median).toFixed(2)}×` : '';
    const cp =
      copy?.status === 'ok' && d1
        ? `${fmtMs(copy.summary!.median)}; descent = ${(d1.summary!.median / copy.summary!.median).toFixed(2)}× copy`
        : '';
    md += `| ${c.label} | ${rs.map(rate).join(' | ')} | ${r1} | ${r2} | ${cp} |\n`;
  }
  return `${md}\n`;
}

export function buildReport(res: BenchResults): Report {
  const charts: Record<string, string> = {};
  const m = res.machine;
  let md = `# descent benchmarks — ${res.date} (${res.mode} mode)\n\n`;
  md += `Machine: ${m.cores}-core ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, host \`${m.hostname}\`. ${m.note} Load average at the start: ${m.loadAverage.map((x) => x.toFixed(2)).join(', ')}.\n\n`;
  if (m.fmaPeak)
    md += `One core's arithmetic peak in the wasm kernels (${m.fmaPeak.variant} build, 12 independent f32x4 multiply-add chains, no memory traffic): **${m.fmaPeak.gflops.toFixed(1)} GFLOP/s** — read the wasm GFLOP/s below against it.\n\n`;
  md += `Command: \`${res.command}\` (${(res.durationSeconds / 60).toFixed(1)} min). Every implementation ran on the same seeded inputs in this one run; each output was checked against float64 under a derived error bound before it was timed. A ratio is peer time / descent time (> 1: descent is faster).\n\n`;
  md += `## Implementations\n\n| id | library | backend | where |\n|---|---|---|---|\n`;
  for (const i of [...res.impls, ...(res.browser?.impls ?? [])])
    md += `| ${i.id} | ${i.library} | ${i.backend} | ${i.env} |\n`;
  md += '\n';
  for (const [id, why] of Object.entries(res.unavailable ?? {})) md += `- **${id}** not measured: ${why}\n`;
  if (Object.keys(res.unavailable ?? {}).length) md += '\n';
  if (res.kernels.length) md += `## Headline: the wasm table (Node)\n\n${headlineTable(res)}`;
  md += `## Ratios: descent vs peers (same run)\n\n${ratioTable(res.cases, [...res.kernels, ...(res.browser?.kernels ?? [])])}`;
  md += `## Kernels and ops (Node)\n\n${kernelTables('Node', res.cases, res.kernels, res.impls)}`;
  md += rooflineTable(res.cases, res.kernels, res.impls);
  md += growthCharts('', 'matmul', res.cases, res.kernels, res.impls, charts);
  md += growthCharts('', 'optimizer', res.cases, res.kernels, res.impls, charts);
  md += groupBarCharts('', res.cases, res.kernels, res.impls, charts);
  const cold = coldTable(res.cases, res.kernels, res.impls);
  if (cold) md += `### WebGPU in Node: cold vs warm\n\n${cold}`;
  if (res.browser) {
    md += '## Headless Chromium\n\n';
    if (res.browser.error) md += `The browser run failed: ${res.browser.error}\n\n`;
    if (res.browser.adapter) md += `WebGPU adapter: \`${JSON.stringify(res.browser.adapter)}\`\n\n`;
    md += kernelTables('Chromium', res.cases, res.browser.kernels, res.browser.impls);
    md += growthCharts('chromium-', 'matmul', res.cases, res.browser.kernels, res.browser.impls, charts);
    const bcold = coldTable(res.cases, res.browser.kernels, res.browser.impls);
    if (bcold) md += `### WebGPU in Chromium: cold vs warm\n\n${bcold}`;
  }
  md += trainingSection(res, charts);
  md += trainTargetSection(res.trainTargets);
  md += optimStepSection(res.optimSteps);
  md += optimizerSection(res, charts);
  md += agreementSection(res);
  return { markdown: md, charts };
}

function trainingSection(res: BenchResults, charts: Record<string, string>): string {
  const t = res.training;
  if (!t?.length) return '';
  const workloads = [...new Set(t.map((r) => r.workload))];
  let md =
    '## End-to-end training throughput\n\nOne training step = forward, backward, optimizer update (same architecture, batch, initial weights and optimizer for every implementation). Median over the measured steps.\n\n| workload | implementation | batch | step (median ± IQR/2) | steps/s | samples/s | first loss (float64 ref) |\n|---|---|---|---|---|---|---|\n';
  for (const w of workloads) {
    for (const r of t.filter((x) => x.workload === w)) {
      if (r.status !== 'ok') {
        md += `| ${w} | ${r.impl} | ${r.batch} | ${r.status}: ${r.reason ?? ''} | | | |\n`;
        continue;
      }
      const s = r.stepMs!;
      md += `| ${w} | ${r.impl} | ${r.batch} | ${fmtMs(s.median)} ±${fmtMs((s.q3 - s.q1) / 2)} | ${r.stepsPerSec!.toFixed(1)} | ${r.samplesPerSec!.toFixed(0)} | ${r.firstLoss?.toFixed(5)} (${r.firstLossRef?.toFixed(5)}) |\n`;
    }
    const bars = t
      .filter((x) => x.workload === w && x.status === 'ok')
      .map((x) => ({ label: x.impl, value: x.samplesPerSec! }));
    if (bars.length >= 2) {
      const name = `train-${w}.svg`;
      charts[name] = barChart({
        title: `${w}: training samples/s (higher is better)`,
        unit: 'samples/s',
        bars,
      });
      md += '';
    }
  }
  md += '\n';
  const pairs: [string, string][] = [
    ['descent-js', 'tfjs-cpu'],
    ['descent-wasm-1t', 'tfjs-wasm-1t'],
    ['descent-wasm-2t', 'tfjs-wasm-1t'],
    ['descent-webgpu-node', 'tfjs-wasm-1t'],
  ];
  const sps = (w: string, id: string) =>
    t.find((r) => r.workload === w && r.impl === id && r.status === 'ok')?.samplesPerSec;
  const used = pairs.filter(([a, b]) => workloads.some((w) => sps(w, a) && sps(w, b)));
  if (used.length) {
    md += `Training throughput ratios (descent samples/s ÷ tfjs samples/s, same run; > 1: descent is faster):\n\n| workload | ${used.map(([a, b]) => `${a} / ${b}`).join(' | ')} |\n|---|${used.map(() => '---').join('|')}|\n`;
    for (const w of workloads)
      md += `| ${w} | ${used
        .map(([a, b]) => {
          const x = sps(w, a);
          const y = sps(w, b);
          return x && y ? `**${(x / y).toFixed(2)}×**` : '';
        })
        .join(' | ')} |\n`;
    md += '\n';
  }
  for (const w of workloads) if (charts[`train-${w}.svg`]) md += `![${w}](train-${w}.svg)\n`;
  return `${md}\n`;
}

function optimizerSection(res: BenchResults, charts: Record<string, string>): string {
  const o = res.optimizers;
  if (!o) return '';
  const optims = [...new Set(o.results.map((r) => r.optimizer))];
  const workloads = [...new Set(o.results.map((r) => r.workload))];
  let md = `## Optimizer benchmark (AlgoPerf-style)\n\nBackend: ${o.backend}. Each optimizer gets ${o.budget.trials} quasi-random (Halton) trials over its declared search space per workload${o.budget.maxTrialSeconds ? `, each capped at ${o.budget.maxTrialSeconds} s of training time` : ''}; a workload's cost for an optimizer is the fastest trial that reached the validation target (∞ if none did). Score = normalized area under the performance profile ρ(τ) for τ ∈ [1, ${o.tauMax}] (1 = fastest on every workload, 0 = never reached a target).\n\n`;
  md += '**Search spaces**\n\n| optimizer | hyperparameter ranges |\n|---|---|\n';
  for (const [k, sp] of Object.entries(o.searchSpaces))
    md += `| ${k} | ${Object.entries(sp)
      .map(([h, [lo, hi, sc]]) => `${h} ∈ [${lo}, ${hi}] (${sc})`)
      .join(', ')} |\n`;
  md += '\n';
  for (const w of workloads) {
    const rows = o.results.filter((r) => r.workload === w);
    md += `**${w}** — target: ${rows[0].target}, step budget ${o.budget.maxSteps[w]}\n\n| optimizer | trials reaching target | best: steps | best: seconds | best hyperparameters |\n|---|---|---|---|---|\n`;
    for (const r of rows) {
      const best = r.trials.filter((t) => t.reached).sort((a, b) => a.steps! - b.steps!)[0];
      md += `| ${r.optimizer} | ${r.trials.filter((t) => t.reached).length}/${r.trials.length} | ${Number.isFinite(r.bestSteps) ? r.bestSteps : '—'} | ${Number.isFinite(r.bestSeconds) ? r.bestSeconds.toFixed(2) : '—'} | ${
        best
          ? Object.entries(best.hparams)
              .map(([k, v]) => `${k}=${v.toPrecision(3)}`)
              .join(', ')
          : ''
      } |\n`;
    }
    md += '\n';
  }
  md += `| optimizer | score (wall time) | score (steps) |\n|---|---|---|\n`;
  for (const k of optims) md += `| ${k} | ${o.scores[k].toFixed(3)} | ${o.scoresSteps[k].toFixed(3)} |\n`;
  md += '\n';
  for (const [k, why] of Object.entries(o.skippedOptimizers)) md += `- ${k} not measured: ${why}\n`;
  for (const [basis, key] of [
    ['seconds', 'bestSeconds'],
    ['steps', 'bestSteps'],
  ] as const) {
    const cost: Record<string, Record<string, number>> = {};
    for (const r of o.results) (cost[r.optimizer] ??= {})[r.workload] = r[key];
    const ratios = performanceRatios(cost);
    const taus: number[] = [];
    for (let t = 1; t <= o.tauMax + 1e-9; t += 0.02) taus.push(t);
    const series = optims.map((k) => ({
      name: k,
      points: taus.map((t) => [t, profileAt(ratios[k], t)] as [number, number]),
    }));
    const name = `optimizer-profile-${basis}.svg`;
    charts[name] = lineChart({
      title: `Performance profiles (${basis} to target)`,
      xLabel: 'τ (cost relative to the fastest optimizer)',
      yLabel: 'fraction of workloads solved within τ',
      step: true,
      series,
      yMin: 0,
      yMax: 1,
      xMin: 1,
      xMax: o.tauMax,
    });
    md += `![performance profile, ${basis}](${name})\n`;
  }
  return `${md}\n`;
}

function agreementSection(res: BenchResults): string {
  const all = [...res.kernels, ...(res.browser?.kernels ?? [])].filter((r) => r.agreement);
  const bad = all.filter((r) => r.status === 'wrong');
  let md = `## Agreement with float64\n\n${all.length} outputs were checked; ${bad.length} broke their bound. Worst error/bound ratio per case (≤ 1 passes):\n\n| case | worst implementation | error / bound | bound |\n|---|---|---|---|\n`;
  for (const c of res.cases) {
    const rs = all.filter((r) => r.caseId === c.id);
    if (!rs.length) continue;
    const w = rs.reduce((a, b) => (b.agreement!.worstRatio > a.agreement!.worstRatio ? b : a));
    md += `| ${c.label} | ${w.impl} | ${w.agreement!.worstRatio.toExponential(2)} | ${w.agreement!.bound} |\n`;
  }
  if (bad.length) {
    md += '\nFailures:\n\n';
    for (const r of bad) md += `- ${r.impl} on ${r.caseId}: ${r.reason}\n`;
  }
  return `${md}\n`;
}
